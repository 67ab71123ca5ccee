"""Announcement's HTTP API: the public feed, notices and statistics (no token; public data
only), and objections during a publicity period (bidders file, the tenderee or its
agency answers, 条例54)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from contracts.announcement import NoticeType
from contracts.categories import Category
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import BadRequest
from ggzy.runtime.http import Api, json_response, read_json
from ggzy.runtime.service import Runtime
from services.announcement import ocds
from services.announcement.handlers import Announcement
from services.announcement.store import public, region_filter, text_filter
from services.announcement.syndication import Syndication

BEIJING = timezone(timedelta(hours=8), "CST")  # a date or time without offset is 北京时间
REGION = re.compile(r"^(\d{2}|\d{4}|\d{6})$")
MAX_QUERY = 100


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000, description="Grounds of the objection.")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upheld: bool = Field(description="True upholds the objection, false dismisses it.")
    answer: str = Field(min_length=1, max_length=4000,
                        description="The answer to the objector (条例54: 作出答复).")


class Objection(BaseModel):
    objection_id: str
    by: str | None
    text: str | None
    status: str = Field(description="pending, upheld or dismissed.")
    filed_at: str
    answer_due: str | None = Field(description="To be answered by (条例54: 3 days).")
    decided_by: str | None
    answer: str | None = Field(default=None, description="The tenderee's answer.")
    answered_at: str | None = Field(default=None, description="When it was answered.")
    late: bool | None = Field(default=None, description="Answered after its due time.")


class FeedPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="Notices (public fields only).")
    next_cursor: int | None = Field(description="Pass as cursor= for the next, older page.")
    next_after: int | None = Field(description=(
        "Pass as after= to receive only notices newer than those served so far (absent on "
        "cursor pages: keep the one of the first page)."))
    watermark: int = Field(description="Every notice numbered up to here is visible.")


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,40}$",
                           description="The upper platform's id, e.g. national-ggzy.")
    name: str = Field(min_length=1, max_length=200, description="e.g. 全国公共资源交易平台.")
    url: AnyHttpUrl = Field(description="Where its batches are POSTed (public address).")
    categories: list[Category] = Field(default_factory=list, max_length=len(Category),
                                       description="The categories it takes (empty: all).")
    from_start: bool = Field(default=True, description="Every notice published so far "
                             "first; false: only notices published from now on.")


class Stats(BaseModel):
    counts: list[dict[str, Any]] = Field(description="Per category and type.")
    by_type: dict[str, int]
    by_category: dict[str, int]
    total: int


@dataclass(frozen=True)
class FeedQuery:
    """The feed's parameters, validated: filters, and where to page from."""

    filters: dict[str, Any]
    before: int | None
    after: int | None
    limit: int


