"""Tests of the outbox: resends after a lost confirmation, manual resends, size limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from engine_helpers import (
    Relay,
    abort_connection,
    bodies,
    new_engine,
    pair,
    relay,
    relays,
    start_relay,
    wait_until,
)

from konsel.client.core.engine import Engine
from konsel.client.core.events import EngineError
from konsel.client.core.relay_connection import RelayConnectionClosed

__all__ = ["relay", "relays"]


def outbox_empty(engine: Engine):  # type: ignore[no-untyped-def]
    """Return a condition that is true once no text or control envelope waits."""

    async def check() -> bool:
        return await engine.outbox_count() == 0 and not engine.state.control_outbox

    return check


async def test_outbox_lost_confirmation(tmp_path: Path, relay: Relay) -> None:
    """A send whose reply is cut is resent with the same bytes and shown once on both sides."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    sent_envelopes: list[bytes] = []

    async def cut_after_store(envelope: bytes) -> None:
        sent_envelopes.append(envelope)
        if len(sent_envelopes) > 1:
            return

        async def stored() -> bool:
            return len(await bodies(counselor, on_counselor, "in")) == 1

        # The relay has stored the envelope. The cut and the error below stand for a
        # connection that died before its confirmation was read.
        await wait_until(stored, "the relay to deliver the first copy")
        abort_connection(student)
        raise RelayConnectionClosed("connection cut by the test")

    student.hooks.send_started = cut_after_store
    try:
        await student.send_text(on_student, "Bu, pesan ini jangan sampai dobel ya.")
        await wait_until(outbox_empty(student), "the resend to be confirmed")

        async def copy_dropped() -> bool:
            return counselor.duplicate_count >= 1

        await wait_until(copy_dropped, "the second copy to be dropped")
        assert len(sent_envelopes) >= 2
        assert set(sent_envelopes) == {sent_envelopes[0]}
        assert await bodies(counselor, on_counselor, "in") == [
            "Bu, pesan ini jangan sampai dobel ya."
        ]
        window = await student.history(on_student)
        assert [m.body for m in window] == ["Bu, pesan ini jangan sampai dobel ya."]
        assert window[0].status in ("sent", "delivered")
    finally:
        await counselor.close()
        await student.close()


async def test_outbox_manual_resend(tmp_path: Path, relay: Relay) -> None:
    """A manual resend while the first send waits for its reply is shown once, marked sent."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    release = asyncio.Event()
    calls: list[bytes] = []

    async def hold_first(envelope: bytes) -> None:
        calls.append(envelope)
        if len(calls) == 1:
            async with asyncio.timeout(20):
                await release.wait()

    student.hooks.send_started = hold_first
    try:
        stored = await student.send_text(on_student, "Bu, saya kirim ulang, ya.")

        async def first_started() -> bool:
            return len(calls) == 1

        await wait_until(first_started, "the automatic send to start")
        await student.resend(stored.order)
        assert (await student.message(stored.order)).status in ("sent", "delivered")
        release.set()

        async def copy_dropped() -> bool:
            return counselor.duplicate_count >= 1

        await wait_until(copy_dropped, "the second copy to be dropped")
        assert calls == [calls[0], calls[0]]
        assert await bodies(counselor, on_counselor, "in") == ["Bu, saya kirim ulang, ya."]
        assert await student.outbox_count() == 0
    finally:
        release.set()
        await counselor.close()
        await student.close()


async def test_outbox_too_large(tmp_path: Path, relay: Relay) -> None:
    """A 3 MB text is refused before sending, and two short messages after it arrive."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    try:
        with pytest.raises(EngineError) as raised:
            await student.send_text(on_student, "a" * 3 * 1024 * 1024)
        assert raised.value.code == "message_too_large"
        assert await student.outbox_count() == 0

        await student.send_text(on_student, "tes")
        await student.send_text(on_student, "tes")

        async def both_arrived() -> bool:
            return len(await bodies(counselor, on_counselor, "in")) == 2

        await wait_until(both_arrived, "the two short messages")
        assert await bodies(counselor, on_counselor, "in") == ["tes", "tes"]
        assert await bodies(student, on_student) == ["tes", "tes"]
    finally:
        await counselor.close()
        await student.close()


async def test_outbox_relay_envelope_limit(tmp_path: Path, relays: list[Relay]) -> None:
    """A text under the content limit but over the relay's envelope limit is refused locally."""
    small = start_relay(tmp_path, "--max-envelope", "4096")
    relays.append(small)
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", small.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    try:
        assert student.state.max_envelope == 4096
        with pytest.raises(EngineError) as raised:
            await student.send_text(on_student, "🙂" * 2000)
        assert raised.value.code == "message_too_large"

        await student.send_text(on_student, "tes")

        async def arrived() -> bool:
            return await bodies(counselor, on_counselor, "in") == ["tes"]

        await wait_until(arrived, "the short message")
        assert await bodies(student, on_student) == ["tes"]
    finally:
        await counselor.close()
        await student.close()
