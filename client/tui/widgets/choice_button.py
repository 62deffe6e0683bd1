"""Radio buttons and checkboxes whose chosen state shows as a character, not only a colour."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox, RadioButton


class ChoiceButton(RadioButton):
    """A :class:`RadioButton` that draws ``●`` when chosen and a blank when not.

    Textual's radio button draws the same dot in both states and tells them apart by
    colour, which a monochrome terminal or ``NO_COLOR`` loses.
    """

    @property
    def _button(self) -> Content:
        # An instance attribute shadows the class's dot for this one drawing.
        self.BUTTON_INNER = RadioButton.BUTTON_INNER if self.value else " "
        return super()._button


class ChoiceCheckbox(Checkbox):
    """A :class:`Checkbox` that draws ``X`` when ticked and a blank when not.

    Textual's checkbox draws the ``X`` in both states and tells them apart by colour.
    """

    @property
    def _button(self) -> Content:
        # An instance attribute shadows the class's mark for this one drawing.
        self.BUTTON_INNER = Checkbox.BUTTON_INNER if self.value else " "
        return super()._button
