"""The warning shown when a contact's identity key changed and its messages are held."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from konsel.client.core.engine import Engine
from konsel.client.core.events import EngineError

from ..catalog import t
from .pairing_errors import engine_error_text
from .verify import VerifyScreen


class KeyChangeScreen(ModalScreen[bool]):
    """Explain a contact's key change and let the user verify, accept or decide later.

    The engine holds the contact's new messages until :meth:`Engine.confirm_key_change`.
    Dismisses with True once the new key was accepted here or on the verify screen,
    and with False when the user chose later.
    """

    DEFAULT_CSS = """
    KeyChangeScreen { align: center middle; }
    KeyChangeScreen #dialog {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    KeyChangeScreen #title { text-style: bold; color: $warning; }
    KeyChangeScreen Static { margin-bottom: 1; }
    KeyChangeScreen #status { color: $warning; margin-bottom: 0; }
    KeyChangeScreen #buttons { height: auto; }
    KeyChangeScreen #buttons Button { margin-right: 1; }
    """

    BINDINGS = [Binding("escape", "close", show=False)]

    def __init__(self, engine: Engine, contact_id: int) -> None:
        super().__init__()
        self._engine = engine
        self._contact_id = contact_id

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("", id="title", markup=False)
            yield Static("", id="body", markup=False)
            yield Static("", id="held", markup=False)
            yield Static("", id="advice", markup=False)
            yield Static("", id="status", markup=False)
            with Horizontal(id="buttons"):
                yield Button(t("pairing.key_change.verify"), id="verify", variant="primary")
                yield Button(t("pairing.key_change.accept"), id="accept", variant="warning")
                yield Button(t("pairing.key_change.later"), id="later")

    def on_mount(self) -> None:
        self.run_worker(self._load(), group="key-change", exclusive=True)

    async def _load(self) -> None:
        contacts = await self._engine.contacts()
        if not self.is_attached:
            return
        name = next((c.display_name for c in contacts if c.id == self._contact_id), "")
        held_count = len(self._engine.key_changes.get(self._contact_id, []))
        self.query_one("#title", Static).update(t("pairing.key_change.title", name=name))
        self.query_one("#body", Static).update(t("pairing.key_change.body", name=name))
        self.query_one("#held", Static).update(
            t("pairing.key_change.held", name=name, count=held_count)
        )
        self.query_one("#advice", Static).update(t("pairing.key_change.advice", name=name))

    @on(Button.Pressed, "#verify")
    def _verify(self) -> None:
        self.app.push_screen(VerifyScreen(self._engine, self._contact_id), self._verified)

    def _verified(self, verified: bool | None) -> None:
        # The verify screen accepts the new key when the codes match.
        if self._contact_id not in self._engine.key_changes:
            self.dismiss(True)

    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        for button in self.query(Button):
            button.disabled = True
        self.query_one("#status", Static).update(t("pairing.key_change.working"))
        self.run_worker(self._confirm(), group="key-change", exclusive=True)

    async def _confirm(self) -> None:
        try:
            released = await self._engine.confirm_key_change(self._contact_id)
        except (EngineError, OSError) as error:
            if self.is_attached:
                self.query_one("#status", Static).update(engine_error_text(error))
                for button in self.query(Button):
                    button.disabled = False
            return
        if self.is_attached:
            self.app.notify(t("pairing.key_change.accepted", count=released))
            self.dismiss(True)

    @on(Button.Pressed, "#later")
    def action_close(self) -> None:
        """Close the warning; the messages stay held until the key is accepted."""
        self.dismiss(False)
