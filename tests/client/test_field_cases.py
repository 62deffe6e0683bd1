"""Field failure cases run through real engines, a real relay and real encrypted stores.

Each test is one failure seen in use, turned into a scenario with its right result:

* an ACK lost to a cut socket or to a killed process,
* a duplicate and a corrupted envelope from the relay,
* a lost SEND confirmation followed by automatic and manual resends,
* a message over the size limit.
"""

from __future__ import annotations

import asyncio
import signal
import struct
import subprocess
import sys
from pathlib import Path

from engine_helpers import (
    FAST_SYNC,
    PASSPHRASE,
    WAIT_TIMEOUT,
    Relay,
    abort_connection,
    bodies,
    drain,
    new_engine,
    pair,
    relay,
    relays,
    settle,
    start_relay,
    wait_until,
)
from nacl.signing import SigningKey

from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    ERROR_MESSAGES,
    DamagedMessage,
    EngineError,
    EngineErrorEvent,
    Event,
    MessageReceived,
    SessionRenewed,
)
from konsel.client.core.relay_connection import Delivery, RelayCommandError, RelayConnection
from konsel.protocol.envelope import message_id
from konsel.protocol.relay_wire import FRAME_OVERHEAD

__all__ = ["relay", "relays"]

MIB = 1024 * 1024
MESSAGES = [
    "m1: Bu, saya mau cerita soal teman sekelas.",
    "m2: Dia sering mengejek saya di grup kelas.",
    "m3: Sudah dua minggu, Bu.",
    "m4: Saya jadi malas berangkat sekolah.",
    "m5: Boleh saya ke ruang BK besok?",
]


# --- helpers ----------------------------------------------------------------------------


def received_bodies(events: list[Event]) -> list[str]:
    """Return the bodies of the MessageReceived events, in emitted order."""
    return [event.message.body for event in events if isinstance(event, MessageReceived)]


def events_of(events: list[Event], kind: type) -> list[Event]:
    return [event for event in events if isinstance(event, kind)]


async def queued_at_relay(relay: Relay, engine: Engine, contact_id: int) -> int:
    """Return how many envelopes the relay stores in the engine's inbox for a contact."""
    inbox = engine.state.inbox_for_contact(contact_id)
    assert inbox is not None
    async with await RelayConnection.connect(relay.url) as connection:
        subscribed = await connection.subscribe(inbox.receive_id, SigningKey(inbox.owner_seed))
    return subscribed.queued


async def send_raw(relay: Relay, sender: Engine, contact_id: int, envelope: bytes) -> None:
    """Send envelope bytes to the contact's inbox on a separate connection, with proof."""
    route = sender.state.routes[contact_id]
    async with await RelayConnection.connect(relay.url) as connection:
        try:
            await connection.send(route.peer_send_id, envelope)
        except RelayCommandError as error:
            assert error.code == "PROOF_REQUIRED"
            await connection.prove_sender(route.peer_send_id, SigningKey(route.sender_seed))
            await connection.send(route.peer_send_id, envelope)


def outbox_empty(engine: Engine):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return await engine.outbox_count() == 0 and not engine.state.control_outbox

    return check


def count_reached(engine: Engine, contact_id: int, count: int):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return len(await bodies(engine, contact_id, "in")) >= count

    return check


def start_client(mode: str, directory: Path) -> subprocess.Popen[bytes]:
    """Start engine_client.py in ``mode`` on a profile, with its output piped to the test."""
    script = Path(__file__).with_name("engine_client.py")
    return subprocess.Popen(
        [sys.executable, str(script), mode, str(directory)],
        stdout=subprocess.PIPE,
        cwd=script.parent,
    )


async def read_until(process: subprocess.Popen[bytes], marker: str) -> None:
    """Read the process's output until the line ``marker``, failing after 20 s."""
    assert process.stdout is not None

    def read() -> None:
        for raw in process.stdout:  # type: ignore[union-attr]
            if raw.decode().strip() == marker:
                return
        raise AssertionError(f"process ended before {marker}")

    await asyncio.wait_for(asyncio.to_thread(read), timeout=20)


