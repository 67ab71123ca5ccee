"""Sealed bids (投标) until the deadline: submission with its signed receipt (20号令),
withdrawal, the bids' operations report, and whether a bid written as bidding closed
was taken."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.bidding import BidSubmitted, BidWithdrawn
from contracts.categories import Category
from ggzy.runtime.aggregates import Change, Doc, Outgoing
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import Conflict, Forbidden, NotFound, Unavailable
from services.bidding.domain import audit, deposits, sealed, tender
from services.bidding.domain.rules import CategoryRules
from services.bidding.domain.timeline import RuleViolation
from services.bidding.handlers.context import Context, now
from services.bidding.handlers.parties import Parties
from services.bidding.store import LATE, SUBMITTED, WITHDRAWN, bidder_snapshot

SEAL_WAIT_S = 10.0  # how long a bid written as bidding closed waits for the opening's close


class Bids:
    """The sealed bids of a tender's sections."""

    def __init__(self, ctx: Context, parties: Parties) -> None:
        self.ctx = ctx
        self.parties = parties

    async def submit_bid(self, tender_id: str, section: str, who: Principal,
                         upload: Mapping[str, Any]) -> dict[str, Any]:
        """Receive a sealed bid; return a signed, timestamped receipt (20号令)."""
        at = now()
        state = await self.open_tender(tender_id, at)
        rules = self.ctx.rules(state)
        tender.refuse_after_deadline(state, at, rules)
        tender.section_of(state, section)
        deposit = upload.get("deposit")
        deposit_fen = tender.published_section(state, section)["deposit_fen"]
        bidder, entity, reduction = await self.parties.eligible_bidder(
            who, Category(state["category"]), deposits.reduction_matters(deposit_fen, deposit))
        tender.refuse_uninvited(state, bidder, rules)
        deposits.check_deposit(deposit_fen, deposit, reduction)
        bid = sealed.receive(upload["ciphertext"], upload["nonce"], upload["digest"])
        fingerprint = observed(dict(upload.get("fingerprint") or {}), who.address)
        if deposit and not fingerprint.get("deposit_account"):
            fingerprint["deposit_account"] = deposit["payer_account"]
        bid_id = f"{tender_id}:{section}:{bidder}"
        doc = {"tender_id": tender_id, "section_code": section, "bidder_uscc": bidder,
               "status": SUBMITTED, "ciphertext": upload["ciphertext"],
               "nonce": upload["nonce"], "digest": bid.digest, "received_ms": tender.ms(at),
               "fingerprint": fingerprint, "deposit": deposit,
               "bidder": bidder_snapshot(entity)}
        event = BidSubmitted(tender_id=tender_id, section_code=section, bid_id=bid_id,
                             bidder_uscc=bidder, digest=bid.digest, received_at=at)
        out = [Outgoing(event, Category(state["category"]))]

        def op(current: dict[str, Any] | None, action: str) -> dict[str, Any]:
            return audit.operation(current, at=at.isoformat(), actor=who.subject,
                                   action=action, data={"digest": bid.digest},
                                   source=who.address)
        try:
            await self.ctx.bids.create(bid_id, {**doc, **op(None, "submit")}, out)
        except Conflict:  # a resubmission before the deadline replaces the sealed bid
            if rules.one_price.value >= 1:  # ... unless its price may not change (询价)
                raise Conflict("price_unchangeable", f"a bid here is one price that cannot "
                               f"be changed or submitted again ({rules.one_price.source})",
                               article=rules.one_price.source) from None
            await self.ctx.bids.update(bid_id, lambda s, v: Change(
                set={**doc, **op(s, "resubmit")}, events=out))
        if time.time_ns() // 1_000_000 >= int(state["deadline_ms"]) + self.ctx.grace_ms // 2:
            await self.confirm_taken(tender_id, section, bid_id, bidder, rules)
        return self._receipt(tender_id, section, bidder, bid.digest, at)

    async def confirm_taken(self, tender_id: str, section: str, bid_id: str, bidder: str,
                            rules: CategoryRules) -> None:
        """A bid received before the deadline whose write ended as bidding closed: it gets
        its receipt only if the opening has it (20号令: a receipted bid is opened).

        The opening seals the tender (``sealed_for``: the deadline it closes) before it
        reads the bids. This bid was written before this read, so if the tender is not
        sealed now, the opening's read comes after the write and finds it. If it is
        sealed, the opening may have read the bids before the write: once the tender is
        closed, the bid is in the section's dossier or its failed count, or it was too
        late, is set aside (``late``, its deposit refunded) and refused. A write that
        ends within half the grace after the deadline never asks: the deadline's timer
        fires a whole grace after it (clocks of replicas agree to far better than that).
        """
        give_up = time.monotonic() + SEAL_WAIT_S
        while True:
            state = await self.ctx.tenders.view(tender_id, without=("audit",))
            if state is None:
                raise NotFound("tender_not_found", f"no tender {tender_id}")
            if state["status"] != "open":
                break
            if state.get("sealed_for") != state["deadline_ms"]:
                return  # the opening reads the bids after this write
            if time.monotonic() > give_up:  # the opening stopped between seal and close
                raise Unavailable("bid_unconfirmed", "bidding closed while the bid was "
                                  "written; ask for it again to learn whether it was taken",
                                  tender_id=tender_id)
            await asyncio.sleep(0.1)
        sec = tender.section_of(state, section)
        if sec["status"] == "failed" and sec.get("reason") == "too_few_bids":
            taken = bidder in sec.get("received", ())
        else:
            dossier = await self.ctx.store.dossier(tender_id, section)
            taken = dossier is None or any(b["bidder_uscc"] == bidder for b in dossier)
        if taken:
            return
        at = now()
        await self.ctx.bids.update(bid_id, lambda s, v: self._withdrawal(
            state, rules, s, bid_id, LATE, at, actor="platform", source=None)
            if s["status"] == SUBMITTED else Change())
        raise RuleViolation("bid_deadline_passed", rules.late_bids, "the bid was written "
                            "after bidding closed and is not opened: it is refused and its "
                            "deposit refunded")

    async def open_tender(self, tender_id: str, at: datetime) -> Doc:
        """The tender as a bid needs it (no audit trail).

        While a tender is open for bids, what a bid reads of it changes only by a
        modification, which may only postpone the deadline (法23), and by the close
        after the deadline. So a copy read less than ``open_tender_s`` ago answers
        while it says bids are still taken at ``at``; anything that would refuse the
        bid (the deadline passed, the tender closed) is decided on a fresh read.
        """
        cached = self.ctx.open_tenders.get(tender_id)
        if cached is not None and cached["status"] == "open" \
                and tender.ms(at) < int(cached["deadline_ms"]):
            return cached
        state = await self.ctx.tenders.view(tender_id, without=("audit",))
        if state is None:
            raise NotFound("tender_not_found", f"no tender {tender_id}")
        if state["status"] == "open":
            self.ctx.open_tenders.put(tender_id, state)
        return state

    def _receipt(self, tender_id: str, section: str, bidder: str, digest: str,
                 at: datetime) -> dict[str, Any]:
        receipt = {"tender_id": tender_id, "section_code": section, "bidder_uscc": bidder,
                   "digest": digest, "received_at": at.isoformat()}
        assert self.ctx.receipt_key is not None
        return {"receipt": receipt, "signature": sealed.sign_receipt(self.ctx.receipt_key, receipt)}

    async def withdraw_bid(self, tender_id: str, section: str, who: Principal) -> None:
        """Withdraw before the deadline (撤回)."""
        state = await self.ctx.tender(tender_id)
        rules, at = self.ctx.rules(state), now()
        tender.refuse_after_deadline(state, at, rules)
        bid_id = f"{tender_id}:{section}:{who.uscc}"

        def decide(s: dict[str, Any], v: int) -> Change:
            if s["status"] != SUBMITTED:
                raise Conflict("bid_not_submitted", "there is no submitted bid to withdraw")
            return self._withdrawal(state, rules, s, bid_id, WITHDRAWN, at,
                                    actor=who.subject, source=who.address)

        await self.ctx.bids.update(bid_id, decide)

    def _withdrawal(self, state: Mapping[str, Any], rules: CategoryRules, bid: Mapping[str, Any],
                    bid_id: str, status: str, at: datetime, *, actor: str,
                    source: str | None) -> Change:
        """A submitted bid taken out of the tender (``status``: withdrawn by its bidder, or
        set aside as late): ``BidWithdrawn``, its deposit's refund and the operation on
        the bid's record (20号令), in one write."""
        tender_id, section = state["tender_id"], bid["section_code"]
        items = deposits.refunds(rules, self.ctx.book.calendar, [{**bid, "_id": bid_id}], at)
        trigger = "withdrawn" if status == WITHDRAWN else status
        event = BidWithdrawn(tender_id=tender_id, section_code=section, bid_id=bid_id,
                             bidder_uscc=bid["bidder_uscc"])
        action = "withdraw" if status == WITHDRAWN else audit.SET_ASIDE_LATE
        recorded = audit.operation(bid, at=at.isoformat(), actor=actor, action=action,
                                   data={"digest": bid["digest"]}, source=source)
        return Change(set={"status": status, **recorded}, events=[
            Outgoing(e, Category(state["category"]))
            for e in (event, *deposits.scheduled(tender_id, section, trigger, items, at))])

    async def bid_operations(self, tender_id: str, code: str, who: Principal
                             ) -> dict[str, Any]:
        """After the deadline: the section's bids' operations (投标操作记录: each submission,
        resubmission and withdrawal with its time, user and address; 20号令) checked against
        what the close fixed; supervisors and operators see every bid, a bidder its own."""
        state = await self.ctx.tender(tender_id)
        tender.section_of(state, code)
        everyone = who.has(Role.SUPERVISOR, Role.OPERATOR)
        if not everyone and not (who.has(Role.BIDDER) and who.uscc):
            raise Forbidden("role_required", "a section's bid operations are for supervisors, "
                            "operators and, each its own, bidders")
        close = tender.close_entry(state)
        recorded = ((close["data"].get("sealed") or {}).get(code) or {}).get("operations")
        bids, leaves = await asyncio.gather(
            self.ctx.store.bid_operations(tender_id, code),
            self.ctx.store.kept_operations(tender_id, code))
        report = audit.operations_report(bids, recorded, leaves)
        if not everyone:
            report["bids"] = [b for b in report["bids"] if b["bidder_uscc"] == who.uscc]
        return {"tender_id": tender_id, "section_code": code, "audit_entry": close["n"],
                "leaves": leaves, **report}  # (the leaves name nobody: for re-computing)


def observed(fingerprint: dict[str, Any], address: str | None) -> dict[str, Any]:
    """The fingerprint with the upload IP the platform saw (条例40(二) compares those: a
    declared one costs nothing to fake); a different declared one is kept beside it."""
    if not address:
        return fingerprint
    declared = fingerprint.get("upload_ip") or ""
    if declared and declared != address:
        fingerprint["declared_upload_ip"] = declared
    fingerprint["upload_ip"] = address
    return fingerprint
