"""Tests of the engine API: clocks, receipts, history, search, events and records."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from engine_helpers import (
    PASSPHRASE,
    Relay,
    WriteGate,
    bodies,
    drain,
    new_engine,
    pair,
    relay,
    relays,
    reopen,
    settle,
    wait_until,
)

from konsel.client.core.engine import Engine, now_ms
from konsel.client.core.errors import WrongPassphrase
from konsel.client.core.events import (
    ConnectionChanged,
    DamagedMessage,
    EngineError,
    Event,
    EventStream,
    MessageStatusChanged,
    SessionRenewed,
)
from konsel.client.core.sync import EngineHooks

__all__ = ["relay", "relays"]

MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS


@pytest.mark.parametrize("offset_ms", [7 * MINUTE_MS, -DAY_MS])
async def test_engine_wrong_clock_order(tmp_path: Path, relay: Relay, offset_ms: int) -> None:
    """A peer's wrong clock changes sent_at but never the order shown, also after a restart."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(
        tmp_path / "siswa", "Dimas", "student", None, clock=lambda: now_ms() + offset_ms
    )
    on_counselor, on_student = await pair(counselor, student)
    turns = [
        (student, on_student, "Bu, saya sudah coba saran kemarin."),
        (counselor, on_counselor, "Bagaimana hasilnya?"),
        (student, on_student, "Tidurnya jadi lebih cepat."),
        (counselor, on_counselor, "Bagus sekali, pertahankan ya."),
        (student, on_student, "Siap, Bu."),
    ]
    try:
        for count, (engine, contact_id, text) in enumerate(turns, start=1):
            await engine.send_text(contact_id, text)

            async def arrived(expected: int = count) -> bool:
                return len(await bodies(counselor, on_counselor)) == expected

            await wait_until(arrived, f"turn {count} at the counselor")

        expected = [text for _, _, text in turns]
        assert await bodies(counselor, on_counselor) == expected
        window = await counselor.history(on_counselor)
        skewed = [m for m in window if m.direction == "in"]
        assert all(abs(m.sent_at - m.received_at - offset_ms) < MINUTE_MS for m in skewed)  # type: ignore[operator]

        counselor = await reopen(counselor)
        assert await bodies(counselor, on_counselor) == expected
    finally:
        await counselor.close()
        await student.close()


async def test_engine_read_receipts(tmp_path: Path, relay: Relay) -> None:
    """Delivery and read receipts move the sender's status; turning them off stops 'read'."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    stream = student.events()
    try:
        first = await student.send_text(on_student, "Bu, sudah baca pesan saya?")

        async def delivered() -> bool:
            return (await student.message(first.order)).status == "delivered"

        await wait_until(delivered, "the delivery receipt")
        incoming = await counselor.history(on_counselor)
        await counselor.mark_read(on_counselor, [incoming[0].order])

        async def read() -> bool:
            return (await student.message(first.order)).status == "read"

        await wait_until(read, "the read receipt")
        statuses = []
        while not stream.queue.empty():
            event = stream.queue.get_nowait()
            if isinstance(event, MessageStatusChanged) and event.order == first.order:
                statuses.append(event.status)
        assert statuses == ["sent", "delivered", "read"]

        await counselor.set_read_receipts(False)
        second = await student.send_text(on_student, "Pesan kedua, Bu.")
        second_delivered_condition = _status_is(student, second.order, "delivered")
        await wait_until(second_delivered_condition, "the second delivery receipt")
        incoming = await counselor.history(on_counselor)
        await counselor.mark_read(on_counselor, [incoming[-1].order])
        third = await student.send_text(on_student, "Pesan ketiga.")
        await wait_until(_status_is(student, third.order, "delivered"), "the third receipt")
        assert (await student.message(second.order)).status == "delivered"
        assert (await counselor.message(incoming[-1].order)).status == "read"
    finally:
        await counselor.close()
        await student.close()


def _status_is(engine: Engine, order: int, status: str):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return (await engine.message(order)).status == status

    return check


async def test_engine_history_search(tmp_path: Path, relay: Relay) -> None:
    """History pages back by order number, and search finds whole words."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    try:
        texts = [f"catatan ke-{number} tentang jadwal ujian" for number in range(1, 8)]
        texts[4] = "besok saya ke ruang BK jam istirahat"
        for text in texts:
            await student.send_text(on_student, text)

        newest = await student.history(on_student, limit=3)
        assert [m.body for m in newest] == texts[-3:]
        older = await student.history(on_student, before=newest[0].order, limit=3)
        assert [m.body for m in older] == texts[1:4]

        found = await student.search("ruang BK")
        assert [m.body for m in found] == [texts[4]]
        assert await student.search("tidakada") == []
        del on_counselor
    finally:
        await counselor.close()
        await student.close()


async def test_engine_connection_events(tmp_path: Path, relay: Relay) -> None:
    """The engine reports connecting, then connected with the outbox count."""
    directory = tmp_path / "bk"
    counselor = await new_engine(directory, "Bu Sari", "counselor", relay.url)
    await counselor.close()
    counselor = await Engine.open(directory, PASSPHRASE)
    stream = counselor.events()
    try:
        states = []
        async with asyncio.timeout(10):
            while "connected" not in states:
                event = await anext(stream)
                if isinstance(event, ConnectionChanged):
                    states.append(event.state)
                    assert event.outbox == 0
        assert counselor.connection_state == "connected"
    finally:
        await counselor.close()
    assert states[-1] == "connected"


