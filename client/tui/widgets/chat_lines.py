"""Turn stored messages into the screen lines of the chat view.

Every message becomes a block of :class:`~textual.strip.Strip` lines: a header with the
sender, the time in the profile's zone, the status of own messages and a risk cue marker,
then the body wrapped to the width. Text from the data is never read as markup, and
control characters are replaced by visible symbols, so a message cannot move the cursor
or clear the screen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from konsel.client.core.store import StoredMessage

from ..catalog import t
from ..clock_zone import zoned

BODY_INDENT = 2
"""Columns between the left edge and a message body, so bodies stand apart from headers."""
TAB_SIZE = 4

# C0 controls except tab and line feed, DEL, and the C1 block (U+009B starts a terminal
# escape sequence on some terminals).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible_control(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␀, ␛, ␍ ...
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def safe_text(text: str) -> str:
    """Return ``text`` with control characters replaced by visible symbols and tabs expanded.

    Line feeds stay; everything else below U+0020 becomes its Control Pictures symbol
    (ESC shows as ␛), DEL shows as ␡ and C1 controls as U+FFFD.
    """
    return _CONTROL.sub(_visible_control, text).expandtabs(TAB_SIZE)


def one_line(text: str) -> str:
    """Return ``text`` made safe and folded onto one line, for names and headers."""
    return safe_text(text).replace("\n", " ")


def message_time(message: StoredMessage) -> datetime | None:
    """Return the time a message is shown with: when it was written, else received.

    The time is in the profile's zone (see :mod:`konsel.client.tui.clock_zone`), which the
    KOPASTA panel and the report use too, not in the zone of the computer's clock.

    ``sent_at`` comes from the sender's clock, so a received message may show a time a
    little off from this device's clock.
    """
    milliseconds = message.sent_at if message.sent_at is not None else message.received_at
    if milliseconds is None:
        return None
    return zoned(milliseconds)


def day_label(day: date, today: date) -> str:
    """Return the day separator text: today, yesterday, or the full date."""
    if day == today:
        return t("chat.day.today")
    if (today - day).days == 1:
        return t("chat.day.yesterday")
    return t(
        "chat.day.date",
        weekday=t(f"chat.weekday.{day.weekday()}"),
        day=day.day,
        month=t(f"chat.month.{day.month}"),
        year=day.year,
    )


@dataclass(frozen=True)
class LineStyles:
    """The Rich styles of each kind of chat line, taken from the view's component classes."""

    base: Style
    own_name: Style
    peer_name: Style
    meta: Style
    failed: Style
    risk: Style
    notice: Style
    day: Style
    marker: Style


@dataclass(frozen=True)
class Sender:
    """Names shown in message headers."""

    own: str
    peer: str


def render_text(text: Text, console: Console) -> Strip:
    """Render one line of Rich text (no wrapping) into a strip."""
    return Strip(text.render(console), text.cell_len)


def wrap_lines(body: str, width: int, style: Style, console: Console) -> list[Text]:
    """Wrap a safe body to ``width`` cells, keeping its line feeds and long words folded."""
    text = Text(body, style=style, no_wrap=False, overflow="fold", end="")
    return list(text.wrap(console, max(1, width), overflow="fold"))


def message_block(
    message: StoredMessage,
    width: int,
    sender: Sender,
    cues: tuple[str, ...],
    styles: LineStyles,
    console: Console,
) -> list[Strip]:
    """Return the lines of one message: its header, then its body wrapped to ``width``."""
    own = message.direction == "out"
    header = Text(no_wrap=True, overflow="ellipsis", end="")
    header.append(
        one_line(sender.own if own else sender.peer), styles.own_name if own else styles.peer_name
    )

    shown_at = message_time(message)
    if shown_at is not None:
        header.append(f"  {shown_at:%H:%M}", styles.meta)
    if own:
        status_style = styles.failed if message.status == "failed" else styles.meta
        header.append(f"  {t(f'chat.status.{message.status}')}", status_style)
    if cues:
        listed = ", ".join(one_line(cue) for cue in cues)
        header.append(f"  {t('chat.view.risk', cues=listed)}", styles.risk)
    header.truncate(width, overflow="ellipsis")

    lines = [render_text(header, console)]
    indent = " " * BODY_INDENT
    body_style = styles.risk if cues else styles.base
    # A risk cue message also gets a "!" in its gutter, so it stands out without colour.
    gutter = "! " if cues else indent
    for line in wrap_lines(safe_text(message.body), width - BODY_INDENT, styles.base, console):
        row = Text(gutter, style=body_style, end="")
        row.append_text(line)
        lines.append(render_text(row, console))
    return lines


def notice_block(text: str, width: int, styles: LineStyles, console: Console) -> list[Strip]:
    """Return the lines of a notice about the conversation, such as a damaged message."""
    return [
        render_text(line, console)
        for line in wrap_lines(f"» {safe_text(text)}", width, styles.notice, console)
    ]


def centered_line(text: str, width: int, style: Style, console: Console) -> Strip:
    """Return one line with ``text`` centred between rules, for day separators and markers."""
    label = f" {one_line(text)} "
    line = Text(label, style=style, no_wrap=True, overflow="ellipsis", end="")
    line.truncate(width, overflow="ellipsis")
    padding = max(0, width - line.cell_len)
    left = padding // 2
    row = Text("─" * left, style=style, end="")
    row.append_text(line)
    row.append("─" * (padding - left), style=style)
    return render_text(row, console)
