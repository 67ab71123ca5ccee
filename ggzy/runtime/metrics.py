"""Prometheus metrics of one service instance, in its own registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    """The runtime's own metrics; FastStream's middleware adds the broker's."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "ggzy_http_requests", "HTTP requests served", ["route", "method", "status"], registry=r
        )
        self.http_seconds = Histogram(
            "ggzy_http_request_seconds", "HTTP request latency", ["route"], registry=r
        )
        self.outbox_pending = Gauge(
            "ggzy_outbox_pending", "Aggregates with events not yet published", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "ggzy_outbox_oldest_age_seconds", "Age of the oldest unpublished event", registry=r
        )
        self.outbox_published = Counter(
            "ggzy_outbox_published", "Events published by the outbox relay", ["topic"], registry=r
        )
        self.consumed = Counter(
            "ggzy_events_consumed", "Messages handled", ["group", "type", "outcome"], registry=r
        )
        self.dead_letters = Counter(
            "ggzy_dead_letters", "Messages sent to a dead-letter topic", ["group", "reason"],
            registry=r,
        )
        self.timer_failures = Counter(
            "ggzy_timer_failures", "Durable timer handler failures (final: no attempt left)",
            ["kind", "final"], registry=r,
        )
        self.consumer_lag = Gauge(
            "ggzy_consumer_lag", "Records a consumer group has still to process (end offset -"
            " committed offset), measured every GGZY_LAG_INTERVAL_S", ["group", "topic",
                                                                         "partition"],
            registry=r,
        )
        self.retries = Counter(
            "ggzy_consumer_retries", "Handler attempts that failed and were retried", ["group"],
            registry=r,
        )
        self.store_round_trips = Counter(
            "ggzy_store_round_trips", "Group-committed round trips to the store", ["kind"],
            registry=r,
        )
        self.store_operations = Counter(
            "ggzy_store_operations", "Single-document operations they carried (÷ round trips ="
            " mean batch size)", ["kind"], registry=r,
        )

    def store_batch(self, kind: str, operations: int) -> None:
        """Count one group-committed round trip of ``operations`` operations."""
        self.store_round_trips.labels(kind).inc()
        self.store_operations.labels(kind).inc(operations)
