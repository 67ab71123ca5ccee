"""Notices the law requires, built from bidding's events. Pure; no I/O.

Only public data goes into a notice: no bidder before opening, no price before
opening, no expert names before the award, no fingerprints, keys or seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from contracts.announcement import NoticeType
from contracts.bidding import (
    Awarded,
    BidsOpened,
    ContractSigned,
    EvaluationCompleted,
    TenderFailed,
    TenderModified,
    TenderPublished,
)
from contracts.categories import Category
from contracts.codes import fen_to_yuan_str
from ggzy.runtime.errors import DomainError

RULES_FILE = Path(__file__).with_name("rules.yaml")
UNITS = {"days": timedelta(days=1), "seconds": timedelta(seconds=1),
         "minutes": timedelta(minutes=1), "working_days": timedelta(days=1)}


@dataclass(frozen=True)
class Publicity:
    """A publicity period rule."""

    value: float
    unit: str
    source: str

    def end(self, start: datetime) -> datetime:
        if self.unit != "working_days":
            return start + UNITS[self.unit] * self.value
        at, added = start, 0
        while added < self.value:
            at += timedelta(days=1)
            added += at.weekday() < 5
        return at


def load_publicity(path: Path = RULES_FILE) -> dict[Category, Publicity]:
    """Publicity rules per category (the ``publicity`` entry of each category of a rule
    file: this service's own, or the platform's whole rule set given by GGZY_RULES_FILE)."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    known = {c.value for c in Category}
    return {Category(k): Publicity(**v["publicity"]) for k, v in raw.items()
            if k in known and "publicity" in v}


@dataclass(frozen=True)
class Draft:
    """A notice before it is stored and numbered."""

    notice_type: NoticeType
    section_code: str | None
    title: str
    content: dict[str, Any]
    publicity: bool = False


def _yuan(fen: int | None) -> str | None:
    return None if fen is None else fen_to_yuan_str(fen)


def draft(event: Any, project_name: str) -> Draft | None:
    """The notice an event requires, or None when the event is not public."""
    if isinstance(event, TenderPublished):
        content = event.model_dump(mode="json", include={
            "project_code", "project_name", "tenderee_name", "agency_uscc", "method",
            "evaluation", "sections", "issued_at", "sale_start", "sale_end", "bid_deadline",
            "qualifications", "region_code"})
        return Draft(NoticeType.TENDER, None, f"{event.project_name}招标公告", content)
    if isinstance(event, TenderModified):
        content = event.model_dump(mode="json", include={
            "summary", "modified_at", "previous_deadline", "bid_deadline", "postponed_by_rule"})
        return Draft(NoticeType.MODIFICATION, None, f"{project_name}澄清修改公告", content)
    return _after_opening(event, project_name)


def _after_opening(event: Any, name: str) -> Draft | None:
    if isinstance(event, BidsOpened):
        lines = [{"bidder_name": ln.bidder_name, "price_yuan": _yuan(ln.price_fen),
                  "status": ln.status} for ln in event.lines]
        return Draft(NoticeType.OPENING, event.section_code, f"{name}开标记录",
                     {"opened_at": event.opened_at.isoformat(), "bids": lines})
    if isinstance(event, EvaluationCompleted):
        cands = [{"rank": c.rank, "bidder_name": c.bidder_name, "price_yuan": _yuan(c.price_fen),
                  "score": c.score} for c in event.candidates]
        return Draft(NoticeType.CANDIDATES, event.section_code, f"{name}中标候选人公示",
                     {"candidates": cands, "how_to_object":
                      "投标人或者其他利害关系人可在公示期内通过本平台提出异议 (条例54)"},
                     publicity=True)
    if isinstance(event, Awarded):
        return Draft(NoticeType.RESULT, event.section_code, f"{name}中标结果公告", {
            "winner": event.winner.bidder_name, "price_yuan": _yuan(event.winner.price_fen),
            "awarded_at": event.awarded_at.isoformat(), "committee": event.committee})
    if isinstance(event, ContractSigned):
        return Draft(NoticeType.CONTRACT, event.section_code, f"{name}合同公告", {
            "price_yuan": _yuan(event.price_fen), "signed_at": event.signed_at.isoformat()})
    if isinstance(event, TenderFailed):
        return Draft(NoticeType.FAILURE, event.section_code, f"{name}流标公告", {
            "reason": event.reason, "article": event.article, "valid_bids": event.valid_bids})
    return None


def check_objection_window(notice: dict[str, Any], now_ms: int) -> None:
    """Objections are taken only during the publicity period (条例54)."""
    if not notice.get("publicity_end_ms"):
        raise DomainError("no_publicity", "this notice has no publicity period")
    if now_ms >= int(notice["publicity_end_ms"]):
        raise DomainError("publicity_ended", "the publicity period has ended (条例54)")
