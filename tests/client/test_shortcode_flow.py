"""Tests of short-code pairing and safety codes against a real relay and real stores."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TypeVar

import pytest
from engine_helpers import (
    Relay,
    WriteGate,
    bodies,
    drain,
    new_engine,
    relay,
    relays,
    reopen,
    wait_until,
)

from konsel.client.core import pairing, renewal
from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    ContactKeyChanged,
    ContactRequestPending,
    DamagedMessage,
    EngineError,
    EventStream,
    SessionRenewed,
    ShortCodeFailed,
    ShortCodePaired,
    ShortCodeReady,
    shortcode_text,
)
from konsel.client.core.relay_connection import RelayConnection
from konsel.client.core.sync import EngineHooks
from konsel.protocol.identity import IdentityKeyPair
from konsel.protocol.prekeys import PrekeyStore
from konsel.protocol.relay_wire import PairEnd, PairMessage
from konsel.protocol.shortcode import format_code, parse_code
from konsel.protocol.shortcode_wire import CancelMessage, PakeMessage, decode_pairing_message
from konsel.protocol.wordlist import load_words

__all__ = ["relay", "relays"]

EVENT_TIMEOUT = 20.0

T = TypeVar("T")


async def next_event(stream: EventStream, kind: type[T]) -> T:
    """Return the next event of ``kind`` from ``stream``; fail after 20 s."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        while True:
            event = await anext(stream)
            if isinstance(event, kind):
                return event


def wrong_words(code_text: str) -> str:
    """Return the code with the same number and a different first word."""
    code = parse_code(code_text)
    words = load_words()
    replacement = words[(words.index(code.words[0]) + 1) % len(words)]
    return format_code(type(code)(code.nameplate, (replacement, *code.words[1:])))


async def engines(tmp_path: Path, relay: Relay, *students: str) -> list[Engine]:
    """Create a counselor and the named konseli, all on ``relay``."""
    created = [await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)]
    for name in students:
        created.append(await new_engine(tmp_path / name, name, "student", relay.url))
    return created


async def close_all(created: list[Engine]) -> None:
    for engine in created:
        await engine.close()


async def pair_by_code(counselor: Engine, student: Engine) -> tuple[int, int]:
    """Pair by short code; return (konseli's id at the counselor, counselor's id)."""
    stream = counselor.events()
    code = await counselor.create_code()
    on_student = await student.join_code(code)
    paired = await next_event(stream, ShortCodePaired)
    stream.close()

    async def accepted() -> bool:
        return student.state.routes[on_student].accepted

    await wait_until(accepted, "the counselor's introduction")
    return paired.contact_id, on_student


async def test_shortcode_pairs_and_chats(tmp_path: Path, relay: Relay) -> None:
    """A konseli types the counselor's code; both are paired and a message goes each way."""
    created = await engines(tmp_path, relay, "dimas")
    counselor, student = created
    stream = counselor.events()
    try:
        on_counselor, on_student = await pair_by_code(counselor, student)
        ready = await next_event(stream, ShortCodeReady)
        assert parse_code(ready.code).nameplate >= 1

        await student.send_text(on_student, "Bu, saya boleh cerita?")
        await counselor.send_text(on_counselor, "Boleh, Dimas.")

        async def both_arrived() -> bool:
            return (
                len(await bodies(counselor, on_counselor)) == 2
                and len(await bodies(student, on_student)) == 2
            )

        await wait_until(both_arrived, "both messages")
        assert await bodies(counselor, on_counselor, "in") == ["Bu, saya boleh cerita?"]
        assert await bodies(student, on_student, "in") == ["Boleh, Dimas."]
        assert [c.display_name for c in await student.contacts()] == ["Bu Sari"]
        assert [c.display_name for c in await counselor.contacts()] == ["dimas"]
        assert counselor.pending_requests() == []
        asked = [e for e in drain(stream) if isinstance(e, ContactRequestPending)]
        assert asked == []
    finally:
        await close_all(created)


async def test_shortcode_wrong_words(tmp_path: Path, relay: Relay) -> None:
    """The right number with a wrong word fails on both sides and creates no contact."""
    created = await engines(tmp_path, relay, "rani")
    counselor, student = created
    stream = counselor.events()
    try:
        code = await counselor.create_code()
        with pytest.raises(EngineError) as raised:
            await student.join_code(wrong_words(code))
        failed = await next_event(stream, ShortCodeFailed)

        assert raised.value.code == "code_wrong"
        assert failed.code == "code_wrong"
        assert failed.text("id").startswith("Kode tidak cocok")
        assert failed.text("en").startswith("The codes do not match")
        assert await student.contacts() == []
        assert await counselor.contacts() == []
        assert counselor.pending_requests() == []
    finally:
        await close_all(created)


