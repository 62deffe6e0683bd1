"""Tests of the sync loop against a real relay: faults, restarts, duplicates and crashes."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import (
    FAST_SYNC,
    PASSPHRASE,
    FreezingProxy,
    Relay,
    WriteGate,
    abort_connection,
    bodies,
    drain,
    free_port,
    new_engine,
    pair,
    relay,
    relays,
    reopen,
    restart_relay,
    settle,
    start_relay,
    wait_until,
)
from nacl.signing import SigningKey

from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    ConnectionChanged,
    DamagedMessage,
    Event,
    SessionRenewed,
)
from konsel.client.core.relay_connection import Delivery, RelayCommandError, RelayConnection
from konsel.client.core.sync import EngineHooks, backoff_delays, is_retryable

__all__ = ["relay", "relays"]

CONVERSATION = [
    "Selamat pagi, Bu. Boleh saya cerita sebentar?",
    "Pagi, Dimas. Tentu boleh, Ibu dengarkan.",
    "Akhir-akhir ini saya susah tidur, kepikiran ujian terus.",
    "Sejak kapan kamu merasa begitu?",
    "Kira-kira dua minggu, sejak jadwal ujian diumumkan.",
    "Apa yang paling bikin kamu khawatir?",
    "Takut nilai matematika saya jelek lagi, Bu.",
    "Wajar kalau cemas. Kamu sudah coba belajar bareng teman?",
    "Belum, saya malu kalau ketahuan tidak paham.",
    "Tidak apa-apa kok, banyak teman yang juga belum paham.",
    "Iya sih, Rani juga pernah bilang begitu.",
    "Bagaimana kalau kamu ajak Rani belajar sepulang sekolah?",
    "Boleh juga, nanti saya coba tanya dia.",
    "Tidurmu biasanya jam berapa?",
    "Sering lewat jam dua belas, main HP dulu.",
    "Coba taruh HP di luar kamar satu jam sebelum tidur, ya.",
    "Oke Bu, saya coba mulai malam ini.",
    "Bagus. Besok ceritakan hasilnya ke Ibu.",
    "Terima kasih, Bu. Saya merasa lebih lega.",
    "Sama-sama. Kalau ada apa-apa, tulis saja di sini.",
]


def line(index: int) -> str:
    """Return message ``index`` of a long conversation, unique by its number."""
    return f"{CONVERSATION[index % len(CONVERSATION)]} (#{index})"


async def test_sync_conversation_faults(tmp_path: Path, relay: Relay) -> None:
    """200 messages survive random disconnects and restarts, each shown once and in order."""
    engines = {
        "bk": await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url),
        "siswa": await new_engine(tmp_path / "siswa", "Dimas", "student", None),
    }
    contacts = {}
    contacts["bk"], contacts["siswa"] = await pair(engines["bk"], engines["siswa"])
    sent: dict[str, list[str]] = {"bk": [], "siswa": []}
    faults = {"disconnect": 0, "restart": 0}
    rng = random.Random(20261204)
    try:
        for index in range(200):
            side = rng.choice(["bk", "siswa"])
            await engines[side].send_text(contacts[side], line(index))
            sent[side].append(line(index))

            roll = rng.random()
            victim = rng.choice(["bk", "siswa"])
            if roll < 0.06:
                await engines[victim].sync.wait_connected(10)
                assert abort_connection(engines[victim])
                faults["disconnect"] += 1
            elif roll < 0.09:
                engines[victim] = await reopen(engines[victim])
                faults["restart"] += 1
            if index % 10 == 0:
                await asyncio.sleep(0.05)

        async def all_arrived() -> bool:
            counts = [len(await bodies(engines[side], contacts[side])) for side in engines]
            return counts == [200, 200]

        await wait_until(all_arrived, "all 200 messages on both sides", timeout=30)
        for side, other in (("bk", "siswa"), ("siswa", "bk")):
            assert await bodies(engines[side], contacts[side], "out") == sent[side]
            assert await bodies(engines[side], contacts[side], "in") == sent[other]
        assert faults["disconnect"] >= 3, faults
        assert faults["restart"] >= 3
    finally:
        for engine in engines.values():
            await engine.close()


def _receipt_task(inside: str | None = None) -> asyncio.Task[object]:
    """Return the one receipt batcher task, or the one suspended in function ``inside``."""
    tasks = [task for task in asyncio.all_tasks() if task.get_name() == "konsel-receipts"]
    if inside is not None:
        tasks = [task for task in tasks if inside in _awaited_functions(task)]
    assert len(tasks) == 1, tasks
    return tasks[0]


def _awaited_functions(task: asyncio.Task[object]) -> list[str]:
    """Return the names of the coroutine functions a suspended task is inside, outermost first."""
    names = []
    coroutine: object = task.get_coro()
    while coroutine is not None and hasattr(coroutine, "cr_frame"):
        names.append(coroutine.cr_code.co_name)  # type: ignore[attr-defined]
        coroutine = coroutine.cr_await  # type: ignore[attr-defined]
    return names


async def test_sync_cut_during_receipt_commit(tmp_path: Path, relay: Relay) -> None:
    """A cut while a receipt commits in a thread leaves the session cache in step."""
    gate = WriteGate()
    counselor = await new_engine(
        tmp_path / "bk", "Bu Sari", "counselor", relay.url, hooks=EngineHooks(before_write=gate)
    )
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    await settle(counselor)

    async def hold_receipt(delivery: Delivery) -> None:
        # The text is committed; the next write is the delivery receipt's.
        del delivery
        counselor.hooks.before_ack = None
        gate.hold_next()

    counselor.hooks.before_ack = hold_receipt
    try:
        first = await student.send_text(on_student, "Bu, besok saya izin.")
        await gate.wait_entered()
        await wait_until(_outbox_empty(student), "the student's text to be confirmed")
        # With the student closed, the counselor's receipt batcher is the only one.
        student_dir = student.store.profile.directory
        await student.close()
        receipts = _receipt_task()

        assert abort_connection(counselor)

        async def cancel_delivered() -> bool:
            return receipts.done() or receipts.cancelling() > 0

        await wait_until(cancel_delivered, "the cut to cancel the receipt batcher")
        gate.release.set()

        student = await Engine.open(student_dir, PASSPHRASE, options=FAST_SYNC)
        stream = student.events()
        await wait_until(_status_is(student, first.order, "delivered"), "the delivery receipt")
        reply = "Baik, Dimas. Semoga lekas sehat."
        await counselor.send_text(on_counselor, reply)
        seen: list[Event] = []

        async def arrived_or_broken() -> bool:
            seen.extend(drain(stream))
            broken = any(isinstance(e, SessionRenewed | DamagedMessage) for e in seen)
            return broken or await bodies(student, on_student, "in") == [reply]

        await wait_until(arrived_or_broken, "the reply or a broken session")
        assert await bodies(student, on_student, "in") == [reply]
        assert not [e for e in seen if isinstance(e, SessionRenewed | DamagedMessage)]
    finally:
        gate.release.set()
        await counselor.close()
        await student.close()


async def test_sync_cut_keeps_receipt_ids(tmp_path: Path, relay: Relay) -> None:
    """Receipt ids waiting for the engine lock survive a cut and are sent afterwards."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    await settle(counselor)
    held = asyncio.Event()

    async def take_lock(delivery: Delivery) -> None:
        # Runs right after the text is committed, before the receipt batcher wakes up.
        del delivery
        counselor.hooks.before_ack = None
        await counselor.lock.acquire()
        held.set()

    counselor.hooks.before_ack = take_lock
    released = False
    try:
        first = await student.send_text(on_student, "Bu, nilai saya sudah keluar.")
        await asyncio.wait_for(held.wait(), timeout=20)

        async def waiting_for_lock() -> bool:
            tasks = [t for t in asyncio.all_tasks() if t.get_name() == "konsel-receipts"]
            return any("send_receipt" in _awaited_functions(task) for task in tasks)

        await wait_until(waiting_for_lock, "the receipt batcher to wait for the lock")
        receipts = _receipt_task(inside="send_receipt")
        assert abort_connection(counselor)

        async def cancelled() -> bool:
            return receipts.done()

        await wait_until(cancelled, "the cut to cancel the receipt batcher")
        counselor.lock.release()
        released = True
        await wait_until(_status_is(student, first.order, "delivered"), "the delivery receipt")
        assert on_counselor not in counselor.pending_delivered
    finally:
        if held.is_set() and not released:
            counselor.lock.release()
        await counselor.close()
        await student.close()


