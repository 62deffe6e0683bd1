"""Tests of conversations after a profile is restored from an old backup, on a real relay.

Each test copies one profile directory while its engine is closed (time T0), lets the
conversation go on, restores the copy the same way, and sends "Saya mau cerita". The
conversation must recover: the new message shown once, earlier messages shown at most
once and covered by a notice where they were lost, and no (key, nonce) pair reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from engine_helpers import (
    KeyNonceRecorder,
    Relay,
    backup_profile,
    bodies,
    drain,
    new_engine,
    pair,
    relay,
    relays,
    restore_profile,
    wait_until,
)

from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    NOTICE_MESSAGES,
    DamagedMessage,
    Event,
    EventStream,
    MessagesMissing,
    SessionRenewed,
)
from konsel.protocol import ratchet

__all__ = ["relay", "relays"]

NEW_MESSAGE = "Saya mau cerita"
EARLIER = [
    "Bu, saya sudah sampai rumah.",
    "Tadi di kelas saya diam saja.",
    "Besok saya boleh ke ruang BK?",
]


@dataclass
class Side:
    """One engine of a test, its id for the other side, and the events it emitted."""

    engine: Engine
    contact: int
    stream: EventStream
    seen: list[Event] = field(default_factory=list)

    def collect(self) -> list[Event]:
        self.seen.extend(drain(self.stream))
        return self.seen

    def notices(self, kind: type[SessionRenewed | MessagesMissing]) -> list[Event]:
        return [event for event in self.collect() if isinstance(event, kind)]

    async def reopened(self, engine: Engine) -> None:
        self.stream.close()
        self.engine = engine
        self.stream = engine.events()
        self.seen = []


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> KeyNonceRecorder:
    """Every ratchet encryption of the test, checked for a reused (key, nonce) pair."""
    watching = KeyNonceRecorder(ratchet.aead_encrypt)
    monkeypatch.setattr(ratchet, "aead_encrypt", watching)
    return watching


async def _pair_one_time(counselor: Engine, student: Engine) -> tuple[int, int]:
    """Pair by a one-time link; return (student's id at the counselor, counselor's id)."""
    on_student = await student.accept_invitation(await counselor.create_invitation("one_time"))

    async def has_request() -> bool:
        return bool(counselor.pending_requests())

    await wait_until(has_request, "the contact request")
    on_counselor = await counselor.accept_request(counselor.pending_requests()[0][0])

    async def accepted() -> bool:
        return student.state.routes[on_student].accepted

    await wait_until(accepted, "the counselor's introduction")
    return on_counselor, on_student


async def _paired(tmp_path: Path, relay: Relay, *, one_time: bool = False) -> dict[str, Side]:
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    pairing = _pair_one_time if one_time else pair
    on_counselor, on_student = await pairing(counselor, student)
    sides = {
        "bk": Side(counselor, on_counselor, counselor.events()),
        "siswa": Side(student, on_student, student.events()),
    }
    await _send_and_confirm(sides, "siswa", "Selamat siang, Bu.")
    await _send_and_confirm(sides, "bk", "Siang, Dimas. Ada yang bisa Ibu bantu?")
    return sides


def _other(name: str) -> str:
    return "siswa" if name == "bk" else "bk"


async def _count(side: Side, body: str) -> int:
    return (await bodies(side.engine, side.contact, "in")).count(body)


async def _send_and_confirm(sides: dict[str, Side], sender: str, body: str) -> None:
    """Send a text and wait until the peer shows it and the sender has its receipt."""
    sent = await sides[sender].engine.send_text(sides[sender].contact, body)
    receiver = sides[_other(sender)]

    async def delivered() -> bool:
        message = await sides[sender].engine.message(sent.order)
        return message.status == "delivered" and await _count(receiver, body) >= 1

    await wait_until(delivered, f"delivery of {body!r}")


async def _close(sides: dict[str, Side]) -> None:
    for side in sides.values():
        await side.engine.close()


async def _roll_back(tmp_path: Path, sides: dict[str, Side], restored: str, sender: str) -> None:
    """Back up ``restored`` at T0, let ``sender`` send EARLIER, then restore the backup."""
    backup = tmp_path / f"{restored}-backup"
    await sides[restored].reopened(await backup_profile(sides[restored].engine, backup))
    for body in EARLIER:
        await _send_and_confirm(sides, sender, body)
    await sides[restored].reopened(await restore_profile(sides[restored].engine, backup))


async def _send_new(sides: dict[str, Side], sender: str) -> None:
    """Send NEW_MESSAGE and wait until the peer shows it and the sender has its receipt."""
    await _send_and_confirm(sides, sender, NEW_MESSAGE)


async def _wait_renewed(sides: dict[str, Side]) -> None:
    async def both() -> bool:
        return all(side.notices(SessionRenewed) for side in sides.values())

    await wait_until(both, "the session renewal notice on both sides")


async def _conversation_goes_on(sides: dict[str, Side]) -> None:
    """Exchange one more message each way on the recovered session."""
    await _send_and_confirm(sides, "bk", "Baik, Ibu tunggu ceritamu.")
    await _send_and_confirm(sides, "siswa", "Terima kasih, Bu.")


def _assert_notice_text(event: SessionRenewed | MessagesMissing) -> None:
    assert event.text("id") == NOTICE_MESSAGES[event.code]["id"]
    assert event.text("en") == NOTICE_MESSAGES[event.code]["en"]


async def _assert_shown_once(sides: dict[str, Side], sender: str) -> None:
    receiver = sides[_other(sender)]
    assert await _count(receiver, NEW_MESSAGE) == 1
    for body in EARLIER:
        assert await _count(receiver, body) <= 1
    incoming = await bodies(sides[sender].engine, sides[sender].contact, "in")
    assert len(incoming) == len(set(incoming))


async def test_rollback_student_sends_first(
    tmp_path: Path, relay: Relay, recorder: KeyNonceRecorder
) -> None:
    """A restored konseli's first message reaches the counselor through a requested renewal."""
    sides = await _paired(tmp_path, relay)
    try:
        await _roll_back(tmp_path, sides, restored="siswa", sender="siswa")
        await _send_new(sides, "siswa")
        await _wait_renewed(sides)

        await _assert_shown_once(sides, "siswa")
        for body in EARLIER:
            assert await _count(sides["bk"], body) == 1
        student_renewed = sides["siswa"].notices(SessionRenewed)
        assert [event.cause for event in student_renewed] == ["peer_request"]
        assert student_renewed[0].resent == 1
        assert [event.cause for event in sides["bk"].notices(SessionRenewed)] == ["peer_renewed"]
        for event in student_renewed:
            _assert_notice_text(event)

        await _conversation_goes_on(sides)
        assert await _count(sides["bk"], NEW_MESSAGE) == 1
        assert recorder.count > 0
        assert recorder.reused == []
    finally:
        await _close(sides)


