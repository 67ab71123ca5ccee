"""The platform as processes (registration, bidding, announcement when present), shared
by the end-to-end tests, driven only through public HTTP APIs and Kafka topics."""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ggzy.cli import SERVICES
from ggzy.runtime.settings import Settings
from ggzy.testing.data import entity_registration, new_resident_id, new_uscc
from ggzy.testing.infra import Infra
from ggzy.testing.kafka import eventually
from ggzy.testing.processes import ServiceProcess, service_env
from ggzy.testing.services import free_port
from services.bidding.domain import sealed

ROOT = Path(__file__).resolve().parents[2]
FAST_RULES = ROOT / "tests" / "data" / "rules-fast.yaml"
OPERATOR = ("op", "operator-password-1")


@dataclass
class Platform:
    """Running service processes and an HTTP client."""

    prefix: str
    kafka: str
    procs: dict[str, ServiceProcess]
    http: aiohttp.ClientSession | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(20261124))

    def url(self, service: str) -> str:
        return self.procs[service].url

    async def call(self, service: str, method: str, path: str, token: str | None = None,
                   body: object = None) -> tuple[int, Any]:
        assert self.http is not None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.url(service) + path, json=body,
                                     headers=headers) as resp:
            return resp.status, await resp.json()

    async def login(self, username: str, password: str) -> str:
        status, body = await self.call("registration", "POST", "/v1/tokens",
                                       body={"username": username, "password": password})
        assert status == 200, body
        return str(body["access_token"])

    async def entity(self, kind: str, **kw: Any) -> tuple[str, str]:
        """Register an entity with a user of role ``kind``; return (uscc, token)."""
        uscc = new_uscc(self.rng)
        op = self.tokens["operator"]
        status, body = await self.call("registration", "POST", "/v1/entities", op,
                                       entity_registration(uscc, kinds=(kind,), **kw))
        assert status == 201, body
        user = f"{kind}-{uscc[-8:]}"
        status, body = await self.call("registration", "POST", f"/v1/entities/{uscc}/users", op,
                                       {"username": user, "password": "password-123456",
                                        "roles": [kind]})
        assert status == 201, body
        return uscc, await self.login(user, "password-123456")

    async def expert(self, specialties: list[str], employer: str | None = None
                     ) -> tuple[str, str]:
        """Register an expert with a login; return (expert_id, token)."""
        op = self.tokens["operator"]
        status, body = await self.call("registration", "POST", "/v1/experts", op, {
            "name": f"专家{self.rng.randint(100, 999)}", "resident_id": new_resident_id(self.rng),
            "specialties": specialties, "employer_uscc": employer, "region_code": "440300"})
        assert status == 201, body
        expert_id = body["id"]
        user = f"x-{expert_id[-8:].lower()}"
        status, body = await self.call("registration", "POST", f"/v1/experts/{expert_id}/user",
                                       op, {"username": user, "password": "password-123456"})
        assert status == 201, body
        return expert_id, await self.login(user, "password-123456")

    async def submit(self, tender_id: str, section: str, bidder: str, token: str,
                     price_fen: int) -> tuple[int, Any, bytes]:
        """Seal a bid on the bidder's side and upload it; return status, body, key."""
        key = sealed.new_key()
        bid = sealed.seal({"price_fen": price_fen, "schedule_days": 300}, key,
                          tender_id=tender_id, section_code=section, bidder_uscc=bidder)
        body = {"ciphertext": base64.b64encode(bid.ciphertext).decode(),
                "nonce": base64.b64encode(bid.nonce).decode(), "digest": bid.digest,
                "fingerprint": {"file_md5": uuid.uuid4().hex, "ip": "10.1.1.1"}}
        status, out = await self.call("bidding", "PUT",
                                      f"/v1/tenders/{tender_id}/sections/{section}/bid",
                                      token, body)
        return status, out, key

    async def until_known(self, make: Any) -> Any:
        """Retry a call while bidding's projection has not yet seen a new entity."""
        async def attempt() -> Any:
            result = await make()
            status, body = result[0], result[1]
            pending = status == 422 and body["error"]["code"] == "party_not_registered"
            return None if pending else result
        return await eventually(attempt, within=30)


def _settings(infra: Infra, prefix: str, service: str) -> Settings:
    return Settings(kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url,
                    topic_prefix=prefix, database=f"{prefix}_{service}", partitions=2,
                    relay_interval_s=0.2, retry_backoff_s=0.05, http_port=free_port(),
                    rules_file=str(FAST_RULES) if service == "bidding" else "")


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
            env = service_env(settings, jwks_url=jwks, publicity_seconds=3,
                              bootstrap_operator=f"{OPERATOR[0]}:{OPERATOR[1]}")
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
        p = Platform(prefix, infra.kafka_bootstrap, platform_procs, http)
        p.tokens["operator"] = await p.login(*OPERATOR)
        yield p