def _status_is(engine: Engine, order: int, status: str):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return (await engine.message(order)).status == status

    return check


async def test_sync_lost_ack(tmp_path: Path, relay: Relay) -> None:
    """A stored message whose ACK was cut is redelivered and dropped without decrypting."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    messages = [f"m{number}: {CONVERSATION[number]}" for number in range(1, 6)]
    cut = asyncio.Event()

    async def cut_before_third_ack(delivery: Delivery) -> None:
        del delivery
        stored = await bodies(counselor, on_counselor, "in")
        if stored == messages[:3] and not cut.is_set():
            cut.set()
            abort_connection(counselor)

    counselor.hooks.before_ack = cut_before_third_ack
    try:
        decrypts_before = counselor.decrypt_count
        for message in messages:
            await student.send_text(on_student, message)

        async def all_five() -> bool:
            return len(await bodies(counselor, on_counselor, "in")) == 5

        await wait_until(all_five, "m1-m5 at the counselor")
        await wait_until(_outbox_empty(student), "the student's outbox to drain")
        await asyncio.sleep(0.3)

        assert cut.is_set()
        assert await bodies(counselor, on_counselor, "in") == messages
        assert counselor.duplicate_count >= 1
        # The counselor sent nothing, so it received no receipts: five texts, decrypted once.
        assert counselor.decrypt_count - decrypts_before == 5
    finally:
        await student.close()
        inbox = counselor.state.inbox_for_contact(on_counselor)
        await counselor.close()

    assert inbox is not None
    async with await RelayConnection.connect(relay.url) as connection:
        subscribed = await connection.subscribe(inbox.receive_id, SigningKey(inbox.owner_seed))
    assert subscribed.queued == 0


def _outbox_empty(engine: Engine):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return await engine.outbox_count() == 0 and not engine.state.control_outbox

    return check


async def test_sync_relay_restart(tmp_path: Path, relays: list[Relay]) -> None:
    """Messages written while the relay is down are sent after it comes back."""
    first = start_relay(tmp_path)
    relays.append(first)
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", first.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    try:
        first.stop()

        async def offline() -> bool:
            return student.connection_state != "connected"

        await wait_until(offline, "the student to notice the relay is gone")
        await student.send_text(on_student, "Bu, jaringannya putus tadi.")
        second = restart_relay(first, tmp_path)
        relays.append(second)

        async def arrived() -> bool:
            return await bodies(counselor, on_counselor, "in") == ["Bu, jaringannya putus tadi."]

        await wait_until(arrived, "the message after the relay restart")
        assert student.connection_state == "connected"
    finally:
        await counselor.close()
        await student.close()


async def test_sync_duplicate_envelope(tmp_path: Path, relay: Relay) -> None:
    """The same envelope bytes sent twice are shown once and decrypted once."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    captured: list[bytes] = []

    async def capture(envelope: bytes) -> None:
        captured.append(envelope)

    student.hooks.send_started = capture
    try:
        await student.send_text(on_student, "Bu, ini pesan yang sama.")
        await wait_until(_outbox_empty(student), "the first copy to be sent")
        assert len(set(captured)) == 1

        before = counselor.duplicate_count
        await _send_raw(relay, student, on_student, captured[0])

        async def dropped() -> bool:
            return counselor.duplicate_count > before

        await wait_until(dropped, "the second copy to be dropped")
        assert await bodies(counselor, on_counselor, "in") == ["Bu, ini pesan yang sama."]
    finally:
        await counselor.close()
        await student.close()


