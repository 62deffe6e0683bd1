"""Tests of pairing by invitation link against a real relay and real encrypted stores."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from engine_helpers import (
    FAST_SYNC,
    PASSPHRASE,
    Relay,
    bodies,
    delete_contact_inbox,
    new_engine,
    pair,
    relay,
    relays,
    wait_until,
)

from konsel.client.core.engine import Engine
from konsel.client.core.events import ERROR_MESSAGES, ContactRequestPending, EngineError

__all__ = ["relay", "relays"]


async def test_pairing_link_exchange(tmp_path: Path, relay: Relay) -> None:
    """A konseli pairs by link, and both sides then write through their private inboxes."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    try:
        on_counselor, on_student = await pair(counselor, student)

        await student.send_text(on_student, "Bu, saya mau cerita soal teman sekelas.")
        await counselor.send_text(on_counselor, "Boleh, Dimas. Ceritakan pelan-pelan saja.")

        async def both_arrived() -> bool:
            return (
                len(await bodies(counselor, on_counselor)) == 2
                and len(await bodies(student, on_student)) == 2
            )

        await wait_until(both_arrived, "both messages")
        assert await bodies(counselor, on_counselor, "in") == [
            "Bu, saya mau cerita soal teman sekelas."
        ]
        assert await bodies(student, on_student, "in") == [
            "Boleh, Dimas. Ceritakan pelan-pelan saja."
        ]
        contact = (await student.contacts())[0]
        assert contact.display_name == "Bu Sari"
        assert counselor.state.routes[on_counselor].peer_send_id == (
            student.state.inbox_for_contact(on_student).send_id  # type: ignore[union-attr]
        )
    finally:
        await counselor.close()
        await student.close()


async def test_pairing_request_event_decline(tmp_path: Path, relay: Relay) -> None:
    """A declined request leaves no contact and no pending request behind."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Rani", "student", None)
    stream = counselor.events()
    try:
        link = await counselor.create_invitation()
        await student.accept_invitation(link)
        async with asyncio.timeout(20):
            event = None
            while not isinstance(event, ContactRequestPending):
                event = await anext(stream)
        assert event.display_name == "Rani"

        await counselor.decline_request(event.request_id)
        assert counselor.pending_requests() == []
        assert await counselor.contacts() == []
        with pytest.raises(EngineError) as raised:
            await counselor.accept_request(event.request_id)
        assert raised.value.code == "request_not_found"
    finally:
        await counselor.close()
        await student.close()


async def test_pairing_student_pending_send(tmp_path: Path, relay: Relay) -> None:
    """Before the counselor accepts, a text is refused with ``contact_pending``."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Rani", "student", None)
    try:
        contact_id = await student.accept_invitation(await counselor.create_invitation())
        with pytest.raises(EngineError) as raised:
            await student.send_text(contact_id, "halo")
        assert raised.value.code == "contact_pending"
    finally:
        await counselor.close()
        await student.close()


async def test_pairing_damaged_link(tmp_path: Path, relay: Relay) -> None:
    """A link with a changed character is refused with the link's error code."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Rani", "student", None)
    try:
        link = await counselor.create_invitation()
        damaged = link[:-3] + ("0" if link[-3] != "0" else "1") + link[-2:]
        with pytest.raises(EngineError) as raised:
            await student.accept_invitation(damaged)
        assert raised.value.code == "link_damaged"
    finally:
        await counselor.close()
        await student.close()


async def test_pairing_prekeys_run_out(tmp_path: Path, relay: Relay) -> None:
    """25 konseli use 20 one-time prekeys; the last 5 pair on the signed prekey alone."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    link = await counselor.create_invitation()
    assert counselor.relay_prekey_count == 20
    counselor_dir = counselor.store.profile.directory
    await counselor.close()

    students = [
        await new_engine(tmp_path / f"siswa-{number}", f"Siswa {number}", "student", None)
        for number in range(25)
    ]
    try:
        first_ten = await asyncio.gather(*(s.accept_invitation(link) for s in students[:10]))
        rest = [await s.accept_invitation(link) for s in students[10:]]
        contact_ids = [*first_ten, *rest]
        one_time_ids = [
            s.sessions[c].initial.one_time_prekey_id
            for s, c in zip(students, contact_ids, strict=True)
        ]
        assert sum(prekey_id is not None for prekey_id in one_time_ids) == 20
        assert all(prekey_id is None for prekey_id in one_time_ids[20:])
        assert len({p for p in one_time_ids if p is not None}) == 20

        async def requests_sent() -> bool:
            return not any(s.state.control_outbox for s in students)

        await wait_until(requests_sent, "25 contact requests to reach the relay")

        counselor = await Engine.open(counselor_dir, PASSPHRASE, options=FAST_SYNC)

        async def all_requests() -> bool:
            return len(counselor.pending_requests()) == 25

        await wait_until(all_requests, "25 pending requests")
        assert sorted(name for _, name in counselor.pending_requests()) == sorted(
            f"Siswa {number}" for number in range(25)
        )
        assert counselor.relay_prekey_count == 20

        for request_id, _ in counselor.pending_requests():
            await counselor.accept_request(request_id)
        last = students[-1]

        async def last_accepted() -> bool:
            return last.state.routes[contact_ids[-1]].accepted

        await wait_until(last_accepted, "the 25th konseli to be accepted")
        await last.send_text(contact_ids[-1], "Bu, saya siswa ke-25.")

        async def arrived() -> bool:
            for contact in await counselor.contacts():
                if contact.display_name == "Siswa 24":
                    return await bodies(counselor, contact.id, "in") == ["Bu, saya siswa ke-25."]
            return False

        await wait_until(arrived, "the 25th konseli's message")
    finally:
        await counselor.close()
        for student in students:
            await student.close()


async def test_pairing_reusable_two_students(tmp_path: Path, relay: Relay) -> None:
    """One reusable link pairs two konseli, each with its own contact."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    students = [
        await new_engine(tmp_path / f"siswa-{name}", name, "student", None)
        for name in ("Rani", "Dimas")
    ]
    try:
        link = await counselor.create_invitation("reusable")
        contact_ids = [await student.accept_invitation(link) for student in students]

        async def two_requests() -> bool:
            return len(counselor.pending_requests()) == 2

        await wait_until(two_requests, "two contact requests")
        for request_id, _ in counselor.pending_requests():
            await counselor.accept_request(request_id)

        async def both_accepted() -> bool:
            routes = [s.state.routes[c] for s, c in zip(students, contact_ids, strict=True)]
            return all(route.accepted for route in routes)

        await wait_until(both_accepted, "both introductions")
        names = sorted(contact.display_name for contact in await counselor.contacts())
        assert names == ["Dimas", "Rani"]
    finally:
        await counselor.close()
        for student in students:
            await student.close()


async def test_pairing_link_inbox_gone(tmp_path: Path, relay: Relay) -> None:
    """A link whose contact inbox the relay no longer has fails with ``invitation_used``."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Rani", "student", None)
    try:
        link = await counselor.create_invitation("reusable")
        await delete_contact_inbox(counselor)

        with pytest.raises(EngineError) as raised:
            await student.accept_invitation(link)
        assert raised.value.code == "invitation_used"
        assert await student.contacts() == []
        assert student.state.control_outbox == []
        assert counselor.pending_requests() == []
        assert "sudah dipakai" in ERROR_MESSAGES["invitation_used"]["id"]
        assert "already used" in ERROR_MESSAGES["invitation_used"]["en"]
    finally:
        await counselor.close()
        await student.close()
