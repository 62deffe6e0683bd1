"""The konseli's screen for joining a counselor by short code or invitation link."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from konsel.client.core.engine import Engine
from konsel.client.core.events import EngineError
from konsel.protocol.errors import ShortCodeError, UnknownWordError
from konsel.protocol.invitation_link import LINK_SCHEME, MAX_PASTED_CHARS
from konsel.protocol.shortcode import parse_code

from ..catalog import t
from .join_input import JoinInput
from .pairing_errors import code_text, engine_error_text

RELAY_SCHEMES = ("ws://", "wss://")


def is_invitation_link(text: str) -> bool:
    """Return whether ``text`` is meant as an invitation link rather than a short code."""
    return "".join(text.split()).lower().startswith(LINK_SCHEME)


def short_code_error_text(error: ShortCodeError) -> str:
    """Return the text of a short-code parse error, with the misspelled word filled in."""
    values: dict[str, str] = {}
    if isinstance(error, UnknownWordError):
        values = {"word": error.word, "suggestion": error.suggestion or ""}
    return code_text(error.code, **values) or engine_error_text(error)


class JoinScreen(ModalScreen[int | None]):
    """Take a short code or a pasted invitation link and pair with the counselor.

    A code needs the relay address when the profile has none yet, so the screen asks
    for it then; a link carries its relay. Dismisses with the new contact's id, or None.
    """

    DEFAULT_CSS = """
    JoinScreen { align: center middle; }
    JoinScreen #dialog {
        width: 78; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    JoinScreen #title { text-style: bold; }
    JoinScreen #status { color: $warning; }
    JoinScreen #status.success { color: $success; }
    JoinScreen #buttons { height: auto; }
    JoinScreen #buttons Button { margin-right: 1; }
    """

    BINDINGS = [Binding("escape", "close", show=False)]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self._contact_id: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(t("pairing.join.title"), id="title", markup=False)
            yield Static(t("pairing.join.prompt"), markup=False)
            yield JoinInput(
                placeholder=t("pairing.join.placeholder"), max_length=MAX_PASTED_CHARS, id="entry"
            )
            if self._engine.state.relay_url is None:
                yield Static(t("pairing.join.relay_label"), markup=False)
                yield Input(placeholder=t("pairing.join.relay_placeholder"), id="relay")
            yield Static("", id="status", markup=False)
            with Horizontal(id="buttons"):
                yield Button(t("pairing.join.submit"), id="submit", variant="primary")
                yield Button(t("pairing.common.close"), id="close")

    def on_mount(self) -> None:
        self.query_one("#entry", JoinInput).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def _submit(self) -> None:
        if self._contact_id is not None or self.query_one("#submit", Button).disabled:
            return
        text = self.query_one("#entry", JoinInput).value.strip()
        if not text:
            self._set_status(t("pairing.join.empty"))
            return

        if is_invitation_link(text):
            self._start(self._join_by_link(text))
            return
        try:
            parse_code(text)
        except ShortCodeError as error:
            # Checked here as well as in the engine, because only the parse error itself
            # names the misspelled word and the suggestion.
            self._set_status(short_code_error_text(error))
            return
        relay_url = self._relay_url()
        if relay_url is not None:
            self._start(self._join_by_code(text, relay_url))

    def _relay_url(self) -> str | None:
        """Return the relay for a code, or None after showing what is missing."""
        if self._engine.state.relay_url is not None:
            return self._engine.state.relay_url
        url = self.query_one("#relay", Input).value.strip()
        if not url:
            self._set_status(t("pairing.join.relay_missing"))
            self.query_one("#relay", Input).focus()
            return None
        if not url.startswith(RELAY_SCHEMES):
            self._set_status(t("pairing.join.relay_invalid", url=url))
            self.query_one("#relay", Input).focus()
            return None
        return url

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        self.query_one("#submit", Button).disabled = True
        self._set_status(t("pairing.join.working"))
        self.run_worker(work, group="join", exclusive=True)

    async def _join_by_code(self, text: str, relay_url: str) -> None:
        try:
            contact_id = await self._engine.join_code(text, relay_url)
        except (EngineError, OSError) as error:
            self._failed(error)
            return
        await self._joined(contact_id, "pairing.join.paired")

    async def _join_by_link(self, link: str) -> None:
        try:
            contact_id = await self._engine.accept_invitation(link)
        except (EngineError, OSError) as error:
            self._failed(error)
            return
        await self._joined(contact_id, "pairing.join.requested")

    def _failed(self, error: BaseException) -> None:
        if not self.is_attached:
            return
        self._set_status(engine_error_text(error))
        self.query_one("#submit", Button).disabled = False

    async def _joined(self, contact_id: int, key: str) -> None:
        self._contact_id = contact_id
        contacts = await self._engine.contacts()
        if not self.is_attached:
            return
        name = next((c.display_name for c in contacts if c.id == contact_id), "")
        self._set_status(t(key, name=name), success=True)
        self.query_one("#close", Button).focus()

    def _set_status(self, message: str, *, success: bool = False) -> None:
        status = self.query_one("#status", Static)
        status.update(message)
        status.set_class(success, "success")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        """Close the screen with the new contact's id, or None."""
        self.dismiss(self._contact_id)
