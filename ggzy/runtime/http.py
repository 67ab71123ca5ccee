"""HTTP plumbing of every service: JSON errors, correlation ids, metrics, OpenAPI.

Routes are declared through ``Api.route`` with their request and response
models, so the OpenAPI document is generated from the same pydantic models that
validate requests. Every error is JSON ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, ValidationError

from ggzy.runtime.errors import BadRequest, DomainError
from ggzy.runtime.logs import correlation_id
from ggzy.runtime.metrics import Metrics

log = logging.getLogger("ggzy.http")
T = TypeVar("T", bound=BaseModel)


class RequestBody(BaseModel):
    """The base of every request body: a field the API does not know is refused (422),
    never silently dropped."""

    model_config = ConfigDict(extra="forbid")
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response (UTF-8); pydantic models are dumped in JSON mode."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    body = json.dumps(data, ensure_ascii=False, default=str).encode()
    return web.Response(body=body, status=status, content_type="application/json",
                        charset="utf-8")


async def ws_refuse(ws: web.WebSocketResponse, exc: DomainError) -> web.WebSocketResponse:
    """Tell a WebSocket client why it is refused (``{"type": "error", "code": ...}``) and
    close it."""
    await ws.send_json({"type": "error", **exc.body()["error"]})
    await ws.close()
    return ws


async def ws_until_closed(ws: web.WebSocketResponse) -> None:
    """Wait until a WebSocket client goes (what it sends is not read: pushes only)."""
    async for message in ws:
        if message.type == WSMsgType.ERROR:
            break


async def read_json(request: web.Request, model: type[T]) -> T:
    """The request body validated as ``model``; a specific 4xx otherwise.

    A UTF-8 body (JSON's own encoding, and aiohttp's default) is parsed and validated
    by pydantic-core in one pass over the raw bytes; a body sent in another charset is
    decoded by it first."""
    raw = await request.read()
    body: bytes | str = raw
    charset = request.charset
    if charset is not None and charset.lower() not in _UTF8:
        try:
            body = raw.decode(charset)
        except (ValueError, LookupError) as exc:
            raise BadRequest("invalid_json", f"request body is not JSON: {exc}") from exc
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        found = exc.errors(include_url=False)
        if found[0]["type"] == "json_invalid":
            raise BadRequest("invalid_json",
                             f"request body is not JSON: {found[0]['msg']}") from exc
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                  for e in found]
        first = errors[0]
        raise DomainError("invalid_request", f"{first['field']}: {first['message']}",
                          errors=errors) from exc


_UTF8 = frozenset({"utf-8", "utf8"})


def error_middleware(metrics: Metrics) -> Any:
    """Correlation id in and out, metrics, and JSON errors for everything."""

    @web.middleware
    async def middleware(request: web.Request, handler: RouteHandler) -> web.StreamResponse:
        cid = request.headers.get("X-Correlation-Id") or uuid.uuid4().hex
        token = correlation_id.set(cid)
        route = request.match_info.route.resource.canonical if request.match_info.route.resource \
            else "unmatched"
        started = time.perf_counter()
        try:
            response = await _guarded(request, handler)
        finally:
            correlation_id.reset(token)
        response.headers["X-Correlation-Id"] = cid
        counted = (route, request.method, response.status)
        counter = counters.get(counted)
        if counter is None:  # the labelled children, looked up once per route and status
            counter = counters[counted] = metrics.http_requests.labels(
                route, request.method, str(response.status))
        timer = timers.get(route)
        if timer is None:
            timer = timers[route] = metrics.http_seconds.labels(route)
        counter.inc()
        timer.observe(time.perf_counter() - started)
        return response

    counters: dict[tuple[str, str, int], Any] = {}
    timers: dict[str, Any] = {}
    return middleware


async def _guarded(request: web.Request, handler: RouteHandler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as exc:
        return json_response(exc.body(), exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "http_error")
        return json_response({"error": {"code": code, "message": exc.reason}}, exc.status)
    except Exception:
        log.exception("unhandled error")
        return json_response({"error": {"code": "internal", "message": "internal error"}}, 500)


@dataclass
class Api:
    """Routes of one service, with what the OpenAPI document needs to know about them."""

    title: str
    routes: web.RouteTableDef = field(default_factory=web.RouteTableDef)
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    schemas: dict[str, Any] = field(default_factory=dict)

    def route(self, method: str, path: str, *, summary: str, body: type[BaseModel] | None = None,
              response: type[BaseModel] | None = None, status: int = 200,
              roles: tuple[str, ...] = (), errors: tuple[str, ...] = ()
              ) -> Callable[[RouteHandler], RouteHandler]:
        """Declare a route: registers it and describes it for OpenAPI."""

        def decorate(handler: RouteHandler) -> RouteHandler:
            self.routes.route(method, path)(handler)
            self.paths.setdefault(path, {})[method.lower()] = self._operation(
                summary, body, response, status, roles, errors, path)
            return handler

        return decorate

    def _operation(self, summary: str, body: type[BaseModel] | None,
                   response: type[BaseModel] | None, status: int, roles: tuple[str, ...],
                   errors: tuple[str, ...], path: str) -> dict[str, Any]:
        op: dict[str, Any] = {"summary": summary, "responses": {
            str(status): {"description": "OK", **self._content(response)}}}
        for code in errors:
            op["responses"].setdefault(code, {"$ref": "#/components/responses/Error"})
        params = [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]
        if params:
            op["parameters"] = [{"name": p, "in": "path", "required": True,
                                 "schema": {"type": "string"}} for p in params]
        if body is not None:
            op["requestBody"] = {"required": True, **self._content(body)}
        if roles:
            op["security"] = [{"bearer": []}]
            op["description"] = "Roles: " + ", ".join(roles)
        return op

    def _content(self, model: type[BaseModel] | None) -> dict[str, Any]:
        if model is None:
            return {}
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        self.schemas.update(schema.pop("$defs", {}))
        self.schemas[model.__name__] = schema
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        return {"content": {"application/json": {"schema": ref}}}

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document."""
        error = {"type": "object", "properties": {"error": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "details": {"type": "object"}}, "required": ["code", "message"]}}}
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": "1"},
            "paths": self.paths,
            "components": {
                "schemas": {**self.schemas, "Error": error},
                "responses": {"Error": {"description": "Error", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"}},
            },
        }
