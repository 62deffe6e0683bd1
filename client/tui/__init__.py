"""The konsel-chat terminal app, built on Textual.

Screens live in :mod:`.screens`, widgets in :mod:`.widgets`, and every string on screen
comes from the message catalogs in ``locales/`` through :func:`.catalog.t`.
"""
