"""Tests of declining a contact request, against a real relay and real encrypted stores."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from engine_helpers import (
    FAST_SYNC,
    PASSPHRASE,
    Relay,
    abort_connection,
    drain,
    new_engine,
    pair,
    relay,
    relays,
    reopen,
    wait_until,
)
from nacl.signing import SigningKey

from konsel.client.core.engine import Engine
from konsel.client.core.engine_state import OwnedInbox
from konsel.client.core.events import (
    NOTICE_MESSAGES,
    ContactDeclined,
    EngineError,
    EngineErrorEvent,
    EventStream,
)
from konsel.client.core.relay_connection import Delivery, RelayCommandError, RelayConnection
from konsel.client.core.sync import EngineHooks
from konsel.protocol.content import Decline, new_message_id

__all__ = ["relay", "relays"]

EVENT_TIMEOUT = 20.0


async def next_declined(stream: EventStream) -> ContactDeclined:
    """Return the next ContactDeclined event of ``stream``; fail after 20 s."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        while True:
            event = await anext(stream)
            if isinstance(event, ContactDeclined):
                return event


async def inbox_on_relay(relay_url: str, inbox: OwnedInbox) -> bool:
    """Return whether the relay still has an inbox, by subscribing with its owner key.

    A successful subscription replaces the owner's own, so call this only to confirm
    that an inbox is gone.
    """
    async with await RelayConnection.connect(relay_url, ping_interval=None) as connection:
        try:
            await connection.subscribe(inbox.receive_id, SigningKey(inbox.owner_seed))
        except RelayCommandError as error:
            assert error.code == "NOT_FOUND"
            return False
    return True


async def request_contact(counselor: Engine, student: Engine) -> tuple[int, int, OwnedInbox]:
    """Send a contact request by link; return (request id, student's contact id, its inbox)."""
    contact_id = await student.accept_invitation(await counselor.create_invitation())

    async def has_request() -> bool:
        return bool(counselor.pending_requests())

    await wait_until(has_request, "the contact request")
    inbox = student.state.inbox_for_contact(contact_id)
    assert inbox is not None
    return counselor.pending_requests()[0][0], contact_id, inbox


async def assert_inbox_deleted(student: Engine, relay_url: str, inbox: OwnedInbox) -> None:
    """Wait until the student has deleted ``inbox``, then check that the relay lost it."""

    async def deleted() -> bool:
        return not student.state.retired_inboxes

    await wait_until(deleted, "the deletion of the declined konseli's inbox")
    assert inbox.receive_id not in student.state.private_inboxes
    assert not await inbox_on_relay(relay_url, inbox)


async def test_decline_student_notified(tmp_path: Path, relay: Relay) -> None:
    """A declined konseli sees the notice, and its inbox is gone from the relay."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Rani", "student", None)
    stream = student.events()
    try:
        request_id, contact_id, inbox = await request_contact(counselor, student)

        await counselor.decline_request(request_id)
        declined = await next_declined(stream)

        assert declined.contact_id == contact_id
        assert declined.reason == "declined"
        assert declined.code == "contact_declined"
        assert declined.text("id") == NOTICE_MESSAGES["contact_declined"]["id"]
        assert declined.text("en") == NOTICE_MESSAGES["contact_declined"]["en"]
        assert declined.text("id").startswith("Guru BK tidak menerima")
        assert student.state.routes[contact_id].declined
        await assert_inbox_deleted(student, relay.url, inbox)

        with pytest.raises(EngineError) as raised:
            await student.send_text(contact_id, "Bu, kenapa ditolak?")
        assert raised.value.code == "contact_declined"
        assert counselor.pending_requests() == []
        assert await counselor.contacts() == []
    finally:
        stream.close()
        await counselor.close()
        await student.close()


async def test_decline_student_offline(tmp_path: Path, relay: Relay) -> None:
    """A konseli that was closed during the decline learns of it when it opens again."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Rani", "student", None)
    try:
        request_id, contact_id, inbox = await request_contact(counselor, student)
        directory = student.store.profile.directory
        await student.close()

        await counselor.decline_request(request_id)

        async def decline_sent() -> bool:
            return not counselor.state.control_outbox

        await wait_until(decline_sent, "the decline to reach the relay")
        student = await Engine.open(directory, PASSPHRASE, options=FAST_SYNC)

        async def route_declined() -> bool:
            return student.state.routes[contact_id].declined

        await wait_until(route_declined, "the decline at the reopened konseli")
        await assert_inbox_deleted(student, relay.url, inbox)

        # The mark is stored: a second restart keeps the contact declined.
        student = await reopen(student)
        assert student.state.routes[contact_id].declined
        assert student.state.private_inboxes == {}
    finally:
        await counselor.close()
        await student.close()


async def test_decline_delete_retried(tmp_path: Path, relay: Relay) -> None:
    """A connection cut before the inbox deletion: the next connection deletes it."""
    cut = asyncio.Event()
    student_ref: list[Engine] = []

    async def cut_before_ack(delivery: Delivery) -> None:
        del delivery
        if student_ref and student_ref[0].state.retired_inboxes and not cut.is_set():
            cut.set()
            abort_connection(student_ref[0])

    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(
        tmp_path / "siswa", "Rani", "student", None, hooks=EngineHooks(before_ack=cut_before_ack)
    )
    student_ref.append(student)
    stream = student.events()
    try:
        request_id, contact_id, inbox = await request_contact(counselor, student)
        await counselor.decline_request(request_id)
        declined = await next_declined(stream)

        assert declined.contact_id == contact_id
        await assert_inbox_deleted(student, relay.url, inbox)
        assert cut.is_set()
        later = [event for event in drain(stream) if isinstance(event, ContactDeclined)]
        assert later == []
    finally:
        stream.close()
        await counselor.close()
        await student.close()


async def test_decline_to_counselor_ignored(tmp_path: Path, relay: Relay) -> None:
    """A decline sent to a counselor, or after acceptance, changes nothing on the receiver."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Rani", "student", None)
    stream = counselor.events()
    try:
        on_counselor, on_student = await pair(counselor, student)
        async with student.lock:
            seq = await student.next_seq(on_student)
            decline = Decline(new_message_id(), seq, student.clock(), reason="declined")
            await student.queue_control(on_student, decline)

        async with asyncio.timeout(EVENT_TIMEOUT):
            event = None
            while not isinstance(event, EngineErrorEvent):
                event = await anext(stream)
        assert event.code == "content_unexpected"
        assert event.detail == "decline"
        assert not counselor.state.routes[on_counselor].declined
        assert counselor.state.inbox_for_contact(on_counselor) is not None

        await counselor.send_text(on_counselor, "Rani, pesanmu tetap sampai.")

        async def arrived() -> bool:
            window = await student.history(on_student)
            return [m.body for m in window] == ["Rani, pesanmu tetap sampai."]

        await wait_until(arrived, "the counselor's message after the decline")
    finally:
        stream.close()
        await counselor.close()
        await student.close()
