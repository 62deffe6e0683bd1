"""Tests of LAIJAPEN and LAIJAPANG follow-ups: completing, moving and cancelling open ones."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import new_engine, reopen

from konsel.client.core.errors import RecordNotFound
from konsel.client.core.passphrase import KdfParams
from konsel.client.core.profile import Profile
from konsel.client.core.store import Store


class SetClock:
    """A store clock that returns the time a test last set, in Unix milliseconds."""

    def __init__(self) -> None:
        self.now_ms = 1_000

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def clock() -> SetClock:
    return SetClock()


@pytest.fixture
def records(
    profile: Profile, passphrase: str, cheap_kdf: KdfParams, clock: SetClock
) -> Iterator[Store]:
    """A new store whose clock is ``clock``, closed after the test."""
    opened = Store.create(profile, passphrase, kdf=cheap_kdf, clock=clock)
    yield opened
    opened.close()


def new_session(store: Store) -> int:
    """Add a student contact and start a counseling session with it."""
    contact = store.add_contact("Siti Rahmawati", "student", os.urandom(32), [os.urandom(16)])
    return store.start_session(contact.id)


def test_complete_clears_due(records: Store, clock: SetClock) -> None:
    session_id = new_session(records)
    follow_up = records.add_follow_up(session_id, "laijapen", due_at=5_000)
    assert [f.id for f in records.due_follow_ups(now=5_000)] == [follow_up]

    clock.now_ms = 6_000
    records.complete_follow_up(follow_up)

    assert records.due_follow_ups(now=10_000) == []
    (done,) = records.list_follow_ups(session_id)
    assert done.done_at == 6_000
    assert done.status == "done"


def test_reschedule_moves_due_time(records: Store) -> None:
    session_id = new_session(records)
    follow_up = records.add_follow_up(session_id, "laijapen", due_at=5_000, note="cek rencana")

    records.reschedule_follow_up(follow_up, 20_000)

    assert records.due_follow_ups(now=10_000) == []
    (moved,) = records.due_follow_ups(now=20_000)
    assert moved.id == follow_up
    assert moved.due_at == 20_000
    assert moved.note == "cek rencana"
    assert moved.done_at is None


def test_reschedule_done_or_missing_rejected(records: Store) -> None:
    session_id = new_session(records)
    follow_up = records.add_follow_up(session_id, "laijapang", due_at=5_000)
    records.complete_follow_up(follow_up)

    with pytest.raises(RecordNotFound, match="open follow-up"):
        records.reschedule_follow_up(follow_up, 50_000)
    with pytest.raises(RecordNotFound, match="open follow-up"):
        records.reschedule_follow_up(follow_up + 1, 50_000)
    (unchanged,) = records.list_follow_ups(session_id)
    assert unchanged.due_at == 5_000


def test_cancel_removes_from_due_and_list(records: Store) -> None:
    session_id = new_session(records)
    laijapen = records.add_follow_up(session_id, "laijapen", due_at=5_000)
    laijapang = records.add_follow_up(session_id, "laijapang", due_at=90_000)

    records.cancel_follow_up(laijapen)

    assert [f.id for f in records.list_follow_ups(session_id)] == [laijapang]
    assert [f.id for f in records.due_follow_ups(now=100_000)] == [laijapang]
    with pytest.raises(RecordNotFound):
        records.cancel_follow_up(laijapen)
    with pytest.raises(RecordNotFound):
        records.complete_follow_up(laijapen)


def test_cancel_keeps_done_follow_up(records: Store) -> None:
    """A follow-up that took place is part of the record, so cancelling it is rejected."""
    session_id = new_session(records)
    follow_up = records.add_follow_up(session_id, "laijapen", due_at=5_000)
    records.complete_follow_up(follow_up)

    with pytest.raises(RecordNotFound, match="open follow-up"):
        records.cancel_follow_up(follow_up)

    assert [f.id for f in records.list_follow_ups(session_id)] == [follow_up]


def test_changes_survive_store_reopen(
    profile: Profile, passphrase: str, cheap_kdf: KdfParams
) -> None:
    with Store.create(profile, passphrase, kdf=cheap_kdf) as store:
        session_id = new_session(store)
        moved = store.add_follow_up(session_id, "laijapen", due_at=5_000)
        cancelled = store.add_follow_up(session_id, "laijapang", due_at=90_000)
        store.reschedule_follow_up(moved, 7_000)
        store.cancel_follow_up(cancelled)

    with Store.open(profile, passphrase) as store:
        follow_ups = store.list_follow_ups(session_id)
        assert [(f.id, f.due_at) for f in follow_ups] == [(moved, 7_000)]


async def test_engine_record_operations_persist(tmp_path: Path) -> None:
    """The engine runs the new operations, and a reopened engine reads their result."""
    engine = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", None)
    try:
        # Pairing needs a relay, and a contact written to the store is enough for records.
        session_id = await asyncio.to_thread(new_session, engine.store)
        moved = await engine.record("add_follow_up", session_id, "laijapen", 5_000)
        cancelled = await engine.record("add_follow_up", session_id, "laijapang", 6_000)
        done = await engine.record("add_follow_up", session_id, "laijapen", 4_000)

        await engine.record("reschedule_follow_up", moved, 50_000)
        await engine.record("cancel_follow_up", cancelled)
        await engine.record("complete_follow_up", done)
        assert await engine.due_follow_ups(10_000) == []

        engine = await reopen(engine)
        follow_ups = await engine.record("list_follow_ups", session_id)
        assert [(f.id, f.due_at, f.done_at is None) for f in follow_ups] == [
            (done, 4_000, False),
            (moved, 50_000, True),
        ]
        assert [f.id for f in await engine.due_follow_ups(50_000)] == [moved]
    finally:
        await engine.close()
