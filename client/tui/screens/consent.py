"""The konseli's consent screen: the counselor's consent text, accepted or declined."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, RadioSet, Static

from konsel.client.core.consent_file import (
    CONSENT_OVERRIDE_FILE,
    PLACEHOLDER_PATTERN,
    ConsentText,
    load_consent,
)
from konsel.client.core.content_files import default_override_folder
from konsel.client.core.content_reader import ContentFileError
from konsel.client.core.engine import Engine
from konsel.client.core.events import EngineError
from konsel.protocol.content import GuardianConsent

from ..catalog import t
from ..widgets.choice_button import ChoiceButton
from .pairing_errors import current_language, engine_error_text

logger = logging.getLogger("konsel.client.tui.student")

GUARDIAN_CHOICES: tuple[GuardianConsent, ...] = ("given", "not_needed", "pending")
"""The konseli's statements about the guardian's consent, in the order shown."""


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace each ``{placeholder}`` of a consent text with its value."""
    return PLACEHOLDER_PATTERN.sub(lambda match: values[match.group(1)], text)


def school_consent_file() -> Path | None:
    """Return the school's edited consent text, if the override folder has one."""
    override = default_override_folder() / CONSENT_OVERRIDE_FILE
    return override if override.is_file() else None


class ConsentScreen(ModalScreen[bool | None]):
    """Show the versioned consent text and send the konseli's answer to the counselor.

    The text is the school's ``consent.toml`` when there is one, else the packaged
    version. Accepting needs one of the guardian-consent answers. Dismisses with True
    after an acceptance was sent, False after a refusal, None when closed unanswered.

    Args:
        school_name: fills ``{school_name}``; without it the text says "your school".
        retention_period: fills ``{retention_period}``; without it the text names the
            period the school sets.
        consent_file: a school's consent text, by default the override folder's copy.
    """

    DEFAULT_CSS = """
    ConsentScreen { align: center middle; }
    ConsentScreen #dialog {
        width: 80; max-width: 100%; height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ConsentScreen #title { text-style: bold; }
    ConsentScreen #text { height: 1fr; border: round $panel; padding: 0 1; }
    ConsentScreen .heading { text-style: bold; margin-top: 1; }
    ConsentScreen #guardian { width: 100%; height: auto; }
    ConsentScreen #status { color: $warning; }
    ConsentScreen #status.success { color: $success; }
    ConsentScreen #buttons { height: auto; }
    ConsentScreen #buttons Button { margin-right: 1; }
    """

    BINDINGS = [Binding("escape", "close", show=False)]

    def __init__(
        self,
        engine: Engine,
        contact_id: int,
        *,
        school_name: str | None = None,
        retention_period: str | None = None,
        consent_file: Path | None = None,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._contact_id = contact_id
        self._school_name = school_name
        self._retention_period = retention_period
        self._consent_file = consent_file
        self._consent: ConsentText | None = None
        self._answer: bool | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("", id="title", markup=False)
            yield VerticalScroll(id="text")
            yield Static(t("student.consent.guardian_label"), markup=False)
            with RadioSet(id="guardian"):
                for choice in GUARDIAN_CHOICES:
                    yield ChoiceButton(t(f"student.consent.guardian_{choice}"), id=choice)
            yield Static("", id="status", markup=False)
            with Horizontal(id="buttons"):
                yield Button("", id="agree", variant="primary", disabled=True)
                yield Button("", id="decline", disabled=True)
                yield Button(t("student.common.close"), id="close")

    def on_mount(self) -> None:
        self.query_one("#close", Button).display = False
        self.run_worker(self._load(), group="consent", exclusive=True)

    async def _load(self) -> None:
        override = self._consent_file or school_consent_file()
        try:
            consent = await asyncio.to_thread(load_consent, override)
        except ContentFileError as error:
            logger.error("consent text %s is invalid: %s", error.file, error.problem)
            self._set_status(t("student.consent.load_failed"))
            return
        contacts = await self._engine.contacts()
        if not self.is_attached:
            return

        language = current_language()
        counselor = next((c.display_name for c in contacts if c.id == self._contact_id), "")
        values = {
            "counselor_name": counselor,
            "school_name": self._school_name or t("student.consent.school_unknown"),
            "retention_period": self._retention_period or t("student.consent.retention_unknown"),
        }
        sections: list[Static] = []
        for section in consent.sections:
            heading = fill_placeholders(section.heading.in_language(language), values)
            body = fill_placeholders(section.body.in_language(language), values)
            sections.append(Static(heading, classes="heading", markup=False))
            sections.append(Static(body, markup=False))
        text = self.query_one("#text", VerticalScroll)
        await text.mount_all(sections)
        if not self.is_attached:
            return

        self._consent = consent
        self.query_one("#title", Static).update(consent.title.in_language(language))

        agree = self.query_one("#agree", Button)
        agree.label = consent.agree.in_language(language)
        agree.disabled = False
        decline = self.query_one("#decline", Button)
        decline.label = consent.decline.in_language(language)
        decline.disabled = False
        # The buttons were laid out with empty labels; their width follows the new ones.
        agree.refresh(layout=True)
        decline.refresh(layout=True)
        text.focus()

    def _guardian_choice(self) -> GuardianConsent | None:
        pressed = self.query_one("#guardian", RadioSet).pressed_button
        if pressed is None:
            return None
        return next(choice for choice in GUARDIAN_CHOICES if choice == pressed.id)

    @on(Button.Pressed, "#agree")
    def _agree(self) -> None:
        guardian = self._guardian_choice()
        if guardian is None:
            self._set_status(t("student.consent.guardian_missing"))
            self.query_one("#guardian", RadioSet).focus()
            return
        self._send(True, guardian)

    @on(Button.Pressed, "#decline")
    def _decline(self) -> None:
        # NOTE: a refusal still carries a guardian statement, because the message needs
        # one; without a choice it is "pending", which claims nothing.
        self._send(False, self._guardian_choice() or "pending")

    def _send(self, accepted: bool, guardian: GuardianConsent) -> None:
        if self._consent is None:
            return
        self.query_one("#agree", Button).disabled = True
        self.query_one("#decline", Button).disabled = True
        self._set_status(t("student.consent.sending"))
        work = self._send_answer(self._consent.version, accepted, guardian)
        self.run_worker(work, group="consent", exclusive=True)

    async def _send_answer(self, version: str, accepted: bool, guardian: GuardianConsent) -> None:
        try:
            await self._engine.send_consent(self._contact_id, version, accepted, guardian)
        except (EngineError, OSError) as error:
            if self.is_attached:
                self._set_status(engine_error_text(error))
                self.query_one("#agree", Button).disabled = False
                self.query_one("#decline", Button).disabled = False
            return
        if not self.is_attached:
            return
        self._answer = accepted
        message = "student.consent.accepted" if accepted else "student.consent.declined"
        self._set_status(t(message), success=accepted)
        self.query_one("#agree", Button).display = False
        self.query_one("#decline", Button).display = False
        close = self.query_one("#close", Button)
        close.display = True
        close.focus()

    def _set_status(self, message: str, *, success: bool = False) -> None:
        status = self.query_one("#status", Static)
        status.update(message)
        status.set_class(success, "success")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        """Close the screen with the answer sent, or None if none was sent."""
        self.dismiss(self._answer)