async def test_shortcode_cancelled_code(tmp_path: Path, relay: Relay) -> None:
    """A cancelled code gives ``code_not_found``, and a new code can be opened after it."""
    created = await engines(tmp_path, relay, "rani")
    counselor, student = created
    try:
        code = await counselor.create_code()
        await counselor.cancel_code()
        with pytest.raises(EngineError) as raised:
            await student.join_code(code)

        assert raised.value.code == "code_not_found"
        assert "kode baru" in shortcode_text("code_not_found", "id")
        assert "new code" in shortcode_text("code_not_found", "en")
        assert await student.contacts() == []
        assert await counselor.create_code() != ""
    finally:
        await close_all(created)


async def test_shortcode_expired_code(tmp_path: Path, relay: Relay) -> None:
    """A code past its lifetime gives ``code_not_found``.

    The relay rejects a join of an expired nameplate and of a closed one with the same
    NOT_FOUND, so closing a 60-second code simulates its expiry without a 60 s wait.
    """
    created = await engines(tmp_path, relay, "rani")
    counselor, student = created
    try:
        code = await counselor.create_code(ttl=60)
        await counselor.cancel_code()
        with pytest.raises(EngineError) as raised:
            await student.join_code(code)

        assert raised.value.code == "code_not_found"
        assert await student.contacts() == []
        assert await counselor.contacts() == []
    finally:
        await close_all(created)


async def test_shortcode_ttl_range(tmp_path: Path, relay: Relay) -> None:
    """A lifetime outside 60..600 s is rejected before the relay is asked."""
    created = await engines(tmp_path, relay)
    try:
        for ttl in (59, 601):
            with pytest.raises(ValueError):
                await created[0].create_code(ttl=ttl)
    finally:
        await close_all(created)


async def test_shortcode_reused_code(tmp_path: Path, relay: Relay) -> None:
    """A second konseli typing a code that was already used gets ``code_not_found``."""
    created = await engines(tmp_path, relay, "dimas", "rani")
    counselor, first, second = created
    stream = counselor.events()
    try:
        await pair_by_code(counselor, first)
        code = (await next_event(stream, ShortCodeReady)).code
        with pytest.raises(EngineError) as raised:
            await second.join_code(code)

        assert raised.value.code == "code_not_found"
        assert await second.contacts() == []
        assert len(await counselor.contacts()) == 1
    finally:
        await close_all(created)


async def test_shortcode_guess_burns_code(tmp_path: Path, relay: Relay) -> None:
    """A wrong guess burns the code: the real konseli must ask for a new one."""
    created = await engines(tmp_path, relay, "guesser", "dimas")
    counselor, guesser, student = created
    stream = counselor.events()
    try:
        code = await counselor.create_code()
        with pytest.raises(EngineError) as guessed:
            await guesser.join_code(wrong_words(code))
        failed = await next_event(stream, ShortCodeFailed)
        with pytest.raises(EngineError) as genuine:
            await student.join_code(code)

        assert guessed.value.code == "code_wrong"
        assert failed.code == "code_wrong"
        assert genuine.value.code == "code_not_found"
        for engine in created:
            assert await engine.contacts() == []
        assert counselor.pending_requests() == []
    finally:
        await close_all(created)


async def test_shortcode_malformed_code(tmp_path: Path, relay: Relay) -> None:
    """A code with one word, or a misspelled word, is rejected before any connection."""
    created = await engines(tmp_path, relay, "rani")
    student = created[1]
    try:
        with pytest.raises(EngineError) as short:
            await student.join_code("7-kancil")
        assert short.value.code == "code_format"

        misspelled = wrong_words("7-kancil-pelangi").replace("pelangi", "pelangu")
        with pytest.raises(EngineError) as typo:
            await student.join_code(misspelled)
        assert typo.value.code in {"code_word", "code_word_suggestion"}
    finally:
        await close_all(created)


async def test_safety_code_matches_and_persists(tmp_path: Path, relay: Relay) -> None:
    """Both sides compute one safety code, and the verified mark survives a restart."""
    created = await engines(tmp_path, relay, "dimas")
    counselor, student = created
    try:
        on_counselor, on_student = await pair_by_code(counselor, student)
        at_counselor = await counselor.safety_code(on_counselor)
        at_student = await student.safety_code(on_student)

        assert at_counselor == at_student
        assert len(at_counselor.digit_groups) == 6
        assert len(at_counselor.words) == 8
        assert not (await counselor.contacts())[0].verified

        await counselor.mark_verified(on_counselor)
        counselor = await reopen(counselor)
        created[0] = counselor
        assert (await counselor.contacts())[0].verified

        await counselor.mark_verified(on_counselor, verified=False)
        assert not (await counselor.contacts())[0].verified
        with pytest.raises(EngineError) as raised:
            await counselor.safety_code(on_counselor + 100)
        assert raised.value.code == "contact_not_found"
    finally:
        await close_all(created)


