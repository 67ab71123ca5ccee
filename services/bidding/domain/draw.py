"""Random expert draw with recusal (专家随机抽取与回避; 法37, 条例46).

Verifiable by commit-reveal: when the tender is published, before any bid, the
platform fixes each section's seed and publishes ``commitment = sha256(seed)``. The
draw runs on that seed mixed with the digests of the section's valid bids
(``mixed``), which exist only at the opening: the platform cannot choose a seed for
the bids it got (its seed was bound before them), and no bidder can shape its bid to
steer the draw (it never knew the seed). After the award the seed is revealed with
the draw's record (``DrawRecord``: the digests, the eligible pool in its order, who
was excluded and why), and anyone re-running ``replay`` gets the same committee. The
random stream is HMAC-SHA256(seed, specialty|index|round), not Python's ``random``,
so the result never depends on an interpreter's algorithm.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ggzy.runtime.errors import DomainError


class Exclusion(StrEnum):
    """Why an expert may not sit on this committee (评标委员会和评标方法暂行规定12;
    条例46)."""

    EMPLOYED_BY_TENDEREE = "employed_by_tenderee"
    EMPLOYED_BY_AGENCY = "employed_by_agency"
    EMPLOYED_BY_BIDDER = "employed_by_bidder"
    # 暂行规定12(二): 项目主管部门或者行政监督部门的人员; 条例46: 行政监督部门的工作人员
    # 不得担任本部门负责监督项目的评标委员会成员. The platform does not know which
    # department supervises which project, so staff of any supervising department recuse.
    EMPLOYED_BY_SUPERVISOR = "employed_by_supervisor"
    # 暂行规定12(三): 与投标人有经济利益关系 — the expert's employer controls a party, or is
    # controlled by one (the control relations registration records, 条例34).
    EMPLOYER_CONTROL_TIE = "employer_control_tie"
    RELATED_TO_PARTY = "related_to_party"
    RESTRICTED = "restricted"
    # 暂行规定12(四): 曾因在招标、评标以及其他与招标投标有关活动中从事违法行为而受过
    # 行政处罚 — a blacklisting on record, even past its end, until it is revoked or repaired.
    PAST_PENALTY = "past_penalty"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class ExpertCandidate:
    """An expert of the pool as the draw sees it."""

    expert_id: str
    specialties: frozenset[str]
    employer_uscc: str | None = None
    related_usccs: frozenset[str] = frozenset()
    restricted: bool = False
    available: bool = True
    employer_kinds: frozenset[str] = frozenset()  # the employer's kinds (registration)
    employer_controllers: frozenset[str] = frozenset()  # who controls the employer
    penalised: bool = False  # a blacklisting on record, not revoked (in force or past)


@dataclass(frozen=True)
class DrawContext:
    """The parties an expert must have no tie to."""

    tenderee_uscc: str
    agency_uscc: str | None = None
    bidder_usccs: frozenset[str] = frozenset()
    party_controllers: frozenset[str] = frozenset()  # entities controlling a party
    recuse_penalised: bool = True  # the category's rule expert_penalty_recusal


@dataclass(frozen=True)
class Draw:
    """A committee of drawn experts, with every exclusion and its reason."""

    committee: tuple[str, ...]
    excluded: Mapping[str, Exclusion] = field(default_factory=dict)


class NotEnoughExperts(DomainError):
    """Too few eligible experts of a specialty."""


def commitment(seed: str) -> str:
    """What the platform publishes before the draw."""
    return hashlib.sha256(seed.encode()).hexdigest()


def mixed(seed: str, digests: Iterable[str]) -> str:
    """The seed the draw runs on: the committed ``seed`` keyed over the section's valid
    bids' digests (sorted, so their order of arrival does not matter)."""
    return hmac.new(seed.encode(), "|".join(sorted(digests)).encode(),
                    hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class DrawRecord:
    """What anyone needs to re-run a draw once its seed is revealed: the bids' digests it
    was mixed with, the eligible experts with their specialties (exclusions applied, in
    the pool's order), who was excluded and why, and the mix drawn."""

    digests: tuple[str, ...]
    eligible: Mapping[str, tuple[str, ...]]  # expert id -> its specialties
    excluded: Mapping[str, str]  # expert id -> the exclusion's reason
    mix: Mapping[str, int]
    round_no: int = 0  # 0: the committee's draw; k: its k-th replacement (条例48)
    already: tuple[str, ...] = ()  # a replacement's: those sitting or replaced, not drawn

    def as_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"digests": list(self.digests), "mix": dict(self.mix),
                               "eligible": {k: list(v) for k, v in self.eligible.items()},
                               "excluded": dict(self.excluded)}
        if self.round_no:
            doc.update(round=self.round_no, already=list(self.already))
        return doc

    @classmethod
    def of_doc(cls, doc: Mapping[str, Any]) -> DrawRecord:
        return cls(digests=tuple(doc["digests"]), mix=dict(doc["mix"]),
                   eligible={k: tuple(v) for k, v in doc["eligible"].items()},
                   excluded=dict(doc["excluded"]), round_no=int(doc.get("round", 0)),
                   already=tuple(doc.get("already", ())))


def record_of(candidates: Iterable[ExpertCandidate], result: Draw, digests: Iterable[str],
              mix: Mapping[str, int], *, round_no: int = 0,
              already: Iterable[str] = ()) -> DrawRecord:
    pool = sorted(candidates, key=lambda e: e.expert_id)
    return DrawRecord(digests=tuple(sorted(digests)), mix=dict(mix),
                      eligible={e.expert_id: tuple(sorted(e.specialties)) for e in pool
                                if e.expert_id not in result.excluded},
                      excluded={k: v.value for k, v in result.excluded.items()},
                      round_no=round_no, already=tuple(sorted(already)))


