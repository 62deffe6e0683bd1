"""Widgets of the konsel-chat app, one class per module."""
