"""The client core: store, relay connection, outbox and counseling records.

Nothing under this package imports Textual, so the terminal app stays a thin view and the
core is tested on its own against a real relay.
"""