def replay(seed: str, record: DrawRecord) -> tuple[str, ...]:
    """The committee (or a replacement's one expert) the revealed ``seed`` gives on the
    published ``record``."""
    pool = [ExpertCandidate(expert_id=k, specialties=frozenset(v))
            for k, v in record.eligible.items()]
    return draw(pool, DrawContext(tenderee_uscc=""), record.mix,
                mixed(seed, record.digests), round_no=record.round_no,
                already=record.already).committee


def slot_specialty(mix: Mapping[str, int], index: int) -> str:
    """The specialty of the committee's ``index``-th seat: ``draw`` fills the seats
    specialty by specialty in sorted order, so a replacement keeps the seat's specialty."""
    for specialty in sorted(mix):
        if index < mix[specialty]:
            return specialty
        index -= mix[specialty]
    raise IndexError(f"seat {index} is beyond the mix")


def replacement(candidates: Iterable[ExpertCandidate], ctx: DrawContext,
                mix: Mapping[str, int], seed: str, digests: Iterable[str],
                committee: Sequence[str], out: str, *, round_no: int,
                replaced: Iterable[str] = ()) -> tuple[str, DrawRecord]:
    """The expert drawn in place of ``out`` (条例48: 应当及时更换): one of the same seat's
    specialty, by the same recusal rules, from those neither sitting nor replaced before,
    on the committed seed mixed with the same ``digests`` in round ``round_no`` (so no two
    rounds draw alike); and the record to re-run it."""
    specialty = slot_specialty(mix, list(committee).index(out))
    already = {*committee, *replaced}
    pool = list(candidates)
    digests = tuple(digests)
    result = draw(pool, ctx, {specialty: 1}, mixed(seed, digests), round_no=round_no,
                  already=already)
    record = record_of(pool, result, digests, {specialty: 1}, round_no=round_no,
                       already=already)
    return result.committee[0], record


def verify_replay(published_commitment: str, seed: str, record: DrawRecord,
                  committee: Iterable[str]) -> bool:
    """True when the revealed seed is the one committed before the bids and re-running the
    draw on its record gives the committee."""
    return commitment(seed) == published_commitment \
        and replay(seed, record) == tuple(committee)


def exclusion(expert: ExpertCandidate, ctx: DrawContext) -> Exclusion | None:
    """The reason ``expert`` must recuse, or None."""
    parties = {ctx.tenderee_uscc, ctx.agency_uscc, *ctx.bidder_usccs} - {None}
    checks = [
        (not expert.available, Exclusion.UNAVAILABLE),
        (expert.restricted, Exclusion.RESTRICTED),
        (expert.employer_uscc == ctx.tenderee_uscc, Exclusion.EMPLOYED_BY_TENDEREE),
        (ctx.agency_uscc is not None and expert.employer_uscc == ctx.agency_uscc,
         Exclusion.EMPLOYED_BY_AGENCY),
        (expert.employer_uscc in ctx.bidder_usccs, Exclusion.EMPLOYED_BY_BIDDER),
        ("supervisor" in expert.employer_kinds, Exclusion.EMPLOYED_BY_SUPERVISOR),
        (expert.employer_uscc is not None and (expert.employer_uscc in ctx.party_controllers
                                               or bool(expert.employer_controllers & parties)),
         Exclusion.EMPLOYER_CONTROL_TIE),
        (bool(expert.related_usccs & parties), Exclusion.RELATED_TO_PARTY),
        (ctx.recuse_penalised and expert.penalised, Exclusion.PAST_PENALTY),
    ]
    return next((reason for hit, reason in checks if hit), None)


def _pick(seed: str, label: str, n: int) -> int:
    digest = hmac.new(seed.encode(), label.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest, "big") % n


def draw(candidates: Iterable[ExpertCandidate], ctx: DrawContext, mix: Mapping[str, int],
         seed: str, *, round_no: int = 0, already: Iterable[str] = ()) -> Draw:
    """Draw ``mix`` (specialty -> count) from the eligible pool, deterministically."""
    pool = sorted(candidates, key=lambda e: e.expert_id)
    excluded = {e.expert_id: r for e in pool if (r := exclusion(e, ctx)) is not None}
    taken = set(already)
    committee: list[str] = []
    for specialty in sorted(mix):
        eligible = [e.expert_id for e in pool if specialty in e.specialties
                    and e.expert_id not in excluded and e.expert_id not in taken]
        if len(eligible) < mix[specialty]:
            raise NotEnoughExperts("not_enough_experts",
                                   f"specialty {specialty} needs {mix[specialty]} eligible "
                                   f"experts, {len(eligible)} available",
                                   specialty=specialty, needed=mix[specialty],
                                   available=len(eligible))
        for index in range(mix[specialty]):
            chosen = eligible.pop(_pick(seed, f"{specialty}|{index}|{round_no}", len(eligible)))
            committee.append(chosen)
            taken.add(chosen)
    return Draw(tuple(committee), excluded)


def verify_draw(published_commitment: str, seed: str, candidates: Iterable[ExpertCandidate],
                ctx: DrawContext, mix: Mapping[str, int], committee: Iterable[str]) -> bool:
    """True when the revealed seed matches the commitment and reproduces the committee."""
    if commitment(seed) != published_commitment:
        return False
    return draw(candidates, ctx, mix, seed).committee == tuple(committee)
