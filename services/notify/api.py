"""Notify's HTTP API: a recipient's own channels, subscriptions and inbox (with live
push over WebSocket), and the failure records for operators. Every call is
authenticated; a recipient (its entity, expert or user) sees only its own."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import AnyHttpUrl, BaseModel, Field

from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import BadRequest, DomainError, NotFound, Unauthorized
from ggzy.runtime.http import (
    Api,
    RequestBody,
    json_response,
    read_json,
    ws_refuse,
    ws_until_closed,
)
from ggzy.runtime.outbound import forbidden_target
from ggzy.runtime.service import Runtime
from services.notify.channels import InboxHub
from services.notify.domain import recipients as r
from services.notify.domain.recipients import RecipientId
from services.notify.queue import DeliveryQueue
from services.notify.store import ANY, NotifyStore

EMAIL = r"^[^@\s]+@[^@\s]+$"
AUTH_WAIT_S = 10.0


class SettingsIn(RequestBody):
    lang: Literal["zh", "en"] = Field(description="Language of the notifications.")


class WebhookIn(RequestBody):
    url: AnyHttpUrl = Field(description="Endpoint that receives signed POSTs.")
    secret: str = Field(min_length=16, max_length=200, description="HMAC-SHA256 key.")
    enabled: bool = Field(default=True, description="False pauses the channel.")


class EmailIn(RequestBody):
    address: str = Field(pattern=EMAIL, max_length=120, description="Address to write to.")
    enabled: bool = Field(default=True, description="False stops e-mail.")


class SubscriptionIn(RequestBody):
    category: str | None = Field(default=None, description="Category; none = every one.")
    regions: list[str] = Field(default_factory=list, max_length=50,
                               description="GB/T 2260 codes (a province takes its cities).")
    keywords: list[str] = Field(default_factory=list, max_length=20,
                                description="Any of them in a notice's title or text.")


class Me(BaseModel):
    recipient: str
    lang: str
    webhook: dict[str, Any] | None = Field(description="URL and enabled; never the secret.")
    email: dict[str, Any] | None = Field(description="Own address, or registration's.")
    inbox: bool = True


def recipient(principal: Principal) -> RecipientId:
    """The recipient a caller speaks for."""
    return r.of_claims(principal.subject, principal.uscc, principal.expert_id)


def me_view(doc: dict[str, Any]) -> Me:
    hook = doc.get("webhook")
    mail = doc.get("email") or {}
    default = next(iter(doc.get("default_emails") or []), None)
    address = mail.get("address") or default
    return Me(recipient=doc["_id"], lang=doc.get("lang") or "zh",
              webhook={"url": hook["url"], "enabled": hook.get("enabled", True)} if hook else None,
              email={"address": address, "enabled": mail.get("enabled", True),
                     "source": "own" if mail.get("address") else "registration"}
              if address else None)


def _inbox_item(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "read": bool(doc.get("read")), **doc["payload"]}


def routes(rt: Runtime, store: NotifyStore, queue: DeliveryQueue, hub: InboxHub,
           webhook_allow_private: bool = False) -> Api:
    api = Api("ggzy notify")

    async def who(request: web.Request) -> RecipientId:
        principal = rt.principal(request)
        rid = recipient(principal)
        if principal.has(Role.SUPERVISOR):
            await store.note_supervisor(rid)
        return rid

    @api.route("GET", "/v1/me", response=Me, roles=("any",), errors=("401",),
               summary="The caller's recipient id and channels")
    async def get_me(request: web.Request) -> web.Response:
        return json_response(me_view(await store.recipient(await who(request))))

    @api.route("PUT", "/v1/me", body=SettingsIn, response=Me, roles=("any",),
               errors=("401", "422"), summary="Choose the language of notifications")
    async def put_me(request: web.Request) -> web.Response:
        rid, body = await who(request), await read_json(request, SettingsIn)
        return json_response(me_view(await store.configure(rid, {"lang": body.lang})))

    @api.route("PUT", "/v1/me/webhook", body=WebhookIn, response=Me, roles=("any",),
               errors=("401", "422"), summary="Set the webhook (signed, see the README)")
    async def put_webhook(request: web.Request) -> web.Response:
        rid, body = await who(request), await read_json(request, WebhookIn)
        refused = None if webhook_allow_private else forbidden_target(str(body.url))
        if refused is not None:
            raise DomainError("webhook_target_forbidden", f"a webhook must call a public "
                              f"address: {refused}")
        hook = {"url": str(body.url), "secret": body.secret, "enabled": body.enabled}
        return json_response(me_view(await store.configure(rid, {"webhook": hook})))

    @api.route("PUT", "/v1/me/email", body=EmailIn, response=Me, roles=("any",),
               errors=("401", "422"), summary="Set the e-mail address")
    async def put_email(request: web.Request) -> web.Response:
        rid, body = await who(request), await read_json(request, EmailIn)
        mail = {"address": body.address, "enabled": body.enabled}
        return json_response(me_view(await store.configure(rid, {"email": mail})))

    @api.route("DELETE", "/v1/me/{channel}", response=Me, roles=("any",),
               errors=("401", "404"), summary="Remove the webhook or the own e-mail address")
    async def delete_channel(request: web.Request) -> web.Response:
        rid, channel = await who(request), request.match_info["channel"]
        if channel not in ("webhook", "email"):
            raise NotFound("channel_not_found", "only webhook and email can be removed")
        return json_response(me_view(await store.configure(rid, {}, [channel])))

    _subscription_routes(api, store, who)
    _inbox_routes(api, rt, queue, hub, who)

    @api.route("GET", "/v1/failures", roles=("operator",), errors=("401", "403"),
               summary="Notifications given up after their bounded attempts (newest first)")
    async def failures(request: web.Request) -> web.Response:
        rt.principal(request, Role.OPERATOR)
        docs = await queue.failures(_limit(request, 100))
        return json_response({"failures": [{
            "id": d["_id"], "recipient": d["recipient"], "channel": d["channel"],
            "kind": d["kind"], "attempts": d["attempts"], "reason": d.get("last_error"),
            "source_event_id": d["source_event_id"], "finished_ms": d["finished_ms"]}
            for d in docs]})

    return api


def _subscription_routes(api: Api, store: NotifyStore, who: Any) -> None:
    @api.route("GET", "/v1/me/subscriptions", roles=("any",), errors=("401",),
               summary="The caller's precise-match subscriptions (精准订阅)")
    async def mine(request: web.Request) -> web.Response:
        docs = await store.subscriptions_of(await who(request))
        return json_response({"subscriptions": [_sub_view(d) for d in docs]})

    @api.route("POST", "/v1/me/subscriptions", body=SubscriptionIn, status=201, roles=("any",),
               errors=("401", "422"), summary="Subscribe to new notices by category, region, "
                                              "keywords")
    async def add(request: web.Request) -> web.Response:
        rid, body = await who(request), await read_json(request, SubscriptionIn)
        if any(not g.isdigit() or len(g) not in (2, 4, 6) for g in body.regions):
            raise DomainError("invalid_region", "regions are GB/T 2260 codes of 2, 4 or 6 digits")
        doc = await store.subscribe(rid, body.category, body.regions,
                                    [k.strip() for k in body.keywords if k.strip()])
        return json_response(_sub_view(doc), 201)

    @api.route("DELETE", "/v1/me/subscriptions/{subscription_id}", roles=("any",),
               errors=("401", "404"), summary="Cancel one of the caller's subscriptions")
    async def cancel(request: web.Request) -> web.Response:
        await store.unsubscribe(await who(request), request.match_info["subscription_id"])
        return json_response({"cancelled": request.match_info["subscription_id"]})


def _sub_view(doc: dict[str, Any]) -> dict[str, Any]:
    category = None if doc["category"] == ANY else doc["category"]
    return {"id": doc["_id"], "category": category, "regions": doc["regions"],
            "keywords": doc["keywords"]}


def _limit(request: web.Request, default: int) -> int:
    try:
        value = int(request.query.get("limit", default))
    except ValueError:
        raise BadRequest("invalid_parameter", "limit must be an integer",
                         parameter="limit") from None
    return max(1, min(500, value))


def _inbox_routes(api: Api, rt: Runtime, queue: DeliveryQueue, hub: InboxHub,
                  who: Any) -> None:
    @api.route("GET", "/v1/me/inbox", roles=("any",), errors=("401",),
               summary="The caller's inbox, newest first (unread=true: only unread)")
    async def inbox(request: web.Request) -> web.Response:
        rid = await who(request)
        unread = request.query.get("unread", "").lower() in ("1", "true", "yes")
        docs = await queue.inbox(rid, unread, _limit(request, 50))
        return json_response({"items": [_inbox_item(d) for d in docs]})

    @api.route("POST", "/v1/me/inbox/{notification_id}/read", roles=("any",),
               errors=("401", "404"), summary="Mark one of the caller's notifications read")
    async def read(request: web.Request) -> web.Response:
        nid = request.match_info["notification_id"]
        if not await queue.mark_read(await who(request), nid):
            raise NotFound("notification_not_found", f"no notification {nid} in your inbox")
        return json_response({"read": nid})

    @api.route("GET", "/v1/me/inbox/live", roles=("any",), errors=("401",),
               summary="WebSocket: new inbox notifications pushed live (token as ?token= or "
                       "a first message {\"token\": ...})")
    async def live(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        try:
            rid = recipient(await _ws_principal(rt, request, ws))
        except DomainError as exc:
            return await ws_refuse(ws, exc)
        await hub.joined(rid, ws)
        try:
            await ws.send_json({"type": "ready", "recipient": rid})
            await ws_until_closed(ws)
        finally:
            hub.leave(rid, ws)
        return ws


async def _ws_principal(rt: Runtime, request: web.Request,
                        ws: web.WebSocketResponse) -> Principal:
    if rt.verifier is None:
        raise Unauthorized("auth_unavailable", "token keys are not loaded yet")
    token = request.query.get("token")
    if token is None:
        try:
            first = await ws.receive_json(timeout=AUTH_WAIT_S)
        except (TimeoutError, TypeError, ValueError):
            raise Unauthorized("token_missing", "send {\"token\": ...} first") from None
        token = str(first.get("token", "")) if isinstance(first, dict) else ""
    return rt.verifier.verify(token)
