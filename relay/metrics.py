"""Prometheus metrics of one relay process, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class RelayMetrics:
    """The relay's counters and gauges; :meth:`render` returns the text exposition format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connections = Gauge(
            "konsel_relay_connections", "Open WebSocket connections", registry=self.registry
        )
        self.inboxes = Gauge("konsel_relay_inboxes", "Stored inboxes", registry=self.registry)
        self.queued_messages = Gauge(
            "konsel_relay_queued_messages",
            "Stored messages not yet acknowledged",
            registry=self.registry,
        )
        self.queued_bytes = Gauge(
            "konsel_relay_queued_bytes",
            "Envelope bytes of stored messages not yet acknowledged",
            registry=self.registry,
        )
        self.messages_stored = Counter(
            "konsel_relay_messages_stored", "Envelopes accepted by SEND", registry=self.registry
        )
        self.deliveries = Counter(
            "konsel_relay_deliveries",
            "Envelopes pushed to subscribers, redeliveries included",
            registry=self.registry,
        )
        self.acknowledged = Counter(
            "konsel_relay_acknowledged", "Messages deleted by ACK", registry=self.registry
        )
        self.expired = Counter(
            "konsel_relay_expired", "Messages deleted by expiry", registry=self.registry
        )
        self.errors = Counter(
            "konsel_relay_errors", "Error replies by code", ["code"], registry=self.registry
        )

        self.pair_open = Gauge(
            "konsel_relay_pair_open",
            "Pairing rendezvous open now (held in memory only)",
            registry=self.registry,
        )
        self.pair_opened = Counter(
            "konsel_relay_pair_opened", "Pairing rendezvous opened", registry=self.registry
        )
        self.pair_joins = Counter(
            "konsel_relay_pair_joins",
            "Successful pair_join commands (failed ones count in konsel_relay_errors)",
            registry=self.registry,
        )
        self.pair_burns = Counter(
            "konsel_relay_pair_burns",
            "Nameplates burned after one pake message in each direction",
            registry=self.registry,
        )
        self.pair_ends = Counter(
            "konsel_relay_pair_ends",
            "Pairing rendezvous ended, by reason (closed, expired, burned)",
            ["why"],
            registry=self.registry,
        )

        self.closed_stuck = Counter(
            "konsel_relay_write_timeouts",
            "Connections closed because the client stopped reading",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)
