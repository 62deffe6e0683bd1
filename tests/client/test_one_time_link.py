"""Tests of one-time and reusable invitation links against a real relay and real stores."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from engine_helpers import (
    FAST_SYNC,
    PASSPHRASE,
    Relay,
    bodies,
    new_engine,
    relay,
    relays,
    wait_until,
)

from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    ERROR_MESSAGES,
    ContactDeclined,
    EngineError,
    EventStream,
)
from konsel.client.core.relay_connection import RelayCommandError, RelayConnection
from konsel.protocol.invitation_link import decode_link

__all__ = ["relay", "relays"]

EVENT_TIMEOUT = 20.0


async def relay_has_bundle(relay_url: str, send_id: bytes) -> bool:
    """Return whether the relay hands out a bundle for a contact inbox send id."""
    async with await RelayConnection.connect(relay_url, ping_interval=None) as connection:
        try:
            await connection.fetch_prekeys(send_id)
        except RelayCommandError as error:
            assert error.code == "NOT_FOUND"
            return False
    return True


async def next_declined(stream: EventStream) -> ContactDeclined:
    """Return the next ContactDeclined event of ``stream``; fail after 20 s."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        while True:
            event = await anext(stream)
            if isinstance(event, ContactDeclined):
                return event


async def requests_sent(*students: Engine) -> None:
    """Wait until every student's contact request has left its control outbox."""

    async def sent() -> bool:
        return not any(student.state.control_outbox for student in students)

    await wait_until(sent, "the contact requests to reach the relay")


async def test_one_time_link_second_student_refused(tmp_path: Path, relay: Relay) -> None:
    """The second konseli on a used one-time link gets ``invitation_used``; the first chats."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    first = await new_engine(tmp_path / "rani", "Rani", "student", None)
    second = await new_engine(tmp_path / "dimas", "Dimas", "student", None)
    try:
        link = await counselor.create_invitation("one_time")
        one_time_id = decode_link(link, now=int(time.time())).inbox_id
        assert counselor.state.contact_inbox is not None
        assert one_time_id != counselor.state.contact_inbox.send_id

        on_first = await first.accept_invitation(link)

        async def spent_and_deleted() -> bool:
            state = counselor.state
            return bool(counselor.pending_requests()) and not state.retired_inboxes

        await wait_until(spent_and_deleted, "the request and the deletion of the one-time inbox")
        assert not await relay_has_bundle(relay.url, one_time_id)

        with pytest.raises(EngineError) as raised:
            await second.accept_invitation(link)
        assert raised.value.code == "invitation_used"
        assert await second.contacts() == []
        assert second.state.control_outbox == []
        assert second.state.private_inboxes == {}

        (request_id, name), *others = counselor.pending_requests()
        assert (name, others) == ("Rani", [])
        on_counselor = await counselor.accept_request(request_id)

        async def accepted() -> bool:
            return first.state.routes[on_first].accepted

        await wait_until(accepted, "the counselor's introduction")
        route = first.state.routes[on_first]
        assert route.peer_contact_send_id == counselor.state.contact_inbox.send_id

        await first.send_text(on_first, "Bu, terima kasih sudah menerima saya.")

        async def arrived() -> bool:
            return await bodies(counselor, on_counselor, "in") == [
                "Bu, terima kasih sudah menerima saya."
            ]

        await wait_until(arrived, "the first konseli's message")
    finally:
        for engine in (counselor, first, second):
            await engine.close()


async def test_one_time_link_race_declines_second(tmp_path: Path, relay: Relay) -> None:
    """Two requests reach a one-time inbox before the counselor reads it: the second is declined."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    link = await counselor.create_invitation("one_time")
    counselor_dir = counselor.store.profile.directory
    await counselor.close()

    first = await new_engine(tmp_path / "rani", "Rani", "student", None)
    second = await new_engine(tmp_path / "dimas", "Dimas", "student", None)
    stream = second.events()
    try:
        on_first = await first.accept_invitation(link)
        await requests_sent(first)
        on_second = await second.accept_invitation(link)
        await requests_sent(second)
        second_inbox = second.state.inbox_for_contact(on_second)
        assert second_inbox is not None

        counselor = await Engine.open(counselor_dir, PASSPHRASE, options=FAST_SYNC)
        declined = await next_declined(stream)

        assert declined.contact_id == on_second
        assert declined.reason == "invitation_used"
        assert declined.code == "invitation_used"
        assert declined.text("id") == ERROR_MESSAGES["invitation_used"]["id"]
        assert declined.text("en") == ERROR_MESSAGES["invitation_used"]["en"]
        assert [name for _, name in counselor.pending_requests()] == ["Rani"]
        assert await counselor.contacts() == []
        assert second.state.routes[on_second].declined
        assert not first.state.routes[on_first].declined

        async def second_inbox_deleted() -> bool:
            return not second.state.retired_inboxes

        await wait_until(second_inbox_deleted, "the declined konseli's inbox deletion")
        assert second.state.private_inboxes == {}
        with pytest.raises(EngineError) as raised:
            await second.send_text(on_second, "Halo, Bu?")
        assert raised.value.code == "contact_declined"
    finally:
        stream.close()
        for engine in (counselor, first, second):
            await engine.close()


async def test_reusable_link_many_students(tmp_path: Path, relay: Relay) -> None:
    """A reusable link keeps working: four konseli pair through it one after another."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    names = ["Rani", "Dimas", "Ayu", "Bagus"]
    students = [await new_engine(tmp_path / name, name, "student", None) for name in names]
    try:
        link = await counselor.create_invitation("reusable")
        for student in students:
            contact_id = await student.accept_invitation(link)

            async def request_arrived() -> bool:
                return len(counselor.pending_requests()) == 1

            await wait_until(request_arrived, "the next contact request")
            request_id, _ = counselor.pending_requests()[0]
            await counselor.accept_request(request_id)

            async def accepted(engine: Engine = student, contact: int = contact_id) -> bool:
                return engine.state.routes[contact].accepted

            await wait_until(accepted, "the counselor's introduction")

        assert sorted(c.display_name for c in await counselor.contacts()) == sorted(names)
        assert counselor.state.retired_inboxes == []
        assert counselor.state.contact_inbox is not None
        assert await relay_has_bundle(relay.url, counselor.state.contact_inbox.send_id)
    finally:
        await counselor.close()
        for student in students:
            await student.close()


async def test_one_time_link_expired_inbox_deleted(tmp_path: Path, relay: Relay) -> None:
    """An expired one-time inbox is deleted on the relay when the next one is created."""
    clock_ms = [time.time_ns() // 1_000_000]
    counselor = await new_engine(
        tmp_path / "bk", "Bu Sari", "counselor", relay.url, clock=lambda: clock_ms[0]
    )
    try:
        expires_at = int(time.time()) + 600
        link = await counselor.create_invitation("one_time", expires_at=expires_at)
        expired_id = decode_link(link, now=int(time.time())).inbox_id
        assert await relay_has_bundle(relay.url, expired_id)

        # The counselor's clock passes the expiry; the next one-time invitation cleans up.
        clock_ms[0] += 601 * 1000
        fresh = await counselor.create_invitation("one_time", expires_at=expires_at + 1200)
        fresh_id = decode_link(fresh, now=int(time.time())).inbox_id

        assert not await relay_has_bundle(relay.url, expired_id)
        assert await relay_has_bundle(relay.url, fresh_id)
        kinds = [inbox.kind for inbox in counselor.state.private_inboxes.values()]
        assert kinds == ["one_time"]
        assert counselor.state.retired_inboxes == []
    finally:
        await counselor.close()
