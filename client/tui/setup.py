"""What the first-run screen collects to create a profile."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NewProfile:
    """The first-run choices: language, role, name, passphrase and relay address."""

    language: str
    role: str
    """``"counselor"`` or ``"student"``, the engine's role names."""
    display_name: str
    passphrase: str
    relay_url: str | None
    """A student may leave it empty and take the relay from the invitation or code."""
