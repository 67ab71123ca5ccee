"""The evaluation committee (评标委员会) and its evaluation: the random draw with
conflict avoidance (条例46), replacements (条例48), the experts' scores and the
evaluation report."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from contracts.bidding import Candidate, ReplacementReason
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import Conflict, DomainError, Forbidden
from services.bidding.domain import draw as draws
from services.bidding.domain import evaluation, tender
from services.bidding.handlers.context import Context, now


class Committee:
    """A section's committee: its draw, its replacements, its scores and report."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def draw(self, state: Mapping[str, Any], code: str, bidders: list[str],
                   known: Mapping[str, Mapping[str, Any]], digests: list[str],
                   strict: bool = False) -> dict[str, Any] | None:
        """The committee drawn for a section's ``bidders``; ``known``: the bidders'
        entities as the opening read them (``bidders_at_opening``: as registration
        last told), so only the experts' employers and the owners are read here.

        The seed is the one committed at publication, mixed with the valid bids'
        ``digests``; the draw's record is kept (``store.keep_draw``) for anyone to re-run
        it once the seed is revealed at the award. A tender published before seeds were
        committed draws on a fresh seed, committed at the draw, as it did. Too few
        eligible experts: None, or with ``strict`` ``NotEnoughExperts`` (its numbers)."""
        pool, ctx = await self._pool(state, bidders, known)
        committed = state["section_state"][code].get("draw_seed")
        seed = committed or secrets.token_hex(32)
        try:
            result = draws.draw(pool, ctx, state["expert_mix"],
                                draws.mixed(seed, digests) if committed else seed)
        except draws.NotEnoughExperts:
            if strict:
                raise
            return None
        if committed:
            record = draws.record_of(pool, result, digests, state["expert_mix"])
            await self.ctx.store.keep_draw(state["tender_id"], code, record.as_doc())
        return {"committee": list(result.committee), "seed": seed,
                "commitment": draws.commitment(seed)}

    async def _pool(self, state: Mapping[str, Any], bidders: list[str],
                    known: Mapping[str, Mapping[str, Any]]
                    ) -> tuple[list[draws.ExpertCandidate], draws.DrawContext]:
        """The expert pool as a draw sees it (bars, employers and their ties read now) and
        the parties its experts must have no tie to (条例46; 暂行规定12)."""
        (banned, penalised), experts = await asyncio.gather(
            self.ctx.store.expert_bars(state["category"], date.today()),
            self.ctx.store.experts_all())
        owners = [state["tenderee_uscc"], *([state["agency_uscc"]] if state.get("agency_uscc")
                                            else [])]
        parties = [*owners, *bidders]
        employers = {e["employer_uscc"] for e in experts if e.get("employer_uscc")}
        read = employers | set(owners) | {b for b in bidders if b not in known}
        entities: dict[str, Mapping[str, Any]] = {b: known[b] for b in bidders if b in known}
        entities.update(await self.ctx.store.entities_of(sorted(read)))

        def facts(uscc: str | None, key: str) -> frozenset[str]:
            return frozenset(entities.get(uscc or "", {}).get(key) or ())

        pool = [draws.ExpertCandidate(
            expert_id=e["_id"], specialties=frozenset(e.get("specialties", [])),
            employer_uscc=e.get("employer_uscc"),
            related_usccs=frozenset(e.get("related_usccs", [])),
            restricted=e["_id"] in banned, available=bool(e.get("available", True)),
            employer_kinds=facts(e.get("employer_uscc"), "kinds"),
            employer_controllers=facts(e.get("employer_uscc"), "controlled_by"),
            penalised=e["_id"] in penalised)
            for e in experts]
        ctx = draws.DrawContext(
            state["tenderee_uscc"], state.get("agency_uscc"), frozenset(bidders),
            party_controllers=frozenset(c for p in parties  # (one set, not one per party)
                                        for c in entities.get(p, {}).get("controlled_by") or ()),
            recuse_penalised=self.ctx.rules(state).expert_penalty_recusal.value >= 1)
        return pool, ctx

    async def replace_expert(self, tender_id: str, code: str, out: str,
                             reason: ReplacementReason, who: Principal,
                             note: str | None = None) -> dict[str, Any]:
        """A sitting member who cannot go on is replaced at once by one drawn at random in
        its seat (条例48: 有回避事由、擅离职守或者因健康等原因不能继续评标的，应当及时更换;
        87号令第49条): by the member itself (it declares a recusal cause or its health), or
        by the platform's operator or a supervisor at the evaluation. The tenderee and the
        agency cannot: they never learn who sits (法37: 名单保密). The draw runs on the
        committed seed and the section's bids' digests in the replacement's own round, with
        the first draw's recusal rules, and its record is kept to re-run it after the
        award. Too few eligible experts left: 422 ``not_enough_experts``, nothing changed."""
        self_recusal = who.expert_id is not None and who.expert_id == out
        if not (who.has(Role.OPERATOR, Role.SUPERVISOR) or self_recusal):
            raise Forbidden("role_required", "a member is replaced by itself, the platform's "
                            "operator or a supervisor (the committee is secret, 法37)")
        if self_recusal and not who.has(Role.OPERATOR, Role.SUPERVISOR) \
                and reason not in (ReplacementReason.RECUSAL, ReplacementReason.HEALTH):
            raise DomainError("reason_not_own", "a member replaces itself for a recusal "
                              "cause or its health; absence is recorded by the platform")
        state = await self.ctx.tender(tender_id)
        rules = self.ctx.rules(state)
        sec = tender.section_of(state, code)
        if sec["status"] != "evaluating":
            raise Conflict("not_evaluating", f"section {code} is not being evaluated")
        committee = list(sec["committee"])
        if out not in committee:
            raise DomainError("not_on_committee", f"{out} is not a sitting member of "
                              f"section {code}'s committee")
        replaced = [r["expert_id"] for r in sec.get("replaced") or []]
        round_no = len(replaced) + 1
        bidders = tender.valid_bidders(sec)
        first = await self.ctx.store.draw_record(tender_id, code)
        digests = list(first["digests"]) if first else []
        pool, ctx = await self._pool(state, bidders, {})
        new, record = draws.replacement(pool, ctx, state["expert_mix"], str(sec["seed"]),
                                        digests, committee, out, round_no=round_no,
                                        replaced=replaced)
        await self.ctx.store.keep_draw(tender_id, code, record.as_doc(), round_no=round_no)
        await self.ctx.tenders.update(tender_id, lambda s, v: tender.replace_expert(
            s, rules, code, out=out, new=new, reason=reason, round_no=round_no,
            actor=str(who.expert_id if self_recusal else who.subject), now=now(),
            note=note, source=who.address))
        voided = out in (sec.get("sheets") or {})
        out_view: dict[str, Any] = {"round": round_no, "voided_sheets": voided,
                                    "committee": len(committee)}
        if who.has(Role.OPERATOR, Role.SUPERVISOR):
            out_view["expert_id"] = new  # those who may see the committee see who sits now
        return out_view

    async def score(self, tender_id: str, code: str, who: Principal,
                    sheets: list[dict[str, Any]]) -> dict[str, Any]:
        """An expert's sheets; the last one completes the evaluation report."""
        if not who.expert_id:
            raise Forbidden("role_required", "scores are submitted by a drawn expert")
        by_bid = {s["bid_id"]: {"points": str(s["points"]), "compliant": bool(s["compliant"])}
                  for s in sheets}
        await self.ctx.tenders.update(tender_id, lambda s, v: tender.record_scores(
            s, code, str(who.expert_id), by_bid, now(), who.address))
        state = await self.ctx.tender(tender_id)
        sec = state["section_state"][code]
        if set(sec["sheets"]) >= set(sec["committee"]):
            await self._report(state, code)
        return {"submitted": len(sec["sheets"]), "committee": len(sec["committee"])}

    async def _report(self, state: Mapping[str, Any], code: str) -> None:
        sec = state["section_state"][code]
        lines = {ln["bid_id"]: ln for ln in tender.lines_of(sec) or [] if ln["status"] == "valid"}
        bids = [evaluation.OpenedBid(bid_id, ln["price_fen"], i)
                for i, (bid_id, ln) in enumerate(lines.items())]
        sheets = [evaluation.ScoreSheet(expert, bid_id, Decimal(v["points"]), v["compliant"])
                  for expert, by_bid in sec["sheets"].items() for bid_id, v in by_bid.items()]
        comprehensive = state["evaluation"] == "comprehensive_scoring"
        ranked = evaluation.evaluate(bids, sheets, sec["committee"], comprehensive=comprehensive,
                                     price_weight=Decimal(str(state.get("price_weight", 30))))
        candidates = [Candidate(rank=r.rank, bid_id=r.bid_id,
                                bidder_uscc=lines[r.bid_id]["bidder_uscc"],
                                bidder_name=lines[r.bid_id]["bidder_name"],
                                price_fen=r.price_fen, score=str(r.score)) for r in ranked]
        await self.ctx.tenders.update(state["_id"], lambda s, v: tender.report(
            s, code, candidates, state["evaluation"], now()))