async def test_rollback_counselor_sends_first(
    tmp_path: Path, relay: Relay, recorder: KeyNonceRecorder
) -> None:
    """A restored counselor's first message is resent under the konseli's new session."""
    sides = await _paired(tmp_path, relay)
    try:
        await _roll_back(tmp_path, sides, restored="bk", sender="bk")
        await _send_new(sides, "bk")
        await _wait_renewed(sides)

        await _assert_shown_once(sides, "bk")
        for body in EARLIER:
            assert await _count(sides["siswa"], body) == 1
        counselor_renewed = sides["bk"].notices(SessionRenewed)
        assert [event.cause for event in counselor_renewed] == ["peer_renewed"]
        assert counselor_renewed[0].resent >= 1
        assert [event.cause for event in sides["siswa"].notices(SessionRenewed)] == [
            "peer_rollback"
        ]
        _assert_notice_text(counselor_renewed[0])

        await _conversation_goes_on(sides)
        assert await _count(sides["siswa"], NEW_MESSAGE) == 1
        assert recorder.reused == []
    finally:
        await _close(sides)


@pytest.mark.parametrize("restored", ["siswa", "bk"])
async def test_rollback_receiver_restored(
    tmp_path: Path, relay: Relay, recorder: KeyNonceRecorder, restored: str
) -> None:
    """A restored receiver shows that messages may be missing and that the session renewed."""
    sides = await _paired(tmp_path, relay)
    sender = _other(restored)
    try:
        await _roll_back(tmp_path, sides, restored=restored, sender=sender)
        await _send_new(sides, sender)
        await _wait_renewed(sides)

        await _assert_shown_once(sides, sender)
        lost = [body for body in EARLIER if await _count(sides[restored], body) == 0]
        assert lost == EARLIER
        missing = sides[restored].notices(MessagesMissing)
        assert len(missing) == 1
        assert isinstance(missing[0], MessagesMissing)
        assert missing[0].missing >= len(EARLIER)
        _assert_notice_text(missing[0])
        assert "mungkin hilang" in missing[0].text("id")
        renewed = sides[restored].notices(SessionRenewed)
        assert isinstance(renewed[0], SessionRenewed)
        assert "diperbarui" in renewed[0].text("id")

        await _conversation_goes_on(sides)
        assert await _count(sides[restored], NEW_MESSAGE) == 1
        assert recorder.reused == []
    finally:
        await _close(sides)


