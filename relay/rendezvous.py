"""Pairing rendezvous: nameplates, the two sides, ordered forwarding and the one-guess rule.

A counselor's client opens a rendezvous (side A) and gets a nameplate, the number at the
start of a short code such as ``7-kancil-pelangi``. The student's client joins it with
that number (side B). The relay then passes opaque pairing messages between the two and
reads only their type tag ``t``.

SPAKE2 gives an attacker one password guess per run, so the relay allows one run per
nameplate: each side may send one ``pake`` message, and once one has passed in each
direction the nameplate is *burned*. A burned nameplate takes no new join, and it stays
out of allocation until its original expiry, also after the rendezvous ended.

Everything here lives in memory only. No rendezvous state or message is written to disk,
and the log shows only nameplates, reasons and connection ids, never a message.

The registry is synchronous. It hands frames to a :class:`RendezvousPeer`, which queues
them for sending, so a slow reader on one side never holds up the other side's command.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from konsel.protocol.errors import DecodeError
from konsel.protocol.relay_wire import (
    PAIR_END_BURNED,
    PAIR_END_CLOSED,
    PAIR_END_EXPIRED,
    ErrorCode,
    PairEnd,
    PairMessage,
    pairing_message_type,
)
from konsel.protocol.shortcode import MAX_NAMEPLATE, MIN_NAMEPLATE

from .errors import RelayError
from .metrics import RelayMetrics
from .ratelimit import KeyedRateLimiter, TokenBucket

logger = logging.getLogger("konsel.relay.rendezvous")

MAX_PAIR_MESSAGES = 16
"""Messages one rendezvous passes in total, both directions together. The exchange needs
at most 4 from each side (``pake``, ``confirm``, ``invitation`` or ``reply``, ``cancel``),
and this cap also bounds the messages held for a side B that has not joined yet."""

PAKE_TYPE = "pake"


class RendezvousPeer(Protocol):
    """One side of a rendezvous: the part of a client connection that the registry uses."""

    @property
    def connection_id(self) -> str:
        """Short random id of the connection, used in log lines."""
        ...

    @property
    def address(self) -> str:
        """Client address that per-IP limits count."""
        ...

    def queue_pair_frame(self, frame: PairMessage | PairEnd) -> None:
        """Queue a frame for sending without waiting; frames go out in queued order."""
        ...


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled, such as :class:`asyncio.TimerHandle`."""

    def cancel(self) -> None:
        """Cancel the callback; cancelling twice or after it ran does nothing."""
        ...


Scheduler = Callable[[float, Callable[[], None]], TimerHandle]
"""Run a callback after a delay in seconds and return a handle that cancels it."""


def loop_scheduler(delay: float, callback: Callable[[], None]) -> TimerHandle:
    """Schedule ``callback`` on the running asyncio loop after ``delay`` seconds."""
    return asyncio.get_running_loop().call_later(delay, callback)


@dataclass(frozen=True)
class PairLimits:
    """Limits on pairing commands; rates are per minute, and a rate of 0 turns it off."""

    join_rate: float = 6.0
    join_rate_per_ip: float = 30.0
    max_per_connection: int = 4
    max_open_per_ip: int = 32


@dataclass(eq=False)
class Rendezvous:
    """One open rendezvous and what the relay tracks for the one-guess rule."""

    nameplate: int
    side_a: RendezvousPeer
    expires_at: int
    """Unix seconds from which the rendezvous no longer exists."""
    timer: TimerHandle | None = None
    side_b: RendezvousPeer | None = None
    held_for_b: list[bytes] = field(default_factory=list)
    """Messages from side A waiting for side B to join."""
    passed: int = 0
    """Messages accepted so far, held ones included; capped at :data:`MAX_PAIR_MESSAGES`."""
    pake_from_a: bool = False
    pake_from_b: bool = False

    @property
    def burned(self) -> bool:
        """Whether one ``pake`` message has passed in each direction."""
        return self.pake_from_a and self.pake_from_b

    def sides(self) -> tuple[RendezvousPeer, ...]:
        """Return the connections bound to this rendezvous, side A first."""
        return (self.side_a,) if self.side_b is None else (self.side_a, self.side_b)

    def other_side(self, peer: RendezvousPeer) -> RendezvousPeer | None:
        """Return the side that is not ``peer``, or ``None`` while side B is missing."""
        return self.side_b if peer is self.side_a else self.side_a


