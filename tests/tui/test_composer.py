"""Tests of the composer: sending, new lines, drafts and the size limit."""

from __future__ import annotations

from pathlib import Path

from chat_helpers import ChatHost, offline_engine, settle, view_lines
from engine_helpers import Relay, new_engine, pair, wait_until

from konsel.client.core.events import ERROR_MESSAGES
from konsel.client.tui import catalog
from konsel.client.tui.messages import InsertDraft
from konsel.client.tui.widgets.chat_view import ChatView
from konsel.client.tui.widgets.composer import MAX_MESSAGE_CHARS, Composer, clean_draft


def notification_texts(app: ChatHost) -> list[str]:
    return [notification.message for notification in app._notifications]


async def test_composer_enter_submits_and_clears(tmp_path: Path) -> None:
    engine, _ = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, None)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(*"Halo Bu")
            assert app.query_one(Composer).text == "Halo Bu"
            await pilot.press("enter")
            await pilot.pause()
            assert app.submitted == ["Halo Bu"]
            assert app.query_one(Composer).text == ""
    finally:
        await engine.close()


async def test_composer_undo_stops_at_sent_message(tmp_path: Path) -> None:
    engine, _ = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, None)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(*"Rahasia")
            await pilot.pause(0.3)  # past the text area's undo checkpoint interval
            await pilot.press("enter")
            await pilot.pause(0.3)
            await pilot.press("ctrl+z")
            await pilot.pause()

            assert app.submitted == ["Rahasia"]
            assert app.query_one(Composer).text == ""
    finally:
        await engine.close()


async def test_composer_ctrl_j_inserts_new_line(tmp_path: Path) -> None:
    engine, _ = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, None)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(*"Baris satu", "ctrl+j", *"Baris dua", "shift+enter", "x")
            assert app.query_one(Composer).text == "Baris satu\nBaris dua\nx"
            assert app.submitted == []
            await pilot.press("enter")
            await pilot.pause()
            assert app.submitted == ["Baris satu\nBaris dua\nx"]
    finally:
        await engine.close()


async def test_composer_ignores_empty_draft(tmp_path: Path) -> None:
    engine, _ = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, None)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("enter", "space", "ctrl+j", "enter")
            await pilot.pause()
            assert app.submitted == []
    finally:
        await engine.close()


async def test_composer_refuses_text_over_limit(tmp_path: Path) -> None:
    engine, _ = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, None)
    draft = "a" * (MAX_MESSAGE_CHARS + 1)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            composer = app.query_one(Composer)
            composer.insert_draft(draft)
            await pilot.press("enter")
            await pilot.pause()
            assert app.submitted == []
            assert composer.text == draft
            expected = catalog.t("chat.composer.too_long", size="16.001", limit="16.000")
            assert notification_texts(app) == [expected]
            assert "16.001" in expected and "16.000" in expected
    finally:
        await engine.close()


async def test_composer_sends_text_at_limit(tmp_path: Path) -> None:
    engine, _ = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, None)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            app.query_one(Composer).insert_draft("b" * MAX_MESSAGE_CHARS)
            await pilot.press("enter")
            await pilot.pause()
            assert app.submitted == ["b" * MAX_MESSAGE_CHARS]
    finally:
        await engine.close()


async def test_composer_limit_message_in_english(tmp_path: Path) -> None:
    catalog.use("en")
    engine, _ = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, None)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            app.query_one(Composer).insert_draft("c" * 20_000)
            await pilot.press("enter")
            await pilot.pause()
            assert notification_texts(app) == [
                catalog.t("chat.composer.too_long", size="20,000", limit="16,000")
            ]
    finally:
        await engine.close()


async def test_composer_restores_draft_engine_refused(tmp_path: Path, tui_relay: Relay) -> None:
    """The engine's own size check (an envelope above the relay's limit) is the second
    line of defence: the draft comes back and the engine's text is shown."""
    counselor = await new_engine(tmp_path / "counselor", "Bu Rina", "counselor", tui_relay.url)
    student = await new_engine(tmp_path / "student", "Siti Rahmawati", "student", None)
    try:
        student_id, _ = await pair(counselor, student)
        counselor.state.max_envelope = 2_000
        app = ChatHost(counselor, student_id)
        draft = "Catatan panjang untuk Siti. " * 120
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            app.query_one(Composer).insert_draft(draft)
            await pilot.press("enter")

            async def restored() -> bool:
                return app.query_one(Composer).text == draft

            await wait_until(restored, "the refused draft back in the composer")
            assert app.submitted == [draft]
            assert notification_texts(app) == [ERROR_MESSAGES["message_too_large"]["id"]]
            assert await counselor.history(student_id) == []
            assert not any("Catatan" in line for line in view_lines(app.query_one(ChatView)))
    finally:
        await counselor.close()
        await student.close()


async def test_composer_insert_draft_is_editable_not_sent(tmp_path: Path) -> None:
    engine, _ = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, None)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            app.query_one(ChatView).post_message(
                InsertDraft("Apa yang paling kamu rasakan\r\nminggu ini?\x00")
            )
            await pilot.pause()
            composer = app.query_one(Composer)
            assert composer.text == "Apa yang paling kamu rasakan\nminggu ini?"
            assert app.submitted == []
            await pilot.press("backspace", "!")
            assert composer.text == "Apa yang paling kamu rasakan\nminggu ini!"
    finally:
        await engine.close()


async def test_composer_bindings_from_catalog(tmp_path: Path) -> None:
    engine, _ = await offline_engine(tmp_path / "profile")
    app = ChatHost(engine, None)
    try:
        async with app.run_test(size=(80, 24)):
            composer = app.query_one(Composer)
            descriptions = {
                binding.action: binding.description
                for bindings in composer._bindings.key_to_bindings.values()
                for binding in bindings
            }
            assert descriptions["submit"] == catalog.t("chat.keys.send")
            assert descriptions["newline"] == catalog.t("chat.keys.newline")
            assert composer.placeholder == catalog.t("chat.composer.placeholder")
    finally:
        await engine.close()


def test_clean_draft_line_ends_and_controls() -> None:
    assert clean_draft("a\r\nb\rc\nd") == "a\nb\nc\nd"
    assert clean_draft("t\x00a\x1bb\x07c\x7fd\x9be\tf") == "tabcde\tf"
    assert clean_draft("😊 [b]x[/b]") == "😊 [b]x[/b]"