async def _send_raw(relay: Relay, sender: Engine, contact_id: int, envelope: bytes) -> None:
    """Send envelope bytes to the contact's inbox from a separate connection, with proof."""
    route = sender.state.routes[contact_id]
    async with await RelayConnection.connect(relay.url) as connection:
        try:
            await connection.send(route.peer_send_id, envelope)
        except RelayCommandError as error:
            assert error.code == "PROOF_REQUIRED"
            await connection.prove_sender(route.peer_send_id, SigningKey(route.sender_seed))
            await connection.send(route.peer_send_id, envelope)


async def test_sync_damaged_envelope(tmp_path: Path, relay: Relay) -> None:
    """A flipped byte gives one damaged-message event, and the session keeps working."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    captured: list[bytes] = []

    async def capture(envelope: bytes) -> None:
        captured.append(envelope)

    stream = counselor.events()
    try:
        student.hooks.send_started = capture
        await student.send_text(on_student, "Pesan pertama.")
        await wait_until(_outbox_empty(student), "the first message to be sent")
        student.hooks.send_started = None
        damaged = bytearray(captured[-1])
        damaged[-5] ^= 0x40
        await _send_raw(relay, student, on_student, bytes(damaged))
        await student.send_text(on_student, "Pesan kedua.")

        async def second_arrived() -> bool:
            return len(await bodies(counselor, on_counselor, "in")) == 2

        await wait_until(second_arrived, "the second message")
        assert await bodies(counselor, on_counselor, "in") == ["Pesan pertama.", "Pesan kedua."]
        events = []
        while not stream.queue.empty():
            events.append(stream.queue.get_nowait())
        damaged_events = [e for e in events if isinstance(e, DamagedMessage)]
        assert len(damaged_events) == 1
        assert damaged_events[0].contact_id == on_counselor
    finally:
        await counselor.close()
        await student.close()


async def _run_until(process: subprocess.Popen[bytes], marker: str) -> None:
    """Read the process's output until ``marker``, failing after 20 s."""
    assert process.stdout is not None

    def read() -> None:
        for raw in process.stdout:  # type: ignore[union-attr]
            if raw.decode().strip() == marker:
                return
        raise AssertionError(f"process ended before {marker}")

    await asyncio.wait_for(asyncio.to_thread(read), timeout=20)


