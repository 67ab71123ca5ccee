"""The platform as processes (registration, bidding, announcement when present), shared
by the end-to-end tests, driven only through public HTTP APIs and Kafka topics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from ggzy.cli import SERVICES
from ggzy.runtime.settings import Settings
from ggzy.testing.client import PlatformClient
from ggzy.testing.infra import Infra
from ggzy.testing.processes import ServiceProcess, service_env
from ggzy.testing.services import free_port

ROOT = Path(__file__).resolve().parents[2]
FAST_RULES = ROOT / "deploy" / "rules-demo.yaml"
OPERATOR = ("op", "operator-password-1")


@dataclass
class Platform(PlatformClient):
    """The client plus the running service processes."""

    procs: dict[str, ServiceProcess] = field(default_factory=dict)


def _settings(infra: Infra, prefix: str, service: str) -> Settings:
    return Settings(kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url,
                    topic_prefix=prefix, database=f"{prefix}_{service}", partitions=2,
                    relay_interval_s=0.2, retry_backoff_s=0.05, http_port=free_port(),
                    rules_file=str(FAST_RULES) if service != "registration" else "")


@pytest.fixture(scope="session")
def platform_procs(infra: Infra, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[dict[str, ServiceProcess]]:
    prefix = "e" + uuid.uuid4().hex[:8]
    logs = tmp_path_factory.mktemp("services")
    procs: dict[str, ServiceProcess] = {}
    reg = _settings(infra, prefix, "registration")
    jwks = f"http://127.0.0.1:{reg.http_port}/.well-known/jwks.json"
    try:
        for name in SERVICES:
            settings = reg if name == "registration" else _settings(infra, prefix, name)
            env = service_env(settings, jwks_url=jwks,
                              bootstrap_operator=f"{OPERATOR[0]}:{OPERATOR[1]}",
                              notify_webhook_allow_private=True,  # receivers on 127.0.0.1
                              trusted_proxies="127.0.0.1")  # the client plays the proxy
            procs[name] = ServiceProcess(name, env, logs / f"{name}.log",
                                         settings.http_port).start()
        yield procs
    finally:
        for proc in reversed(procs.values()):
            proc.stop()


@pytest.fixture(scope="session")
async def platform(platform_procs: dict[str, ServiceProcess],
                   infra: Infra) -> AsyncIterator[Platform]:
    prefix = platform_procs["registration"].env["GGZY_TOPIC_PREFIX"]
    async with aiohttp.ClientSession() as http:
        urls = {name: proc.url for name, proc in platform_procs.items()}
        p = Platform(prefix, infra.kafka_bootstrap, urls, http, procs=platform_procs)
        p.tokens["operator"] = await p.login(*OPERATOR)
        yield p
