"""Registration's HTTP API: thin routes, one handler call each."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from contracts.categories import Category
from contracts.registration import (
    Contact,
    EntityKind,
    EntityRegistration,
    EntitySnapshot,
    EntityStatus,
    ExpertSnapshot,
    PartnerRegistered,
    Qualification,
)
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import Forbidden, Unauthorized
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.registration.handlers import Registration

OP = (Role.OPERATOR,)


class EntityPatch(RequestBody):
    """Fields of an entity to change (the USCC never changes)."""

    name: str | None = None
    kinds: list[EntityKind] | None = None
    legal_representative: str | None = None
    legal_representative_id: str | None = None
    controlled_by: list[str] | None = None
    region_code: str | None = None
    contacts: list[Contact] | None = None
    qualifications: list[Qualification] | None = None
    status: EntityStatus | None = None
    expected_version: int | None = Field(default=None, description="Optimistic check.")


class Registered(BaseModel):
    id: str
    version: int


class UserCreate(RequestBody):
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{3,64}$")
    password: str = Field(min_length=10, max_length=200)
    roles: list[Role] = Field(min_length=1)


class Login(RequestBody):
    username: str
    password: str


class Token(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class ExpertCreate(RequestBody):
    name: str = Field(min_length=1, max_length=50)
    resident_id: str
    specialties: list[str] = Field(min_length=1)
    employer_uscc: str | None = None
    related_usccs: list[str] = Field(default_factory=list)
    region_code: str
    email: str = ""


class ExpertUser(RequestBody):
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{3,64}$")
    password: str = Field(min_length=10, max_length=200)


class ExpertPatch(RequestBody):
    specialties: list[str] | None = None
    employer_uscc: str | None = None
    related_usccs: list[str] | None = None
    available: bool | None = None
    email: str | None = None


class PartnerCreate(RequestBody):
    partner_id: str
    name: str
    operator_uscc: str
    public_key_pem: str
    categories: list[Category] = Field(min_length=1)


def routes(rt: Runtime, app: Registration) -> Api:
    """The routes of the registration service."""
    api = Api("ggzy registration")

    @api.route("POST", "/v1/entities", summary="Register a market entity once (by USCC)",
               body=EntityRegistration, response=Registered, status=201, roles=("operator",),
               errors=("400", "401", "403", "409", "422"))
    async def register(request: web.Request) -> web.Response:
        rt.principal(request, *OP)
        applied = await app.register_entity(await read_json(request, EntityRegistration))
        uscc = applied.envelopes[0].subject
        return json_response({"id": uscc, "version": applied.version}, 201)

    @api.route("GET", "/v1/entities/{uscc}", summary="An entity's public record",
               response=EntitySnapshot, errors=("404",))
    async def get_entity(request: web.Request) -> web.Response:
        entity = await app.entity(request.match_info["uscc"])
        return json_response(entity.model_dump(mode="json", exclude={"legal_representative_ref"}))

    @api.route("PATCH", "/v1/entities/{uscc}", summary="Change an entity's data",
               body=EntityPatch, response=Registered, roles=("operator", "own entity"),
               errors=("401", "403", "404", "409", "422"))
    async def update_entity(request: web.Request) -> web.Response:
        who = rt.principal(request)
        uscc = request.match_info["uscc"].upper()
        if not who.has(Role.OPERATOR) and who.uscc != uscc:
            raise Forbidden("not_your_entity", "you may change only your own entity")
        patch = (await read_json(request, EntityPatch)).model_dump(exclude_none=True)
        expected = patch.pop("expected_version", None)
        applied = await app.update_entity(uscc, patch, who, expected)
        return json_response({"id": uscc, "version": applied.version})

    @api.route("GET", "/v1/entities/{uscc}/history", summary="An entity's change history",
               roles=("operator", "supervisor", "own entity"), errors=("401", "403", "404"))
    async def history(request: web.Request) -> web.Response:
        who = rt.principal(request)
        uscc = request.match_info["uscc"].upper()
        if not who.has(Role.OPERATOR, Role.SUPERVISOR) and who.uscc != uscc:
            raise Forbidden("not_your_entity", "you may read only your own entity's history")
        return json_response({"history": await app.entity_history(uscc)})

    @api.route("POST", "/v1/entities/{uscc}/users", summary="Add a user to an entity",
               body=UserCreate, status=201, roles=("operator", "own entity"),
               errors=("401", "403", "404", "409", "422"))
    async def add_user(request: web.Request) -> web.Response:
        who = rt.principal(request)
        body = await read_json(request, UserCreate)
        user = await app.add_user(request.match_info["uscc"], body.username, body.password,
                                  body.roles, who)
        return json_response(user, 201)

    @api.route("POST", "/v1/tokens", summary="Log in: a signed access token",
               body=Login, response=Token, errors=("401",))
    async def login(request: web.Request) -> web.Response:
        body = await read_json(request, Login)
        token, ttl = await app.login(body.username, body.password)
        return json_response(Token(access_token=token, expires_in=ttl))

    @api.route("GET", "/.well-known/jwks.json", summary="Public keys that verify tokens")
    async def jwks(_: web.Request) -> web.Response:
        if app.issuer is None:
            raise Unauthorized("auth_unavailable", "the signing key is not loaded yet")
        return json_response(app.issuer.jwks())

    _expert_routes(api, rt, app)
    return api


def _expert_routes(api: Api, rt: Runtime, app: Registration) -> None:
    @api.route("GET", "/v1/specialties", summary="The expert specialty classification")
    async def specialties(_: web.Request) -> web.Response:
        return json_response({"specialties": app.catalog})

    @api.route("POST", "/v1/experts", summary="Add an expert to the pool", body=ExpertCreate,
               response=Registered, status=201, roles=("operator",),
               errors=("401", "403", "409", "422"))
    async def register_expert(request: web.Request) -> web.Response:
        rt.principal(request, *OP)
        body = (await read_json(request, ExpertCreate)).model_dump()
        expert = await app.register_expert(body)
        return json_response({"id": expert.expert_id, "version": 1}, 201)

    @api.route("GET", "/v1/experts/{expert_id}", summary="An expert (confidential)",
               response=ExpertSnapshot, roles=("operator", "supervisor", "the expert"),
               errors=("401", "403", "404"))
    async def get_expert(request: web.Request) -> web.Response:
        who = rt.principal(request)
        expert_id = request.match_info["expert_id"]
        if not who.has(Role.OPERATOR, Role.SUPERVISOR) and who.expert_id != expert_id:
            raise Forbidden("confidential", "expert records are confidential")
        return json_response(await app.expert(expert_id))

    @api.route("POST", "/v1/experts/{expert_id}/user", summary="Give an expert a login",
               body=ExpertUser, status=201, roles=("operator",), errors=("401", "403", "409"))
    async def expert_user(request: web.Request) -> web.Response:
        rt.principal(request, *OP)
        body = await read_json(request, ExpertUser)
        user = await app.add_expert_user(request.match_info["expert_id"], body.username,
                                         body.password)
        return json_response(user, 201)

    @api.route("PATCH", "/v1/experts/{expert_id}", summary="Change an expert's data",
               body=ExpertPatch, response=Registered, roles=("operator", "the expert"),
               errors=("401", "403", "404", "422"))
    async def update_expert(request: web.Request) -> web.Response:
        who = rt.principal(request)
        expert_id = request.match_info["expert_id"]
        if not who.has(Role.OPERATOR) and who.expert_id != expert_id:
            raise Forbidden("not_yourself", "experts may change only their own record")
        patch: dict[str, Any] = (await read_json(request, ExpertPatch)).model_dump(
            exclude_none=True)
        applied = await app.update_expert(expert_id, patch)
        return json_response({"id": expert_id, "version": applied.version})

    @api.route("POST", "/v1/partners", summary="Connect a partner trading system",
               body=PartnerCreate, response=Registered, status=201, roles=("operator",),
               errors=("401", "403", "404", "409", "422"))
    async def register_partner(request: web.Request) -> web.Response:
        rt.principal(request, *OP)
        body = await read_json(request, PartnerCreate)
        event = PartnerRegistered(**body.model_dump())
        applied = await app.register_partner(event)
        return json_response({"id": body.partner_id, "version": applied.version}, 201)
