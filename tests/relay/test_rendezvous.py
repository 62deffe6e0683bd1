"""Pairing rendezvous: the registry on its own, then short-code exchanges through a relay.

The unit tests drive :class:`RendezvousRegistry` with recording peers, a settable clock
and a scheduler whose timers the test fires. The relay tests run real
:class:`CodeOfferer` and :class:`CodeAccepter` exchanges between real connections to a
relay subprocess.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest
from relay_process import EVENT_TIMEOUT, RelayLauncher, RelayProcess

from konsel.client.core.relay_connection import (
    PairEnd,
    PairMessage,
    RelayCommandError,
    RelayConnection,
)
from konsel.protocol.codec import pack
from konsel.protocol.invitation import Invitation
from konsel.protocol.relay_wire import DEFAULT_PAIR_TTL, ErrorCode
from konsel.protocol.shortcode import MAX_NAMEPLATE, ShortCode, generate_code
from konsel.protocol.shortcode_errors import WrongCodeError
from konsel.protocol.shortcode_exchange import (
    CodeAccepter,
    CodeOfferer,
    InvitationReceived,
    ReplyReceived,
)
from konsel.protocol.shortcode_wire import (
    CancelMessage,
    ConfirmMessage,
    PakeMessage,
    decode_pairing_message,
)
from konsel.relay.errors import RelayError
from konsel.relay.metrics import RelayMetrics
from konsel.relay.rendezvous import MAX_PAIR_MESSAGES, PairLimits, RendezvousRegistry

START = 1_800_000_000.0
PAKE = PakeMessage(b"A" + bytes(32)).encode()
OTHER_PAKE = PakeMessage(b"B" + bytes(32)).encode()
CONFIRM = ConfirmMessage(bytes(32)).encode()
CANCEL = CancelMessage().encode()
REPLY = b"identity key and reply inbox of the student"


# --- registry with recording peers -----------------------------------------------------------


@dataclass(eq=False)
class RecordingPeer:
    """A rendezvous side that keeps every frame the registry queues for it."""

    connection_id: str
    address: str = "192.0.2.1"
    frames: list[PairMessage | PairEnd] = field(default_factory=list)

    def queue_pair_frame(self, frame: PairMessage | PairEnd) -> None:
        self.frames.append(frame)

    def bodies(self) -> list[bytes]:
        return [frame.body for frame in self.frames if isinstance(frame, PairMessage)]

    def ends(self) -> list[PairEnd]:
        return [frame for frame in self.frames if isinstance(frame, PairEnd)]


@dataclass
class ManualTimer:
    delay: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class Harness:
    """A registry with a settable clock and timers that the test fires by hand."""

    registry: RendezvousRegistry
    metrics: RelayMetrics
    now: list[float]
    timers: list[ManualTimer]
    offered: list[list[int]]

    def advance(self, seconds: float) -> None:
        self.now[0] += seconds

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels or None)
        return 0.0 if value is None else value


def make_harness(limits: PairLimits | None = None, *, lowest: bool = False) -> Harness:
    """Build a registry; ``lowest`` makes it allocate the lowest free nameplate."""
    metrics = RelayMetrics()
    now = [START]
    timers: list[ManualTimer] = []
    offered: list[list[int]] = []

    def schedule(delay: float, callback: Callable[[], None]) -> ManualTimer:
        timer = ManualTimer(delay, callback)
        timers.append(timer)
        return timer

    def choose(free: Sequence[int]) -> int:
        offered.append(list(free))
        return free[0] if lowest else free[len(free) // 2]

    registry = RendezvousRegistry(
        limits or PairLimits(),
        metrics,
        clock=lambda: now[0],
        rate_clock=lambda: now[0],
        scheduler=schedule,
        choose=choose,
    )
    return Harness(registry, metrics, now, timers, offered)


def assert_relay_error(code: str, call: Callable[[], object]) -> RelayError:
    with pytest.raises(RelayError) as caught:
        call()
    assert caught.value.code == code
    return caught.value


def test_open_allocates_free_nameplate() -> None:
    harness = make_harness()
    counselor = RecordingPeer("aaaaaa")

    rendezvous = harness.registry.open(counselor, 300)

    assert harness.offered[0] == list(range(1, MAX_NAMEPLATE + 1))
    assert rendezvous.nameplate == harness.offered[0][len(harness.offered[0]) // 2]
    assert rendezvous.expires_at == int(START) + 300
    assert harness.timers[0].delay == 300
    assert harness.metric("konsel_relay_pair_open") == 1
    assert harness.metric("konsel_relay_pair_opened_total") == 1


def test_open_skips_open_nameplates() -> None:
    harness = make_harness(PairLimits(max_per_connection=10), lowest=True)
    counselor = RecordingPeer("aaaaaa")

    first = harness.registry.open(counselor, 300)
    second = harness.registry.open(counselor, 300)

    assert (first.nameplate, second.nameplate) == (1, 2)
    assert 1 not in harness.offered[1]


def test_held_messages_delivered_on_join() -> None:
    harness = make_harness()
    counselor, student = RecordingPeer("aaaaaa"), RecordingPeer("bbbbbb")
    nameplate = harness.registry.open(counselor, 600).nameplate

    harness.registry.send(counselor, nameplate, PAKE)
    harness.registry.send(counselor, nameplate, CANCEL)
    assert student.frames == []
    harness.registry.join(student, nameplate)

    assert student.frames == [PairMessage(nameplate, PAKE), PairMessage(nameplate, CANCEL)]
    assert harness.metric("konsel_relay_pair_joins_total") == 1


def test_send_forwards_in_order() -> None:
    harness = make_harness()
    counselor, student = RecordingPeer("aaaaaa"), RecordingPeer("bbbbbb")
    nameplate = harness.registry.open(counselor, 600).nameplate
    harness.registry.join(student, nameplate)

    harness.registry.send(student, nameplate, OTHER_PAKE)
    harness.registry.send(student, nameplate, CONFIRM)

    assert counselor.bodies() == [OTHER_PAKE, CONFIRM]
    assert student.frames == []


def test_burn_after_pake_each_way() -> None:
    harness = make_harness()
    counselor, guesser, student = (
        RecordingPeer("aaaaaa"),
        RecordingPeer("cccccc"),
        RecordingPeer("bbbbbb"),
    )
    rendezvous = harness.registry.open(counselor, 600)
    nameplate = rendezvous.nameplate
    harness.registry.send(counselor, nameplate, PAKE)
    harness.registry.join(guesser, nameplate)

    harness.registry.send(guesser, nameplate, OTHER_PAKE)

    assert rendezvous.burned
    assert harness.metric("konsel_relay_pair_burns_total") == 1
    assert_relay_error(ErrorCode.NOT_FOUND, lambda: harness.registry.join(student, nameplate))
    # Messages after the pakes still pass, so both sides can report the wrong code.
    harness.registry.send(guesser, nameplate, CONFIRM)
    assert counselor.bodies() == [OTHER_PAKE, CONFIRM]


def test_second_pake_ends_rendezvous() -> None:
    harness = make_harness()
    counselor, guesser = RecordingPeer("aaaaaa"), RecordingPeer("cccccc")
    nameplate = harness.registry.open(counselor, 600).nameplate
    harness.registry.join(guesser, nameplate)
    harness.registry.send(guesser, nameplate, OTHER_PAKE)

    assert_relay_error(
        ErrorCode.QUOTA_EXCEEDED, lambda: harness.registry.send(guesser, nameplate, OTHER_PAKE)
    )

    assert counselor.bodies() == [OTHER_PAKE]
    assert counselor.ends() == [PairEnd(nameplate, "burned")]
    assert guesser.ends() == [PairEnd(nameplate, "burned")]
    assert harness.registry.open_count == 0
    # The rule breaker cannot free the nameplate for reuse by ending early.
    assert nameplate not in harness.registry._free_nameplates(harness.now[0])


def test_same_reply_for_every_missing_case() -> None:
    harness = make_harness(PairLimits(join_rate=0, join_rate_per_ip=0))
    counselor, student, late = (
        RecordingPeer("aaaaaa"),
        RecordingPeer("bbbbbb"),
        RecordingPeer("dddddd"),
    )
    joined = harness.registry.open(counselor, 600).nameplate
    harness.registry.join(student, joined)
    closed = harness.registry.open(counselor, 600).nameplate
    own = harness.registry.open(counselor, 600).nameplate
    harness.registry.close(counselor, closed)
    unknown = next(n for n in range(1, MAX_NAMEPLATE + 1) if n not in (joined, closed, own))

    messages = {
        assert_relay_error(ErrorCode.NOT_FOUND, lambda n=n: harness.registry.join(late, n)).message
        for n in (joined, closed, unknown)
    }
    messages.add(
        assert_relay_error(
            ErrorCode.NOT_FOUND, lambda: harness.registry.join(counselor, own)
        ).message
    )

    assert len(messages) == 1


def test_expired_join_not_found() -> None:
    harness = make_harness()
    counselor, student = RecordingPeer("aaaaaa"), RecordingPeer("bbbbbb")
    nameplate = harness.registry.open(counselor, 60).nameplate
    harness.advance(60)

    assert_relay_error(ErrorCode.NOT_FOUND, lambda: harness.registry.join(student, nameplate))

    assert counselor.ends() == [PairEnd(nameplate, "expired")]
    assert harness.timers[0].cancelled
    assert harness.metric("konsel_relay_pair_ends_total", why="expired") == 1
    assert harness.metric("konsel_relay_pair_open") == 0


def test_timer_expiry_notifies_both() -> None:
    harness = make_harness()
    counselor, student = RecordingPeer("aaaaaa"), RecordingPeer("bbbbbb")
    nameplate = harness.registry.open(counselor, 120).nameplate
    harness.registry.join(student, nameplate)

    harness.advance(120)
    harness.timers[0].callback()

    assert counselor.ends() == [PairEnd(nameplate, "expired")]
    assert student.ends() == [PairEnd(nameplate, "expired")]
    assert harness.registry.open_count == 0


async def test_loop_timer_expires() -> None:
    """The default scheduler ends the rendezvous on the running loop at its expiry."""
    registry = RendezvousRegistry(PairLimits(), RelayMetrics())
    ended = asyncio.Event()

    class WaitingPeer(RecordingPeer):
        def queue_pair_frame(self, frame: PairMessage | PairEnd) -> None:
            super().queue_pair_frame(frame)
            ended.set()

    counselor = WaitingPeer("aaaaaa")
    nameplate = registry.open(counselor, 1).nameplate
    async with asyncio.timeout(EVENT_TIMEOUT):
        await ended.wait()

    assert counselor.frames == [PairEnd(nameplate, "expired")]
    assert registry.open_count == 0


def test_expire_due_sweeps() -> None:
    harness = make_harness(PairLimits(max_per_connection=10))
    counselor = RecordingPeer("aaaaaa")
    short = harness.registry.open(counselor, 60).nameplate
    harness.registry.open(counselor, 600)
    harness.advance(59)
    assert harness.registry.expire_due() == 0

    harness.advance(1)

    assert harness.registry.expire_due() == 1
    assert counselor.ends() == [PairEnd(short, "expired")]
    assert harness.registry.open_count == 1


def test_close_notifies_other_side() -> None:
    harness = make_harness()
    counselor, student = RecordingPeer("aaaaaa"), RecordingPeer("bbbbbb")
    nameplate = harness.registry.open(counselor, 600).nameplate
    harness.registry.join(student, nameplate)

    harness.registry.close(student, nameplate)

    assert counselor.ends() == [PairEnd(nameplate, "closed")]
    assert student.ends() == []
    assert_relay_error(
        ErrorCode.NOT_FOUND, lambda: harness.registry.send(counselor, nameplate, CANCEL)
    )


def test_drop_ends_all_of_connection() -> None:
    harness = make_harness(PairLimits(max_per_connection=10))
    counselor, first, second = (
        RecordingPeer("aaaaaa"),
        RecordingPeer("bbbbbb"),
        RecordingPeer("cccccc"),
    )
    one = harness.registry.open(counselor, 600).nameplate
    two = harness.registry.open(counselor, 600).nameplate
    harness.registry.join(first, one)
    harness.registry.join(second, two)

    harness.registry.drop(counselor)

    assert first.ends() == [PairEnd(one, "closed")]
    assert second.ends() == [PairEnd(two, "closed")]
    assert harness.registry.open_count == 0
    assert harness.registry._open_per_ip == {}


def test_burned_nameplate_reserved_until_expiry() -> None:
    harness = make_harness()
    counselor, student = RecordingPeer("aaaaaa"), RecordingPeer("bbbbbb")
    nameplate = harness.registry.open(counselor, 300).nameplate
    harness.registry.send(counselor, nameplate, PAKE)
    harness.registry.join(student, nameplate)
    harness.registry.send(student, nameplate, OTHER_PAKE)
    harness.registry.close(counselor, nameplate)

    harness.advance(299)
    harness.registry.open(counselor, 300)
    harness.advance(1)
    harness.registry.open(counselor, 300)

    assert nameplate not in harness.offered[1]
    assert nameplate in harness.offered[2]


def test_closed_unburned_nameplate_free() -> None:
    harness = make_harness()
    counselor = RecordingPeer("aaaaaa")
    nameplate = harness.registry.open(counselor, 600).nameplate
    harness.registry.close(counselor, nameplate)

    harness.registry.open(counselor, 600)

    assert nameplate in harness.offered[1]


def test_no_free_nameplate() -> None:
    limits = PairLimits(max_per_connection=MAX_NAMEPLATE + 1, max_open_per_ip=MAX_NAMEPLATE + 1)
    harness = make_harness(limits, lowest=True)
    counselor = RecordingPeer("aaaaaa")
    for _ in range(MAX_NAMEPLATE):
        harness.registry.open(counselor, 600)

    assert_relay_error(ErrorCode.NO_NAMEPLATE, lambda: harness.registry.open(counselor, 600))

    harness.registry.close(counselor, 5)
    assert harness.registry.open(counselor, 600).nameplate == 5


def test_message_cap_per_rendezvous() -> None:
    harness = make_harness()
    counselor = RecordingPeer("aaaaaa")
    nameplate = harness.registry.open(counselor, 600).nameplate
    for _ in range(MAX_PAIR_MESSAGES):
        harness.registry.send(counselor, nameplate, CANCEL)

    assert_relay_error(
        ErrorCode.QUOTA_EXCEEDED, lambda: harness.registry.send(counselor, nameplate, CANCEL)
    )
    assert len(harness.registry._open[nameplate].held_for_b) == MAX_PAIR_MESSAGES


@pytest.mark.parametrize("body", [b"", b"\xc1", pack([1, 2]), pack({"v": 1}), pack({"t": 7})])
def test_body_without_type_rejected(body: bytes) -> None:
    harness = make_harness()
    counselor = RecordingPeer("aaaaaa")
    nameplate = harness.registry.open(counselor, 600).nameplate

    assert_relay_error(
        ErrorCode.BAD_FRAME, lambda: harness.registry.send(counselor, nameplate, body)
    )
    assert harness.registry._open[nameplate].held_for_b == []


def test_connection_cap() -> None:
    harness = make_harness(PairLimits(max_per_connection=2, join_rate=0, join_rate_per_ip=0))
    counselor, student = RecordingPeer("aaaaaa"), RecordingPeer("bbbbbb")
    other = RecordingPeer("cccccc")
    harness.registry.open(counselor, 600)
    harness.registry.open(counselor, 600)
    third = harness.registry.open(other, 600).nameplate
    fourth = harness.registry.open(other, 600).nameplate
    harness.registry.join(student, third)
    harness.registry.join(student, fourth)

    assert_relay_error(ErrorCode.QUOTA_EXCEEDED, lambda: harness.registry.open(counselor, 600))
    assert_relay_error(ErrorCode.QUOTA_EXCEEDED, lambda: harness.registry.open(student, 600))


def test_open_cap_per_address() -> None:
    harness = make_harness(PairLimits(max_open_per_ip=2))
    same_address = [RecordingPeer(f"00000{index}") for index in range(3)]
    elsewhere = RecordingPeer("ffffff", address="198.51.100.7")
    harness.registry.open(same_address[0], 600)
    first = harness.registry.open(same_address[1], 600).nameplate

    assert_relay_error(
        ErrorCode.QUOTA_EXCEEDED, lambda: harness.registry.open(same_address[2], 600)
    )
    harness.registry.open(elsewhere, 600)
    harness.registry.close(same_address[1], first)
    harness.registry.open(same_address[2], 600)


def test_join_rate_per_connection() -> None:
    harness = make_harness(PairLimits(join_rate=2, join_rate_per_ip=0))
    student = RecordingPeer("bbbbbb")
    for nameplate in (1, 2):
        assert_relay_error(
            ErrorCode.NOT_FOUND, lambda n=nameplate: harness.registry.join(student, n)
        )

    assert_relay_error(ErrorCode.RATE_LIMITED, lambda: harness.registry.join(student, 3))
    harness.advance(30)
    assert_relay_error(ErrorCode.NOT_FOUND, lambda: harness.registry.join(student, 3))


def test_join_rate_per_address() -> None:
    harness = make_harness(PairLimits(join_rate=0, join_rate_per_ip=3))
    students = [RecordingPeer(f"00000{index}") for index in range(3)]
    for student in students:
        assert_relay_error(ErrorCode.NOT_FOUND, lambda s=student: harness.registry.join(s, 9))

    error = assert_relay_error(
        ErrorCode.RATE_LIMITED, lambda: harness.registry.join(RecordingPeer("eeeeee"), 9)
    )
    assert "address" in error.message
    elsewhere = RecordingPeer("ffffff", address="198.51.100.7")
    assert_relay_error(ErrorCode.NOT_FOUND, lambda: harness.registry.join(elsewhere, 9))


# --- short-code exchanges through a relay ----------------------------------------------------


def make_invitation(relay: RelayProcess) -> Invitation:
    return Invitation(
        relay_url=relay.url,
        inbox_id=bytes(range(16)),
        identity_key=bytes(range(100, 132)),
        prekey_bundle=bytes(range(40)),
        kind="one_time",
        expires_at=int(time.time()) + 86_400,
        display_name="Bu Sari",
    )


async def next_pair_event(connection: RelayConnection) -> PairMessage | PairEnd:
    """Return the next pairing frame, failing the test after ``EVENT_TIMEOUT``."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        return await anext(connection.pair_events())


