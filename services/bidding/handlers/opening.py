"""The deadline and the opening (开标): the close of bidding, the decryption window with
its keys and faults (20号令第31条), the opening record and its refunds, and the
committee's draw at the opening (and again, when the pool allowed none)."""

from __future__ import annotations

import base64
import logging
import time
from datetime import date
from typing import Any

from ggzy.runtime.aggregates import Cause, Change
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import Conflict, DomainError, Forbidden, NotFound
from ggzy.runtime.timers import Timer
from services.bidding.domain import audit, deposits, sealed, tender
from services.bidding.domain.rules import CategoryRules
from services.bidding.handlers.committee import Committee
from services.bidding.handlers.context import DECRYPT_END, Context, now
from services.bidding.opening import fingerprints, opening_lines
from services.bidding.store import SUBMITTED

log = logging.getLogger("ggzy.bidding")


class Opening:
    """The close of bidding and the opening of each section."""

    def __init__(self, ctx: Context, committee: Committee) -> None:
        self.ctx = ctx
        self.committee = committee

    async def on_deadline(self, timer: Timer) -> None:
        """At the deadline: close bidding, fail thin sections, open the decryption window."""
        tender_id = timer.payload["tender_id"]
        state = await self.ctx.tender(tender_id)
        if int(state["deadline_ms"]) + self.ctx.grace_ms > timer.due_ms:  # postponed since
            return
        if state.get("suspensions"):  # opens when it resumes, at its deadline then (条例22)
            log.info("deadline while suspended", extra={"tender_id": tender_id})
            return
        rules = self.ctx.rules(state)
        if state["status"] == "open" and state.get("sealed_for") != state["deadline_ms"]:
            # sealed before the bids are read: a bid whose write ends after this asks
            # whether the read had it (``confirm_taken``)
            await self.ctx.tenders.update(tender_id, lambda s, v: tender.seal(s))  # idempotent
        received, every = await self.ctx.store.at_close(tender_id, int(state["deadline_ms"]))
        counts = {code: len(bids) for code, bids in received.items()}
        at = now()
        refunds = {code: deposits.refunds(rules, self.ctx.book.calendar, bids, at)  # failing ones
                   for code, bids in received.items() if len(bids) < rules.minimum_bidders.n}
        if state["status"] == "open":  # the sections that will decrypt get their dossier
            for code, bids in received.items():
                if len(bids) >= rules.minimum_bidders.n:
                    await self.ctx.store.write_dossier(tender_id, code, bids)
        cause = Cause(message_id=f"timer:{timer.timer_id}")
        thin = {code: [b["bidder_uscc"] for b in bids] for code, bids in received.items()
                if len(bids) < rules.minimum_bidders.n}
        roots = {code: audit.sealed_of(bids) for code, bids in received.items()}
        if state["status"] == "open":  # each bid's operations, withdrawn ones too (20号令)
            for code, bids in every.items():
                kept = await self.ctx.store.keep_operations(tender_id, code,
                                                            audit.operations_of(bids))
                roots[code] = {**roots.get(code, audit.sealed_of([])), "operations": kept}
        await self.ctx.tenders.update(tender_id, lambda s, v: tender.close(
            s, rules, self.ctx.book.calendar, counts, at, refunds, thin, roots), cause)
        state = await self.ctx.tender(tender_id)
        for code, sec in state["section_state"].items():
            if sec["status"] == "decrypting":
                await self.ctx.timers.schedule(f"{DECRYPT_END}:{tender_id}:{code}", DECRYPT_END,
                                               int(sec["decrypt_end_ms"]),
                                               {"tender_id": tender_id, "section": code})

    async def reveal_key(self, tender_id: str, section: str, who: Principal,
                         key_b64: str) -> dict[str, Any]:
        """A bidder reveals its content key during the decryption window."""
        state = await self.ctx.tender(tender_id)
        sec = tender.section_of(state, section)
        if sec["status"] != "decrypting" or tender.ms(now()) >= sec["decrypt_end_ms"]:
            raise Conflict("not_decrypting", "the decryption window is not open")
        tender.refuse_while_suspended(state, "no key is revealed (the window gets back the "
                                      "time it had left when the tender resumes)")
        bid_id = f"{tender_id}:{section}:{who.uscc}"
        doc = await self.ctx.bids.get(bid_id)
        if doc is None or doc["status"] != SUBMITTED:
            raise NotFound("bid_not_found", "you have no bid in this section")
        key = base64.b64decode(key_b64)
        bid = sealed.SealedBid(base64.b64decode(doc["ciphertext"]),
                               base64.b64decode(doc["nonce"]), doc["digest"])
        content = sealed.open_bid(bid, key, tender_id=tender_id, section_code=section,
                                  bidder_uscc=str(who.uscc))
        # the operation (20号令: time, operator, address), chained on the bid's last one
        op = audit.entry(list(doc.get("ops") or []), at=tender.iso(now()), actor=who.subject,
                         action=audit.REVEAL_KEY, data={}, source=who.address)
        if not await self.ctx.store.record_reveal(tender_id, section, str(who.uscc), key_b64,
                                                  int(content["price_fen"]), op):
            await self.ctx.bids.update(bid_id, lambda s, v: Change(set={  # no reveal ledger
                "key": key_b64, "price_fen": content["price_fen"], "opened": 1}))
        return {"price_fen": content["price_fen"]}

    async def on_decrypt_end(self, timer: Timer) -> None:
        """The opening record: read out names and prices; draw the committee (条例46)."""
        tender_id, code = timer.payload["tender_id"], timer.payload["section"]
        started = time.perf_counter()
        state = await self.ctx.tender(tender_id)
        sec = tender.section_of(state, code)
        if state.get("suspensions") or int(sec.get("decrypt_end_ms", 0)) > timer.due_ms:
            return  # suspended (opens when it resumes) or its window moved since
        rules = self.ctx.rules(state)
        docs = await self._extracted(tender_id, code)
        bids_read = time.perf_counter()
        entities = await self.ctx.store.bidders_at_opening(docs)
        penalised = await self._penalised(rules, docs)
        read = time.perf_counter()
        faults = tender.decrypt_faults(sec)
        lines = opening_lines(docs, entities, int(state["deadline_ms"]), penalised, faults)
        valid = [ln.bidder_uscc for ln in lines if ln.status == "valid"]
        drawing = time.perf_counter()
        digests = {d["bidder_uscc"]: d["digest"] for d in docs}
        picked = await self.committee.draw(state, code, valid, entities,
                                           [digests[b] for b in valid if b in digests])
        drawn = time.perf_counter()
        at = now()
        evidence = fingerprints(tender_id, code, docs, lines, at,
                                {d["digest"] for d in state.get("documents") or []})
        # only a section that fails at opening refunds its deposits now (条例57)
        refunds = self.ctx.refunds(rules, docs, lines, at) \
            if tender.fails_at_opening(rules, lines) else []
        decided = time.perf_counter()
        await self.ctx.tenders.update(tender_id, lambda s, v: tender.open_section(
            s, rules, code, lines, picked, at, evidence, refunds, faults),
            Cause(message_id=f"timer:{timer.timer_id}"))
        log.info("section opened", extra={
            "tender_id": tender_id, "section": code, "bids": len(docs),
            "read_s": round(read - started, 3), "bids_read_s": round(bids_read - started, 3),
            "decide_s": round(decided - read, 3), "draw_s": round(drawn - drawing, 3),
            "write_s": round(time.perf_counter() - decided, 3)})

    async def _extracted(self, tender_id: str, code: str) -> list[dict[str, Any]]:
        """A section's bids as its opening reads them: the dossier the deadline kept, or,
        for a section closed before dossiers existed, every bid as it stands."""
        docs = await self.ctx.store.dossier(tender_id, code)
        return docs if docs is not None else await self.ctx.store.section_bids(tender_id, code)

    async def _penalised(self, rules: CategoryRules, docs: list[dict[str, Any]]) -> set[str]:
        """The bidders penalised within the category's look-back (政府采购法第22条(五)),
        disqualified at the opening; none where the category has no look-back."""
        years = int(rules.clean_record_years.value)
        if years <= 0:
            return set()
        today = date.today()
        since = today.replace(year=today.year - years, day=28 if today.month == 2
                              and today.day == 29 else today.day)
        return await self.ctx.store.penalised_since(sorted({d["bidder_uscc"] for d in docs}), since)

    async def record_decrypt_fault(self, tender_id: str, code: str, bidder: str, cause: str,
                                   note: str, who: Principal) -> dict[str, Any]:
        """20号令第31条: a fault not the bidder's (the platform, the CA's service, the
        network) keeps its bid from being decrypted: recorded by the platform's operator or
        a supervisor, before the window ends, for a bidder whose bid the deadline has. If
        the bid is still not decrypted at the opening it is withdrawn (撤回), not revoked."""
        if not who.has(Role.OPERATOR, Role.SUPERVISOR):
            raise Forbidden("role_required", "a decryption fault is recorded by the "
                            "platform's operator or a supervisor")
        state = await self.ctx.tender(tender_id)
        tender.section_of(state, code)
        bid = await self.ctx.bids.get(f"{tender_id}:{code}:{bidder}")
        if bid is None or bid["status"] != SUBMITTED:
            raise DomainError("no_bid", f"{bidder} has no bid in section {code} that the "
                              "deadline received")
        at = now()
        await self.ctx.tenders.update(tender_id, lambda s, v: tender.record_decrypt_fault(
            s, code, bidder, cause, note, who.subject, at, who.address))
        return {"bidder_uscc": bidder, "cause": str(cause), "recorded_at": at.isoformat(),
                "counts_as": "withdrawn", "article": tender.DECRYPT_FAULT_ARTICLE}

    async def draw_again(self, tender_id: str, code: str, who: Principal) -> dict[str, Any]:
        """The committee of a section the opening left ``awaiting_draw`` (too few eligible
        experts then), drawn by an operator or supervisor once the pool allows: on the
        committed seed and the opening's valid bids, like the opening's own draw. Still
        too few: ``422 not_enough_experts`` with the specialty and the numbers, and the
        section keeps waiting."""
        if not who.has(Role.OPERATOR, Role.SUPERVISOR):
            raise Forbidden("role_required", "the committee is drawn again by the platform's "
                            "operator or a supervisor")
        state = await self.ctx.tender(tender_id)
        valid = tender.valid_bidders(tender.awaiting_draw(state, code))
        digests = {d["bidder_uscc"]: d["digest"] for d in await self._extracted(tender_id, code)}
        picked = await self.committee.draw(state, code, valid, {},  # NotEnoughExperts: 422
                                           [digests[b] for b in valid if b in digests], strict=True)
        assert picked is not None
        await self.ctx.tenders.update(tender_id, lambda s, v: tender.draw_again(
            s, code, picked, who.subject, now(), who.address))
        return {"status": "evaluating", "committee": len(picked["committee"])}
