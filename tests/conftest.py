"""Session-wide real infrastructure and shared running services.

The broker and the store start once per session; tests are isolated by their
own topic prefix, database name and ids, never by restarting infrastructure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from ggzy.runtime.settings import Settings
from ggzy.testing.infra import Infra, start_infra

# Property tests assert what holds, never how fast: no per-example deadline, which a
# machine busy with the broker and the services (CI) would turn into flaky failures.
hypothesis_settings.register_profile("ggzy", deadline=None)
hypothesis_settings.load_profile("ggzy")


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """The session's Kafka broker and MongoDB-compatible store."""
    with ExitStack() as stack:
        yield start_infra(stack, Path(tmp_path_factory.mktemp("infra")))


def isolated_settings(infra: Infra, service: str, **overrides: object) -> Settings:
    """Settings for one service with a fresh topic prefix and database."""
    tag = "t" + uuid.uuid4().hex[:10]
    base = Settings(kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url,
                    topic_prefix=tag, database=f"{tag}_{service}", relay_interval_s=0.2,
                    retry_backoff_s=0.05, partitions=2)
    return base.for_service(service).model_copy(update=overrides)