async def assert_command_error(code: str, request: object) -> RelayCommandError:
    with pytest.raises(RelayCommandError) as caught:
        await request  # type: ignore[misc]
    assert caught.value.code == code
    return caught.value


@dataclass
class SideLog:
    """What one side received through the rendezvous and what its exchange produced."""

    received: list[bytes] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    ended: PairEnd | None = None


async def run_offerer(
    connection: RelayConnection, nameplate: int, offerer: CodeOfferer, log: SideLog
) -> None:
    """Feed pairing frames to the counselor's side until it has the reply."""
    while True:
        event = await next_pair_event(connection)
        if isinstance(event, PairEnd):
            log.ended = event
            return
        log.received.append(event.body)
        output = offerer.receive(event.body, now=int(time.time()))
        log.events.extend(output.events)
        for message in output.messages:
            await connection.pair_send(nameplate, message)
        if any(isinstance(item, ReplyReceived) for item in output.events):
            return


async def run_accepter(
    connection: RelayConnection, nameplate: int, accepter: CodeAccepter, log: SideLog
) -> None:
    """Feed pairing frames to the student's side until it has sent its reply."""
    while True:
        event = await next_pair_event(connection)
        if isinstance(event, PairEnd):
            log.ended = event
            return
        log.received.append(event.body)
        output = accepter.receive(event.body, now=int(time.time()))
        log.events.extend(output.events)
        for message in output.messages:
            await connection.pair_send(nameplate, message)
        if any(isinstance(item, InvitationReceived) for item in output.events):
            await connection.pair_send(nameplate, accepter.reply(REPLY, now=int(time.time())))
            return


