"""The crisis panel: crisis contacts and the steps a counselor follows when there is risk."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from konsel.client.core.content_files import CrisisContact, CrisisGuide, CrisisStep
from konsel.client.tui.catalog import t
from konsel.client.tui.widgets.kopasta_session import (
    format_date,
    language,
    load_school_content,
    today,
)


def contact_text(contact: CrisisContact) -> Content:
    """Return a contact's name, channels and description as lines of text."""
    lang = language()
    channels: list[str] = []
    if contact.phone is not None and contact.extension is not None:
        channels.append(
            t("kopasta.crisis.phone_extension", phone=contact.phone, extension=contact.extension)
        )
    elif contact.phone is not None:
        channels.append(t("kopasta.crisis.phone", phone=contact.phone))
    if contact.whatsapp is not None:
        channels.append(t("kopasta.crisis.whatsapp", number=contact.whatsapp))
    if contact.website is not None:
        channels.append(t("kopasta.crisis.website", address=contact.website))
    if not contact.is_filled_in:
        channels.append(t("kopasta.crisis.not_filled"))

    parts: list[str | tuple[str, str]] = [(contact.name.in_language(lang), "bold")]
    parts.extend("\n" + line for line in channels)
    parts.append(("\n" + contact.description.in_language(lang), "italic"))
    return Content.assemble(*parts)


def steps_text(steps: tuple[CrisisStep, ...]) -> Content:
    """Return crisis steps as a numbered list of titles with their advice."""
    lang = language()
    parts: list[str | tuple[str, str]] = []
    for number, step in enumerate(steps, start=1):
        if number > 1:
            parts.append("\n")
        parts.append((f"{number}. {step.title.in_language(lang)}", "bold"))
        parts.append("\n" + step.advice.in_language(lang))
    return Content.assemble(*parts)


class CrisisPanelScreen(ModalScreen[None]):
    """List every crisis contact of the (school's) crisis file, and the crisis steps.

    Opening it changes nothing and sends nothing. Escape closes it.
    """

    DEFAULT_CSS = """
    CrisisPanelScreen { align: center middle; }
    CrisisPanelScreen #crisis-frame {
        width: 90%; max-width: 90; height: 90%;
        border: thick $error; background: $surface; padding: 0 1;
    }
    CrisisPanelScreen .crisis-heading { text-style: bold; margin-top: 1; }
    CrisisPanelScreen .crisis-contact { margin-top: 1; }
    CrisisPanelScreen #crisis-overdue { color: $warning; }
    """

    BINDINGS = [Binding("escape", "close", show=False)]
    AUTO_FOCUS = "#crisis-scroll"

    def __init__(self, guide: CrisisGuide | None = None, *, show_steps: bool = True) -> None:
        super().__init__()
        self.guide = guide or load_school_content().bundle.crisis
        self.show_steps = show_steps
        """Whether to list the counselor's crisis steps under the contacts."""

    def compose(self) -> ComposeResult:
        guide = self.guide
        lang = language()
        with Vertical(id="crisis-frame"):
            with VerticalScroll(id="crisis-scroll"):
                yield Static(t("kopasta.crisis.title"), classes="crisis-heading")
                yield Static(t("kopasta.crisis.intro"))
                if guide.is_check_overdue(today()):
                    checked = format_date(guide.checked)
                    yield Static(
                        t("kopasta.crisis.check_overdue", checked=checked), id="crisis-overdue"
                    )
                for contact in guide.contacts:
                    yield Static(
                        contact_text(contact),
                        classes="crisis-contact",
                        id=f"crisis-contact-{contact.key}",
                    )
                if self.show_steps:
                    yield Static(Content(guide.title.in_language(lang)), classes="crisis-heading")
                    yield Static(Content(guide.intro.in_language(lang)))
                    yield Static(t("kopasta.crisis.risk_questions"), classes="crisis-heading")
                    yield Static(steps_text(guide.risk_questions), id="crisis-risk-questions")
                    yield Static(t("kopasta.crisis.safety_plan"), classes="crisis-heading")
                    yield Static(steps_text(guide.safety_plan_steps), id="crisis-safety-plan")
            yield Button(t("kopasta.common.close"), id="crisis-close", compact=True)

    @on(Button.Pressed, "#crisis-close")
    def _close_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        """Close the crisis panel."""
        self.dismiss(None)
