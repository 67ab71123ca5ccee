"""A client of the platform's public HTTP APIs, as a user or a partner would drive it:
used by the end-to-end tests, the demo and the benchmarks."""

from __future__ import annotations

import base64
import hashlib
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from ggzy.testing.data import entity_registration, new_resident_id, new_uscc
from ggzy.testing.kafka import eventually
from services.bidding.domain import sealed

PASSWORD = "password-123456"  # of every user this client creates (test data only)


def _expert_user(expert_id: str) -> str:
    return f"x-{expert_id[-8:].lower()}"


@dataclass
class PlatformClient:
    """The services' base URLs, an HTTP session and the tokens obtained so far."""

    prefix: str
    kafka: str
    urls: dict[str, str]
    http: aiohttp.ClientSession | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(20261124))

    def url(self, service: str) -> str:
        return self.urls[service]

    async def call(self, service: str, method: str, path: str, token: str | None = None,
                   body: object = None, client_ip: str | None = None) -> tuple[int, Any]:
        """A request; ``client_ip`` is named in X-Forwarded-For, as the platform's proxy
        would (the services of the tests and the demo trust 127.0.0.1 as their proxy)."""
        assert self.http is not None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if client_ip:
            headers["X-Forwarded-For"] = client_ip
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
                                       {"username": user, "password": PASSWORD,
                                        "roles": [kind]})
        assert status == 201, body
        return uscc, await self.login(user, PASSWORD)

    async def expert(self, specialties: list[str], employer: str | None = None
                     ) -> tuple[str, str]:
        """Register an expert with a login; return (expert_id, token)."""
        op = self.tokens["operator"]
        status, body = await self.call("registration", "POST", "/v1/experts", op, {
            "name": f"专家{self.rng.randint(100, 999)}", "resident_id": new_resident_id(self.rng),
            "specialties": specialties, "employer_uscc": employer, "region_code": "440300"})
        assert status == 201, body
        expert_id = body["id"]
        status, body = await self.call("registration", "POST", f"/v1/experts/{expert_id}/user",
                                       op, {"username": _expert_user(expert_id),
                                            "password": PASSWORD})
        assert status == 201, body
        return expert_id, await self.expert_login(expert_id)

    async def expert_login(self, expert_id: str) -> str:
        """The token of an expert registered by :meth:`expert` (here or in an earlier run)."""
        return await self.login(_expert_user(expert_id), PASSWORD)

    async def submit(self, tender_id: str, section: str, bidder: str, token: str,
                     price_fen: int, fingerprint: dict[str, Any] | None = None,
                     deposit: dict[str, Any] | None = None,
                     client_ip: str | None = None) -> tuple[int, Any, bytes]:
        """Seal a bid on the bidder's side and upload it; return status, body, key.

        ``fingerprint`` overrides the default one (a fresh file digest only); the
        upload comes from ``client_ip``, else the fingerprint's ``upload_ip``, else an
        address of the bidder's own (the platform records the address it sees, as its
        proxy names it); ``deposit`` the default payment
        (the section's deposit, from the bidder's own account)."""
        key = sealed.new_key()
        bid = sealed.seal({"price_fen": price_fen, "schedule_days": 300}, key,
                          tender_id=tender_id, section_code=section, bidder_uscc=bidder)
        body = {"ciphertext": base64.b64encode(bid.ciphertext).decode(),
                "nonce": base64.b64encode(bid.nonce).decode(), "digest": bid.digest,
                "fingerprint": fingerprint or {"file_digest": uuid.uuid4().hex},
                "deposit": deposit or await self._deposit(tender_id, section, bidder)}
        status, out = await self.call("bidding", "PUT",
                                      f"/v1/tenders/{tender_id}/sections/{section}/bid",
                                      token, body, client_ip=client_ip or (
                                          fingerprint or {}).get("upload_ip")
                                      or bidder_address(bidder))
        return status, out, key

    async def _deposit(self, tender_id: str, section: str, bidder: str) -> dict[str, Any] | None:
        """The section's deposit as the tender asks it, paid from the bidder's account."""
        status, body = await self.call("bidding", "GET", f"/v1/tenders/{tender_id}")
        if status != 200:
            return None
        required = next((s["deposit_fen"] for s in body["sections"]
                         if s["section_code"] == section), 0)
        return {"payer_account": "6222" + bidder[2:16], "amount_fen": required}

    async def until_known(self, make: Any) -> Any:
        """Retry a call while bidding's projection has not yet seen a new entity."""
        async def attempt() -> Any:
            result = await make()
            status, body = result[0], result[1]
            pending = status == 422 and body["error"]["code"] == "party_not_registered"
            return None if pending else result
        return await eventually(attempt, within=30)


def bidder_address(uscc: str) -> str:
    """An address of the bidder's own (198.18.0.0/15, for tests): different bidders
    upload from different addresses unless a test says otherwise."""
    n = int(hashlib.sha256(uscc.encode()).hexdigest()[:8], 16)
    return f"198.{18 + (n >> 16 & 1)}.{n >> 8 & 255}.{n & 255}"

