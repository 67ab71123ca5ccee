"""Real infrastructure for tests: Kafka and MongoDB, started once per session.

One switch chooses the backend:
- ``GGZY_TEST_KAFKA_BOOTSTRAP`` / ``GGZY_TEST_MONGO_URL`` set: use those servers
  (e.g. an operator's real MongoDB and Kafka);
- else, when a Docker engine answers: testcontainers runs MongoDB and Kafka;
- else: the project's own Kafka node (jars from Maven Central) and nx-27017.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ggzy.dev.kafka import KafkaNode
from ggzy.dev.store import StoreNode, docker_available

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Infra:
    """Where the test session's broker and store are."""

    kafka_bootstrap: str
    mongo_url: str
    backend: str


def start_infra(stack: ExitStack, workdir: Path) -> Infra:
    """Start (or find) the broker and the store; ``stack`` stops what was started."""
    kafka = os.environ.get("GGZY_TEST_KAFKA_BOOTSTRAP")
    mongo = os.environ.get("GGZY_TEST_MONGO_URL")
    if kafka and mongo:
        return Infra(kafka, mongo, "external")
    if os.environ.get("GGZY_TEST_DOCKER", "auto") != "no" and docker_available():
        return _containers(stack)
    node = KafkaNode.start(ROOT, workdir / "kafka")
    stack.callback(node.stop)
    store = StoreNode.start(workdir / "store")
    stack.callback(store.stop)
    return Infra(node.bootstrap, store.url, "embedded")


def _containers(stack: ExitStack) -> Infra:  # pragma: no cover - needs a Docker engine
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    kafka = stack.enter_context(KafkaContainer("apache/kafka:4.1.1").with_kraft())
    mongo = stack.enter_context(MongoDbContainer("mongo:8"))
    return Infra(kafka.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers")
