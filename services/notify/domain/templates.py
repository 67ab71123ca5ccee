"""Notification texts in Chinese and English, rendered from what the recipient may see.

Each kind has a *context*: the few fields of the event its recipients may read,
picked explicitly (a whitelist, never the whole event). Templates may name only
the fields of their kind's context, which is checked when they are loaded, so no
template can show an expert id to a bidder or a bidder to anyone before opening.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from contracts.codes import fen_to_yuan_str

TEMPLATES_FILE = Path(__file__).with_name("templates.yaml")
LANGUAGES = ("zh", "en")
BEIJING = timezone(timedelta(hours=8), "CST")
Context = dict[str, str]


def _t(at: datetime | date | None) -> str:
    if at is None:
        return "-"
    if isinstance(at, datetime):
        return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    return at.isoformat()


def _yuan(fen: int | None) -> str:
    return fen_to_yuan_str(fen) if isinstance(fen, int) else "-"


def _section(e: Any) -> Context:
    return {"tender_id": e.tender_id, "section_code": e.section_code}


def _objection_filed(e: Any) -> Context:
    """An objection to an opening or a result, for the owners who answer it: who objected
    and why (the objector is named to them only)."""
    return {"tender_id": e.tender_id, "section_code": e.section_code or "-",
            "objection_id": e.objection_id, "objector_uscc": e.objector_uscc, "text": e.text,
            "answer_due": _t(e.answer_due), "article": e.article}


def _expert_drawn(e: Any) -> Context:
    """A drawn expert's own draw and schedule (评标时间、地点): only the drawn experts are
    routed this kind, so the schedule never reaches anyone with an expert's identity;
    never the other experts (the draw is secret, 法37). An event from before the schedule
    says it is to be announced."""
    venue = e.evaluation_venue
    when = e.evaluation_at
    return {**_section(e),
            "when_zh": f"{_t(when)}（北京时间）" if when else "另行通知",
            "when_en": f"{_t(when)} (Beijing time)" if when else "to be announced",
            "where_zh": (f"{venue}（远程异地评标）" if e.evaluation_remote else venue)
            if venue else "另行通知",
            "where_en": (f"{venue} (remote evaluation)" if e.evaluation_remote else venue)
            if venue else "to be announced"}


REASONS = {"recusal": ("回避", "recusal"), "absent": ("缺席", "absence"),
           "health": ("健康原因", "health"), "other": ("其他原因", "another cause")}
def _released(e: Any) -> Context:
    """A replaced member's release (条例48): why, and whether its sheets are void."""
    zh, en = REASONS.get(str(getattr(e.reason, "value", e.reason)), REASONS["other"])
    void = bool(e.voided_sheets)
    return {**_section(e), "reason_zh": zh, "reason_en": en,
            "voided_zh": "您已提交的评审结论无效（条例48）。" if void else "",
            "voided_en": " Your submitted scores are void (art. 48)." if void else ""}


PERIOD_NAMES = {"decryption": ("解密", "decryption"), "contract": ("签订合同", "contract")}


def _periods(clocks: Any) -> Context:
    """The sections' periods a suspension moved (TenderResumed.clocks), in each language."""
    zh = [f"标段 {c.section_code} {PERIOD_NAMES[c.period][0]}截止 {_t(c.end)}" for c in clocks]
    en = [f"section {c.section_code} {PERIOD_NAMES[c.period][1]} ends {_t(c.end)}"
          for c in clocks]
    return {"periods_zh": "；".join(zh) or "无", "periods_en": "; ".join(en) or "none"}


def _restriction(e: Any) -> Context:
    return {"decision_no": e.decision_no, "reason": e.reason, "start": _t(e.start),
            "end": _t(e.end)}


def _publicity_objection_answered(e: Any) -> Context:
    """The answer to an objection to a publicised result (a section's or a sale's)."""
    return {"tender_id": e.tender_id, "objection_id": e.objection_id, "answer": e.answer,
            "outcome_zh": "成立" if e.upheld else "不成立",
            "outcome_en": "upheld" if e.upheld else "dismissed"}