def kill(process: subprocess.Popen[bytes]) -> None:
    """Kill a client process started by this test with SIGKILL and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


class FrameSizes:
    """Parse the client-to-relay half of a WebSocket stream and record each frame's length."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self._buffer = bytearray()
        self._upgraded = False
        self._skip = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            del self._buffer[: end + 4]
            self._upgraded = True
        while True:
            if self._skip:
                skipped = min(self._skip, len(self._buffer))
                del self._buffer[:skipped]
                self._skip -= skipped
                if self._skip:
                    return
            if not self._read_header():
                return

    def _read_header(self) -> bool:
        """Consume one frame header if it is complete, and return whether it was."""
        if len(self._buffer) < 2:
            return False
        length = self._buffer[1] & 0x7F
        header = 2
        if length == 126:
            if len(self._buffer) < 4:
                return False
            length = struct.unpack_from("!H", self._buffer, 2)[0]
            header = 4
        elif length == 127:
            if len(self._buffer) < 10:
                return False
            length = struct.unpack_from("!Q", self._buffer, 2)[0]
            header = 10
        if self._buffer[1] & 0x80:
            header += 4
        if len(self._buffer) < header:
            return False
        del self._buffer[:header]
        self.sizes.append(length)
        self._skip = length
        return True


class ObservingProxy:
    """A loopback TCP proxy that records client frame sizes and can mute relay replies.

    :meth:`mute_replies` stops forwarding bytes from the relay to one client connection,
    found by the client's local port, while its own bytes still reach the relay: the
    relay stores a SEND but its reply never arrives.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.frames: list[FrameSizes] = []
        self._muted_ports: set[int] = set()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def frame_sizes(self) -> list[int]:
        """Return the payload length of every client frame seen so far."""
        return [size for connection in self.frames for size in connection.sizes]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def mute_replies(self, client_port: int) -> None:
        self._muted_ports.add(client_port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client_port = writer.get_extra_info("peername")[1]
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        frames = FrameSizes()
        self.frames.append(frames)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, None, frames)),
            asyncio.create_task(self._pump(up_reader, writer, client_port, None)),
        ]
        self._tasks.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        client_port: int | None,
        frames: FrameSizes | None,
    ) -> None:
        try:
            while data := await source.read(65536):
                if frames is not None:
                    frames.feed(data)
                if client_port is not None and client_port in self._muted_ports:
                    continue
                sink.write(data)
                await sink.drain()
        finally:
            sink.close()


# --- lost acknowledgement ---------------------------------------------------------------


async def test_lost_ack_socket_cut(tmp_path: Path, relay: Relay) -> None:
    """B's socket is cut after it stored m3 and before the ACK reached the relay.

    Right result: m3 comes again and is dropped by its id without a second decryption.
    m1-m5 are shown once each in order, with no damaged-message event. Afterwards the
    relay stores nothing for B.
    """
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    await settle(counselor)
    cut_at: list[str] = []

    async def cut_after_m3(delivery: Delivery) -> None:
        del delivery
        stored = await bodies(counselor, on_counselor, "in")
        if stored == MESSAGES[:3] and not cut_at:
            cut_at.append(stored[-1])
            assert abort_connection(counselor)

    counselor.hooks.before_ack = cut_after_m3
    stream = counselor.events()
    decrypts_before = counselor.decrypt_count
    duplicates_before = counselor.duplicate_count
    try:
        for message in MESSAGES:
            await student.send_text(on_student, message)
        await wait_until(count_reached(counselor, on_counselor, 5), "m1-m5 at the counselor")
        await wait_until(outbox_empty(student), "the student's outbox to drain")
        await settle(counselor)

        events = drain(stream)
        assert cut_at == [MESSAGES[2]]
        assert await bodies(counselor, on_counselor, "in") == MESSAGES
        assert received_bodies(events) == MESSAGES
        # The counselor sent no text, so no receipt came back: five texts, one decryption each.
        assert counselor.decrypt_count - decrypts_before == 5
        assert counselor.duplicate_count - duplicates_before == 1
        assert events_of(events, DamagedMessage) == []
        assert events_of(events, EngineErrorEvent) == []
        assert events_of(events, SessionRenewed) == []
        assert await queued_at_relay(relay, counselor, on_counselor) == 0
    finally:
        await counselor.close()
        await student.close()


async def test_lost_ack_sigkill(tmp_path: Path, relay: Relay) -> None:
    """B is killed after decrypting m3 and before committing it.

    Right result: m3 is decrypted again after the restart. m1-m5 are shown once each in
    order, with no damaged-message event. Afterwards the relay stores nothing for B.
    """
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    for message in MESSAGES[:2]:
        await student.send_text(on_student, message)
    await wait_until(count_reached(counselor, on_counselor, 2), "m1-m2 at the counselor")
    await settle(counselor)
    counselor_dir = counselor.store.profile.directory
    await counselor.close()

    for message in MESSAGES[2:]:
        await student.send_text(on_student, message)
    await wait_until(outbox_empty(student), "m3-m5 to reach the relay")

    # The client process stops at its first decryption, which is m3, the oldest queued.
    assert await queued_at_relay(relay, counselor, on_counselor) == 3
    process = start_client("receive", counselor_dir)
    try:
        await read_until(process, "DECRYPTED")
    finally:
        kill(process)
    assert process.returncode == -signal.SIGKILL

    counselor = await Engine.open(counselor_dir, PASSPHRASE, options=FAST_SYNC)
    stream = counselor.events()
    try:
        await wait_until(count_reached(counselor, on_counselor, 5), "m3-m5 after the restart")
        await settle(counselor)

        events = drain(stream)
        assert await bodies(counselor, on_counselor, "in") == MESSAGES
        assert received_bodies(events) == MESSAGES[2:]
        # m3 was never committed, so it is decrypted again rather than dropped as a copy.
        assert counselor.decrypt_count == 3
        assert counselor.duplicate_count == 0
        assert events_of(events, DamagedMessage) == []
        assert events_of(events, EngineErrorEvent) == []
        assert events_of(events, SessionRenewed) == []
        assert await queued_at_relay(relay, counselor, on_counselor) == 0
    finally:
        await counselor.close()
        await student.close()


# --- duplicate and corrupted envelopes ----------------------------------------------------


async def test_duplicate_then_corrupt(tmp_path: Path, relay: Relay) -> None:
    """The relay delivers message 4 again after 5, then a corrupted 6, then 7-9.

    Right result: the copy of 4 is dropped with no event, and 6 gives exactly one
    damaged-message event. Every other message is shown, 7-9 in order, B's reply
    decrypts on A, and neither side renews the session.
    """
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    texts = [f"pesan {number}: cerita bagian {number}" for number in range(1, 10)]
    captured: dict[bytes, bytes] = {}

    async def capture(envelope: bytes) -> None:
        captured[message_id(envelope)] = envelope

    student.hooks.send_started = capture
    counselor_stream = counselor.events()
    student_stream = student.events()
    try:
        first_five = [await student.send_text(on_student, text) for text in texts[:5]]
        await wait_until(count_reached(counselor, on_counselor, 5), "messages 1-5")
        fourth = captured[first_five[3].envelope_id]
        duplicates_before = counselor.duplicate_count

        await send_raw(relay, student, on_student, fourth)

        # Message 6 is written with the sync stopped, so only the corrupted copy is sent.
        await student.sync.stop()
        stored_six = await student.send_text(on_student, texts[5])
        [outbox_item] = await asyncio.to_thread(student.store.pending_outbox, 10)
        assert outbox_item.message_order == stored_six.order
        await asyncio.to_thread(student.store.mark_sent, stored_six.order)
        corrupted = bytearray(outbox_item.envelope)
        corrupted[-5] ^= 0x40
        await send_raw(relay, student, on_student, bytes(corrupted))
        student.sync.start()

        for text in texts[6:]:
            await student.send_text(on_student, text)
        await wait_until(count_reached(counselor, on_counselor, 8), "messages 7-9")
        await counselor.send_text(on_counselor, "Baik, Ibu sudah baca semuanya.")

        async def reply_arrived() -> bool:
            return await bodies(student, on_student, "in") == ["Baik, Ibu sudah baca semuanya."]

        await wait_until(reply_arrived, "the counselor's reply at the student")
        await settle(counselor)
        await settle(student)

        expected_bodies = [text for number, text in enumerate(texts) if number != 5]
        counselor_events = drain(counselor_stream)
        student_events = drain(student_stream)
        # One corrupted envelope is a transport fault, so the session must survive it.
        assert events_of(counselor_events, SessionRenewed) == []
        assert events_of(student_events, SessionRenewed) == []
        assert await bodies(counselor, on_counselor, "in") == expected_bodies
        assert received_bodies(counselor_events) == expected_bodies
        assert counselor.duplicate_count - duplicates_before == 1

        damaged = events_of(counselor_events, DamagedMessage)
        assert damaged == [DamagedMessage(on_counselor, "the envelope failed authentication")]
        assert received_bodies(student_events) == ["Baik, Ibu sudah baca semuanya."]
        assert events_of(student_events, DamagedMessage) == []
        assert events_of(counselor_events, EngineErrorEvent) == []
    finally:
        await counselor.close()
        await student.close()


# --- a lost SEND confirmation ------------------------------------------------------------


async def test_lost_confirmation_resend(tmp_path: Path, relays: list[Relay]) -> None:
    """The relay stores A's message, A's socket is cut before the reply, A resends twice.

    The automatic retry runs after the reconnect and A also resends by hand. Right
    result: B shows the message once, and A shows it once, marked sent or later.
    """
    relay = start_relay(tmp_path)
    relays.append(relay)
    proxy = ObservingProxy(relay.port)
    await proxy.start()
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", proxy.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    text = "Saya sudah di ruang BK"
    sends: list[bytes] = []
    muted = asyncio.Event()
    retry_in_flight = asyncio.Event()
    manual_written = asyncio.Event()

    async def on_send(envelope: bytes) -> None:
        sends.append(envelope)
        if len(sends) == 1:
            # No await before the mute, so the relay's reply cannot reach the engine.
            connection = student.sync.connection
            assert connection is not None
            proxy.mute_replies(connection.websocket.local_address[1])
            muted.set()
        elif len(sends) == 2:
            # The automatic retry waits for its reply until the manual resend is written
            # too, so both copies reach the relay while the message is still unconfirmed.
            retry_in_flight.set()
            await asyncio.wait_for(manual_written.wait(), WAIT_TIMEOUT)
        else:
            manual_written.set()

    await student.sync.wait_connected(10)
    await settle(student)
    student.hooks.send_started = on_send
    counselor_stream = counselor.events()
    student_stream = student.events()
    duplicates_before = counselor.duplicate_count
    try:
        stored = await student.send_text(on_student, text)
        await muted.wait()
        await wait_until(count_reached(counselor, on_counselor, 1), "the relay to store it")
        assert (await student.message(stored.order)).status == "waiting"

        cut = student.sync.connection
        assert abort_connection(student)

        async def reconnected() -> bool:
            return student.sync.connection not in (None, cut)

        await wait_until(reconnected, "the student to reconnect")
        await asyncio.wait_for(retry_in_flight.wait(), WAIT_TIMEOUT)
        await student.resend(stored.order)

        async def confirmed() -> bool:
            status = (await student.message(stored.order)).status
            return status in ("sent", "delivered", "read")

        await wait_until(confirmed, "the student's message to be confirmed")
        await wait_until(outbox_empty(student), "the student's outbox to drain")
        await settle(counselor)

        async def copies_dropped() -> bool:
            return counselor.duplicate_count - duplicates_before == len(sends) - 1

        await wait_until(copies_dropped, "every resent copy to be dropped at the counselor")

        # The first send, the automatic retry and the manual resend: identical bytes.
        assert len(sends) == 3
        assert len(set(sends)) == 1
        assert counselor.duplicate_count - duplicates_before == 2
        assert await bodies(counselor, on_counselor, "in") == [text]
        assert received_bodies(drain(counselor_stream)) == [text]
        assert await bodies(student, on_student, "out") == [text]
        assert (await student.message(stored.order)).status in ("sent", "delivered", "read")
        assert events_of(drain(student_stream), EngineErrorEvent) == []
    finally:
        await counselor.close()
        await student.close()
        await proxy.close()


# --- over the size limit ----------------------------------------------------------------


async def test_over_size_refused(tmp_path: Path, relays: list[Relay]) -> None:
    """A message over the limit is refused with text in both languages and never sent.

    The relay's maximum envelope is 1 MiB. Every frame the clients write is observed at
    a loopback proxy, and the "tes" before and after the refused message both arrive.
    """
    relay = start_relay(tmp_path, "--max-envelope", str(MIB))
    relays.append(relay)
    proxy = ObservingProxy(relay.port)
    await proxy.start()
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", proxy.url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    on_counselor, on_student = await pair(counselor, student)
    await student.sync.wait_connected(10)
    assert student.state.max_envelope == MIB
    try:
        await student.send_text(on_student, "tes")
        refusals = []
        for body in ("x" * 16_001, "y" * (2 * MIB)):
            try:
                await student.send_text(on_student, body)
            except EngineError as error:
                refusals.append(error)
        await student.send_text(on_student, "tes")
        await wait_until(count_reached(counselor, on_counselor, 2), "both tes messages")
        await wait_until(outbox_empty(student), "the student's outbox to drain")

        assert [error.code for error in refusals] == ["message_too_large"] * 2
        text = ERROR_MESSAGES["message_too_large"]
        assert text["id"] == (
            "Pesan terlalu panjang untuk dikirim. Bagi menjadi beberapa pesan yang lebih pendek."
        )
        assert text["en"] == (
            "The message is too long to send. Split it into several shorter messages."
        )
        assert await bodies(counselor, on_counselor, "in") == ["tes", "tes"]
        assert await bodies(student, on_student, "out") == ["tes", "tes"]

        sizes = proxy.frame_sizes
        assert len(sizes) >= 2
        assert max(sizes) <= MIB + FRAME_OVERHEAD
    finally:
        await counselor.close()
        await student.close()
        await proxy.close()
