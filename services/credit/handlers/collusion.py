"""Collusion (围标串标): a section's bid fingerprints, kept part by part and checked once
complete (alerts, ``RiskAlertRaised``), a supervisor's confirmation (a record against
each bidder) or dismissal of an alert, and cross-tender bid rotation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.bidding import BidFingerprint
from contracts.credit import CreditRecordsDue, RecordDue, RiskAlertRaised, SubjectKind
from ggzy.runtime.aggregates import Cause, Change, Doc, Outgoing
from ggzy.runtime.auth import Principal
from ggzy.runtime.errors import Conflict, NotFound
from services.credit.domain import collusion, fingerprints
from services.credit.domain.rotation import RotationPattern, SectionOutcome, find_rotation
from services.credit.handlers.context import Context, now


class Collusion:
    """Collusion alerts (the ``alerts`` aggregate) and bid rotation."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.config = collusion.CollusionConfig.from_mapping(ctx.rules.collusion)

    async def on_fingerprints(self, tender_id: str, section: str, part: int, parts: int,
                              category: str, prints: list[BidFingerprint], cause: Cause) -> int:
        """Keep a part; once a section is complete, check it (条例40; 87号令37)."""
        store = self.ctx.store
        held = await store.add_part(tender_id, section, part, parts, category,
                                    fingerprints.stored_part(prints))
        if held < parts:
            return 0
        every = fingerprints.columns_of_parts(await store.section_parts(tender_id, section))
        await store.record_bidders(tender_id, section, category, list(every.bidder_uscc))
        entities = await store.entities_by_id(sorted(set(every.bidder_uscc)))
        findings = collusion.check_columns(every, entities, self.config)
        raised = 0
        for f in findings:
            fid = collusion.finding_id(tender_id, section, f)
            raised += await self._raise(fid, tender_id, section, category, f.indicator.value,
                                        f.article, list(f.bidders), f.evidence, cause)
        return raised

    async def _raise(self, alert_id: str, tender_id: str, section: str, category: str,
                     indicator: str, article: str, bidders: list[str],
                     evidence: dict[str, Any], cause: Cause) -> int:
        event = RiskAlertRaised(alert_id=alert_id, tender_id=tender_id, section_code=section,
                                category=category, indicator=indicator, article=article,
                                bidders=bidders, evidence=evidence, raised_at=now())
        state = {**event.model_dump(mode="json"), "status": "open"}
        try:
            await self.ctx.alerts.create(alert_id, state, [Outgoing(event)],
                                         Cause(correlation_id=cause.correlation_id))
        except Conflict:  # the same evidence was raised before: redelivery
            return 0
        return 1

    async def decide_alert(self, alert_id: str, confirmed: bool, body: Mapping[str, Any],
                           who: Principal) -> Doc:
        """A supervisor confirms (records against each bidder) or dismisses an alert."""
        status = "confirmed" if confirmed else "dismissed"

        def decide(s: Mapping[str, Any], v: int) -> Change:
            if s["status"] == status:
                return Change()  # a retried decision
            if s["status"] != "open":
                raise Conflict("alert_decided", f"alert {alert_id} is {s['status']}")
            at = now()
            events = [Outgoing(_collusion_records(alert_id, s, body, at))] if confirmed else []
            return Change(set={"status": status, "decided_by": who.subject,
                               "decision": dict(body), "decided_at": at.isoformat()},
                          events=events)

        alerts = self.ctx.alerts
        if await alerts.get(alert_id) is None:
            raise NotFound("alert_not_found", f"no alert {alert_id}")
        await alerts.update(alert_id, decide)
        return await alerts.get(alert_id) or {}

    async def rotation(self, category: str | None, **thresholds: int
                       ) -> list[RotationPattern]:
        """Cross-tender: the same group bidding together and taking turns to win."""
        outcomes = [SectionOutcome(d["tender_id"], d["section_code"], d.get("category", ""),
                                   frozenset(d["bidders"]), d.get("winner"))
                    for d in await self.ctx.store.outcomes_of(category)]
        return find_rotation(outcomes, **thresholds)


def _collusion_records(alert_id: str, alert: Mapping[str, Any], body: Mapping[str, Any],
                       at: datetime) -> CreditRecordsDue:
    """A confirmed alert's collusion record against each of its bidders (条例40, 67)."""
    kind = "collusion_serious" if body.get("serious") else "collusion"
    detail = {"alert_id": alert_id, "indicator": alert["indicator"],
              "tender_id": alert["tender_id"], "categories": [alert["category"]],
              "decision_no": body.get("decision_no") or alert_id}
    return CreditRecordsDue(decision_id=alert_id, decided_at=at, records=[
        RecordDue(subject_kind=SubjectKind.ENTITY, subject_id=bidder,
                  record_id=f"collusion:{alert_id}", kind=kind, source="RiskAlertRaised",
                  detail=detail) for bidder in alert["bidders"]])
