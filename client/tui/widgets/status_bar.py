"""The status bar: connection state, messages waiting to be sent, and the contact's trust."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from konsel.client.core.engine import Engine
from konsel.client.core.events import ConnectionChanged, ConnectionState, OutboxChanged

from ..catalog import t
from ..messages import EngineEvent

STATE_MARKS: dict[ConnectionState, str] = {"connected": "●", "connecting": "◌", "offline": "○"}


class StatusBar(Static):
    """One line above the footer that says whether the app is connected and what waits."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        padding: 0 1;
    }
    """

    def __init__(self, engine: Engine, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.state: ConnectionState = engine.connection_state
        self.outbox = 0
        self.contact_name: str | None = None
        self.verified = False

    def on_mount(self) -> None:
        # The engine may have connected between this widget's creation and now.
        self.state = self.engine.connection_state
        self.redraw()

    def show_contact(self, name: str | None, verified: bool) -> None:
        """Show the trust mark of the open conversation's contact."""
        self.contact_name = name
        self.verified = verified
        self.redraw()

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, ConnectionChanged):
            self.state, self.outbox = event.state, event.outbox
            self.redraw()
        elif isinstance(event, OutboxChanged):
            self.outbox = event.outbox
            self.redraw()

    def redraw(self) -> None:
        """Draw the line again from the current state."""
        line = Text()
        line.append(f"{STATE_MARKS[self.state]} ", style="bold")
        line.append(t(f"app.status.{self.state}"))
        if self.outbox:
            line.append("  │  ")
            line.append(t("app.status.outbox", count=self.outbox), style="bold")
        if self.contact_name is not None:
            line.append("  │  ")
            if self.verified:
                line.append("✓ " + t("app.status.verified"), style="green")
            else:
                line.append("! " + t("app.status.not_verified"), style="yellow")
        self.update(line)
