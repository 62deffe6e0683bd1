"""The first-run screen: language, role, display name, passphrase and relay address.

All steps are on one scrollable form, so Tab and shift+Tab reach every field and the
form works at 80x24. Choosing a language switches the catalog and rebuilds the form in
that language at once, keeping what was typed. "Create profile" checks every field, then
calls ``app.create_profile`` in an app worker (a successful call replaces this screen,
which would cancel a worker of the screen) and shows any error on the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Input, Label, RadioSet, Static

from konsel.client.tui import catalog
from konsel.client.tui.bindings import localize_bindings
from konsel.client.tui.catalog import t
from konsel.client.tui.screens.first_run_checks import (
    MIN_PASSPHRASE_CHARS,
    Problem,
    check_display_name,
    check_passphrase,
    check_relay_url,
)
from konsel.client.tui.screens.relay_check import check_relay
from konsel.client.tui.screens.start_errors import error_text
from konsel.client.tui.screens.start_host import start_host
from konsel.client.tui.setup import NewProfile
from konsel.client.tui.widgets.choice_button import ChoiceButton
from konsel.protocol.content import MAX_DISPLAY_NAME_CHARS, MAX_RELAY_URL_CHARS

LANGUAGE_CHOICES = ("id", "en")
"""Languages in the order of the language buttons."""
ROLE_CHOICES = ("counselor", "student")
"""Engine role names in the order of the role buttons."""


@dataclass(frozen=True)
class FormDraft:
    """The typed form values, kept while the form is rebuilt in another language."""

    role: str | None = None
    display_name: str = ""
    passphrase: str = ""
    passphrase_repeat: str = ""
    relay_url: str = ""


class FirstRunScreen(Screen[None]):
    """Collect the first-run choices and create the profile through the app."""

    DEFAULT_CSS = """
    FirstRunScreen #first-run-form {
        padding: 0 2;
    }
    FirstRunScreen #first-run-title {
        text-style: bold;
        margin-top: 1;
    }
    FirstRunScreen Label {
        margin-top: 1;
        text-style: bold;
    }
    FirstRunScreen RadioSet {
        width: 100%;
    }
    FirstRunScreen .hint {
        color: $text-muted;
    }
    FirstRunScreen .warning {
        color: $warning;
    }
    FirstRunScreen .field-error {
        color: $error;
    }
    FirstRunScreen #relay-check-row {
        height: auto;
    }
    FirstRunScreen #relay-check-status {
        width: 1fr;
        padding: 0 1;
    }
    FirstRunScreen #relay-check-status.ok {
        color: $success;
    }
    FirstRunScreen #create-status {
        margin-top: 1;
    }
    FirstRunScreen #create-profile {
        margin-bottom: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "start.keys.quit", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        localize_bindings(self)
        self.draft = FormDraft()
        """The values the next :meth:`compose` fills in."""
        self.busy = False
        """True while the profile is being created. The form ignores a second submit."""

    # --- building the form ----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Build the form in the current language from :attr:`draft`."""
        draft = self.draft
        language = catalog.current().language
        form = VerticalScroll(id="first-run-form")
        # Tab moves between the fields only, and focusing a field scrolls it into view.
        form.can_focus = False
        with form:
            yield Static(t("start.first_run.title"), id="first-run-title", markup=False)
            yield Static(t("start.first_run.intro"), classes="hint", markup=False)

            yield Label(t("start.first_run.language_label"), markup=False)
            with RadioSet(id="language"):
                for choice in LANGUAGE_CHOICES:
                    yield ChoiceButton(
                        t(f"start.first_run.language_{choice}"), value=choice == language
                    )

            yield Label(t("start.first_run.role_label"), markup=False)
            with RadioSet(id="role"):
                for role in ROLE_CHOICES:
                    yield ChoiceButton(t(f"start.first_run.role_{role}"), value=role == draft.role)
            yield _error_line("role-error")

            yield Label(t("start.first_run.name_label"), markup=False)
            yield Static(
                t("start.first_run.name_hint", limit=MAX_DISPLAY_NAME_CHARS),
                classes="hint",
                markup=False,
            )
            yield Input(
                draft.display_name,
                placeholder=t("start.first_run.name_placeholder"),
                id="display-name",
                max_length=MAX_DISPLAY_NAME_CHARS,
            )
            yield _error_line("display-name-error")

            yield Label(t("start.first_run.passphrase_label"), markup=False)
            yield Static(
                t("start.first_run.passphrase_rule", minimum=MIN_PASSPHRASE_CHARS),
                classes="hint",
                markup=False,
            )
            yield Static(t("start.first_run.passphrase_warning"), classes="warning", markup=False)
            yield Input(draft.passphrase, password=True, id="passphrase")
            yield Label(t("start.first_run.passphrase_repeat_label"), markup=False)
            yield Input(draft.passphrase_repeat, password=True, id="passphrase-repeat")
            yield _error_line("passphrase-error")

            yield Label(t("start.first_run.relay_label"), markup=False)
            yield Static(t("start.first_run.relay_hint"), classes="hint", markup=False)
            yield Input(
                draft.relay_url,
                placeholder=t("start.first_run.relay_placeholder"),
                id="relay-url",
                max_length=MAX_RELAY_URL_CHARS,
            )
            yield _error_line("relay-url-error")
            with Horizontal(id="relay-check-row"):
                yield Button(t("start.first_run.check"), id="check-relay")
                yield Static("", id="relay-check-status", markup=False)

            yield _error_line("create-status")
            yield Button(t("start.first_run.submit"), id="create-profile", variant="primary")

    def on_mount(self) -> None:
        """Start on the language choice, the first step."""
        # A relay given on the command line (--relay) fills the field once.
        preset = getattr(self.app, "relay_url", None)
        relay_field = self.query_one("#relay-url", Input)
        if preset and not relay_field.value:
            relay_field.value = preset
        self.query_one("#language", RadioSet).focus(scroll_visible=False)
        # Back to the top once laid out, so the title and the introduction are in view.
        form = self.query_one("#first-run-form", VerticalScroll)
        self.call_after_refresh(form.scroll_home, animate=False)

    # --- language ---------------------------------------------------------------------------

    @on(RadioSet.Changed, "#language")
    async def switch_language(self, event: RadioSet.Changed) -> None:
        """Use the chosen language everywhere and rebuild the form in it."""
        language = LANGUAGE_CHOICES[event.index]
        if language == catalog.current().language:
            return
        self.draft = self._read_form()
        start_host(self.app).set_language(language)
        localize_bindings(self)
        await self.recompose()
        # The draft held the typed passphrase only for the rebuild.
        self.draft = FormDraft()
        self.query_one("#language", RadioSet).focus(scroll_visible=False)

    def _read_form(self) -> FormDraft:
        role_index = self.query_one("#role", RadioSet).pressed_index
        return FormDraft(
            role=ROLE_CHOICES[role_index] if role_index >= 0 else None,
            display_name=self.query_one("#display-name", Input).value,
            passphrase=self.query_one("#passphrase", Input).value,
            passphrase_repeat=self.query_one("#passphrase-repeat", Input).value,
            relay_url=self.query_one("#relay-url", Input).value,
        )

    # --- connection check -------------------------------------------------------------------

    @on(Button.Pressed, "#check-relay")
    def start_relay_check(self) -> None:
        """Check the typed relay address in a worker, replacing a check still running."""
        url = self.query_one("#relay-url", Input).value.strip()
        problem = check_relay_url(url, required=True)
        self._show_problem("relay-url-error", problem)
        if problem is not None:
            self._set_text("relay-check-status", "")
            self.query_one("#relay-url", Input).focus()
            return
        self._set_text("relay-check-status", t("start.first_run.checking"), error=False)
        self.run_worker(self._check_relay(url), group="relay-check", exclusive=True)

    async def _check_relay(self, url: str) -> None:
        result = await check_relay(url)
        # A result for an address edited while the check ran no longer applies.
        if not self.is_attached or self.query_one("#relay-url", Input).value.strip() != url:
            return
        message = t(result.key, seconds=round(result.seconds))
        self._set_text("relay-check-status", message, error=not result.reachable)
        self.query_one("#relay-check-status", Static).set_class(result.reachable, "ok")

    # --- creating the profile -------------------------------------------------------------

    @on(Input.Submitted, "#relay-url")
    @on(Button.Pressed, "#create-profile")
    def submit(self) -> None:
        """Check every field, and when all pass, create the profile in an app worker."""
        if self.busy:
            return
        draft = self._read_form()
        problems = {
            "role-error": None if draft.role else Problem("start.first_run.errors.role_missing"),
            "display-name-error": check_display_name(draft.display_name),
            "passphrase-error": check_passphrase(draft.passphrase, draft.passphrase_repeat),
            "relay-url-error": check_relay_url(
                draft.relay_url.strip(), required=draft.role == "counselor"
            ),
        }
        for line_id, problem in problems.items():
            self._show_problem(line_id, problem)
        self._set_text("create-status", "")

        first_invalid = next((name for name, found in problems.items() if found), None)
        if first_invalid is not None:
            self._focus_field_of(first_invalid, problems[first_invalid])
            return

        assert draft.role is not None  # checked above, and this narrows the type for mypy
        choice = NewProfile(
            language=catalog.current().language,
            role=draft.role,
            display_name=draft.display_name.strip(),
            passphrase=draft.passphrase,
            relay_url=draft.relay_url.strip() or None,
        )
        self._set_busy(True)
        self._set_text("create-status", t("start.first_run.creating"), error=False)
        self.app.run_worker(self._create(choice), group="start-create", exclusive=True)

    async def _create(self, choice: NewProfile) -> None:
        try:
            await start_host(self.app).create_profile(choice)
        except Exception as error:
            if self.is_attached:
                self._set_busy(False)
                self._set_text("create-status", error_text(error))
            return
        # The app normally replaces this screen. If it stays, drop the typed passphrase.
        if self.is_attached:
            self._set_busy(False)
            self._set_text("create-status", "")
            self.query_one("#passphrase", Input).clear()
            self.query_one("#passphrase-repeat", Input).clear()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.query_one("#create-profile", Button).disabled = busy
        self.query_one("#language", RadioSet).disabled = busy

    # --- small helpers ----------------------------------------------------------------------

    def _show_problem(self, line_id: str, problem: Problem | None) -> None:
        text = "" if problem is None else t(problem.key, **problem.values)
        self._set_text(line_id, text)

    def _set_text(self, line_id: str, text: str, *, error: bool = True) -> None:
        line = self.query_one(f"#{line_id}", Static)
        line.update(text)
        line.set_class(error, "field-error")
        line.display = bool(text) or line_id == "relay-check-status"

    def _focus_field_of(self, line_id: str, problem: Problem | None) -> None:
        field_ids = {
            "role-error": "#role",
            "display-name-error": "#display-name",
            "passphrase-error": "#passphrase",
            "relay-url-error": "#relay-url",
        }
        field_id = field_ids[line_id]
        if problem is not None and problem.key == "start.first_run.errors.passphrase_mismatch":
            # The first entry is fine by itself, so only the repeat has to be typed again.
            field_id = "#passphrase-repeat"
            self.query_one(field_id, Input).clear()
        field = self.query_one(field_id)
        field.focus()
        field.scroll_visible()

    def action_quit(self) -> None:
        """Quit the app without creating a profile."""
        self.app.exit()


def _error_line(line_id: str) -> Static:
    """Return an empty, hidden line for a field's error message."""
    line = Static("", id=line_id, classes="field-error", markup=False)
    line.display = False
    return line
