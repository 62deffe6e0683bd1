"""The questions of a LAISEG request, with the kind and need of an answer for each.

An evaluation request carries only each question's key and prompt. The kind of answer
(free text or a 1-5 rating) and whether it may stay empty come from the LAISEG form in
laiseg.toml, which the konseli's client has too. A key that form does not know is a
text question if :class:`~konsel.protocol.content.EvalAnswers` has a text field of that
name, and a rating otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from konsel.client.core.content_files import (
    EVALUATION_FILE,
    default_override_folder,
    load_evaluation_forms,
)
from konsel.client.core.content_reader import ContentFileError
from konsel.client.core.kopasta import EvaluationForms, FieldKind
from konsel.protocol.content import EvalQuestion

logger = logging.getLogger("konsel.client.tui.student")

REQUIRED_TEXT_KEYS = ("understanding", "comfort", "action")
"""The answers :meth:`Engine.answer_evaluation` always sends."""
COMMENT_KEY = "comment"


@dataclass(frozen=True)
class FormQuestion:
    """One question of the form on screen."""

    number: int
    """Position from 1, which error messages name."""
    key: str
    prompt: str
    rating: bool
    """True for a 1-5 rating, False for free text."""
    optional: bool


def load_forms(override: Path | None = None) -> EvaluationForms:
    """Load the evaluation forms, from the school's copy if there is a valid one.

    A school's copy that fails to load is logged and the packaged forms are used, so
    a broken file never keeps a konseli from answering.
    """
    if override is None:
        candidate = default_override_folder() / EVALUATION_FILE
        override = candidate if candidate.is_file() else None
    if override is not None:
        try:
            return load_evaluation_forms(override)
        except ContentFileError as error:
            logger.error("evaluation forms %s are invalid: %s", error.file, error.problem)
    return load_evaluation_forms()


def form_questions(
    questions: tuple[EvalQuestion, ...], forms: EvaluationForms
) -> tuple[FormQuestion, ...]:
    """Return the requested questions in order, each with its kind and need of an answer."""
    fields = {field.key: field for field in forms.laiseg.fields}
    result = []
    for number, question in enumerate(questions, start=1):
        field = fields.get(question.key)
        if field is not None:
            rating = field.kind is FieldKind.RATING
            optional = field.optional
        else:
            rating = question.key not in (*REQUIRED_TEXT_KEYS, COMMENT_KEY)
            optional = question.key not in REQUIRED_TEXT_KEYS
        result.append(FormQuestion(number, question.key, question.prompt, rating, optional))
    return tuple(result)


@dataclass(frozen=True)
class EvaluationAnswers:
    """The answers in the shape :meth:`Engine.answer_evaluation` takes."""

    understanding: str
    comfort: str
    action: str
    comment: str | None
    ratings: dict[str, int]


def answers_for_engine(
    questions: tuple[FormQuestion, ...],
    texts: Mapping[str, str],
    ratings: Mapping[str, int],
) -> EvaluationAnswers:
    """Arrange the answers by field; ``texts`` and ``ratings`` are keyed by question key.

    The message has no field for a text question with another key (a school may add
    one), so such answers are added to the comment after their prompt.
    """
    extra = [
        f"{question.prompt}\n{texts[question.key]}"
        for question in questions
        if not question.rating
        and question.key not in (*REQUIRED_TEXT_KEYS, COMMENT_KEY)
        and texts.get(question.key)
    ]
    comment_parts = [texts[COMMENT_KEY]] if texts.get(COMMENT_KEY) else []
    comment = "\n\n".join(comment_parts + extra) or None
    return EvaluationAnswers(
        understanding=texts.get("understanding", ""),
        comfort=texts.get("comfort", ""),
        action=texts.get("action", ""),
        comment=comment,
        ratings=dict(ratings),
    )