def _int(query: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("invalid_parameter", f"{name} must be an integer",
                         parameter=name) from None
    if not low <= value <= high:
        raise BadRequest("invalid_parameter", f"{name} must be within {low}..{high}",
                         parameter=name)
    return value


def _ms(query: Mapping[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        at = datetime.fromisoformat(query[name])
    except ValueError:
        raise BadRequest("invalid_parameter", f"{name} must be an ISO 8601 date or time",
                         parameter=name) from None
    return int((at if at.tzinfo else at.replace(tzinfo=BEIJING)).timestamp() * 1000)


def _choice(query: Mapping[str, str], name: str, kind: type[Category] | type[NoticeType]
            ) -> str | None:
    if name not in query:
        return None
    try:
        return kind(query[name]).value
    except ValueError:
        raise BadRequest("invalid_parameter", f"{name} must be one of "
                         f"{', '.join(k.value for k in kind)}", parameter=name) from None


def filters(query: Mapping[str, str]) -> dict[str, Any]:
    """Filters of the feed and the statistics, each validated (400 invalid_parameter)."""
    out: dict[str, Any] = {}
    for param, field_name, kind in (("category", "category", Category),
                                    ("type", "notice_type", NoticeType)):
        if (value := _choice(query, param, kind)) is not None:
            out[field_name] = value
    if "tender" in query:
        out["tender_id"] = query["tender"]
    published = {op: ms for op, ms in (("$gte", _ms(query, "since")),
                                       ("$lt", _ms(query, "until"))) if ms is not None}
    if published:
        out["published_ms"] = published
    return {**out, **_region(query), **_text(query)}


def _region(query: Mapping[str, str]) -> dict[str, Any]:
    if "region" not in query:
        return {}
    if not REGION.match(query["region"]):
        raise BadRequest("invalid_parameter", "region must be a GB/T 2260 code (2, 4 or 6 "
                         "digits)", parameter="region")
    return region_filter(query["region"])


def _text(query: Mapping[str, str]) -> dict[str, Any]:
    if "q" not in query:
        return {}
    q = query["q"].strip()
    if not 1 <= len(q) <= MAX_QUERY:
        raise BadRequest("invalid_parameter", f"q must have 1..{MAX_QUERY} characters",
                         parameter="q")
    return text_filter(q)


def feed_query(query: Mapping[str, str]) -> FeedQuery:
    """The feed's parameters: ``cursor`` pages to older notices, ``after`` to newer ones."""
    before, after = _int(query, "cursor", 1, 2**62), _int(query, "after", 0, 2**62)
    if before is not None and after is not None:
        raise BadRequest("invalid_parameter", "give cursor or after, not both",
                         parameter="cursor")
    limit = _int(query, "limit", 1, 200)
    return FeedQuery(filters(query), before, after, 20 if limit is None else limit)


def _next(fq: FeedQuery, seqs: list[int], mark: int) -> dict[str, int | None]:
    """Where the client goes on: older pages by cursor, newer notices by after.

    Everything numbered up to the watermark is visible and final, so a page that is not
    full covers the filters up to it, and no later notice can take a number below it."""
    full = len(seqs) == fq.limit
    if fq.after is not None:
        return {"next_cursor": None, "next_after": seqs[-1] if full else max(fq.after, mark)}
    return {"next_cursor": seqs[-1] if full else None,
            "next_after": mark if fq.before is None else None}


def _stats(rows: list[dict[str, Any]]) -> Stats:
    counts: list[dict[str, Any]] = []
    by_type: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    for row in rows:
        category, notice_type = str(row["_id"]).split(":")
        counts.append({"category": category, "type": notice_type, "count": int(row["count"])})
        by_type[notice_type] += int(row["count"])
        by_category[category] += int(row["count"])
    return Stats(counts=counts, by_type=dict(by_type), by_category=dict(by_category),
                 total=sum(by_type.values()))


def routes(rt: Runtime, app: Announcement, syndication: Syndication) -> Api:
    api = Api("ggzy announcement")

    @api.route("GET", "/v1/notices", response=FeedPage, errors=("400",), summary=(
        "The public feed, newest first: filters category, region, type, tender, since, until "
        "(ISO 8601, 北京时间 without offset), q (text, Chinese); cursor= pages to older "
        "notices, after= returns newer ones oldest first; never skips or repeats a notice"))
    async def feed(request: web.Request) -> web.Response:
        fq = feed_query(request.query)
        docs, mark = await app.store.feed(fq.filters, before=fq.before, after=fq.after,
                                          limit=fq.limit)
        return json_response(FeedPage(items=[public(d) for d in docs], watermark=mark,
                                      **_next(fq, [int(d["seq"]) for d in docs], mark)))

    @api.route("GET", "/v1/notices/{notice_id}", summary="One notice", errors=("404",))
    async def one(request: web.Request) -> web.Response:
        return json_response(public(await app.notice(request.match_info["notice_id"])))

    @api.route("GET", "/v1/stats", response=Stats, errors=("400",),
               summary="Notices counted by category and type (filters category, region)")
    async def stats(request: web.Request) -> web.Response:
        query = {k: v for k, v in request.query.items() if k in ("category", "region")}
        return json_response(_stats(await app.store.stats(filters(query))))

    @api.route("GET", "/v1/ocds/releases", errors=("400",), summary=(
        "Notices as an OCDS 1.1 release package, in publication order: the feed's filters "
        "(tender=, category=, ...); after= continues where links.next points"))
    async def ocds_releases(request: web.Request) -> web.Response:
        query = dict(request.query)
        if "cursor" not in query:
            query.setdefault("after", "0")
        fq = feed_query(query)
        docs, mark = await app.store.feed(fq.filters, before=fq.before, after=fq.after,
                                          limit=fq.limit)
        more = _next(fq, [int(d["seq"]) for d in docs], mark)
        nxt = None
        if len(docs) == fq.limit and fq.after is not None:
            nxt = str(request.url.update_query(after=str(more["next_after"])))
        return json_response(ocds.package(
            [public(d) for d in docs], ocid_prefix=rt.settings.ocds_prefix,
            publisher=rt.settings.publisher_name, published=datetime.now(UTC).isoformat(),
            uri=str(request.url), next_uri=nxt))

    _objection_routes(api, rt, app)
    _syndication_routes(api, rt, syndication)
    return api


def _syndication_routes(api: Api, rt: Runtime, syndication: Syndication) -> None:
    @api.route("POST", "/v1/syndication/targets", body=TargetIn, status=201,
               roles=("operator",), errors=("401", "403", "409", "422"),
               summary="Register an upper platform the feed is pushed to (上连国家; signed "
                       "batches, oldest first, nothing skipped): its secret is in this answer "
                       "only")
    async def add_target(request: web.Request) -> web.Response:
        rt.principal(request, Role.OPERATOR)
        body = await read_json(request, TargetIn)
        out = await syndication.add(body.target_id, body.name, str(body.url), body.categories,
                                    body.from_start)
        return json_response(out, 201)

    @api.route("GET", "/v1/syndication/targets", roles=("operator", "supervisor"),
               errors=("401", "403"), summary="The upper platforms: each one's cursor, lag "
               "behind the feed's watermark, failures and last error")
    async def targets(request: web.Request) -> web.Response:
        rt.principal(request, Role.OPERATOR, Role.SUPERVISOR)
        return json_response({"targets": await syndication.all(),
                              "watermark": await syndication.store.watermark()})

    @api.route("GET", "/v1/syndication/targets/{target_id}", roles=("operator", "supervisor"),
               errors=("401", "403", "404"), summary="One upper platform")
    async def target(request: web.Request) -> web.Response:
        rt.principal(request, Role.OPERATOR, Role.SUPERVISOR)
        return json_response(await syndication.one(request.match_info["target_id"]))


def _objection_routes(api: Api, rt: Runtime, app: Announcement) -> None:
    @api.route("POST", "/v1/notices/{notice_id}/objections", body=ObjectionIn,
               response=Objection, status=201, roles=("bidder",),
               errors=("401", "403", "404", "422"),
               summary="Object to a publicised result during its period (异议, 条例54)")
    async def objection(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, ObjectionIn)
        view = await app.object(request.match_info["notice_id"], who, body.text)
        return json_response(view, 201)

    @api.route("GET", "/v1/notices/{notice_id}/objections",
               roles=("tenderee", "agency", "supervisor", "bidder"),
               errors=("401", "403", "404"), summary="The objections to a notice: all for "
               "the tenderee, its agency and supervisors; a bidder's own otherwise")
    async def objections(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.TENDEREE, Role.AGENCY, Role.SUPERVISOR, Role.BIDDER)
        found = await app.objections(request.match_info["notice_id"], who)
        return json_response({"objections": found})

    @api.route("POST", "/v1/notices/{notice_id}/objections/{objection_id}/decision",
               body=DecisionIn, roles=("tenderee", "agency"),
               errors=("401", "403", "404", "409", "422"),
               summary="The tenderee's (or agency's) answer to an objection (条例54): an "
                       "upheld one sends the section back to evaluation when the publicity "
                       "ends")
    async def decision(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.TENDEREE, Role.AGENCY)
        body = await read_json(request, DecisionIn)
        await app.decide_objection(request.match_info["notice_id"],
                                   request.match_info["objection_id"], body.upheld, who,
                                   body.answer)
        return json_response({"decided": "upheld" if body.upheld else "dismissed"})
