"""The risk card: which cues matched, and what the counselor may ask or do next."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from konsel.client.core.content_files import CrisisGuide, CrisisStep, RiskCues
from konsel.client.tui.catalog import t
from konsel.client.tui.screens.crisis_panel import CrisisPanelScreen
from konsel.client.tui.widgets.kopasta_session import language


def cue_lines(cues: tuple[str, ...], risk_cues: RiskCues) -> Content:
    """Return each matched phrase with the name of its group, one per line."""
    lang = language()
    lines: list[str] = []
    for cue in cues:
        try:
            group = risk_cues.group_of(cue).label.in_language(lang)
        except KeyError:
            # The school's list changed since the message was read; the phrase still shows.
            lines.append(t("kopasta.risk.cue", phrase=cue))
        else:
            lines.append(t("kopasta.risk.cue_in_group", phrase=cue, group=group))
    return Content("\n".join(lines))


def step_options(steps: tuple[CrisisStep, ...], prefix: str) -> list[Option]:
    """Return one option per step: its title, the advice and the draft question."""
    lang = language()
    options: list[Option] = []
    for step in steps:
        prompt = Text(step.title.in_language(lang), style="bold")
        prompt.append("\n" + step.advice.in_language(lang))
        prompt.append("\n" + step.question.in_language(lang), style="italic")
        options.append(Option(prompt, id=f"{prefix}-{step.key}"))
    return options


class RiskCardScreen(ModalScreen[str | None]):
    """Suggest the risk questions and safety plan steps after a message matched a risk cue.

    Nothing happens on its own: choosing a question closes the card with that question as
    the result, which the panel turns into an editable draft. Escape closes with None.
    """

    DEFAULT_CSS = """
    RiskCardScreen { align: center middle; }
    RiskCardScreen #risk-frame {
        width: 90%; max-width: 90; height: 90%;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    RiskCardScreen .risk-heading { text-style: bold; margin-top: 1; }
    RiskCardScreen OptionList { height: auto; }
    RiskCardScreen #risk-buttons { height: auto; }
    RiskCardScreen #risk-buttons Button { margin-right: 1; }
    """

    BINDINGS = [Binding("escape", "close", show=False)]

    def __init__(self, cues: tuple[str, ...], risk_cues: RiskCues, guide: CrisisGuide) -> None:
        super().__init__()
        self.cues = tuple(cues)
        self.risk_cues = risk_cues
        self.guide = guide

    def compose(self) -> ComposeResult:
        lang = language()
        with Vertical(id="risk-frame"):
            with VerticalScroll(id="risk-scroll"):
                yield Static(t("kopasta.risk.title"), classes="risk-heading")
                yield Static(t("kopasta.risk.matched"), classes="risk-heading")
                if self.cues:
                    yield Static(cue_lines(self.cues, self.risk_cues), id="risk-cues")
                else:
                    yield Static(t("kopasta.risk.no_cues"), id="risk-cues")
                yield Static(Content(self.guide.intro.in_language(lang)))
                yield Static(t("kopasta.risk.choose_hint"))
                yield Static(t("kopasta.crisis.risk_questions"), classes="risk-heading")
                yield OptionList(
                    *step_options(self.guide.risk_questions, "question"),
                    id="risk-questions",
                    markup=False,
                )
                yield Static(t("kopasta.crisis.safety_plan"), classes="risk-heading")
                yield OptionList(
                    *step_options(self.guide.safety_plan_steps, "plan"),
                    id="risk-plan",
                    markup=False,
                )
            with Horizontal(id="risk-buttons"):
                yield Button(t("kopasta.crisis.open"), id="risk-crisis", compact=True)
                yield Button(t("kopasta.common.close"), id="risk-close", compact=True)

    @on(OptionList.OptionSelected)
    def _step_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        for step in (*self.guide.risk_questions, *self.guide.safety_plan_steps):
            if event.option_id in (f"question-{step.key}", f"plan-{step.key}"):
                self.dismiss(step.question.in_language(language()))
                return

    @on(Button.Pressed, "#risk-crisis")
    def _crisis_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.app.push_screen(CrisisPanelScreen(self.guide))

    @on(Button.Pressed, "#risk-close")
    def _close_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        """Close the card without choosing anything."""
        self.dismiss(None)
