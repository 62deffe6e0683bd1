"""A conversation with 10,000 stored messages: opening, paging, receiving and typing.

The history is real: Indonesian texts (every 50th 2,000 characters long, every 7th with
emoji) in a SQLCipher store file, written through the store's public methods. The view
must hold only a window of it, at the top of the history and at the bottom, and its
memory must not grow with the length of the history.
"""

from __future__ import annotations

import asyncio
import shutil
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from chat_helpers import (
    ChatHost,
    fill_history,
    held_orders,
    history_bodies,
    offline_engine,
    settle,
    view_lines,
)
from engine_helpers import FAST_SYNC, PASSPHRASE, Relay, new_engine, pair, wait_until

from konsel.client.core.engine import Engine
from konsel.client.tui.widgets.chat_view import ChatView
from konsel.client.tui.widgets.chat_window import MAX_HELD
from konsel.client.tui.widgets.composer import Composer

MAX_LINES = 4_000
"""Generous bound on laid-out lines for MAX_HELD messages (a 2,000-character message
takes about 27 lines at 80 columns)."""
MAX_PAGE_STEPS = 300

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stored_histories(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[int, tuple[Path, int]]]:
    """Profiles with 2,000 and 10,000 stored messages, built once for this module."""
    root = tmp_path_factory.mktemp("histories")

    async def build(count: int) -> tuple[Path, int]:
        directory = root / f"history-{count}"
        engine, contact_id = await offline_engine(directory)
        try:
            await asyncio.to_thread(fill_history, engine, contact_id, history_bodies(count))
        finally:
            await engine.close()
        return directory, contact_id

    yield {count: asyncio.run(build(count)) for count in (2_000, 10_000)}


async def open_copy(source: Path, target: Path) -> Engine:
    shutil.copytree(source, target)
    return await Engine.open(target, PASSPHRASE, options=FAST_SYNC)


async def page_to_top(app: ChatHost, view: ChatView, pilot: object) -> int:
    """Press Home until the oldest message is held; return the most messages held at once."""
    most_held = len(held_orders(view))
    for _ in range(MAX_PAGE_STEPS):
        assert view.window is not None
        if not view.window.has_older and view.scroll_y == 0:
            return most_held
        await pilot.press("home")  # type: ignore[attr-defined]
        await settle(app)
        most_held = max(most_held, len(held_orders(view)))
    raise AssertionError(f"the top was not reached in {MAX_PAGE_STEPS} presses of Home")


async def test_long_history_pages_to_top_and_back(
    tmp_path: Path, stored_histories: dict[int, tuple[Path, int]]
) -> None:
    source, contact_id = stored_histories[10_000]
    engine = await open_copy(source, tmp_path / "profile")
    oldest = (await engine.history(contact_id, limit=10_000))[0]
    newest = (await engine.history(contact_id, limit=1))[0]
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            view = app.query_one(ChatView)
            assert len(held_orders(view)) == 200
            assert held_orders(view)[-1] == newest.order
            assert len(view._lines) <= MAX_LINES

            view.focus()
            most_held = await page_to_top(app, view, pilot)
            assert most_held <= MAX_HELD
            assert held_orders(view)[0] == oldest.order
            assert len(view._lines) <= MAX_LINES
            assert oldest.body[:40] in " ".join(view_lines(view)[:6])

            await pilot.press("pagedown", "pagedown")
            await settle(app)
            assert len(held_orders(view)) <= MAX_HELD

            await pilot.press("end")
            await settle(app)
            assert held_orders(view)[-1] == newest.order
            assert len(held_orders(view)) <= MAX_HELD
            assert view.scroll_y == view.max_scroll_y
    finally:
        await engine.close()