def _start_client(mode: str, directory: Path, text: str = "") -> subprocess.Popen[bytes]:
    script = Path(__file__).with_name("engine_client.py")
    return subprocess.Popen(
        [sys.executable, str(script), mode, str(directory), *text.split()],
        stdout=subprocess.PIPE,
        cwd=script.parent,
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


async def test_sync_sigkill_during_send(tmp_path: Path, relay: Relay) -> None:
    """A client killed between SEND and the relay's reply sends once and is shown once."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    student_dir = student.store.profile.directory
    await student.close()
    text = "Bu, saya izin tidak masuk besok."

    process = _start_client("send", student_dir, text)
    try:
        await _run_until(process, "SEND-STARTED")

        async def stored_by_relay() -> bool:
            return len(await bodies(counselor, on_counselor, "in")) == 1

        # The relay has stored the envelope, but the killed client never reads its reply.
        await wait_until(stored_by_relay, "the relay to deliver the first copy")
    finally:
        _kill(process)

    student = await Engine.open(student_dir, PASSPHRASE, options=FAST_SYNC)
    try:

        async def arrived_and_sent() -> bool:
            window = await student.history(on_student)
            return len(await bodies(counselor, on_counselor, "in")) >= 1 and window[-1].status in (
                "sent",
                "delivered",
            )

        await wait_until(arrived_and_sent, "the message after the restart")

        async def copy_dropped() -> bool:
            return counselor.duplicate_count >= 1

        await wait_until(copy_dropped, "the resent copy to be dropped")
        assert await bodies(counselor, on_counselor, "in") == [text]
        assert await bodies(student, on_student, "out") == [text]
    finally:
        await counselor.close()
        await student.close()


async def test_sync_sigkill_before_commit(tmp_path: Path, relay: Relay) -> None:
    """A receiver killed after decrypting and before committing decrypts the message again."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    counselor_dir = counselor.store.profile.directory
    await counselor.close()
    await student.send_text(on_student, "Bu, apakah besok ada jadwal konseling?")
    await wait_until(_outbox_empty(student), "the student's message to reach the relay")

    process = _start_client("receive", counselor_dir)
    try:
        await _run_until(process, "DECRYPTED")
    finally:
        _kill(process)

    counselor = await Engine.open(counselor_dir, PASSPHRASE, options=FAST_SYNC)
    try:

        async def arrived() -> bool:
            return len(await bodies(counselor, on_counselor, "in")) == 1

        await wait_until(arrived, "the redelivered message")
        assert await bodies(counselor, on_counselor, "in") == [
            "Bu, apakah besok ada jadwal konseling?"
        ]
        assert counselor.decrypt_count >= 1
    finally:
        await counselor.close()
        await student.close()


def test_backoff_growth_cap() -> None:
    """Delays start below the first bound, grow, and stay at or below the cap."""
    delays = backoff_delays(1.0, 8.0, rng=lambda: 0.999)
    values = [next(delays) for _ in range(8)]
    assert values[0] < 1.0
    assert values[1] < values[2] < values[3]
    assert max(values) <= 8.0
    assert values[-1] > 7.0


def test_backoff_first_delay_random() -> None:
    """The first delay spreads over [0, first) with the generator's randomness."""
    firsts = {
        round(next(backoff_delays(1.0, 8.0, rng=random.Random(seed).random)), 6)
        for seed in range(10)
    }
    assert len(firsts) == 10
    assert all(0 <= value < 1.0 for value in firsts)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (RelayCommandError("RATE_LIMITED", "slow down"), True),
        (RelayCommandError("UNSUPPORTED_VERSION", "v2 only"), False),
        (RelayCommandError("TOKEN_INVALID", "wrong token"), False),
        (ValueError("bug"), False),
    ],
)
def test_retryable_rule(error: BaseException, retryable: bool) -> None:
    assert is_retryable(error) is retryable