def _overdue(e: Any) -> Context:
    """An objection left unanswered past its due time, for its objector: when the answer
    was due, under which rule, and the rule it may complain under now (条例60; 政府采购法55)."""
    if not hasattr(e, "suspended"):  # to a publicised result: the award waits (条例54)
        zh, en = "答复前不确定中标人", "no award is made until the answer"
    elif e.suspended:
        zh, en = "答复前招标投标活动仍暂停", "the tendering stays suspended until the answer"
    else:
        zh, en = "该异议不暂停招标投标活动", "the objection does not suspend the tendering"
    return {"tender_id": e.tender_id, "section_code": e.section_code or "-",
            "objection_id": e.objection_id, "answer_due": _t(e.answer_due),
            "article": e.article, "complaint_article": e.complaint_article or "条例60",
            "meanwhile_zh": zh, "meanwhile_en": en}


def _overdue_supervisor(e: Any) -> Context:
    """... and for the supervisors: who objected and who should have answered."""
    return {**_overdue(e), "objector_uscc": e.objector_uscc,
            "answerer_uscc": e.answerer_uscc or "-"}


CONTEXTS: Mapping[str, Callable[[Any], Context]] = {
    "tender_published": lambda e: {"tender_id": e.tender_id, "project_name": e.project_name,
                                   "bid_deadline": _t(e.bid_deadline)},
    "tender_invited": lambda e: {"tender_id": e.tender_id, "project_name": e.project_name,
                                 "tenderee_name": e.tenderee_name,
                                 "bid_deadline": _t(e.bid_deadline)},  # never the other invitees
    "documents_obtained": lambda e: {"tender_id": e.tender_id,
                                     "obtained_at": _t(e.obtained_at)},
    "tender_modified": lambda e: {"tender_id": e.tender_id, "summary": e.summary,
                                  "bid_deadline": _t(e.bid_deadline)},
    "bid_received": lambda e: {**_section(e), "bid_id": e.bid_id, "digest": e.digest,
                               "received_at": _t(e.received_at)},
    "bid_withdrawn": lambda e: {**_section(e), "bid_id": e.bid_id},
    "bids_opened": lambda e: {**_section(e), "opened_at": _t(e.opened_at),
                              "bids": str(len(e.lines))},
    "tender_failed": lambda e: {**_section(e), "reason": e.reason, "article": e.article},
    "expert_drawn": _expert_drawn,  # its time and place; never the other experts
    "expert_replacement_drawn": _expert_drawn,  # the same, in a replaced member's seat
    "expert_released": _released,  # to the member replaced: why, and its sheets void
    "evaluation_completed": lambda e: {**_section(e), "candidates": str(len(e.candidates))},
    "awarded": lambda e: {**_section(e), "winner_name": e.winner.bidder_name,
                          "contract_due": _t(e.contract_due)},  # never the committee
    "contract_signed": lambda e: {**_section(e), "signed_at": _t(e.signed_at)},
    "contract_overdue": lambda e: {**_section(e), "due": _t(e.due)},
    "contract_accepted": lambda e: {**_section(e), "round": str(e.round),
                                    "accepted_at": _t(e.accepted_at)},
    "contract_acceptance_failed": lambda e: {
        **_section(e), "round": str(e.round), "accepted_at": _t(e.accepted_at),
        "unmet": "、".join(i.standard for i in e.items if not i.met)},
    "award_declined": lambda e: {**_section(e), "declined_at": _t(e.declined_at),
                                 "next_winner": e.next_winner.bidder_name if e.next_winner
                                 else "-"},
    # an objection to the documents: the owners see who objected, the objector the answer
    "objection_filed": lambda e: {"tender_id": e.tender_id, "objection_id": e.objection_id,
                                  "objector_uscc": e.objector_uscc, "text": e.text,
                                  "answer_due": _t(e.answer_due), "article": e.article},
    "objection_answered": lambda e: {"tender_id": e.tender_id,
                                     "objection_id": e.objection_id, "answer": e.answer},
    # an objection to an opening (条例44): likewise, answered on the spot
    "opening_objection_filed": _objection_filed,
    "opening_objection_answered": lambda e: {
        "tender_id": e.tender_id, "section_code": e.section_code or "-",
        "objection_id": e.objection_id, "answer": e.answer},
    # an objection to a publicised result (条例54): likewise, the owners answer it
    "result_objection_filed": _objection_filed,
    "result_objection_answered": _publicity_objection_answered,
    # an objection to a sale's publicised result (成交公示): the seller answers it
    "sale_objection_filed": lambda e: {"tender_id": e.tender_id, "objection_id": e.objection_id,
                                       "objector_uscc": e.objector_uscc, "text": e.text,
                                       "article": e.article},
    "sale_objection_answered": _publicity_objection_answered,
    # an objection unanswered at its due time (条例22, 44, 54): the objector may complain
    "objection_overdue": _overdue,
    "objection_overdue_supervisor": _overdue_supervisor,
    "tender_suspended": lambda e: {"tender_id": e.tender_id,  # never who objected
                                   "suspended_at": _t(e.suspended_at), "article": e.article},
    "tender_resumed": lambda e: {"tender_id": e.tender_id, "resumed_at": _t(e.resumed_at),
                                 "bid_deadline": _t(e.bid_deadline), **_periods(e.clocks)},
    "notice_published": lambda e: {"notice_id": e.notice_id, "title": e.title,
                                   "notice_type": e.notice_type.value,
                                   "category": e.category.value, "region_code": e.region_code},
    "credit_changed": lambda e: {"level": e.level, "previous_level": e.previous_level or "-",
                                 "score": str(e.score), "reason": e.reason},
    "credit_repair_decided": lambda e: {"record_id": e.record_id, "record_kind": e.record_kind,
                                        "decision": "approved" if e.approved else "refused",
                                        "decision_zh": "准予修复" if e.approved else "不予修复",
                                        "reason": e.reason},
    "entity_banned": _restriction,
    "entity_reinstated": lambda e: {"restriction_id": e.restriction_id},
    "expert_blacklisted": _restriction,
    "expert_reinstated": lambda e: {"restriction_id": e.restriction_id},
    "auction_published": lambda e: {"auction_id": e.auction_id, "name": e.name,
                                    "start_at": _t(e.start_at)},
    # the seller and the winner: the outcome and the deal price, never the base price
    "auction_sold": lambda e: {"auction_id": e.auction_id, "price": _yuan(e.price_fen),
                               "winner_name": e.winner_name or "-",
                               "closed_at": _t(e.closed_at)},
    "auction_won": lambda e: {"auction_id": e.auction_id, "price": _yuan(e.price_fen),
                              "paddle": str(e.winning_paddle), "closed_at": _t(e.closed_at),
                              "confirmation_due": _t(e.confirmation_due)
                              if e.confirmation_due else "-"},
    "sale_agreed": lambda e: {"auction_id": e.auction_id, "price": _yuan(e.price_fen),
                              "closed_at": _t(e.closed_at),
                              "contract_due": _t(e.contract_due) if e.contract_due else "-"},
    "sale_confirmed": lambda e: {"auction_id": e.auction_id, "price": _yuan(e.price_fen),
                                 "confirmed_at": _t(e.confirmed_at),
                                 "contract_due": _t(e.contract_due) if e.contract_due else "-"},
    "sale_concluded": lambda e: {"auction_id": e.auction_id, "price": _yuan(e.price_fen),
                                 "confirmed_at": _t(e.confirmed_at),
                                 "publicity_end": _t(e.publicity_end)},
    "sale_contract_signed": lambda e: {"auction_id": e.auction_id, "price": _yuan(e.price_fen),
                                       "contract_no": e.contract_no,
                                       "signed_at": _t(e.signed_at)},
    "sale_contract_overdue": lambda e: {
        "auction_id": e.auction_id, "due": _t(e.due),
        "forfeited": _yuan(e.deposit_forfeited_fen), "article": e.article},
    # the objector is not named (it is the seller's and the supervisors' to know)
    "sale_annulled": lambda e: {"auction_id": e.auction_id, "price": _yuan(e.price_fen),
                                "answer": e.reason, "annulled_at": _t(e.annulled_at),
                                "article": e.article},
    "sale_confirmation_overdue": lambda e: {
        "auction_id": e.auction_id, "due": _t(e.due),
        "forfeited": _yuan(e.deposit_forfeited_fen), "article": e.article},
    "auction_unsold": lambda e: {"auction_id": e.auction_id, "reason": e.reason.value,
                                 "article": e.article, "closed_at": _t(e.closed_at)},
    "risk_alert": lambda e: {"tender_id": e.tender_id or "-", "section_code": e.section_code or "-",
                             "indicator": e.indicator.value, "article": e.article,
                             "bidders": ", ".join(e.bidders)},  # supervisors only
    # complaints: supervisors hear of a new one (never its facts, kept in credit's API);
    # the complainant hears of each step; a named respondent hears the decision only
    "complaint_filed": lambda e: {"complaint_id": e.complaint_id, "tender_id": e.tender_id,
                                  "matter": e.matter.value,
                                  "acceptance_due": _t(e.acceptance_due)},
    "complaint_accepted": lambda e: {"complaint_id": e.complaint_id, "tender_id": e.tender_id,
                                     "decision_due": _t(e.decision_due)},
    "complaint_decided": lambda e: {"complaint_id": e.complaint_id, "tender_id": e.tender_id,
                                    "outcome": e.outcome.value, "decision_no": e.decision_no
                                    or "-", "reason": e.reason},
}


