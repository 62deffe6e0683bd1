"""The counselor's invitation screen: a short code to read out and a link to send."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    EngineError,
    EventStream,
    ShortCodeFailed,
    ShortCodePaired,
    ShortCodeReady,
)

from ..catalog import t
from .pairing_errors import current_language, engine_error_text

logger = logging.getLogger("konsel.client.tui.pairing")

DEFAULT_LINK_FILE = Path.home() / "konsel-invitation.txt"
"""Default file that "Save to file" writes the link to."""


class InviteScreen(ModalScreen[int | None]):
    """Open a short code for a konseli, show it with its expiry, and offer a link.

    The screen dismisses with the new contact's id once a konseli paired by the code,
    or with None. Closing it cancels a code that nobody used.
    """

    DEFAULT_CSS = """
    InviteScreen { align: center middle; }
    InviteScreen #dialog {
        width: 78; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    InviteScreen #title { text-style: bold; }
    InviteScreen #code {
        text-style: bold; content-align: center middle; width: 100%;
        border: round $accent; padding: 0 2; color: $text;
    }
    InviteScreen #status { color: $warning; }
    InviteScreen #status.success { color: $success; }
    InviteScreen #link { height: 4; }
    InviteScreen #buttons { height: auto; }
    InviteScreen #buttons Button { margin-right: 1; min-width: 10; }
    """

    BINDINGS = [Binding("escape", "close", show=False)]

    def __init__(self, engine: Engine, *, link_file: Path | None = None) -> None:
        super().__init__()
        self._engine = engine
        self._link_file = link_file or DEFAULT_LINK_FILE
        self._stream: EventStream | None = None
        self._code: str | None = None
        self._expires_at: int | None = None
        self._link: str | None = None
        self._contact_id: int | None = None
        self._ended = False
        """True once the open code paired, failed or expired, so the countdown stops."""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(t("pairing.invite.title"), id="title", markup=False)
            yield Static(t("pairing.invite.code_label"), markup=False)
            yield Static(t("pairing.invite.code_waiting"), id="code", markup=False)
            yield Static("", id="countdown", markup=False)
            yield Static("", id="status", markup=False)
            yield Static(t("pairing.invite.link_label"), markup=False)
            yield TextArea(t("pairing.invite.link_waiting"), id="link", read_only=True)
            with Horizontal(id="buttons"):
                yield Button(t("pairing.invite.new_code"), id="new-code", disabled=True)
                yield Button(t("pairing.invite.copy"), id="copy", disabled=True)
                yield Button(t("pairing.invite.save"), id="save", disabled=True)
                yield Button(t("pairing.common.close"), id="close")

    def on_mount(self) -> None:
        # Subscribe before the code opens, so its ShortCodeReady is not missed.
        self._stream = self._engine.events()
        self.run_worker(self._watch_events(self._stream), group="invite-events")
        self.run_worker(self._open_code_and_link(), group="invite-code", exclusive=True)
        self.set_interval(1.0, self._show_countdown)

    async def on_unmount(self) -> None:
        if self._stream is not None:
            self._stream.close()
        if self._contact_id is None:
            # The screen can close without the close action (lock, quick exit), so the
            # app cancels the code. cancel_code does nothing when no code is open.
            self.app.run_worker(self._engine.cancel_code(), group="invite-cancel")

    # --- the code and the link -----------------------------------------------------------

    async def _open_code_and_link(self) -> None:
        """Open a code, then create the link.

        The two run one after the other because the first invitation creates the
        counselor's contact inbox, and two running at once would create two inboxes.
        """
        opened = await self._open_code()
        if opened and self._link is None:
            await self._make_link()

    async def _open_code(self) -> bool:
        """Open a new short code and show it; return whether it opened."""
        self._ended = False
        self._expires_at = None
        self.query_one("#new-code", Button).disabled = True
        try:
            code = await self._create_code()
        except (EngineError, OSError) as error:
            if self.is_attached:
                self._end_code(engine_error_text(error))
            return False
        if not self.is_attached:
            return False
        self._show_code(code)
        self.query_one("#new-code", Button).disabled = False
        return True

    async def _create_code(self) -> str:
        try:
            return await self._engine.create_code()
        except EngineError as error:
            if error.code != "code_active":
                raise
        # A code left open by an earlier screen is of no use to anyone now.
        await self._engine.cancel_code()
        return await self._engine.create_code()

    async def _make_link(self) -> None:
        try:
            link = await self._engine.create_invitation()
        except (EngineError, OSError) as error:
            if self.is_attached:
                self._set_status(engine_error_text(error))
            return
        if not self.is_attached:
            return
        self._link = link
        self.query_one("#link", TextArea).load_text(link)
        self.query_one("#copy", Button).disabled = False
        self.query_one("#save", Button).disabled = False

    def _show_code(self, code: str) -> None:
        self._code = code
        self.query_one("#code", Static).update(code)
        self._set_status("")
        self._show_countdown()

    # --- engine events -------------------------------------------------------------------

    async def _watch_events(self, stream: EventStream) -> None:
        async for event in stream:
            if not self.is_attached:
                return
            if isinstance(event, ShortCodeReady):
                self._expires_at = event.expires_at
                self._show_code(event.code)
            elif isinstance(event, ShortCodePaired):
                self._contact_id = event.contact_id
                self._end_code(t("pairing.invite.paired", name=event.display_name), success=True)
            elif isinstance(event, ShortCodeFailed):
                failure = event.text(current_language())
                self._end_code(f"{failure} {t('pairing.invite.failed_hint')}")

    def _end_code(self, message: str, *, success: bool = False) -> None:
        self._ended = True
        self.query_one("#countdown", Static).update("")
        self._set_status(message, success=success)
        self.query_one("#new-code", Button).disabled = success

    def _show_countdown(self) -> None:
        if self._ended or self._expires_at is None:
            return
        remaining = max(0, round(self._expires_at - time.time()))
        if remaining == 0:
            self._end_code(t("pairing.invite.expired"))
            return
        minutes, seconds = divmod(remaining, 60)
        countdown = t("pairing.invite.expires_in", minutes=minutes, seconds=f"{seconds:02d}")
        self.query_one("#countdown", Static).update(countdown)

    def _set_status(self, message: str, *, success: bool = False) -> None:
        status = self.query_one("#status", Static)
        status.update(message)
        status.set_class(success, "success")

    # --- buttons -------------------------------------------------------------------------

    @on(Button.Pressed, "#new-code")
    def _new_code(self) -> None:
        self.run_worker(self._replace_code(), group="invite-code", exclusive=True)

    async def _replace_code(self) -> None:
        await self._engine.cancel_code()
        self.query_one("#code", Static).update(t("pairing.invite.code_waiting"))
        await self._open_code()

    @on(Button.Pressed, "#copy")
    def _copy_link(self) -> None:
        if self._link is None:
            return
        self.app.copy_to_clipboard(self._link)
        self._set_status(t("pairing.invite.copied"), success=True)

    @on(Button.Pressed, "#save")
    def _save_link(self) -> None:
        if self._link is not None:
            self.run_worker(self._write_link(self._link), group="invite-save", exclusive=True)

    async def _write_link(self, link: str) -> None:
        path = self._link_file
        try:
            await asyncio.to_thread(write_private_file, path, link + "\n")
        except OSError as error:
            logger.warning("could not save the invitation link: %s", type(error).__name__)
            reason = error.strerror or type(error).__name__
            self._set_status(t("pairing.invite.save_failed", path=str(path), reason=reason))
            return
        if self.is_attached:
            self._set_status(t("pairing.invite.saved", path=str(path)), success=True)

    @on(Button.Pressed, "#close")
    async def _close_pressed(self) -> None:
        await self.action_close()

    async def action_close(self) -> None:
        """Cancel a code nobody used and close the screen."""
        if self._contact_id is None:
            await self._engine.cancel_code()
        self.dismiss(self._contact_id)


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (mode 0600), replacing it."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        # The mode of open() applies to new files only; an existing file is narrowed here.
        os.fchmod(file.fileno(), 0o600)
        file.write(text)