async def test_sync_unreachable_relay(tmp_path: Path) -> None:
    """An engine whose relay is down stays offline and keeps its message in the outbox."""
    student = await new_engine(
        tmp_path / "siswa", "Dimas", "student", f"ws://127.0.0.1:{free_port()}"
    )
    try:
        await asyncio.sleep(0.3)
        assert student.connection_state in ("offline", "connecting")
    finally:
        await student.close()


async def _exchange(
    counselor: Engine, on_counselor: int, student: Engine, on_student: int, rounds: int, tag: str
) -> None:
    """Send ``rounds`` question-and-answer pairs, each waiting for the other side."""
    for number in range(rounds):
        before = len(await bodies(counselor, on_counselor, "in"))
        await student.send_text(on_student, f"Pertanyaan {tag}-{number}, Bu.")

        async def question_arrived(expected: int = before + 1) -> bool:
            return len(await bodies(counselor, on_counselor, "in")) == expected

        await wait_until(question_arrived, f"question {tag}-{number}")
        before = len(await bodies(student, on_student, "in"))
        await counselor.send_text(on_counselor, f"Jawaban {tag}-{number}.")

        async def answer_arrived(expected: int = before + 1) -> bool:
            return len(await bodies(student, on_student, "in")) == expected

        await wait_until(answer_arrived, f"answer {tag}-{number}")
    await wait_until(_outbox_empty(student), "the student's receipts")
    await wait_until(_outbox_empty(counselor), "the counselor's receipts")