async def test_key_change_holds_messages(tmp_path: Path, relay: Relay) -> None:
    """A new konseli identity key puts its messages on hold until the counselor confirms it.

    The konseli's client gets a new identity in memory and renews the session, as a
    reinstalled app with the same inboxes would; its next text is sent under that key.
    """
    created = await engines(tmp_path, relay, "dimas")
    counselor, student = created
    stream = counselor.events()
    try:
        on_counselor, on_student = await pair_by_code(counselor, student)
        await student.send_text(on_student, "Pesan pertama.")

        async def first_delivered() -> bool:
            # With its delivery receipt in, the renewal below resends nothing.
            sent = await student.history(on_student)
            return [m.status for m in sent] in (["delivered"], ["read"])

        await wait_until(first_delivered, "the first message's receipt")
        await counselor.mark_verified(on_counselor)
        old_code = await counselor.safety_code(on_counselor)

        student.identity = IdentityKeyPair.generate()
        connection = await student.sync.wait_connected(EVENT_TIMEOUT)
        async with student.lock:
            await renewal.renew_session(student, connection, on_student)
        await student.send_text(on_student, "Pesan dengan kunci baru.")

        warning = await next_event(stream, ContactKeyChanged)

        async def both_held() -> bool:
            return len(counselor.key_changes.get(on_counselor, [])) == 2

        await wait_until(both_held, "two held deliveries")
        assert warning.contact_id == on_counselor
        assert warning.text("id").startswith("Kunci keamanan kontak ini berubah")
        assert warning.text("en").startswith("This contact's security key changed")
        assert not (await counselor.contacts())[0].verified
        assert await bodies(counselor, on_counselor, "in") == ["Pesan pertama."]

        assert await counselor.confirm_key_change(on_counselor) == 2

        assert on_counselor not in counselor.key_changes
        assert await bodies(counselor, on_counselor, "in") == [
            "Pesan pertama.",
            "Pesan dengan kunci baru.",
        ]
        contact = (await counselor.contacts())[0]
        assert contact.identity_key == student.identity.public.ed25519
        assert not contact.verified
        new_code = await counselor.safety_code(on_counselor)
        assert new_code != old_code
        assert new_code == await student.safety_code(on_student)
        with pytest.raises(EngineError) as raised:
            await counselor.confirm_key_change(on_counselor)
        assert raised.value.code == "key_change_not_found"
    finally:
        await close_all(created)


async def test_cancel_code_tells_joined_side(tmp_path: Path, relay: Relay) -> None:
    """Cancelling after a join sends the exchange's cancel message, then ends the rendezvous."""
    created = await engines(tmp_path, relay)
    counselor = created[0]
    try:
        code = parse_code(await counselor.create_code())
        async with await RelayConnection.connect(relay.url, ping_interval=None) as joined:
            await joined.pair_join(code.nameplate)
            await counselor.cancel_code()

            frames: list[PairMessage | PairEnd] = []
            async with asyncio.timeout(EVENT_TIMEOUT):
                async for frame in joined.pair_events():
                    frames.append(frame)
                    if isinstance(frame, PairEnd):
                        break

        messages = [decode_pairing_message(f.body) for f in frames if isinstance(f, PairMessage)]
        assert [type(message) for message in messages] == [PakeMessage, CancelMessage]
        assert frames[-1] == PairEnd(code.nameplate, "closed")
    finally:
        await close_all(created)


async def change_student_key(student: Engine, contact_id: int) -> None:
    """Give the konseli a new identity in memory and renew, as a reinstalled app would."""
    student.identity = IdentityKeyPair.generate()
    connection = await student.sync.wait_connected(EVENT_TIMEOUT)
    async with student.lock:
        await renewal.renew_session(student, connection, contact_id)


async def test_key_change_hold_survives_restart(tmp_path: Path, relay: Relay) -> None:
    """Held deliveries and the new key are stored: a restarted counselor can still confirm."""
    created = await engines(tmp_path, relay, "dimas")
    counselor, student = created
    stream = counselor.events()
    try:
        on_counselor, on_student = await pair_by_code(counselor, student)
        await change_student_key(student, on_student)
        await student.send_text(on_student, "Pesan setelah ganti kunci.")
        await next_event(stream, ContactKeyChanged)

        async def both_held() -> bool:
            return len(counselor.key_changes.get(on_counselor, [])) == 2

        await wait_until(both_held, "two held deliveries")
        held_ids = [delivery.message_id for delivery in counselor.key_changes[on_counselor]]
        stream.close()

        counselor = await reopen(counselor)
        created[0] = counselor
        stream = counselor.events()
        assert [d.message_id for d in counselor.key_changes[on_counselor]] == held_ids
        assert await bodies(counselor, on_counselor, "in") == []

        assert await counselor.confirm_key_change(on_counselor) == 2
        assert await bodies(counselor, on_counselor, "in") == ["Pesan setelah ganti kunci."]
        contact = (await counselor.contacts())[0]
        assert contact.identity_key == student.identity.public.ed25519
        assert on_counselor not in counselor.key_changes

        # Nothing stays held in the store either: another restart finds no key change.
        counselor = await reopen(counselor)
        created[0] = counselor
        assert counselor.key_changes == {}
        warnings = [event for event in drain(stream) if isinstance(event, ContactKeyChanged)]
        assert warnings == []
    finally:
        stream.close()
        await close_all(created)


