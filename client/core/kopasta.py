"""Define the KOPASTA session model: its five stages and what each stage shows.

KOPASTA (Konseling Pancawaskita) is the stage model Indonesian school counselors (guru BK)
are taught for individual counseling. A session moves through pengantaran, penjajagan,
penafsiran, pembinaan and penilaian. The counselor decides when to move, forward or back,
so nothing here moves a session on its own: :meth:`Stage.next` and :meth:`Stage.previous`
only name the neighbouring stage.

The types here are what ``client/data/kopasta.toml`` and ``client/data/laiseg.toml``
describe. :mod:`.content_files` reads and validates those files into these types. Every
on-screen text is a :class:`LocalizedText` with an Indonesian and an English version.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

Language = Literal["id", "en"]

RATING_MIN = 1
RATING_MAX = 5


@dataclass(frozen=True)
class LocalizedText:
    """One on-screen text in Indonesian (``id``) and English (``en``)."""

    id: str
    en: str

    def in_language(self, language: Language) -> str:
        """Return the text in ``language``."""
        return self.id if language == "id" else self.en


class Stage(enum.Enum):
    """The five KOPASTA stages, declared in session order."""

    PENGANTARAN = "pengantaran"
    PENJAJAGAN = "penjajagan"
    PENAFSIRAN = "penafsiran"
    PEMBINAAN = "pembinaan"
    PENILAIAN = "penilaian"

    @property
    def number(self) -> int:
        """Position of the stage in the session, from 1 to 5."""
        return list(Stage).index(self) + 1

    def next(self) -> Stage | None:
        """Return the stage after this one, or None after penilaian."""
        stages = list(Stage)
        position = stages.index(self)
        return stages[position + 1] if position + 1 < len(stages) else None

    def previous(self) -> Stage | None:
        """Return the stage before this one, or None before pengantaran."""
        stages = list(Stage)
        position = stages.index(self)
        return stages[position - 1] if position > 0 else None


class FieldKind(enum.Enum):
    """Input and storage type of a record field."""

    TEXT = "text"
    """Free text."""
    CHOICE = "choice"
    """One of the field's options, stored as the option's key."""
    DATE = "date"
    """A calendar date (``datetime.date``)."""
    BOOL = "bool"
    """Yes or no."""
    RATING = "rating"
    """A whole number from RATING_MIN to RATING_MAX on the file's rating scale."""


@dataclass(frozen=True)
class ChoiceOption:
    """One option of a choice field; ``key`` is what a record stores."""

    key: str
    label: LocalizedText


@dataclass(frozen=True)
class RecordField:
    """One thing the counselor records, or one question of an evaluation form.

    ``options`` is non-empty exactly when ``kind`` is :attr:`FieldKind.CHOICE`.
    """

    key: str
    label: LocalizedText
    kind: FieldKind
    optional: bool
    options: tuple[ChoiceOption, ...] = ()

    def option(self, key: str) -> ChoiceOption:
        """Return the option named ``key``.

        Raises:
            KeyError: the field has no option with that key.
        """
        for option in self.options:
            if option.key == key:
                return option
        raise KeyError(f"field {self.key!r} has no option {key!r}")


@dataclass(frozen=True)
class Prompt:
    """A guiding sentence the counselor can insert into the composer as an editable draft."""

    key: str
    text: LocalizedText


@dataclass(frozen=True)
class StageGuide:
    """Content of the KOPASTA side panel for one stage."""

    stage: Stage
    title: LocalizedText
    purpose: LocalizedText
    prompts: tuple[Prompt, ...]
    fields: tuple[RecordField, ...]
    offers_risk_card: bool
    """Whether the panel offers the risk card (crisis questions and safety plan) here."""

    def field(self, key: str) -> RecordField:
        """Return the record field named ``key``.

        Raises:
            KeyError: this stage records no field with that key.
        """
        for record_field in self.fields:
            if record_field.key == key:
                return record_field
        raise KeyError(f"stage {self.stage.value!r} has no record field {key!r}")


@dataclass(frozen=True)
class KopastaGuide:
    """The guides of all five stages, in session order."""

    stages: tuple[StageGuide, ...]

    def guide_for(self, stage: Stage) -> StageGuide:
        """Return the guide of ``stage``."""
        return self.stages[stage.number - 1]

    def all_fields(self) -> tuple[RecordField, ...]:
        """Return the record fields of every stage, in session order."""
        return tuple(record_field for guide in self.stages for record_field in guide.fields)


@dataclass(frozen=True)
class EvaluationForm:
    """One evaluation checklist: LAISEG, LAIJAPEN or LAIJAPANG.

    LAISEG (penilaian segera) closes every session. LAIJAPEN (jangka pendek) follows one
    week to one month later, LAIJAPANG (jangka panjang) several months later.
    """

    key: str
    title: LocalizedText
    intro: LocalizedText
    """Note on when the form is used and who fills it in."""
    fields: tuple[RecordField, ...]


@dataclass(frozen=True)
class EvaluationForms:
    """The three evaluation forms and the labels of the 1-5 rating scale."""

    laiseg: EvaluationForm
    laijapen: EvaluationForm
    laijapang: EvaluationForm
    rating_scale: tuple[LocalizedText, ...]
    """Labels of the ratings RATING_MIN to RATING_MAX, in that order."""

    def rating_label(self, rating: int) -> LocalizedText:
        """Return the label of ``rating``.

        Raises:
            ValueError: ``rating`` is outside RATING_MIN to RATING_MAX.
        """
        if not RATING_MIN <= rating <= RATING_MAX:
            raise ValueError(f"rating {rating} is outside {RATING_MIN} to {RATING_MAX}")
        return self.rating_scale[rating - RATING_MIN]
