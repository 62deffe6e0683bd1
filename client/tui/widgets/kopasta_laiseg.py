"""The konseli's LAISEG answers, as the panel and the evaluation screen show them."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Button, Label, Static

from konsel.client.core.kopasta import EvaluationForms, FieldKind
from konsel.client.tui.catalog import t
from konsel.client.tui.widgets.kopasta_session import language


def answers_text(answers: Mapping[str, str], forms: EvaluationForms) -> Content:
    """Return LAISEG answers as question and answer lines, in the form's order.

    A rating shows its number and label; an answer whose key the form does not know
    (a question the school removed later) is shown under its key.
    """
    lang = language()
    known = {field.key: field for field in forms.laiseg.fields}
    ordered = [key for key in known if key in answers]
    ordered += [key for key in answers if key not in known]

    parts: list[str | tuple[str, str]] = []
    for key in ordered:
        field = known.get(key)
        question = field.label.in_language(lang) if field is not None else key
        answer = answers[key]
        if field is not None and field.kind is FieldKind.RATING:
            with contextlib.suppress(ValueError):
                answer = f"{answer} {forms.rating_label(int(answer)).in_language(lang)}"
        if parts:
            parts.append("\n")
        parts.extend([(question, "bold"), "\n" + answer])
    return Content.assemble(*parts)


class KopastaLaisegBox(Vertical):
    """The penilaian part of the panel: the latest LAISEG answers and the evaluation screen button."""

    DEFAULT_CSS = """
    KopastaLaisegBox { height: auto; }
    KopastaLaisegBox .kopasta-heading { text-style: bold; margin-top: 1; }
    KopastaLaisegBox #kopasta-laiseg-answers { height: auto; }
    """

    def __init__(self, forms: EvaluationForms, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.forms = forms
        self.answers: dict[str, str] | None = None
        """The latest LAISEG answers of the session, or None while none arrived."""

    def compose(self) -> ComposeResult:
        yield Label(t("kopasta.laiseg.heading"), classes="kopasta-heading")
        yield Static(t("kopasta.laiseg.none_yet"), id="kopasta-laiseg-answers")
        yield Button(t("kopasta.laiseg.open"), id="kopasta-open-evaluation", compact=True)

    def show_answers(self, answers: Mapping[str, str] | None) -> None:
        """Show ``answers``, or the waiting text when None."""
        self.answers = None if answers is None else dict(answers)
        shown = self.query_one("#kopasta-laiseg-answers", Static)
        if answers is None:
            shown.update(t("kopasta.laiseg.none_yet"))
        else:
            shown.update(answers_text(answers, self.forms))