@dataclass
class _PeerState:
    nameplates: set[int]
    join_bucket: TokenBucket


class RendezvousRegistry:
    """Every open rendezvous of one relay process, with allocation, limits and expiry.

    Args:
        limits: caps and join rates.
        metrics: the relay's metrics; the registry keeps the pairing ones current.
        clock: Unix time in seconds, for expiry.
        rate_clock: monotonic seconds, for the join rate limits.
        scheduler: schedules each rendezvous' expiry; the running asyncio loop by default.
        choose: picks the nameplate among the free ones; uniformly at random by default.
    """

    def __init__(
        self,
        limits: PairLimits,
        metrics: RelayMetrics,
        *,
        clock: Callable[[], float] = time.time,
        rate_clock: Callable[[], float] = time.monotonic,
        scheduler: Scheduler = loop_scheduler,
        choose: Callable[[Sequence[int]], int] = secrets.choice,
    ) -> None:
        self.limits = limits
        self.metrics = metrics
        self._clock = clock
        self._rate_clock = rate_clock
        self._scheduler = scheduler
        self._choose = choose
        self._join_ip_limiter = KeyedRateLimiter(limits.join_rate_per_ip, 60.0, clock=rate_clock)
        self._open: dict[int, Rendezvous] = {}
        # Nameplate -> the original expiry of a burned rendezvous that has ended.
        self._burned: dict[int, int] = {}
        self._peers: dict[RendezvousPeer, _PeerState] = {}
        self._open_per_ip: Counter[str] = Counter()

    # --- commands -----------------------------------------------------------------------------

    def open(self, peer: RendezvousPeer, ttl: int) -> Rendezvous:
        """Allocate a free nameplate at random and bind ``peer`` to it as side A.

        Raises:
            RelayError: ``QUOTA_EXCEEDED`` at the per-connection or per-IP cap,
                ``NO_NAMEPLATE`` when every nameplate is open or burned.
        """
        state = self._peer_state(peer)
        self._check_connection_cap(state)
        if self._open_per_ip[peer.address] >= self.limits.max_open_per_ip:
            raise RelayError(
                ErrorCode.QUOTA_EXCEEDED,
                f"at most {self.limits.max_open_per_ip} open rendezvous per address",
            )

        now = self._clock()
        free = self._free_nameplates(now)
        if not free:
            raise RelayError(
                ErrorCode.NO_NAMEPLATE, "every nameplate is in use; try again in a few minutes"
            )

        rendezvous = Rendezvous(self._choose(free), peer, int(now) + ttl)
        rendezvous.timer = self._scheduler(
            rendezvous.expires_at - now, lambda: self._on_timer(rendezvous)
        )
        self._open[rendezvous.nameplate] = rendezvous
        self._open_per_ip[peer.address] += 1
        state.nameplates.add(rendezvous.nameplate)

        self.metrics.pair_open.inc()
        self.metrics.pair_opened.inc()
        logger.info("[%s] opened pair %d for %d s", peer.connection_id, rendezvous.nameplate, ttl)
        return rendezvous

    def join(self, peer: RendezvousPeer, nameplate: int) -> None:
        """Bind ``peer`` as side B and hand it the messages side A sent so far.

        Raises:
            RelayError: ``RATE_LIMITED`` for too many joins from this connection or
                address, ``QUOTA_EXCEEDED`` at the per-connection cap, and ``NOT_FOUND``
                for an unknown, expired, burned or already joined nameplate alike, so
                that a prober cannot tell these cases apart.
        """
        state = self._peer_state(peer)
        if not state.join_bucket.allow():
            raise RelayError(
                ErrorCode.RATE_LIMITED,
                "too many pair_join commands from this connection; wait a minute",
            )
        if not self._join_ip_limiter.allow(peer.address):
            raise RelayError(
                ErrorCode.RATE_LIMITED,
                "too many pair_join commands from this address; wait a minute",
            )
        self._check_connection_cap(state)

        rendezvous = self._live(nameplate)
        if rendezvous is None or rendezvous.side_b is not None or rendezvous.side_a is peer:
            raise RelayError(
                ErrorCode.NOT_FOUND, "no rendezvous to join with this nameplate; ask for a new code"
            )

        rendezvous.side_b = peer
        state.nameplates.add(nameplate)
        self.metrics.pair_joins.inc()
        logger.info(
            "[%s] joined pair %d opened by [%s]",
            peer.connection_id,
            nameplate,
            rendezvous.side_a.connection_id,
        )

        for body in rendezvous.held_for_b:
            peer.queue_pair_frame(PairMessage(nameplate, body))
        rendezvous.held_for_b.clear()

    def send(self, peer: RendezvousPeer, nameplate: int, body: bytes) -> None:
        """Pass one pairing message to the other side, or hold it until side B joins.

        Raises:
            RelayError: ``NOT_FOUND`` when ``peer`` is no side of a live rendezvous with
                this nameplate, ``BAD_FRAME`` when the body has no readable type tag,
                ``QUOTA_EXCEEDED`` beyond :data:`MAX_PAIR_MESSAGES` or for a second
                ``pake`` message from one side, which also ends the rendezvous.
        """
        rendezvous = self._bound(peer, nameplate)
        try:
            message_type = pairing_message_type(body)
        except DecodeError as error:
            raise RelayError(ErrorCode.BAD_FRAME, f"invalid pairing message: {error}") from None
        if rendezvous.passed >= MAX_PAIR_MESSAGES:
            raise RelayError(
                ErrorCode.QUOTA_EXCEEDED, f"at most {MAX_PAIR_MESSAGES} messages per rendezvous"
            )

        if message_type == PAKE_TYPE:
            self._count_pake(rendezvous, peer)

        rendezvous.passed += 1
        other = rendezvous.other_side(peer)
        if other is None:
            rendezvous.held_for_b.append(body)
        else:
            other.queue_pair_frame(PairMessage(nameplate, body))

    def close(self, peer: RendezvousPeer, nameplate: int) -> None:
        """End a rendezvous that ``peer`` takes part in and notify the other side.

        Raises:
            RelayError: ``NOT_FOUND`` when ``peer`` is no side of a live rendezvous with
                this nameplate.
        """
        rendezvous = self._bound(peer, nameplate)
        self._end(rendezvous, PAIR_END_CLOSED, notify=_present(rendezvous.other_side(peer)))

    def drop(self, peer: RendezvousPeer) -> None:
        """End every rendezvous of a closed connection and forget its state."""
        state = self._peers.pop(peer, None)
        if state is None:
            return
        for nameplate in sorted(state.nameplates):
            rendezvous = self._open.get(nameplate)
            if rendezvous is not None:
                self._end(rendezvous, PAIR_END_CLOSED, notify=_present(rendezvous.other_side(peer)))

    def expire_due(self) -> int:
        """End every rendezvous at or past its expiry and return how many ended.

        Each rendezvous also has its own timer. This sweep serves callers that move the
        clock themselves, and commands check the expiry on each lookup as well.
        """
        now = self._clock()
        due = [rendezvous for rendezvous in self._open.values() if now >= rendezvous.expires_at]
        for rendezvous in due:
            self._end(rendezvous, PAIR_END_EXPIRED, notify=rendezvous.sides())
        return len(due)

    @property
    def open_count(self) -> int:
        """Number of open rendezvous."""
        return len(self._open)

    # --- internals ----------------------------------------------------------------------------

    def _peer_state(self, peer: RendezvousPeer) -> _PeerState:
        state = self._peers.get(peer)
        if state is None:
            bucket = TokenBucket(self.limits.join_rate, 60.0, clock=self._rate_clock)
            state = _PeerState(set(), bucket)
            self._peers[peer] = state
        return state

    def _check_connection_cap(self, state: _PeerState) -> None:
        if len(state.nameplates) >= self.limits.max_per_connection:
            raise RelayError(
                ErrorCode.QUOTA_EXCEEDED,
                f"at most {self.limits.max_per_connection} rendezvous per connection",
            )

    def _free_nameplates(self, now: float) -> list[int]:
        for nameplate, expires_at in list(self._burned.items()):
            if now >= expires_at:
                del self._burned[nameplate]
        return [
            nameplate
            for nameplate in range(MIN_NAMEPLATE, MAX_NAMEPLATE + 1)
            if nameplate not in self._open and nameplate not in self._burned
        ]

    def _live(self, nameplate: int) -> Rendezvous | None:
        """Return the open rendezvous of ``nameplate``, ending it first if it has expired."""
        rendezvous = self._open.get(nameplate)
        if rendezvous is not None and self._clock() >= rendezvous.expires_at:
            self._end(rendezvous, PAIR_END_EXPIRED, notify=rendezvous.sides())
            return None
        return rendezvous

    def _bound(self, peer: RendezvousPeer, nameplate: int) -> Rendezvous:
        rendezvous = self._live(nameplate)
        if rendezvous is None or peer not in rendezvous.sides():
            raise RelayError(
                ErrorCode.NOT_FOUND, "this connection has no rendezvous with this nameplate"
            )
        return rendezvous

    def _count_pake(self, rendezvous: Rendezvous, peer: RendezvousPeer) -> None:
        """Record a side's one ``pake`` message; a second one ends the rendezvous."""
        is_side_a = peer is rendezvous.side_a
        already_sent = rendezvous.pake_from_a if is_side_a else rendezvous.pake_from_b
        if already_sent:
            self._end(rendezvous, PAIR_END_BURNED, notify=rendezvous.sides())
            raise RelayError(
                ErrorCode.QUOTA_EXCEEDED,
                "this side already sent its pake message; the rendezvous has ended",
            )

        if is_side_a:
            rendezvous.pake_from_a = True
        else:
            rendezvous.pake_from_b = True
        if rendezvous.burned:
            self.metrics.pair_burns.inc()
            logger.info("pair %d burned: one pake passed each way", rendezvous.nameplate)

    def _on_timer(self, rendezvous: Rendezvous) -> None:
        if self._open.get(rendezvous.nameplate) is rendezvous:
            self._end(rendezvous, PAIR_END_EXPIRED, notify=rendezvous.sides())

    def _end(
        self,
        rendezvous: Rendezvous,
        reason: str,
        *,
        notify: tuple[RendezvousPeer, ...],
    ) -> None:
        """Forget a rendezvous and its held messages, then send ``pair_end`` to ``notify``."""
        nameplate = rendezvous.nameplate
        if self._open.get(nameplate) is not rendezvous:
            return
        del self._open[nameplate]
        if rendezvous.timer is not None:
            rendezvous.timer.cancel()
        rendezvous.held_for_b.clear()

        address = rendezvous.side_a.address
        self._open_per_ip[address] -= 1
        if self._open_per_ip[address] <= 0:
            del self._open_per_ip[address]
        for side in rendezvous.sides():
            state = self._peers.get(side)
            if state is not None:
                state.nameplates.discard(nameplate)

        # A second pake also marks the nameplate, so a rule breaker cannot free it early.
        if rendezvous.burned or reason == PAIR_END_BURNED:
            self._burned[nameplate] = rendezvous.expires_at

        self.metrics.pair_open.dec()
        self.metrics.pair_ends.labels(reason).inc()
        logger.info(
            "pair %d ended (%s); side A [%s], side B [%s]",
            nameplate,
            reason,
            rendezvous.side_a.connection_id,
            rendezvous.side_b.connection_id if rendezvous.side_b is not None else "-",
        )

        for recipient in notify:
            recipient.queue_pair_frame(PairEnd(nameplate, reason))


def _present(peer: RendezvousPeer | None) -> tuple[RendezvousPeer, ...]:
    return () if peer is None else (peer,)
