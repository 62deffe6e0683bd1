"""The record fields of one KOPASTA stage, as inputs that report each finished edit."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static, TextArea

from konsel.client.core.kopasta import RATING_MIN, FieldKind, LocalizedText, RecordField, Stage
from konsel.client.core.report_records import parse_bool
from konsel.client.tui.catalog import t
from konsel.client.tui.widgets.choice_button import ChoiceCheckbox
from konsel.client.tui.widgets.kopasta_session import (
    DateInputError,
    format_date,
    language,
    parse_date,
)


class KopastaFields(Vertical):
    """Inputs for the record fields of a stage; each finished edit posts :class:`Edited`.

    A choice, rating or yes/no field reports each change at once. Text and date fields
    report when they lose focus or Enter is pressed, so the store is not written on each
    key. :meth:`pending_edits` returns what was typed but not reported yet. Values are
    stored as text: an option key, ``"true"``/``"false"``, an ISO date, or ``"1"``-``"5"``.
    """

    DEFAULT_CSS = """
    KopastaFields { height: auto; }
    KopastaFields Label { margin-top: 1; width: 100%; }
    KopastaFields TextArea { height: 4; }
    KopastaFields .kopasta-date-error { color: $error; height: auto; }
    """

    class Edited(Message):
        """A field of ``stage`` now contains ``value``, which the panel saves on this device only."""

        def __init__(self, stage: Stage, key: str, value: str) -> None:
            super().__init__()
            self.stage = stage
            self.key = key
            self.value = value

    def __init__(
        self,
        stage: Stage,
        fields: Sequence[RecordField],
        values: Mapping[str, str],
        rating_scale: Sequence[LocalizedText],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.stage = stage
        self.fields = tuple(fields)
        self.rating_scale = tuple(rating_scale)
        self.saved: dict[str, str] = dict(values)
        """The last value of each field that was stored or reported."""

    def compose(self) -> ComposeResult:
        for record_field in self.fields:
            yield from self._compose_field(record_field)

    def _compose_field(self, record_field: RecordField) -> ComposeResult:
        label = record_field.label.in_language(language())
        stored = self.saved.get(record_field.key, "")
        name = record_field.key
        widget_id = f"kopasta-field-{record_field.key}"
        if record_field.optional:
            label = t("kopasta.fields.optional", label=label)

        yield Label(Content(label))
        if record_field.kind is FieldKind.BOOL:
            yield ChoiceCheckbox(
                t("kopasta.fields.yes"),
                value=parse_bool(stored) is True,
                name=name,
                id=widget_id,
                compact=True,
            )
        if record_field.kind is FieldKind.TEXT:
            yield TextArea(
                stored,
                name=name,
                id=widget_id,
                compact=True,
                placeholder=t("kopasta.fields.text_placeholder"),
            )
        elif record_field.kind is FieldKind.CHOICE:
            options = [
                (Text(option.label.in_language(language())), option.key)
                for option in record_field.options
            ]
            yield self._select(options, stored, name, widget_id)
        elif record_field.kind is FieldKind.RATING:
            options = [
                (Text(f"{number} {label.in_language(language())}"), str(number))
                for number, label in enumerate(self.rating_scale, start=RATING_MIN)
            ]
            yield self._select(options, stored, name, widget_id)
        elif record_field.kind is FieldKind.DATE:
            shown = stored
            with contextlib.suppress(DateInputError):
                shown = format_date(parse_date(stored)) if stored else ""
            yield Input(
                shown,
                placeholder=t("kopasta.dates.placeholder"),
                name=name,
                id=widget_id,
                compact=True,
            )
            yield Static("", classes="kopasta-date-error", id=f"{widget_id}-error")

    @staticmethod
    def _select(
        options: list[tuple[Text, str]], stored: str, name: str, widget_id: str
    ) -> Select[str]:
        keys = {key for _, key in options}
        return Select(
            options,
            prompt=t("kopasta.fields.choose"),
            value=stored if stored in keys else Select.NULL,
            name=name,
            id=widget_id,
            compact=True,
        )

    # --- reporting edits -----------------------------------------------------------------

    def _report(self, key: str | None, value: str) -> None:
        if key is None or self.saved.get(key, "") == value:
            return
        self.saved[key] = value
        self.post_message(self.Edited(self.stage, key, value))

    @on(Select.Changed)
    def _choice_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self._report(event.select.name, event.value)

    @on(Checkbox.Changed)
    def _bool_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._report(event.checkbox.name, "true" if event.value else "false")

    @on(Input.Submitted)
    def _date_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._finish_date(event.input)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        """Report a text or date field when the counselor leaves it."""
        if isinstance(event.widget, Input):
            self._finish_date(event.widget)
        elif isinstance(event.widget, TextArea):
            self._report(event.widget.name, event.widget.text)

    def _finish_date(self, field_input: Input) -> None:
        error = self.query_one(f"#{field_input.id}-error", Static)
        if not field_input.value.strip():
            error.update("")
            self._report(field_input.name, "")
            return
        try:
            day = parse_date(field_input.value)
        except DateInputError as invalid:
            error.update(Content(invalid.text()))
            return
        error.update("")
        self._report(field_input.name, day.isoformat())

    def pending_edits(self) -> list[tuple[str, str]]:
        """Return the text fields typed but not reported yet, as (key, value), and mark them saved.

        A date that does not parse is left out, because only valid dates are stored.
        """
        pending: list[tuple[str, str]] = []
        for widget in self.query(TextArea).results():
            pending.extend(self._unsaved(widget, widget.text))
        for field_input in self.query(Input).results():
            value = field_input.value.strip()
            try:
                stored = parse_date(value).isoformat() if value else ""
            except DateInputError:
                continue
            pending.extend(self._unsaved(field_input, stored))
        return pending

    def _unsaved(self, widget: Widget, value: str) -> list[tuple[str, str]]:
        key = widget.name
        if key is None or self.saved.get(key, "") == value:
            return []
        self.saved[key] = value
        return [(key, value)]
