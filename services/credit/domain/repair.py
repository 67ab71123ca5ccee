"""Credit repair by application (信用修复申请), as decisions. Pure.

A record's subject may apply for its repair once the record has been on the account for
its kind's waiting time (``repair_after_days``: the shortest publicity period of
失信行为纠正后的信用信息修复管理办法, unverified, configurable; none: a record of the kind is
not repaired by application and counts its whole period). The application says how the
conduct was corrected (整改); a supervisor approves it, and the record stops counting
(kept in the account, marked ``repaired``) and the account is scored again, or refuses it
with the reason, after which the subject may apply again. One application is pending at
a time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from contracts.credit import CreditRepairDecided
from ggzy.runtime.aggregates import Change, Outgoing
from ggzy.runtime.errors import Conflict, NotFound
from services.credit.domain.records import State, counts, key, stopped_counting
from services.credit.domain.rules import ScoringModel

PENDING, APPROVED, REFUSED = "pending", "approved", "refused"


def _record(state: State, record_id: str) -> tuple[str, dict[str, Any]]:
    rk = key(record_id)
    r = state["records"].get(rk)
    if r is None:
        raise NotFound("record_not_found", f"no record {record_id} on this account")
    return rk, dict(r)


def apply_for_repair(state: State, model: ScoringModel, record_id: str, *, correction: str,
                     by: str, today: date, now: datetime) -> Change:
    """The subject's application: refused for a record that no longer counts, of a kind
    not repaired by application, before its waiting time, or with one pending."""
    rk, r = _record(state, record_id)
    if not counts(r):
        raise Conflict("record_not_counting", f"record {record_id} no longer counts")
    rule = model.deductions[r["kind"]]
    if rule.repair_after_days is None:
        raise Conflict("repair_not_by_application", f"a {r['kind']} record is not repaired "
                       "by application: it counts its whole period",
                       article=rule.days_article or rule.article)
    earliest = datetime.fromisoformat(r["at"]).date() + timedelta(days=rule.repair_after_days)
    if today < earliest:
        raise Conflict("repair_too_early", f"record {record_id} may be repaired from "
                       f"{earliest.isoformat()}", earliest=earliest.isoformat(),
                       article=rule.repair_article)
    if (r.get("repair") or {}).get("status") == PENDING:
        raise Conflict("repair_pending", f"an application to repair {record_id} is pending")
    application = {"status": PENDING, "correction": correction, "applied_by": by,
                   "applied_at": now.isoformat(), "article": rule.repair_article}
    return Change(set={f"records.{rk}.repair": application})


def decide_repair(state: State, model: ScoringModel, record_id: str, *, approve: bool,
                  reason: str, by: str, now: datetime) -> Change:
    """A supervisor's decision on the pending application: approved, the record stops
    counting and the account is scored again (``CreditChanged``, ``record_repaired``)."""
    rk, r = _record(state, record_id)
    application = dict(r.get("repair") or {})
    if application.get("status") != PENDING:
        raise Conflict("no_repair_pending", f"no application to repair {record_id} is pending")
    application.update(status=APPROVED if approve else REFUSED, decided_by=by,
                       decided_at=now.isoformat(), reason=reason)
    decided = Outgoing(CreditRepairDecided(
        subject_kind=state["subject_kind"], subject_id=state["subject_id"],
        record_id=record_id, record_kind=r["kind"], approved=approve, reason=reason,
        decided_at=now))
    if not approve:
        return Change(set={f"records.{rk}.repair": application}, events=[decided])
    records = {**state["records"], rk: {**r, "repair": application, "repaired": 1}}
    sets: dict[str, Any] = {f"records.{rk}.repair": application, f"records.{rk}.repaired": 1}
    change = stopped_counting(state, model, records, sets, record_id, "record_repaired", now)
    change.events.insert(0, decided)
    return change