async def test_rollback_counselor_sends_three(
    tmp_path: Path, relay: Relay, recorder: KeyNonceRecorder
) -> None:
    """A restored konseli recovers the session, and all three questions arrive once."""
    sides = await _paired(tmp_path, relay)
    questions = [f"Dimas, masih di sana? ({number})" for number in range(3)]
    try:
        await _roll_back(tmp_path, sides, restored="siswa", sender="bk")
        for question in questions:
            await sides["bk"].engine.send_text(sides["bk"].contact, question)

        async def all_three() -> bool:
            shown = [await _count(sides["siswa"], question) for question in questions]
            return shown == [1, 1, 1]

        await wait_until(all_three, "the three questions at the konseli")
        await _wait_renewed(sides)
        seen = sides["siswa"].collect()
        renewal_at = next(i for i, e in enumerate(seen) if isinstance(e, SessionRenewed))
        damaged = [e for e in seen[:renewal_at] if isinstance(e, DamagedMessage)]
        assert 1 <= len(damaged) <= 3

        await _send_new(sides, "siswa")
        await _conversation_goes_on(sides)
        assert await _count(sides["bk"], NEW_MESSAGE) == 1
        for question in questions:
            assert await _count(sides["siswa"], question) == 1
        assert recorder.reused == []
    finally:
        await _close(sides)


async def test_rollback_after_one_time_link(
    tmp_path: Path, relay: Relay, recorder: KeyNonceRecorder
) -> None:
    """A konseli paired by a one-time link renews through the counselor's contact inbox.

    The one-time inbox is gone from the relay by then, so a renewal that fetched its
    bundle there would fail.
    """
    sides = await _paired(tmp_path, relay, one_time=True)
    counselor = sides["bk"].engine
    contact_inbox = counselor.state.contact_inbox
    assert contact_inbox is not None
    route = sides["siswa"].engine.state.routes[sides["siswa"].contact]
    assert route.peer_contact_send_id == contact_inbox.send_id
    assert counselor.state.retired_inboxes == []
    assert all(inbox.kind == "private" for inbox in counselor.state.private_inboxes.values())
    try:
        await _roll_back(tmp_path, sides, restored="siswa", sender="siswa")
        await _send_new(sides, "siswa")
        await _wait_renewed(sides)

        await _assert_shown_once(sides, "siswa")
        student_renewed = sides["siswa"].notices(SessionRenewed)
        assert [event.cause for event in student_renewed] == ["peer_request"]
        assert [event.cause for event in sides["bk"].notices(SessionRenewed)] == ["peer_renewed"]

        await _conversation_goes_on(sides)
        assert recorder.reused == []
    finally:
        await _close(sides)


def test_recorder_flags_reuse() -> None:
    """The (key, nonce) recorder reports two plaintexts under one pair, and only those."""
    watching = KeyNonceRecorder(ratchet.aead_encrypt)
    key, nonce = b"\x01" * 32, b"\x02" * 24
    watching(b"pertama", b"", nonce, key)
    watching(b"pertama", b"", nonce, key)
    assert watching.reused == []
    watching(b"kedua", b"", nonce, key)
    assert watching.reused == [(key, nonce)]