async def test_key_change_renew_request_holds(tmp_path: Path, relay: Relay) -> None:
    """A renew request signed by a new counselor key warns the konseli and holds, not damages.

    The counselor's client gets a new identity in memory, publishes a bundle under it on
    its contact inbox and asks for a renewal. Its one-time prekey target is 0, so the
    relay hands out no one-time prekey made under the old identity.
    """
    counselor = await new_engine(
        tmp_path / "bk", "Bu Sari", "counselor", relay.url, one_time_prekey_target=0
    )
    student = await new_engine(tmp_path / "dimas", "dimas", "student", relay.url)
    created = [counselor, student]
    stream = student.events()
    try:
        on_counselor, on_student = await pair_by_code(counselor, student)
        await student.mark_verified(on_student)

        counselor.identity = IdentityKeyPair.generate()
        counselor.prekeys = PrekeyStore.create(counselor.identity, int(time.time()), 0)
        connection = await counselor.sync.wait_connected(EVENT_TIMEOUT)
        await pairing.refill_prekeys(counselor, connection, 0)
        async with counselor.lock:
            await renewal.request_renewal(counselor, on_counselor)
        await counselor.send_text(on_counselor, "Dimas, ini Ibu dengan kunci baru.")

        warning = await next_event(stream, ContactKeyChanged)
        assert warning.contact_id == on_student

        async def both_held() -> bool:
            return len(student.key_changes.get(on_student, [])) == 2

        await wait_until(both_held, "the renew request and the text on hold")
        damaged = [event for event in drain(stream) if isinstance(event, DamagedMessage)]
        assert damaged == []
        assert not (await student.contacts())[0].verified
        assert await bodies(student, on_student, "in") == []

        stream.close()
        student = await reopen(student)
        created[1] = student
        stream = student.events()
        assert len(student.key_changes[on_student]) == 2

        assert await student.confirm_key_change(on_student) == 2
        renewed = await next_event(stream, SessionRenewed)
        assert renewed.cause == "peer_request"

        async def text_shown() -> bool:
            return await bodies(student, on_student, "in") == ["Dimas, ini Ibu dengan kunci baru."]

        await wait_until(text_shown, "the held text, resent under the new session")
        contact = (await student.contacts())[0]
        assert contact.identity_key == counselor.identity.public.ed25519
        assert not contact.verified
        assert await student.safety_code(on_student) == await counselor.safety_code(on_counselor)

        await student.send_text(on_student, "Baik, Bu.")

        async def reply_arrived() -> bool:
            return await bodies(counselor, on_counselor, "in") == ["Baik, Bu."]

        await wait_until(reply_arrived, "the konseli's reply on the renewed session")
    finally:
        stream.close()
        await close_all(created)


async def test_shortcode_key_survives_restart(tmp_path: Path, relay: Relay) -> None:
    """A counselor restarted between the code exchange and the request still auto-accepts it."""
    gate = WriteGate()
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(
        tmp_path / "dimas", "dimas", "student", relay.url, hooks=EngineHooks(before_write=gate)
    )
    created = [counselor, student]
    try:
        code = await counselor.create_code()
        # The konseli's contact request is its first cached write, so it waits at the gate.
        gate.hold_next()
        joining = asyncio.create_task(student.join_code(code))
        await gate.wait_entered()

        async def key_stored() -> bool:
            return bool(counselor.state.expected_keys)

        await wait_until(key_stored, "the konseli's key in the counselor's state")
        counselor = await reopen(counselor)
        created[0] = counselor
        stream = counselor.events()
        assert [k.identity_key for k in counselor.state.expected_keys] == [
            student.identity.public.ed25519
        ]

        gate.release.set()
        on_student = await joining
        paired = await next_event(stream, ShortCodePaired)
        stream.close()

        async def accepted() -> bool:
            return student.state.routes[on_student].accepted

        await wait_until(accepted, "the counselor's introduction")
        assert paired.display_name == "dimas"
        assert counselor.pending_requests() == []
        assert counselor.state.expected_keys == []
        assert [c.display_name for c in await counselor.contacts()] == ["dimas"]
    finally:
        gate.release.set()
        await close_all(created)
