"""konsel-relay: a store-and-forward WebSocket relay for end-to-end encrypted envelopes."""

__version__ = "0.1.0"