async def test_engine_wrong_passphrase(tmp_path: Path, relay: Relay) -> None:
    """Opening with a wrong passphrase fails and leaves the profile usable."""
    directory = tmp_path / "bk"
    await (await new_engine(directory, "Bu Sari", "counselor", relay.url)).close()
    with pytest.raises(WrongPassphrase):
        await Engine.open(directory, "bukan ini")
    engine = await Engine.open(directory, PASSPHRASE)
    assert engine.state.display_name == "Bu Sari"
    await engine.close()


async def test_engine_records_follow_ups(tmp_path: Path, relay: Relay) -> None:
    """Counseling records pass through to the store, and due follow-ups are listed."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, _ = await pair(counselor, student)
    try:
        session_id = await counselor.record("start_session", on_counselor)
        await counselor.record("add_note", session_id, "pengantaran", "Konseli cemas soal ujian.")
        await counselor.record(
            "add_follow_up", session_id, "laijapen", now_ms() - 1000, "cek tidur"
        )
        await counselor.record("add_follow_up", session_id, "laijapang", now_ms() + DAY_MS)
        due = await counselor.due_follow_ups()
        assert [item.note for item in due] == ["cek tidur"]
        with pytest.raises(ValueError):
            await counselor.record("close", session_id)
    finally:
        await counselor.close()
        await student.close()


async def test_engine_empty_text(tmp_path: Path, relay: Relay) -> None:
    """A text of only spaces is refused with ``message_empty``."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    _, on_student = await pair(counselor, student)
    try:
        with pytest.raises(EngineError) as raised:
            await student.send_text(on_student, "   \n ")
        assert raised.value.code == "message_empty"
        assert await student.outbox_count() == 0
    finally:
        await counselor.close()
        await student.close()


async def test_engine_seq_counter(tmp_path: Path, relay: Relay) -> None:
    """One seq counter covers introductions, receipts and texts, also across a restart."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    try:
        first = await student.send_text(on_student, "Bu, saya mau tanya.")
        await wait_until(_status_is(student, first.order, "delivered"), "the delivery receipt")
        await counselor.send_text(on_counselor, "Silakan, Dimas.")
        counselor = await reopen(counselor)
        await counselor.send_text(on_counselor, "Ibu tunggu ceritamu.")

        async def both_arrived() -> bool:
            return len(await bodies(student, on_student, "in")) == 2

        await wait_until(both_arrived, "both counselor messages")
        seqs = [m.sender_seq for m in await student.history(on_student) if m.direction == "in"]
        # seq 1 was the introduction and seq 2 at least one delivery receipt.
        assert seqs[0] is not None and seqs[0] >= 3
        assert seqs[1] == seqs[0] + 1
    finally:
        await counselor.close()
        await student.close()


async def _reply_arrives_intact(
    counselor: Engine, on_counselor: int, student: Engine, on_student: int, stream: EventStream
) -> list[Event]:
    """Send a counselor reply; return the student's events once it arrives or breaks."""
    reply = "Ceritakan saja, Ibu dengarkan."
    await counselor.send_text(on_counselor, reply)
    seen: list[Event] = []

    async def arrived_or_broken() -> bool:
        seen.extend(drain(stream))
        broken = any(isinstance(e, SessionRenewed | DamagedMessage) for e in seen)
        return broken or await bodies(student, on_student, "in") == [reply]

    await wait_until(arrived_or_broken, "the reply or a broken session")
    assert await bodies(student, on_student, "in") == [reply]
    return seen


async def test_engine_cancel_during_commit(tmp_path: Path, relay: Relay) -> None:
    """A receipt cancelled while its commit runs in a thread leaves no stale session."""
    gate = WriteGate()
    counselor = await new_engine(
        tmp_path / "bk", "Bu Sari", "counselor", relay.url, hooks=EngineHooks(before_write=gate)
    )
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    stream = student.events()
    try:
        first = await student.send_text(on_student, "Bu, saya mau cerita.")
        await wait_until(_status_is(student, first.order, "delivered"), "the delivery receipt")
        await settle(counselor)
        incoming = await counselor.history(on_counselor)

        gate.hold_next()
        marking = asyncio.create_task(counselor.mark_read(on_counselor, [incoming[0].order]))
        await gate.wait_entered()
        marking.cancel()
        gate.release.set()
        with pytest.raises(asyncio.CancelledError):
            await marking

        seen = await _reply_arrives_intact(counselor, on_counselor, student, on_student, stream)
        assert not [e for e in seen if isinstance(e, SessionRenewed | DamagedMessage)]
        # The receipt was committed before the cancellation took effect, so it is sent.
        await wait_until(_status_is(student, first.order, "read"), "the read receipt")
    finally:
        gate.release.set()
        await counselor.close()
        await student.close()


async def test_engine_failed_commit(tmp_path: Path, relay: Relay) -> None:
    """A receipt whose commit fails is dropped from memory too, so no key is used twice."""
    gate = WriteGate()
    counselor = await new_engine(
        tmp_path / "bk", "Bu Sari", "counselor", relay.url, hooks=EngineHooks(before_write=gate)
    )
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    stream = student.events()
    try:
        first = await student.send_text(on_student, "Bu, saya mau cerita.")
        await wait_until(_status_is(student, first.order, "delivered"), "the delivery receipt")
        await settle(counselor)
        incoming = await counselor.history(on_counselor)

        gate.fail_next()
        with pytest.raises(OSError):
            await counselor.mark_read(on_counselor, [incoming[0].order])
        assert counselor.state.control_outbox == []

        seen = await _reply_arrives_intact(counselor, on_counselor, student, on_student, stream)
        assert not [e for e in seen if isinstance(e, SessionRenewed | DamagedMessage)]
    finally:
        await counselor.close()
        await student.close()
