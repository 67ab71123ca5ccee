"""Registration use cases: load, decide (domain), save with events (outbox)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contracts.registration import (
    EntityRegistered,
    EntityRegistration,
    EntitySnapshot,
    EntityUpdated,
    ExpertRegistered,
    ExpertSnapshot,
    ExpertUpdated,
    PartnerRegistered,
    RegisterEntity,
)
from ggzy.runtime.aggregates import Aggregates, Applied, Cause, Change, Outgoing, state_of
from ggzy.runtime.auth import Principal, Role, TokenIssuer
from ggzy.runtime.consumer import Incoming
from ggzy.runtime.errors import DomainError, Forbidden, NotFound, Unauthorized
from services.registration import domain
from services.registration.store import RegistrationStore


class Registration:
    """The registration application: entities, users, experts, partners."""

    def __init__(self, *, entities: Aggregates, experts: Aggregates, partners: Aggregates,
                 store: RegistrationStore, catalog: Mapping[str, str]) -> None:
        self.entities = entities
        self.experts = experts
        self.partners = partners
        self.store = store
        self.catalog = catalog
        self.issuer: TokenIssuer | None = None

    # entities -----------------------------------------------------------------
    async def register_entity(self, reg: EntityRegistration, cause: Cause | None = None) -> Applied:
        """Register an entity once for the whole network (一地注册、全网共享)."""
        entity = domain.new_entity(reg)
        event = EntityRegistered(entity=entity, entity_version=1, registered_at=datetime.now(UTC))
        state = {**entity.model_dump(mode="json"), "history": []}
        return await self.entities.create(entity.uscc, state, [Outgoing(event)], cause)

    async def entity(self, uscc: str) -> EntitySnapshot:
        """The entity registered under ``uscc``."""
        doc = await self.entities.get(uscc.upper())
        if doc is None:
            raise NotFound("entity_not_found", f"no entity is registered under {uscc}")
        return _snapshot(doc)

    async def entity_history(self, uscc: str) -> list[dict[str, Any]]:
        """An entity's change history, oldest first."""
        doc = await self.entities.get(uscc.upper())
        if doc is None:
            raise NotFound("entity_not_found", f"no entity is registered under {uscc}")
        return list(doc.get("history", []))

    async def update_entity(self, uscc: str, patch: Mapping[str, Any], by: Principal,
                            expected_version: int | None = None) -> Applied:
        """Change an entity's data, keeping its history (变更记录)."""
        def decide(state: dict[str, Any], version: int) -> Change:
            if expected_version is not None and expected_version != version:
                raise DomainError("version_mismatch", f"entity is at version {version}, "
                                  f"not {expected_version}", version=version)
            before = _snapshot(state)
            after, changed = domain.apply_entity_patch(before, patch)
            now = datetime.now(UTC)
            history = [*state.get("history", []),
                       domain.history_entry(version + 1, now, by.subject, changed, before)]
            event = EntityUpdated(entity=after, entity_version=version + 1, changed=changed,
                                  updated_at=now)
            return Change(set={**after.model_dump(mode="json"), "history": history},
                          events=[Outgoing(event)])

        return await self.entities.update(uscc.upper(), decide)

    # users and tokens -----------------------------------------------------------
    async def add_user(self, uscc: str, username: str, password: str, roles: list[Role],
                       by: Principal) -> dict[str, Any]:
        """Add a user to an entity, with roles its kinds allow."""
        entity = await self.entity(uscc)
        if not by.has(Role.OPERATOR) and by.uscc != entity.uscc:
            raise Forbidden("not_your_entity", "users can be added only to your own entity")
        granted = domain.roles_for(entity, roles)
        hashed = await asyncio.to_thread(domain.hash_password, password)
        user = {"_id": username, "uscc": entity.uscc, "roles": sorted(r.value for r in granted),
                "password": hashed, "created_at": datetime.now(UTC)}
        await self.store.add_user(user)
        return {"username": username, "uscc": entity.uscc, "roles": user["roles"]}

    async def login(self, username: str, password: str) -> tuple[str, int]:
        """A signed access token for valid credentials."""
        user = await self.store.user(username)
        ok = user is not None and await asyncio.to_thread(
            domain.check_password, password, user["password"])
        if not ok or user is None:
            raise Unauthorized("bad_credentials", "unknown user or wrong password")
        if self.issuer is None:
            raise Unauthorized("auth_unavailable", "the signing key is not loaded yet")
        principal = Principal(subject=username, roles=frozenset(Role(r) for r in user["roles"]),
                              uscc=user.get("uscc"), expert_id=user.get("expert_id"))
        ttl = 3600
        return self.issuer.issue(principal, ttl), ttl

    async def bootstrap_operator(self, spec: str) -> None:
        """Create the first platform operator from ``user:password`` if absent."""
        username, _, password = spec.partition(":")
        if not username or not password:
            raise ValueError("GGZY_BOOTSTRAP_OPERATOR must be 'user:password'")
        hashed = await asyncio.to_thread(domain.hash_password, password)
        await self.store.ensure_user({"_id": username, "uscc": None, "roles": ["operator"],
                                      "password": hashed, "created_at": datetime.now(UTC)})

    # experts ------------------------------------------------------------------
    async def register_expert(self, data: Mapping[str, Any]) -> ExpertSnapshot:
        """Add an expert to the pool (专家入库); one person is one expert."""
        expert = domain.new_expert(catalog=self.catalog, **data)
        event = ExpertRegistered(expert=expert, expert_version=1)
        await self.experts.create(expert.expert_id, expert.model_dump(mode="json"),
                                  [Outgoing(event)])
        return expert

    async def expert(self, expert_id: str) -> ExpertSnapshot:
        """An expert of the pool."""
        doc = await self.experts.get(expert_id)
        if doc is None:
            raise NotFound("expert_not_found", f"no expert {expert_id}")
        return ExpertSnapshot.model_validate(state_of(doc))

    async def add_expert_user(self, expert_id: str, username: str, password: str) -> dict[
            str, Any]:
        """Give an expert of the pool a login (role expert, bound to the expert id)."""
        await self.expert(expert_id)
        hashed = await asyncio.to_thread(domain.hash_password, password)
        await self.store.add_user({"_id": username, "uscc": None, "expert_id": expert_id,
                                   "roles": [Role.EXPERT.value], "password": hashed,
                                   "created_at": datetime.now(UTC)})
        return {"username": username, "expert_id": expert_id, "roles": [Role.EXPERT.value]}

    async def update_expert(self, expert_id: str, patch: Mapping[str, Any]) -> Applied:
        """Change an expert's specialties, employer, relations or availability."""
        allowed = {"specialties", "employer_uscc", "related_usccs", "available", "email"}

        def decide(state: dict[str, Any], version: int) -> Change:
            unknown = sorted(set(patch) - allowed)
            if unknown:
                raise DomainError("field_not_updatable", f"fields cannot be updated: {unknown}")
            if "specialties" in patch and set(patch["specialties"]) - set(self.catalog):
                raise DomainError("unknown_specialty", "unknown specialties",
                                  known=sorted(self.catalog))
            before = ExpertSnapshot.model_validate(state)
            try:
                after = ExpertSnapshot.model_validate({**before.model_dump(mode="json"), **patch})
            except ValueError as exc:
                raise DomainError("invalid_expert", str(exc)) from exc
            changed = sorted(k for k in patch if getattr(after, k) != getattr(before, k))
            if not changed:
                raise DomainError("no_change", "the update changes nothing")
            event = ExpertUpdated(expert=after, expert_version=version + 1, changed=changed)
            return Change(set=after.model_dump(mode="json"), events=[Outgoing(event)])

        return await self.experts.update(expert_id, decide)

    # partners -----------------------------------------------------------------
    async def register_partner(self, event: PartnerRegistered) -> Applied:
        """Connect a partner trading system with its public key."""
        domain.load_partner_key(event.public_key_pem)
        await self.entity(event.operator_uscc)
        return await self.partners.create(event.partner_id, event.model_dump(mode="json"),
                                          [Outgoing(event)])

    async def on_register_entity(self, incoming: Incoming[RegisterEntity]) -> None:
        """A partner's signed RegisterEntity command: verify, then register once."""
        env = incoming.envelope
        partner = await self.partners.get(env.partnerid or "")
        if partner is None:
            raise Unauthorized("partner_unknown", f"unknown partner {env.partnerid!r}")
        key = domain.load_partner_key(partner["public_key_pem"])
        domain.verify_partner_signature(
            key, env.signature, domain.signed_bytes(env.id, env.type, incoming.value))
        cause = Cause(message_id=env.id, correlation_id=env.correlationid)
        await self.register_entity(incoming.message.registration, cause)


def _snapshot(doc: Mapping[str, Any]) -> EntitySnapshot:
    fields = EntitySnapshot.model_fields
    return EntitySnapshot.model_validate({k: v for k, v in doc.items() if k in fields})
