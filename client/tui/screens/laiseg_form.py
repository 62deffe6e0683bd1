"""The konseli's LAISEG form: answer the counselor's evaluation questions for a session."""

from __future__ import annotations

import asyncio

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Select, Static, TextArea

from konsel.client.core.engine import Engine
from konsel.client.core.events import EngineError, EvaluationRequested
from konsel.client.core.kopasta import RATING_MAX, RATING_MIN, EvaluationForms
from konsel.protocol.content import MAX_EVAL_ANSWER_CHARS

from ..catalog import t
from .laiseg_questions import FormQuestion, answers_for_engine, form_questions, load_forms
from .pairing_errors import current_language, engine_error_text


class LaisegFormScreen(ModalScreen[bool]):
    """Show the questions of an evaluation request, check the answers and send them.

    Text questions get a text box and rating questions a 1-5 choice labelled with the
    form's rating scale. Dismisses with True once the answers were sent, else False.
    """

    DEFAULT_CSS = """
    LaisegFormScreen { align: center middle; }
    LaisegFormScreen #dialog {
        width: 80; max-width: 100%; height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    LaisegFormScreen #title { text-style: bold; }
    LaisegFormScreen #form { height: 1fr; }
    LaisegFormScreen .prompt { margin-top: 1; }
    LaisegFormScreen .answer-text { height: 4; }
    LaisegFormScreen #status { color: $warning; }
    LaisegFormScreen #status.success { color: $success; }
    LaisegFormScreen #buttons { height: auto; }
    LaisegFormScreen #buttons Button { margin-right: 1; }
    """

    BINDINGS = [Binding("escape", "close", show=False)]

    def __init__(self, engine: Engine, event: EvaluationRequested) -> None:
        super().__init__()
        self._engine = engine
        self._event = event
        self._questions: tuple[FormQuestion, ...] = ()
        self._sent = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("", id="title", markup=False)
            yield VerticalScroll(id="form")
            yield Static("", id="status", markup=False)
            with Horizontal(id="buttons"):
                yield Button(t("student.laiseg.submit"), id="submit", variant="primary")
                yield Button(t("student.common.close"), id="close")

    def on_mount(self) -> None:
        self.query_one("#submit", Button).disabled = True
        self.run_worker(self._build_form(), group="laiseg", exclusive=True)

    async def _build_form(self) -> None:
        forms = await asyncio.to_thread(load_forms)
        if not self.is_attached:
            return
        language = current_language()
        questions = form_questions(self._event.questions, forms)
        widgets: list[Widget] = [Static(forms.laiseg.intro.in_language(language), markup=False)]
        for question in questions:
            widgets.append(Static(self._prompt_text(question), classes="prompt", markup=False))
            widgets.append(self._answer_widget(question, forms))
        await self.query_one("#form", VerticalScroll).mount_all(widgets)
        if not self.is_attached:
            return

        self._questions = questions
        self.query_one("#title", Static).update(forms.laiseg.title.in_language(language))
        self.query_one("#submit", Button).disabled = False
        if len(widgets) > 2:
            widgets[2].focus()

    @staticmethod
    def _prompt_text(question: FormQuestion) -> str:
        text = f"{question.number}. {question.prompt}"
        if question.optional:
            text = f"{text} {t('student.laiseg.optional')}"
        return text

    @staticmethod
    def _answer_widget(question: FormQuestion, forms: EvaluationForms) -> Widget:
        widget_id = f"answer-{question.key}"
        if not question.rating:
            return TextArea(id=widget_id, classes="answer-text", tab_behavior="focus")
        language = current_language()
        options = [
            (f"{score} — {forms.rating_label(score).in_language(language)}", score)
            for score in range(RATING_MIN, RATING_MAX + 1)
        ]
        return Select(options, prompt=t("student.laiseg.rating_prompt"), id=widget_id)

    # --- checking and sending ------------------------------------------------------------

    @on(Button.Pressed, "#submit")
    def _submit(self) -> None:
        texts: dict[str, str] = {}
        ratings: dict[str, int] = {}
        missing: list[str] = []
        for question in self._questions:
            widget_id = f"#answer-{question.key}"
            if question.rating:
                value = self.query_one(widget_id, Select).value
                if isinstance(value, int):
                    ratings[question.key] = value
                elif not question.optional:
                    missing.append(str(question.number))
                continue

            text = self.query_one(widget_id, TextArea).text.strip()
            if len(text) > MAX_EVAL_ANSWER_CHARS:
                self._set_status(
                    t(
                        "student.laiseg.too_long",
                        number=question.number,
                        size=len(text),
                        limit=MAX_EVAL_ANSWER_CHARS,
                    )
                )
                return
            if text:
                texts[question.key] = text
            elif not question.optional:
                missing.append(str(question.number))

        if missing:
            self._set_status(t("student.laiseg.missing", numbers=", ".join(missing)))
            return
        self.query_one("#submit", Button).disabled = True
        self._set_status(t("student.laiseg.sending"))
        self.run_worker(self._send(texts, ratings), group="laiseg", exclusive=True)

    async def _send(self, texts: dict[str, str], ratings: dict[str, int]) -> None:
        answers = answers_for_engine(self._questions, texts, ratings)
        try:
            await self._engine.answer_evaluation(
                self._event.contact_id,
                self._event.session_id,
                understanding=answers.understanding,
                comfort=answers.comfort,
                action=answers.action,
                comment=answers.comment,
                ratings=answers.ratings,
            )
        except (EngineError, OSError) as error:
            if self.is_attached:
                self._set_status(engine_error_text(error))
                self.query_one("#submit", Button).disabled = False
            return
        if not self.is_attached:
            return
        self._sent = True
        self.query_one("#form", VerticalScroll).display = False
        self.query_one("#submit", Button).display = False
        self._set_status(t("student.laiseg.thanks"), success=True)
        self.query_one("#close", Button).focus()

    def _set_status(self, message: str, *, success: bool = False) -> None:
        status = self.query_one("#status", Static)
        status.update(message)
        status.set_class(success, "success")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        """Close the form; answers not sent yet are dropped."""
        self.dismiss(self._sent)
