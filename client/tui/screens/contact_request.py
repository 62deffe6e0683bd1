"""The counselor's screen for accepting or declining a konseli's contact request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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


class ContactRequestScreen(ModalScreen[int | None]):
    """Accept or decline a pending contact request that came through an invitation link.

    Dismisses with the new contact's id after accepting, and with None after declining
    or closing; closing keeps the request pending.
    """

    DEFAULT_CSS = """
    ContactRequestScreen { align: center middle; }
    ContactRequestScreen #dialog {
        width: 70; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ContactRequestScreen #title { text-style: bold; }
    ContactRequestScreen #status { color: $warning; }
    ContactRequestScreen #buttons { height: auto; }
    ContactRequestScreen #buttons Button { margin-right: 1; }
    """

    BINDINGS = [Binding("escape", "close", show=False)]

    def __init__(self, engine: Engine, request_id: int, name: str) -> None:
        super().__init__()
        self._engine = engine
        self._request_id = request_id
        self._name = name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(t("pairing.request.title"), id="title", markup=False)
            yield Static(t("pairing.request.body", name=self._name), id="body", markup=False)
            yield Static(t("pairing.request.hint"), markup=False)
            yield Static("", id="status", markup=False)
            with Horizontal(id="buttons"):
                yield Button(t("pairing.request.accept"), id="accept", variant="primary")
                yield Button(t("pairing.request.decline"), id="decline", variant="error")
                yield Button(t("pairing.request.later"), id="later")

    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        self._run(self._engine.accept_request)

    @on(Button.Pressed, "#decline")
    def _decline(self) -> None:
        async def decline(request_id: int) -> None:
            await self._engine.decline_request(request_id)

        self._run(decline)

    def _run(self, request: Callable[[int], Awaitable[int | None]]) -> None:
        for button in self.query(Button):
            button.disabled = True
        self.query_one("#status", Static).update(t("pairing.request.working"))
        self.run_worker(self._answer(request), group="contact-request", exclusive=True)

    async def _answer(self, request: Callable[[int], Awaitable[int | None]]) -> None:
        try:
            contact_id = await request(self._request_id)
        except (EngineError, OSError) as error:
            if self.is_attached:
                self.query_one("#status", Static).update(engine_error_text(error))
                for button in self.query(Button):
                    button.disabled = False
            return
        if self.is_attached:
            self.dismiss(contact_id)

    @on(Button.Pressed, "#later")
    def action_close(self) -> None:
        """Close the screen and leave the request pending."""
        self.dismiss(None)


RequestScreen = ContactRequestScreen
"""The name the TUI contract gives this screen."""
