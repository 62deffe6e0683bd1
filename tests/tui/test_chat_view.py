"""Tests of the chat view in a tiny host app with a real engine and a real store file."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from chat_helpers import (
    ChatHost,
    add_student,
    held_orders,
    offline_engine,
    settle,
    view_lines,
    visible_lines,
)
from engine_helpers import Relay, new_engine, pair, wait_until
from rich.segment import Segment
from screen_text import screen_text
from textual.color import Color
from textual.filter import Monochrome

from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    DamagedMessage,
    MessageReceived,
    MessagesMissing,
    MessageStatusChanged,
    SessionRenewed,
)
from konsel.client.core.store import MessageFields, StoredMessage
from konsel.client.tui import catalog
from konsel.client.tui.widgets.chat_notices import MAX_NOTICES, Notice, NoticeMemory
from konsel.client.tui.widgets.chat_view import ChatView
from konsel.client.tui.widgets.composer import Composer

MONDAY_MS = 1_717_376_400_000
"""Monday 3 June 2024, 01:00 UTC: 08:00 in Jakarta and still 3 June everywhere west of it."""
DAY_MS = 86_400_000
MIN_CONTRAST = 4.5
"""WCAG 2 AA contrast ratio for normal text."""


def store_incoming(engine: Engine, contact_id: int, body: str, sent_at: int) -> StoredMessage:
    """Store a received message through the store, as the receive path would."""
    store = engine.store
    conversation_id = store.conversation_for_contact(contact_id)
    fields = MessageFields(os.urandom(16), os.urandom(16), body, None, sent_at)
    return store.record_incoming(conversation_id, fields, b"")


def store_outgoing(engine: Engine, contact_id: int, body: str, sent_at: int) -> StoredMessage:
    """Store an own message left waiting in the outbox."""
    store = engine.store
    conversation_id = store.conversation_for_contact(contact_id)
    fields = MessageFields(os.urandom(16), os.urandom(16), body, None, sent_at)
    return store.record_outgoing(
        conversation_id, fields, b"envelope", b"", destination=os.urandom(16)
    )


async def test_chat_view_shows_sender_time_and_status(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    store_incoming(engine, contact_id, "Selamat pagi, Bu.", MONDAY_MS)
    sent = store_outgoing(engine, contact_id, "Pagi, Siti. Ada yang bisa Ibu bantu?", MONDAY_MS)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            lines = view_lines(app.query_one(ChatView))
            peer_header = next(line for line in lines if line.startswith("Siti Rahmawati"))
            own_header = next(line for line in lines if line.startswith("Bu Rina"))
            assert "menunggu dikirim" in own_header
            assert "menunggu" not in peer_header
            assert any(line.strip() == "Selamat pagi, Bu." for line in lines)
            assert any("Senin, 3 Juni 2024" in line for line in lines)
            assert sent.order in held_orders(app.query_one(ChatView))
    finally:
        await engine.close()


async def test_chat_view_time_is_zone_hours_minutes(tmp_path: Path) -> None:
    """The header shows hours and minutes in the profile's zone (WIB by default)."""
    engine, contact_id = await offline_engine(tmp_path / "profile")
    store_incoming(engine, contact_id, "Jam berapa?", MONDAY_MS + 37 * 60_000)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            header = next(line for line in view_lines(app.query_one(ChatView)) if "Siti" in line)
            assert header.split() == ["Siti", "Rahmawati", "08:37"]
    finally:
        await engine.close()


async def test_chat_view_shows_markup_and_emoji_as_sent(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    body = "[b]tebal[/b] [red]merah[/] [link=x]tautan[/link] 😊🙏 \\[x]"
    store_incoming(engine, contact_id, body, MONDAY_MS)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            assert f"  {body}" in visible_lines(app.query_one(ChatView))
    finally:
        await engine.close()


async def test_chat_view_makes_control_characters_visible(tmp_path: Path) -> None:
    """A body with terminal escapes (stored past the protocol's check) cannot reach the
    terminal: ESC, BEL, CR, DEL and C1 controls are drawn as symbols."""
    engine, contact_id = await offline_engine(tmp_path / "profile")
    body = "awal\x1b[2J\x1b]0;judul\x07\rakhir\x7f\x9b31m\ttab"
    store_incoming(engine, contact_id, body, MONDAY_MS)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            view = app.query_one(ChatView)
            drawn = "".join(segment.text for strip in view._lines for segment in list(strip))
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in drawn)
            shown = "awal␛[2J␛]0;judul␇␍akhir␡\ufffd31m\ttab".expandtabs(4)
            assert f"  {shown}" in view_lines(view)
    finally:
        await engine.close()


