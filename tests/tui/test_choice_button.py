"""The radio button that shows its chosen state without colour."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import RadioSet

from konsel.client.tui.widgets.choice_button import ChoiceButton, ChoiceCheckbox


class ChoiceHost(App[None]):
    def compose(self) -> ComposeResult:
        with RadioSet():
            yield ChoiceButton("Guru BK", id="counselor")
            yield ChoiceButton("Siswa", id="student")


async def test_choice_button_marks_only_the_chosen_one() -> None:
    app = ChoiceHost()
    async with app.run_test(size=(40, 8)) as pilot:
        assert "●" not in app.query_one("#counselor", ChoiceButton)._button.plain

        await pilot.click("#student")
        await pilot.pause()

        assert "●" in app.query_one("#student", ChoiceButton)._button.plain
        assert "●" not in app.query_one("#counselor", ChoiceButton)._button.plain


class TickHost(App[None]):
    def compose(self) -> ComposeResult:
        yield ChoiceCheckbox("Ya", id="yes")


async def test_choice_checkbox_marks_only_when_ticked() -> None:
    app = TickHost()
    async with app.run_test(size=(40, 8)) as pilot:
        box = app.query_one("#yes", ChoiceCheckbox)
        assert "X" not in box._button.plain

        await pilot.click("#yes")
        await pilot.pause()

        assert box.value
        assert "X" in box._button.plain
