"""What credit's routes share: a checked subject id (a credit code or an expert id), the
account a path names, a bounded query integer, and an aggregate as the API shows it."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from contracts.codes import CodeError, validate_uscc
from contracts.credit import SubjectKind
from ggzy.runtime.aggregates import state_of
from ggzy.runtime.errors import BadRequest, DomainError

EXPERT_ID = r"^EXP-[0-9A-F]{12}$"


def subject(kind: SubjectKind, value: str) -> str:
    """A checked subject id: a valid credit code (GB 32100-2015) or an expert id."""
    if kind is SubjectKind.EXPERT:
        if not re.fullmatch(EXPERT_ID, value):
            raise DomainError("invalid_expert_id", f"{value!r} is not an expert id")
        return value
    try:
        return validate_uscc(value.upper())
    except CodeError as exc:
        raise DomainError(exc.code, str(exc)) from exc


def query_int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise BadRequest("invalid_query", f"{name} must be an integer from 1 to 1000")
    return int(raw)


def account_of(request: web.Request) -> tuple[SubjectKind, str]:
    """The account a path names: its kind and its checked subject id."""
    try:
        kind = SubjectKind(request.match_info["kind"])
    except ValueError as exc:
        raise BadRequest("invalid_kind", "kind is entity or expert") from exc
    return kind, subject(kind, request.match_info["subject_id"])


def without_bookkeeping(doc: dict[str, Any]) -> dict[str, Any]:
    """The aggregate's own fields and its id (the runtime's outbox bookkeeping left out)."""
    return {"_id": doc["_id"], "version": doc.get("version"), **state_of(doc)}