async def test_chat_view_wraps_long_text_and_rewraps_on_resize(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    words = "Saya merasa cemas menjelang ujian akhir karena nilai matematika turun. "
    body = (words * 30)[:2000]
    store_incoming(engine, contact_id, body, MONDAY_MS)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            view = app.query_one(ChatView)
            wide = [line for line in view_lines(view) if line.startswith("  ")]
            width = view.scrollable_content_region.width
            assert all(len(line) <= width for line in wide)
            assert "".join(line[2:] for line in wide).replace(" ", "") == body.replace(" ", "")

            await pilot.resize_terminal(50, 24)
            await settle(app)
            narrow = [line for line in view_lines(view) if line.startswith("  ")]
            assert view.scrollable_content_region.width < width
            assert all(len(line) <= view.scrollable_content_region.width for line in narrow)
            assert len(narrow) > len(wide)
            assert "".join(line[2:] for line in narrow).replace(" ", "") == body.replace(" ", "")
    finally:
        await engine.close()


async def test_chat_view_separates_days(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    store_incoming(engine, contact_id, "Hari pertama", MONDAY_MS)
    store_incoming(engine, contact_id, "Masih hari pertama", MONDAY_MS + 60_000)
    store_incoming(engine, contact_id, "Hari kedua", MONDAY_MS + DAY_MS)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            lines = view_lines(app.query_one(ChatView))
            separators = [line.strip("─ ") for line in lines if line.startswith("─")]
            assert separators == ["Senin, 3 Juni 2024", "Selasa, 4 Juni 2024"]
    finally:
        await engine.close()


async def test_chat_view_status_change_updates_in_place(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    sent = store_outgoing(engine, contact_id, "Tolong dibalas ya, Siti.", MONDAY_MS)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            view = app.query_one(ChatView)
            count = len(view_lines(view))
            await asyncio.to_thread(engine.store.mark_failed, sent.order)
            engine.emit(MessageStatusChanged(contact_id, sent.order, "failed"))

            async def shows_failed() -> bool:
                return any("gagal terkirim" in line for line in view_lines(view))

            await wait_until(shows_failed, "the failed status")
            assert len(view_lines(view)) == count
            assert not any("menunggu dikirim" in line for line in view_lines(view))
    finally:
        await engine.close()


async def test_chat_view_r_puts_failed_message_in_composer(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    sent = store_outgoing(engine, contact_id, "Besok jam 10 di ruang BK.", MONDAY_MS)
    await asyncio.to_thread(engine.store.mark_failed, sent.order)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            app.query_one(ChatView).focus()
            await pilot.press("r")
            await pilot.pause()
            assert app.query_one(Composer).text == "Besok jam 10 di ruang BK."
            assert app.submitted == []
    finally:
        await engine.close()


def notice_count(view: ChatView) -> int:
    """Return how many notices the view has laid out."""
    return sum(line.startswith("»") for line in view_lines(view))


def relative_luminance(color: Color) -> float:
    """Return the WCAG 2 relative luminance of an sRGB colour."""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(color.r) + 0.7152 * linear(color.g) + 0.0722 * linear(color.b)


def contrast_ratio(segment: Segment) -> float:
    """Return the WCAG 2 contrast ratio of a segment's text against its background."""
    assert segment.style is not None and segment.style.color is not None
    assert segment.style.bgcolor is not None
    lighter, darker = sorted(
        (
            relative_luminance(Color.from_rich_color(segment.style.color)),
            relative_luminance(Color.from_rich_color(segment.style.bgcolor)),
        ),
        reverse=True,
    )
    return (lighter + 0.05) / (darker + 0.05)


def name_segment(view: ChatView, name: str) -> Segment:
    """Return the name segment of the first drawn header that starts with ``name``,
    in black, white and grey as Textual draws it with NO_COLOR set."""
    height = view.scrollable_content_region.height
    for y in range(height):
        strip = view.render_line(y)
        if strip.text.startswith(name):
            strip = strip.apply_filter(Monochrome(), Color(0, 0, 0))
            return next(segment for segment in strip if segment.text.strip())
    raise AssertionError(f"no header of {name!r} on screen")


async def test_chat_view_no_color_names_readable(tmp_path: Path) -> None:
    """With NO_COLOR both names are bold, never dim, high in contrast, and styled alike,
    so only the name text separates own and peer messages."""
    engine, contact_id = await offline_engine(tmp_path / "profile")
    store_incoming(engine, contact_id, "Selamat pagi, Bu.", MONDAY_MS)
    store_outgoing(engine, contact_id, "Pagi, Siti.", MONDAY_MS)
    saved = os.environ.get("NO_COLOR")
    os.environ["NO_COLOR"] = "1"
    try:
        app = ChatHost(engine, contact_id)
    finally:
        if saved is None:
            del os.environ["NO_COLOR"]
        else:
            os.environ["NO_COLOR"] = saved
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            assert app.no_color
            view = app.query_one(ChatView)
            peer = name_segment(view, "Siti Rahmawati")
            own = name_segment(view, "Bu Rina")
            assert peer.text == "Siti Rahmawati"
            assert own.text == "Bu Rina"
            for segment in (peer, own):
                assert segment.style is not None
                assert segment.style.bold
                assert not segment.style.dim
                assert contrast_ratio(segment) >= MIN_CONTRAST
            peer_style, own_style = peer.style, own.style
            assert peer_style is not None and own_style is not None
            assert peer_style.clear_meta_and_links() == own_style.clear_meta_and_links()
    finally:
        await engine.close()


async def test_chat_view_names_readable_in_colour(tmp_path: Path) -> None:
    """In the default theme both names keep a readable contrast against the background."""
    engine, contact_id = await offline_engine(tmp_path / "profile")
    store_incoming(engine, contact_id, "Selamat pagi, Bu.", MONDAY_MS)
    store_outgoing(engine, contact_id, "Pagi, Siti.", MONDAY_MS)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            assert not app.no_color
            view = app.query_one(ChatView)
            for name in ("Siti Rahmawati", "Bu Rina"):
                header = next(
                    view.render_line(y)
                    for y in range(view.scrollable_content_region.height)
                    if view.render_line(y).text.startswith(name)
                )
                segment = next(segment for segment in header if segment.text.strip())
                assert segment.style is not None and segment.style.bold
                assert contrast_ratio(segment) >= MIN_CONTRAST, name
    finally:
        await engine.close()


async def test_chat_view_notices_for_damaged_renewed_missing(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    store_incoming(engine, contact_id, "Halo", MONDAY_MS)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            view = app.query_one(ChatView)
            engine.emit(DamagedMessage(contact_id, "unreadable envelope"))
            engine.emit(SessionRenewed(contact_id))
            engine.emit(MessagesMissing(contact_id, 2))
            engine.emit(DamagedMessage(contact_id + 1, "another conversation"))

            async def three_notices() -> bool:
                return sum(line.startswith("»") for line in view_lines(view)) >= 3

            await wait_until(three_notices, "the notices")
            text = " ".join(" ".join(view_lines(view)).split())
            assert catalog.t("chat.notice.damaged") in text
            assert SessionRenewed(contact_id).text("id") in text
            assert MessagesMissing(contact_id, 2).text("id") in text
            assert sum(line.startswith("»") for line in view_lines(view)) == 3
    finally:
        await engine.close()


async def test_chat_view_appends_received_and_keeps_bottom(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    for number in range(60):
        store_incoming(engine, contact_id, f"Pesan lama {number}", MONDAY_MS + number)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            view = app.query_one(ChatView)
            assert view.scroll_y == view.max_scroll_y
            stored = store_incoming(engine, contact_id, "Pesan baru masuk", MONDAY_MS + 100)
            engine.emit(MessageReceived(contact_id, stored))

            async def shown() -> bool:
                return "  Pesan baru masuk" in visible_lines(view)

            await wait_until(shown, "the new message on screen")
            assert view.new_count == 0
    finally:
        await engine.close()


async def test_chat_view_counts_new_messages_when_scrolled_up(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    for number in range(60):
        store_incoming(engine, contact_id, f"Pesan lama {number}", MONDAY_MS + number)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            view = app.query_one(ChatView)
            view.focus()
            await pilot.press("pageup", "pageup")
            await settle(app)
            top_before = visible_lines(view)[0]
            for number in range(2):
                stored = store_incoming(engine, contact_id, f"Baru {number}", MONDAY_MS + 200)
                engine.emit(MessageReceived(contact_id, stored))

            async def counted() -> bool:
                return view.new_count == 2

            await wait_until(counted, "two new messages counted")
            await pilot.pause()
            rows = visible_lines(view)
            assert rows[0] == top_before
            assert "2 pesan baru" in rows[-1]

            await pilot.press("end")
            await settle(app)
            assert view.new_count == 0
            assert "  Baru 1" in visible_lines(view)
    finally:
        await engine.close()


async def test_chat_view_marks_shown_messages_read(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    old = [store_incoming(engine, contact_id, f"Lama {n}", MONDAY_MS + n) for n in range(40)]
    newest = store_incoming(engine, contact_id, "Terbaru", MONDAY_MS + 100)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)

            async def newest_read() -> bool:
                return (await engine.message(newest.order)).status == "read"

            await wait_until(newest_read, "the newest message marked read")
            first = await engine.message(old[0].order)
            assert first.status == "delivered"
    finally:
        await engine.close()


async def test_chat_view_without_conversation_shows_hint(tmp_path: Path) -> None:
    engine, _ = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, None)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            text = " ".join(view_lines(app.query_one(ChatView)))
            assert catalog.t("chat.view.no_conversation") in text
    finally:
        await engine.close()


async def test_chat_view_english_catalog(tmp_path: Path) -> None:
    catalog.use("en")
    engine, contact_id = await offline_engine(tmp_path / "profile")
    store_outgoing(engine, contact_id, "See you tomorrow.", MONDAY_MS)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            lines = view_lines(app.query_one(ChatView))
            assert any("Monday, 3 June 2024" in line for line in lines)
            assert any(line.startswith("Bu Rina") and "waiting to send" in line for line in lines)
    finally:
        await engine.close()


async def test_chat_view_relay_status_and_risk_cue(tmp_path: Path, tui_relay: Relay) -> None:
    """A real exchange: the counselor's message moves to read, and a konseli's message
    with a risk cue is marked with "⚠" and "!" and reported once as RiskCueSeen."""
    counselor = await new_engine(tmp_path / "counselor", "Bu Rina", "counselor", tui_relay.url)
    student = await new_engine(tmp_path / "student", "Siti Rahmawati", "student", None)
    try:
        student_id, counselor_id = await pair(counselor, student)
        app = ChatHost(counselor, student_id)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            view = app.query_one(ChatView)
            await pilot.press(*"Halo Siti")
            await pilot.press("enter")

            async def own_shown() -> bool:
                return any(line.startswith("Bu Rina") for line in view_lines(view))

            await wait_until(own_shown, "the own message in the view")
            assert app.submitted == ["Halo Siti"]
            assert app.query_one(Composer).text == ""

            sent = await counselor.history(student_id, limit=1)
            await student.mark_read(
                counselor_id, [m.order for m in await student.history(counselor_id)]
            )

            async def read_shown() -> bool:
                header = next(line for line in view_lines(view) if line.startswith("Bu Rina"))
                return header.endswith("dibaca")

            await wait_until(read_shown, "the read status of the own message")
            assert sent[0].body == "Halo Siti"

            await student.send_text(counselor_id, "Bu, kadang aku ingin mati saja.")

            async def cue_reported() -> bool:
                return len(app.risk_cues) == 1

            await wait_until(cue_reported, "the risk cue message")
            cue = app.risk_cues[0]
            assert cue.contact_id == student_id
            assert cue.cues == ("ingin mati",)
            lines = view_lines(view)
            header = next(line for line in lines if line.startswith("Siti Rahmawati"))
            assert "⚠" in header and "ingin mati" in header
            assert "! Bu, kadang aku ingin mati saja." in lines
    finally:
        await counselor.close()
        await student.close()


async def test_chat_view_notices_return_after_reopening(tmp_path: Path) -> None:
    """Notices stay with their conversation: gone while another one is open, back (after
    the same message) when it is opened again."""
    engine, siti = await offline_engine(tmp_path / "profile")
    budi = await add_student(engine, "Budi Santoso")
    store_incoming(engine, siti, "Halo, Bu.", MONDAY_MS)
    store_incoming(engine, budi, "Bu, saya Budi.", MONDAY_MS)
    app = ChatHost(engine, siti)
    damaged = catalog.t("chat.notice.damaged")
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            view = app.query_one(ChatView)
            engine.emit(DamagedMessage(siti, "unreadable envelope"))

            async def damaged_shown() -> bool:
                return notice_count(view) == 1

            await wait_until(damaged_shown, "the damaged notice")

            await view.show_conversation(budi)
            await settle(app)
            assert "  Bu, saya Budi." in view_lines(view)
            assert notice_count(view) == 0

            await view.show_conversation(siti)
            await settle(app)
            lines = view_lines(view)
            assert notice_count(view) == 1
            notice_at = next(i for i, line in enumerate(lines) if line.startswith("»"))
            assert damaged in " ".join(lines[notice_at:])
            assert lines.index("  Halo, Bu.") < notice_at
    finally:
        await engine.close()


async def test_chat_view_notice_of_closed_conversation_kept(tmp_path: Path) -> None:
    """A notice that arrives while another conversation is open shows when its own
    conversation is opened, after that conversation's newest message."""
    engine, siti = await offline_engine(tmp_path / "profile")
    budi = await add_student(engine, "Budi Santoso")
    store_incoming(engine, siti, "Halo, Bu.", MONDAY_MS)
    store_incoming(engine, budi, "Bu, saya Budi.", MONDAY_MS)
    app = ChatHost(engine, budi)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            view = app.query_one(ChatView)
            engine.emit(SessionRenewed(siti))
            await view.show_conversation(siti)
            renewed = SessionRenewed(siti).text("id")

            async def renewed_shown() -> bool:
                return renewed in " ".join(" ".join(view_lines(view)).split())

            await wait_until(renewed_shown, "the renewed-session notice")
            await settle(app)
            lines = view_lines(view)
            assert notice_count(view) == 1
            notice_at = next(i for i, line in enumerate(lines) if line.startswith("»"))
            assert lines.index("  Halo, Bu.") < notice_at
    finally:
        await engine.close()


async def test_chat_view_keeps_newest_notices_only(tmp_path: Path) -> None:
    engine, contact_id = await offline_engine(tmp_path / "profile")
    store_incoming(engine, contact_id, "Halo", MONDAY_MS)
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)):
            await settle(app)
            view = app.query_one(ChatView)
            for _ in range(MAX_NOTICES + 5):
                engine.emit(DamagedMessage(contact_id, "unreadable envelope"))
            # Events reach the view in order, so the renewal notice comes last.
            engine.emit(SessionRenewed(contact_id))
            renewed = SessionRenewed(contact_id).text("id")

            async def renewed_shown() -> bool:
                return renewed in " ".join(" ".join(view_lines(view)).split())

            await wait_until(renewed_shown, "the last notice")
            assert notice_count(view) == MAX_NOTICES
            text = " ".join(" ".join(view_lines(view)).split())
            assert text.count(catalog.t("chat.notice.damaged")) == MAX_NOTICES - 1
    finally:
        await engine.close()


def test_notice_memory_bounds_notices_per_contact() -> None:
    memory = NoticeMemory(max_notices=3, max_contacts=2)
    for number in range(5):
        memory.add(7, Notice(number, f"pemberitahuan {number}"))
    assert [notice.after for notice in memory.notices_for(7)] == [2, 3, 4]
    assert memory.notices_for(8) == []
    assert memory.notices_for(None) == []


def test_notice_memory_drops_least_recent_contact() -> None:
    memory = NoticeMemory(max_notices=3, max_contacts=50)
    for contact_id in range(50):
        memory.add(contact_id, Notice(0, "pemberitahuan"))
    memory.notices_for(0)  # opening contact 0 makes it the most recently used
    memory.add(50, Notice(0, "pemberitahuan"))
    assert memory.contact_count() == 50
    assert memory.notices_for(1) == []
    assert len(memory.notices_for(0)) == 1
    assert len(memory.notices_for(50)) == 1


def test_notice_memory_rejects_zero_bounds() -> None:
    with pytest.raises(ValueError, match="max_notices"):
        NoticeMemory(max_notices=0)


def _left_column(app: ChatHost) -> list[str]:
    """Return the characters of the chat view's first column, as the screen shows them."""
    region = app.query_one(ChatView).region
    rows = screen_text(app).splitlines()[region.y : region.bottom]
    return [row[region.x] for row in rows]


async def test_chat_view_focus_mark_without_colour(tmp_path: Path) -> None:
    """With NO_COLOR, Tab from the composer marks the view with a bar down its left edge;
    the mark goes with the focus, and the text keeps its width and wrapping."""
    engine, contact_id = await offline_engine(tmp_path / "profile")
    store_incoming(engine, contact_id, "Selamat pagi, Bu. " * 8, MONDAY_MS)
    saved = os.environ.get("NO_COLOR")
    os.environ["NO_COLOR"] = "1"
    try:
        app = ChatHost(engine, contact_id)
    finally:
        if saved is None:
            del os.environ["NO_COLOR"]
        else:
            os.environ["NO_COLOR"] = saved
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            assert app.no_color
            view = app.query_one(ChatView)
            assert isinstance(app.focused, Composer)
            unfocused_lines = view_lines(view)
            text_width = view.scrollable_content_region.width
            assert set(_left_column(app)) == {" "}

            await pilot.press("tab")
            await pilot.pause()
            assert app.focused is view
            assert set(_left_column(app)) == {"▌"}
            assert view.scrollable_content_region.width == text_width
            assert view_lines(view) == unfocused_lines

            await pilot.press("tab")
            await pilot.pause()
            assert isinstance(app.focused, Composer)
            assert set(_left_column(app)) == {" "}
    finally:
        await engine.close()