async def test_sync_restored_backup_renewal(tmp_path: Path, relay: Relay) -> None:
    """A konseli restored from an old backup renews the session, and messages flow again."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    student_dir = student.store.profile.directory
    backup_dir = tmp_path / "siswa-backup"
    counselor_events = counselor.events()
    try:
        await _exchange(counselor, on_counselor, student, on_student, 2, "a")
        await student.close()
        shutil.copytree(student_dir, backup_dir)
        student = await Engine.open(student_dir, PASSPHRASE, options=FAST_SYNC)
        await _exchange(counselor, on_counselor, student, on_student, 3, "b")

        await student.close()
        shutil.rmtree(student_dir)
        shutil.copytree(backup_dir, student_dir)
        student = await Engine.open(student_dir, PASSPHRASE, options=FAST_SYNC)
        student_events = student.events()
        for number in range(3):
            await counselor.send_text(on_counselor, f"Dimas, masih di sana? ({number})")

        seen_by_student: list[object] = []
        seen_by_counselor: list[object] = []

        async def renewed() -> bool:
            seen_by_student.extend(drain(student_events))
            seen_by_counselor.extend(drain(counselor_events))
            return any(isinstance(e, SessionRenewed) for e in seen_by_student) and any(
                isinstance(e, SessionRenewed) for e in seen_by_counselor
            )

        await wait_until(renewed, "the session renewal on both sides")
        renewal_at = next(i for i, e in enumerate(seen_by_student) if isinstance(e, SessionRenewed))
        damaged = [e for e in seen_by_student[:renewal_at] if isinstance(e, DamagedMessage)]
        # The probe can finish the renewal after one or two failures when the counselor's
        # three messages are spread out, so fewer than three notices are also right.
        assert 1 <= len(damaged) <= 3

        await student.send_text(on_student, "Maaf Bu, HP saya direset. Ini pesan baru.")
        await counselor.send_text(on_counselor, "Tidak apa-apa, pesanmu sampai.")

        async def both_new() -> bool:
            return (await bodies(counselor, on_counselor, "in"))[-1].startswith("Maaf Bu") and (
                await bodies(student, on_student, "in")
            )[-1] == "Tidak apa-apa, pesanmu sampai."

        await wait_until(both_new, "messages on the renewed session")
    finally:
        await counselor.close()
        await student.close()


async def test_sync_dead_link_keepalive(tmp_path: Path, relay: Relay) -> None:
    """A link that goes silent without a close is found by keepalive pings and replaced."""
    proxy = FreezingProxy(relay.port)
    await proxy.start()
    pinging = dataclasses.replace(FAST_SYNC, ping_interval=0.2, ping_timeout=0.2, close_timeout=0.2)
    counselor = await new_engine(
        tmp_path / "bk", "Bu Sari", "counselor", proxy.url, options=pinging
    )
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None, options=pinging)
    on_counselor, on_student = await pair(counselor, student)
    events = student.events()
    try:
        proxy.freeze()
        await student.send_text(on_student, "Bu, sinyal di rumah saya putus-putus.")

        async def arrived() -> bool:
            return await bodies(counselor, on_counselor, "in") == [
                "Bu, sinyal di rumah saya putus-putus."
            ]

        await wait_until(arrived, "the message over a new connection")
        states = [e.state for e in drain(events) if isinstance(e, ConnectionChanged)]
        assert "offline" in states
        assert states[-1] == "connected"
    finally:
        await counselor.close()
        await student.close()
        await proxy.close()