async def open_code(
    relay: RelayProcess, connection: RelayConnection, invitation: Invitation | None = None
) -> tuple[ShortCode, CodeOfferer]:
    """Open a rendezvous, make a code on its nameplate and send the counselor's pake."""
    opened = await connection.pair_open()
    assert opened.expires_at >= int(time.time()) + DEFAULT_PAIR_TTL - 5
    code = generate_code(opened.nameplate)
    invitation = invitation or make_invitation(relay)
    offerer = CodeOfferer(code, invitation, now=int(time.time()))
    await connection.pair_send(code.nameplate, offerer.start(now=int(time.time())))
    return code, offerer


async def test_exchange_through_relay(relay: RelayProcess) -> None:
    counselor, student = await relay.client(), await relay.client()
    invitation = make_invitation(relay)
    code, offerer = await open_code(relay, counselor, invitation)

    await student.pair_join(code.nameplate)
    accepter = CodeAccepter(code, now=int(time.time()))
    await student.pair_send(code.nameplate, accepter.start(now=int(time.time())))
    counselor_log, student_log = SideLog(), SideLog()
    await asyncio.gather(
        run_offerer(counselor, code.nameplate, offerer, counselor_log),
        run_accepter(student, code.nameplate, accepter, student_log),
    )

    [_, invitation_received] = student_log.events
    assert isinstance(invitation_received, InvitationReceived)
    assert invitation_received.invitation == invitation
    [_, reply_received] = counselor_log.events
    assert isinstance(reply_received, ReplyReceived)
    assert reply_received.reply == REPLY
    assert offerer.verifier == accepter.verifier

    _, metrics = relay.http_get("/metrics")
    assert "konsel_relay_pair_open 1.0" in metrics
    assert "konsel_relay_pair_joins_total 1.0" in metrics
    assert "konsel_relay_pair_burns_total 1.0" in metrics

    await counselor.pair_close(code.nameplate)
    assert await next_pair_event(student) == PairEnd(code.nameplate, "closed")
    await counselor.close()
    await student.close()


