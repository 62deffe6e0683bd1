"""konsel-chat: the terminal client for counselors and students."""

__version__ = "0.1.0"
