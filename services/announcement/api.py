"""Announcement's HTTP API: the public feed, notices, statistics, objections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contracts.announcement import NoticeType
from contracts.categories import Category
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import BadRequest
from ggzy.runtime.http import Api, json_response, read_json
from ggzy.runtime.service import Runtime
from services.announcement.handlers import Announcement
from services.announcement.store import text_filter

HIDDEN = ("outbox", "outbox_pending", "processed", "relay_lease", "relay_owner", "objections",
          "text", "version", "stat_key")


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upheld: bool


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A notice as anyone may read it."""
    out = {k: v for k, v in doc.items() if k not in HIDDEN}
    out["id"] = out.pop("_id")
    return out


def _int(query: Any, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest("invalid_parameter", f"{name} must be an integer") from exc
    if not low <= value <= high:
        raise BadRequest("invalid_parameter", f"{name} must be within {low}..{high}")
    return value


def filters(query: Any) -> dict[str, Any]:
    """Feed filters from query parameters, each validated."""
    out: dict[str, Any] = {}
    try:
        if "category" in query:
            out["category"] = Category(query["category"]).value
        if "type" in query:
            out["notice_type"] = NoticeType(query["type"]).value
        dates = {op: int(datetime.fromisoformat(query[k]).timestamp() * 1000)
                 for k, op in (("since", "$gte"), ("until", "$lt")) if k in query}
    except ValueError as exc:
        raise BadRequest("invalid_parameter", f"bad filter: {exc}") from exc
    if "region" in query:
        out["region_code"] = query["region"]
    if "tender" in query:
        out["tender_id"] = query["tender"]
    if dates:
        out["published_ms"] = dates
    if query.get("q"):
        out.update(text_filter(query["q"]))
    return out


def routes(rt: Runtime, app: Announcement) -> Api:
    api = Api("ggzy announcement")

    @api.route("GET", "/v1/notices", summary="The public feed: newest first, by cursor")
    async def feed(request: web.Request) -> web.Response:
        q = request.query
        limit = _int(q, "limit", 20, 1, 200) or 20
        before = _int(q, "cursor", None, 1, 2**62)
        after = _int(q, "after", None, 0, 2**62)
        docs, mark = await app.store.feed(filters(q), before=before, after=after, limit=limit)
        nxt = docs[-1]["seq"] if len(docs) == limit and after is None else None
        return json_response({"items": [public(d) for d in docs], "next_cursor": nxt,
                              "watermark": mark})

    @api.route("GET", "/v1/notices/{notice_id}", summary="One notice", errors=("404",))
    async def one(request: web.Request) -> web.Response:
        return json_response(public(await app.notice(request.match_info["notice_id"])))

    @api.route("GET", "/v1/stats", summary="Notices by category and type")
    async def stats(request: web.Request) -> web.Response:
        rows = await app.store.stats(filters(request.query))
        counts = [dict(zip(("category", "type"), str(r["_id"]).split(":"), strict=True),
                       count=r["count"]) for r in rows]
        return json_response({"counts": counts})

    @api.route("POST", "/v1/notices/{notice_id}/objections", summary="Object (异议, 条例54)",
               body=ObjectionIn, status=201, roles=("bidder",), errors=("401", "403", "422"))
    async def objection(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, ObjectionIn)
        oid = await app.object(request.match_info["notice_id"], who, body.text)
        return json_response({"objection_id": oid}, 201)

    @api.route("POST", "/v1/notices/{notice_id}/objections/{objection_id}/decision",
               summary="Uphold or dismiss an objection", body=DecisionIn,
               roles=("supervisor",), errors=("401", "403", "404"))
    async def decision(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.SUPERVISOR)
        body = await read_json(request, DecisionIn)
        await app.decide_objection(request.match_info["notice_id"],
                                   request.match_info["objection_id"], body.upheld, who)
        return json_response({"decided": True})

    return api