async def test_wrong_guess_burns_nameplate(relay: RelayProcess) -> None:
    counselor, guesser, student = await relay.client(), await relay.client(), await relay.client()
    code, offerer = await open_code(relay, counselor)
    wrong_words = (
        ("kancil", "pelangi") if code.words != ("kancil", "pelangi") else ("jeruk", "sawah")
    )
    wrong_code = ShortCode(code.nameplate, wrong_words)

    await guesser.pair_join(code.nameplate)
    wrong_accepter = CodeAccepter(wrong_code, now=int(time.time()))
    await guesser.pair_send(code.nameplate, wrong_accepter.start(now=int(time.time())))
    counselor_log, guesser_log = SideLog(), SideLog()
    results = await asyncio.gather(
        run_offerer(counselor, code.nameplate, offerer, counselor_log),
        run_accepter(guesser, code.nameplate, wrong_accepter, guesser_log),
        return_exceptions=True,
    )

    assert [type(result) for result in results] == [WrongCodeError, WrongCodeError]
    assert guesser_log.events == []
    # The guesser got the counselor's pake and confirm, never the invitation.
    assert len(guesser_log.received) == 2
    await assert_command_error(ErrorCode.NOT_FOUND, student.pair_join(code.nameplate))

    await counselor.pair_close(code.nameplate)
    assert await next_pair_event(guesser) == PairEnd(code.nameplate, "closed")
    await assert_command_error(ErrorCode.NOT_FOUND, student.pair_join(code.nameplate))
    _, metrics = relay.http_get("/metrics")
    assert "konsel_relay_pair_burns_total 1.0" in metrics
    assert "konsel_relay_pair_open 0.0" in metrics
    for connection in (counselor, guesser, student):
        await connection.close()


