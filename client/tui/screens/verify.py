"""The safety-code screen: compare the code with a contact and mark the contact verified."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from konsel.client.core.engine import Engine
from konsel.client.core.events import EngineError
from konsel.protocol.safety import SafetyCode

from ..catalog import t
from .held_key_code import ShownCode, code_to_compare
from .pairing_errors import engine_error_text

DIGIT_GROUPS_PER_LINE = 3
WORDS_PER_LINE = 4


def digits_lines(code: SafetyCode) -> str:
    """Format the digit groups in two lines of three, which are easier to read aloud."""
    groups = code.digit_groups
    lines = [
        " ".join(groups[start : start + DIGIT_GROUPS_PER_LINE])
        for start in range(0, len(groups), DIGIT_GROUPS_PER_LINE)
    ]
    return "\n".join(lines)


def words_lines(code: SafetyCode) -> str:
    """Format the words in two lines of four."""
    words = code.words
    lines = [
        " ".join(words[start : start + WORDS_PER_LINE])
        for start in range(0, len(words), WORDS_PER_LINE)
    ]
    return "\n".join(lines)


class VerifyScreen(ModalScreen[bool | None]):
    """Show the safety code with a contact in digits and words, and store the comparison.

    While the contact's key change is held, the code is that of the new key, and a
    match accepts the new key (releasing the held messages) before marking it verified.
    Dismisses with the contact's verified mark, or None if it could not be read.
    """

    DEFAULT_CSS = """
    VerifyScreen { align: center middle; }
    VerifyScreen #dialog {
        width: 70; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    VerifyScreen #title { text-style: bold; }
    VerifyScreen #new-key { color: $warning; }
    VerifyScreen #code {
        height: auto; border: round $accent; padding: 0 1; margin: 0 0;
    }
    VerifyScreen .code-label { width: 8; color: $text-muted; }
    VerifyScreen #digits, VerifyScreen #words { text-style: bold; width: 1fr; }
    VerifyScreen .code-row { height: auto; }
    VerifyScreen #state.verified { color: $success; }
    VerifyScreen #status { color: $warning; }
    VerifyScreen #status.success { color: $success; }
    VerifyScreen #buttons { height: auto; }
    VerifyScreen #buttons Button { margin-right: 1; }
    """

    BINDINGS = [Binding("escape", "close", show=False)]

    def __init__(self, engine: Engine, contact_id: int) -> None:
        super().__init__()
        self._engine = engine
        self._contact_id = contact_id
        self._name = ""
        self._verified: bool | None = None
        self._shown: ShownCode | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("", id="title", markup=False)
            yield Static("", id="explain", markup=False)
            yield Static("", id="new-key", markup=False)
            with Vertical(id="code"):
                with Horizontal(classes="code-row"):
                    yield Static(t("pairing.verify.digits"), classes="code-label", markup=False)
                    yield Static(t("pairing.verify.loading"), id="digits", markup=False)
                with Horizontal(classes="code-row"):
                    yield Static(t("pairing.verify.words"), classes="code-label", markup=False)
                    yield Static("", id="words", markup=False)
            yield Static("", id="state", markup=False)
            yield Static("", id="status", markup=False)
            with Horizontal(id="buttons"):
                yield Button(t("pairing.verify.match"), id="match", variant="success")
                yield Button(t("pairing.verify.mismatch"), id="mismatch", variant="error")
                yield Button(t("pairing.common.close"), id="close")

    def on_mount(self) -> None:
        self._enable_answers(False)
        self.query_one("#new-key", Static).display = False
        self.run_worker(self._load(), group="verify", exclusive=True)

    async def _load(self) -> None:
        try:
            contacts = await self._engine.contacts()
            shown = await code_to_compare(self._engine, self._contact_id)
        except (EngineError, OSError) as error:
            if self.is_attached:
                self._set_status(engine_error_text(error))
                self.query_one("#digits", Static).update("")
            return
        if not self.is_attached:
            return

        contact = next((c for c in contacts if c.id == self._contact_id), None)
        if contact is None:
            self._set_status(engine_error_text(EngineError("contact_not_found", "")))
            return
        self._name = contact.display_name
        self._shown = shown
        self.query_one("#title", Static).update(t("pairing.verify.title", name=self._name))
        self.query_one("#explain", Static).update(t("pairing.verify.explain", name=self._name))
        new_key = self.query_one("#new-key", Static)
        new_key.update(t("pairing.verify.new_key", name=self._name))
        new_key.display = shown.new_key
        self.query_one("#digits", Static).update(digits_lines(shown.code))
        self.query_one("#words", Static).update(words_lines(shown.code))
        self._show_state(contact.verified and not shown.new_key)
        self._enable_answers(True)

    def _show_state(self, verified: bool) -> None:
        self._verified = verified
        state = self.query_one("#state", Static)
        state.update(t("pairing.verify.verified" if verified else "pairing.verify.unverified"))
        state.set_class(verified, "verified")

    def _enable_answers(self, enabled: bool) -> None:
        self.query_one("#match", Button).disabled = not enabled
        self.query_one("#mismatch", Button).disabled = not enabled

    def _set_status(self, message: str, *, success: bool = False) -> None:
        status = self.query_one("#status", Static)
        status.update(message)
        status.set_class(success, "success")

    @on(Button.Pressed, "#match")
    def _match(self) -> None:
        self._enable_answers(False)
        self.run_worker(self._mark_match(), group="verify", exclusive=True)

    @on(Button.Pressed, "#mismatch")
    def _mismatch(self) -> None:
        self._enable_answers(False)
        self.run_worker(self._mark_mismatch(), group="verify", exclusive=True)

    async def _mark_match(self) -> None:
        new_key = self._shown is not None and self._shown.new_key
        try:
            released = await self._engine.confirm_key_change(self._contact_id) if new_key else 0
            # confirm_key_change clears the mark, so the match is stored after it.
            await self._engine.mark_verified(self._contact_id, True)
        except (EngineError, OSError) as error:
            if self.is_attached:
                self._set_status(engine_error_text(error))
                self._enable_answers(True)
            return
        if not self.is_attached:
            return
        self._show_state(True)
        self.query_one("#new-key", Static).display = False
        if self._shown is not None:
            self._shown = ShownCode(self._shown.code, new_key=False)
        if new_key:
            self._set_status(t("pairing.verify.released", count=released), success=True)
        else:
            self._set_status(t("pairing.verify.marked"), success=True)
        self._enable_answers(True)

    async def _mark_mismatch(self) -> None:
        try:
            await self._engine.mark_verified(self._contact_id, False)
        except (EngineError, OSError) as error:
            if self.is_attached:
                self._set_status(engine_error_text(error))
                self._enable_answers(True)
            return
        if not self.is_attached:
            return
        self._show_state(False)
        self._set_status(t("pairing.verify.mismatch_done", name=self._name))
        self._enable_answers(True)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        """Close the screen with the contact's verified mark."""
        self.dismiss(self._verified)