async def test_long_history_paging_down_is_contiguous(
    tmp_path: Path, stored_histories: dict[int, tuple[Path, int]]
) -> None:
    """Paging up far and back down with Page Down shows every message once, in order."""
    source, contact_id = stored_histories[2_000]
    engine = await open_copy(source, tmp_path / "profile")
    app = ChatHost(engine, contact_id)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            view = app.query_one(ChatView)
            view.focus()
            for _ in range(6):
                await pilot.press("home")
                await settle(app)
            assert view.window is not None and not view.window.at_newest

            seen: list[int] = list(held_orders(view))
            for _ in range(MAX_PAGE_STEPS):
                if view.window.at_newest and view.scroll_y == view.max_scroll_y:
                    break
                await pilot.press("pagedown")
                await settle(app)
                held = held_orders(view)
                assert held == sorted(held)
                assert len(held) <= MAX_HELD
                seen.extend(order for order in held if order > seen[-1])
            assert seen == sorted(set(seen))
            everything = await engine.history(contact_id, limit=10_000)
            first = everything.index(next(m for m in everything if m.order == seen[0]))
            assert seen == [m.order for m in everything[first:]]
    finally:
        await engine.close()


async def held_memory(source: Path, contact_id: int, target: Path) -> tuple[int, int]:
    """Open a copy in the host app; return (messages held, bytes allocated by konsel code
    and still alive after opening)."""
    engine = await open_copy(source, target)
    tracemalloc.start(12)
    try:
        before = tracemalloc.take_snapshot()
        app = ChatHost(engine, contact_id)
        async with app.run_test(size=(80, 24)):
            await settle(app)
            after = tracemalloc.take_snapshot()
            held = len(held_orders(app.query_one(ChatView)))
    finally:
        tracemalloc.stop()
        await engine.close()

    only_konsel = [tracemalloc.Filter(True, "*/client/*", all_frames=True)]
    grown = after.filter_traces(only_konsel).compare_to(
        before.filter_traces(only_konsel), "filename"
    )
    return held, sum(stat.size_diff for stat in grown)


async def test_long_history_memory_flat_as_history_grows(
    tmp_path: Path, stored_histories: dict[int, tuple[Path, int]]
) -> None:
    small_held, small_bytes = await held_memory(*stored_histories[2_000], tmp_path / "small")
    large_held, large_bytes = await held_memory(*stored_histories[10_000], tmp_path / "large")
    assert small_held == large_held == 200
    # Holding the whole history would add megabytes for the 8,000 extra messages.
    assert large_bytes < small_bytes * 1.5 + 512 * 1024


async def test_long_history_receive_twenty_while_typing(tmp_path: Path, tui_relay: Relay) -> None:
    """Open 10,000 messages, page to the top and back, then type while 20 messages arrive
    from the konseli over the relay: each one shows at the bottom and the draft is intact."""
    counselor = await new_engine(tmp_path / "counselor", "Bu Rina", "counselor", tui_relay.url)
    student = await new_engine(tmp_path / "student", "Siti Rahmawati", "student", None)
    try:
        student_id, counselor_id = await pair(counselor, student)
        await counselor.sync.stop()
        await asyncio.to_thread(fill_history, counselor, student_id, history_bodies(10_000))
        counselor.sync.start()

        app = ChatHost(counselor, student_id)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app)
            view = app.query_one(ChatView)
            view.focus()
            most_held = await page_to_top(app, view, pilot)
            assert most_held <= MAX_HELD
            await pilot.press("end")
            await settle(app)
            app.query_one(Composer).focus()

            draft = "Baik, Siti. Ibu dengarkan"
            typed = ""
            for number in range(20):
                await student.send_text(counselor_id, f"Pesan baru nomor {number + 1} dari Siti")
                character = draft[number] if number < len(draft) else "."
                await pilot.press("space" if character == " " else character)
                typed += character
                assert app.query_one(Composer).text == typed

            async def all_arrived() -> bool:
                return "  Pesan baru nomor 20 dari Siti" in view_lines(view)

            await wait_until(all_arrived, "the 20th new message in the view")
            await settle(app)
            lines = view_lines(view)
            for number in range(20):
                assert f"  Pesan baru nomor {number + 1} dari Siti" in lines
            assert view.scroll_y == view.max_scroll_y
            assert view.new_count == 0
            assert len(held_orders(view)) <= MAX_HELD
            assert len(view._lines) <= MAX_LINES
            assert app.query_one(Composer).text == typed
            assert app.submitted == []
    finally:
        await counselor.close()
        await student.close()