async def test_join_unknown_not_found(relay: RelayProcess) -> None:
    counselor, student = await relay.client(), await relay.client()
    opened = await counselor.pair_open(60)
    unknown = opened.nameplate % MAX_NAMEPLATE + 1

    await assert_command_error(ErrorCode.NOT_FOUND, student.pair_join(unknown))
    await assert_command_error(ErrorCode.NOT_FOUND, student.pair_send(opened.nameplate, CANCEL))
    await assert_command_error(ErrorCode.NOT_FOUND, student.pair_close(opened.nameplate))
    assert opened.expires_at <= int(time.time()) + 60
    await counselor.close()
    await student.close()


async def test_disconnect_sends_closed(relay: RelayProcess) -> None:
    counselor, student = await relay.client(), await relay.client()
    code, _ = await open_code(relay, counselor)
    await student.pair_join(code.nameplate)
    held = await next_pair_event(student)

    await counselor.close()

    assert isinstance(held, PairMessage)
    assert isinstance(decode_pairing_message(held.body), PakeMessage)
    assert await next_pair_event(student) == PairEnd(code.nameplate, "closed")
    await assert_command_error(ErrorCode.NOT_FOUND, student.pair_send(code.nameplate, CANCEL))
    await student.close()


async def test_invalid_body_bad_frame(relay: RelayProcess) -> None:
    counselor = await relay.client()
    opened = await counselor.pair_open()

    await assert_command_error(ErrorCode.BAD_FRAME, counselor.pair_send(opened.nameplate, b"x"))
    await counselor.close()


