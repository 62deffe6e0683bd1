"""One KOPASTA stage in the side panel: its purpose, guiding prompts, record fields and notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from konsel.client.core.kopasta import LocalizedText, StageGuide
from konsel.client.core.store_records import SessionNote
from konsel.client.tui.catalog import t
from konsel.client.tui.messages import InsertDraft
from konsel.client.tui.widgets.kopasta_fields import KopastaFields
from konsel.client.tui.widgets.kopasta_session import language


class KopastaStageView(Vertical):
    """The guide and the private record of one stage of the open session.

    Choosing a prompt posts :class:`InsertDraft`, so the prompt lands in the composer as
    an editable draft and is never sent by this widget. Fields and notes stay on this
    device: edits go up as :class:`KopastaFields.Edited` and :class:`NoteAdded`.
    """

    DEFAULT_CSS = """
    KopastaStageView { height: auto; }
    KopastaStageView .kopasta-heading { text-style: bold; margin-top: 1; width: 100%; }
    KopastaStageView OptionList { height: auto; max-height: 12; }
    KopastaStageView #kopasta-note { height: 4; }
    KopastaStageView #kopasta-note-list { height: auto; }
    KopastaStageView .kopasta-note { color: $text-muted; }
    """

    class NoteAdded(Message):
        """The counselor wrote a private note for the stage."""

        def __init__(self, body: str) -> None:
            super().__init__()
            self.body = body

    def __init__(
        self,
        guide: StageGuide,
        values: Mapping[str, str],
        notes: Sequence[SessionNote],
        rating_scale: Sequence[LocalizedText],
        *,
        hidden_fields: frozenset[str] = frozenset(),
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.guide = guide
        self.values = dict(values)
        self.notes = [note for note in notes if note.stage == guide.stage.value]
        self.rating_scale = tuple(rating_scale)
        self.hidden_fields = hidden_fields
        """Keys of fields another screen edits, left out here to avoid two editors."""

    def compose(self) -> ComposeResult:
        lang = language()
        yield Static(Content(self.guide.purpose.in_language(lang)), id="kopasta-purpose")

        yield Label(t("kopasta.stage.prompts"), classes="kopasta-heading")
        prompts = [
            Option(Text(prompt.text.in_language(lang)), id=prompt.key)
            for prompt in self.guide.prompts
        ]
        yield OptionList(*prompts, id="kopasta-prompts", markup=False, compact=True)

        fields = [field for field in self.guide.fields if field.key not in self.hidden_fields]
        if fields:
            yield Label(t("kopasta.stage.fields"), classes="kopasta-heading")
            yield KopastaFields(
                self.guide.stage, fields, self.values, self.rating_scale, id="kopasta-fields"
            )

        yield Label(t("kopasta.stage.notes"), classes="kopasta-heading")
        yield Vertical(*self._note_lines(), id="kopasta-note-list")
        yield TextArea(
            id="kopasta-note", compact=True, placeholder=t("kopasta.stage.note_placeholder")
        )
        yield Button(t("kopasta.stage.save_note"), id="kopasta-save-note", compact=True)

    def _note_lines(self) -> list[Static]:
        return [Static(Content(note.body), classes="kopasta-note") for note in self.notes]

    @on(OptionList.OptionSelected, "#kopasta-prompts")
    def _prompt_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        for prompt in self.guide.prompts:
            if prompt.key == event.option_id:
                self.post_message(InsertDraft(prompt.text.in_language(language())))

    @on(Button.Pressed, "#kopasta-save-note")
    def _save_note(self, event: Button.Pressed) -> None:
        event.stop()
        area = self.query_one("#kopasta-note", TextArea)
        body = area.text.strip()
        if not body:
            self.notify(t("kopasta.stage.note_empty"), severity="warning")
            return
        area.clear()
        self.post_message(self.NoteAdded(body))

    async def show_note(self, note: SessionNote) -> None:
        """Add a stored note to the list under the stage."""
        self.notes.append(note)
        await self.query_one("#kopasta-note-list", Vertical).mount(
            Static(Content(note.body), classes="kopasta-note")
        )

    def pending_edits(self) -> list[tuple[str, str]]:
        """Return the field edits not reported yet (see :meth:`KopastaFields.pending_edits`)."""
        fields = self.query(KopastaFields)
        return fields.first().pending_edits() if fields else []