class TemplateError(ValueError):
    """A template names a field its kind does not expose, or a kind or language is missing."""


@dataclass(frozen=True)
class Rendered:
    """A notification's text in one language."""

    title: str
    body: str


def context(kind: str, event: Any) -> Context:
    """The fields of ``event`` that recipients of ``kind`` may read."""
    return CONTEXTS[kind](event)


class Templates:
    """The loaded, checked templates."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        for kind in CONTEXTS:
            for lang in LANGUAGES:
                for part in ("title", "body"):
                    self._check(kind, lang, part)

    @classmethod
    def load(cls, path: Path = TEMPLATES_FILE) -> Templates:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    def _check(self, kind: str, lang: str, part: str) -> None:
        try:
            text = self.raw[kind][lang][part]
        except (KeyError, TypeError):
            raise TemplateError(f"no {lang} {part} for {kind}") from None
        allowed = set(CONTEXTS[kind](_Probe()))
        used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        if not used <= allowed:
            raise TemplateError(f"{kind}.{lang}.{part} names {sorted(used - allowed)}, "
                                f"not among {sorted(allowed)}")

    def render(self, kind: str, lang: str, ctx: Context) -> Rendered:
        """The text of a notification in ``lang`` (Chinese when unknown)."""
        entry = self.raw[kind][lang if lang in LANGUAGES else "zh"]
        return Rendered(entry["title"].format_map(ctx), entry["body"].format_map(ctx))


class _Probe:
    """Stands in for any event, to learn which names a context exposes."""

    def __getattr__(self, name: str) -> Any:
        return _Probe()

    def __call__(self, *args: Any) -> Any:
        return self

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Any:
        return iter(())

    def astimezone(self, tz: Any) -> Any:
        return datetime(2000, 1, 1, tzinfo=tz)

    def __str__(self) -> str:
        return "probe"