async def test_join_limits_rate_limited(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--pair-join-rate", "2", "--pair-join-rate-per-ip", "3")
    first, second = await relay.client(), await relay.client()

    await assert_command_error(ErrorCode.NOT_FOUND, first.pair_join(11))
    await assert_command_error(ErrorCode.NOT_FOUND, first.pair_join(12))
    per_connection = await assert_command_error(ErrorCode.RATE_LIMITED, first.pair_join(13))
    await assert_command_error(ErrorCode.NOT_FOUND, second.pair_join(14))
    per_address = await assert_command_error(ErrorCode.RATE_LIMITED, second.pair_join(15))

    assert "connection" in per_connection.message
    assert "address" in per_address.message
    await first.close()
    await second.close()


async def test_open_cap_quota_exceeded(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start("--pair-max-per-connection", "2")
    counselor = await relay.client()
    first = await counselor.pair_open()
    second = await counselor.pair_open()

    await assert_command_error(ErrorCode.QUOTA_EXCEEDED, counselor.pair_open())

    assert first.nameplate != second.nameplate
    await counselor.pair_close(first.nameplate)
    await counselor.pair_open()
    await counselor.close()


async def test_nothing_on_disk(relay: RelayProcess) -> None:
    counselor, student = await relay.client(), await relay.client()
    marker = b"rendezvous-body-marker-5f1c"
    body = pack({"v": 1, "t": "cancel", "note": marker})
    code, _ = await open_code(relay, counselor)
    await counselor.pair_send(code.nameplate, body)
    await student.pair_join(code.nameplate)
    accepter = CodeAccepter(code, now=int(time.time()))
    pake_b = accepter.start(now=int(time.time()))
    await student.pair_send(code.nameplate, pake_b)
    first, second = await next_pair_event(student), await next_pair_event(student)
    assert isinstance(first, PairMessage) and isinstance(second, PairMessage)
    assert second.body == body
    assert await next_pair_event(counselor) == PairMessage(code.nameplate, pake_b)

    files = [path for path in relay.data_dir.rglob("*") if path.is_file()]
    assert files, "the relay data directory should hold its database"
    for path in files:
        content = path.read_bytes()
        for secret in (marker, first.body, pake_b):
            assert secret not in content, f"{path.name} contains a pairing message"
    assert marker.decode() not in relay.log()
    await counselor.close()
    await student.close()
