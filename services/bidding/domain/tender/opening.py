"""The opening of a section (开标): its decryption window and faults, its opening record
(lines), its failure for too few valid bids, and the committee's draw it leads to."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from contracts.bidding import (
    BidderLine,
    BidFingerprintsExtracted,
    BidsOpened,
    DepositRefund,
    ExpertsDrawn,
)
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, DomainError
from services.bidding.domain import deposits
from services.bidding.domain.rules import CategoryRules
from services.bidding.domain.tender.core import (
    State,
    _change,
    _failed,
    _refund_state,
    iso,
    ms,
    refuse_while_suspended,
    section_of,
)
from services.bidding.domain.tender.schedule import drawn_event

# A section's opening record keeps its lines as one JSON text (``opening_lines``), not
# 10,000 sub-documents: the embedded store walks each sub-document of the tender in
# Python on every write and read of it (see lines_of).
_LINES: TypeAdapter[list[BidderLine]] = TypeAdapter(list[BidderLine])


def fails_at_opening(rules: CategoryRules, lines: Sequence[BidderLine]) -> bool:
    """Too few valid bids in the opening record: the section fails (条例44)."""
    return sum(line.status == "valid" for line in lines) < rules.minimum_bidders.n


DECRYPT_FAULT_ARTICLE = "电子招标投标办法 (20号令) 第31条"


class DecryptFaultCause(StrEnum):
    """What kept a bid from being decrypted that was not its bidder's (20号令第31条)."""

    PLATFORM = "platform"  # 交易平台故障
    CA = "ca"  # 数字证书 (CA) 服务
    NETWORK = "network"  # 网络、不可抗力
    OTHER = "other"


def decrypt_faults(sec: Mapping[str, Any]) -> frozenset[str]:
    """The bidders whose bids a fault not theirs kept from being decrypted, as recorded."""
    return frozenset(sec.get("decrypt_faults") or {})


def record_decrypt_fault(state: State, code: str, bidder: str, cause: str, note: str,
                         actor: str, now: datetime, source: str | None = None) -> Change:
    """A fault not the bidder's keeps its bid from being decrypted (20号令第31条: 因投标人之外
    的原因造成投标文件未解密的，视为撤回其投标文件，投标人有权要求责任方赔偿): recorded by the
    platform's operator or a supervisor within the decryption window, so that the opening
    counts the bid, if still not decrypted, as withdrawn (撤回: its deposit refunded, no
    credit record) rather than revoked (撤销, the bidder's fault: 条例35). A bid its key
    decrypts after all is read out as any other. Recorded once per bidder."""
    sec = section_of(state, code)
    if sec["status"] != "decrypting":
        raise Conflict("not_decrypting", f"section {code} is not in its decryption window "
                       f"(status {sec['status']})")
    if ms(now) >= int(sec.get("decrypt_end_ms", 0)):
        raise Conflict("decryption_ended", "the decryption window has ended: the opening "
                       "record is being made")
    causes = [c.value for c in DecryptFaultCause]
    if cause not in causes:
        raise DomainError("unknown_cause", f"cause must be one of {causes}")
    cause = str(cause)  # as kept: the value, also of the API's enum
    faults = dict(sec.get("decrypt_faults") or {})
    if bidder in faults:
        return Change()
    faults[bidder] = {"cause": cause, "note": note, "at": iso(now), "by": actor}
    sec["decrypt_faults"] = faults
    return _change(state, actor, "decrypt_fault", {
        "section": code, "bidder_uscc": bidder, "cause": cause,
        "article": DECRYPT_FAULT_ARTICLE}, {f"section_state.{code}": sec}, [], now, source)


def open_section(state: State, rules: CategoryRules, code: str, lines: list[BidderLine],
                 draw: dict[str, Any] | None, now: datetime,
                 evidence: Sequence[BidFingerprintsExtracted] = (),
                 refunds: Sequence[DepositRefund] = (),
                 faults: Collection[str] = ()) -> Change:
    """The opening record; too few valid bids fail the section, else the committee is set.

    ``evidence`` (the bids' fingerprints) goes out in the same write, for credit;
    a failed section schedules its ``refunds`` (条例57). ``faults``: the decryption faults
    the ``lines`` were made with (20号令第31条); one recorded since is refused
    (``decrypt_faults_changed``: the opening is decided again on what is recorded).
    """
    sec = section_of(state, code)
    if sec["status"] != "decrypting" or state.get("suspensions"):  # suspended: opens later
        return Change()
    if decrypt_faults(sec) != frozenset(faults):
        raise Conflict("decrypt_faults_changed", "a decryption fault was recorded while the "
                       "opening was decided: decided again")
    opened = BidsOpened(tender_id=state["tender_id"], section_code=code, opened_at=now,
                        lines=lines)
    valid = sum(line.status == "valid" for line in lines)
    events: list[Any] = [opened, *evidence]
    told: datetime | None = None  # the evaluation's time told to the drawn experts
    if fails_at_opening(rules, lines):
        sec.update(status="failed", reason="too_few_valid_bids", **_refund_state(refunds))
        events.append(_failed(state, code, valid, rules))
        events.extend(deposits.scheduled(state["tender_id"], code, "failed", list(refunds), now))
    elif draw is None:
        sec.update(status="awaiting_draw")
    else:
        drawn = _seat(state, code, sec, draw, now)
        events.append(drawn)
        told = drawn.evaluation_at
    sec["opening_lines"] = _LINES.dump_json(lines).decode()
    sec["opened_ms"] = ms(now)  # objections to the opening run from here (条例44)
    data: dict[str, Any] = {"section": code, "valid": valid, "status": sec["status"]}
    if told is not None:
        data["evaluation_at"] = iso(told)
    return _change(state, "platform", "open", data, {f"section_state.{code}": sec}, events, now)


def awaiting_draw(state: State, code: str) -> dict[str, Any]:
    """Section ``code``, which its opening left ``awaiting_draw``; ``409`` otherwise."""
    sec = section_of(state, code)
    if sec["status"] != "awaiting_draw":
        raise Conflict("not_awaiting_draw", f"section {code} is not waiting for its "
                       f"committee (status {sec['status']})")
    return sec


def valid_bidders(sec: Mapping[str, Any]) -> list[str]:
    """The bidders of the valid bids in a section's opening record, in its order."""
    return [ln["bidder_uscc"] for ln in lines_of(sec) or [] if ln["status"] == "valid"]


def _seat(state: State, code: str, sec: dict[str, Any], draw: dict[str, Any],
          now: datetime) -> ExpertsDrawn:
    """The drawn committee takes its seats in ``sec`` (evaluating, no sheets yet)."""
    sec.update(status="evaluating", **draw, sheets={})
    return drawn_event(state, code, draw, now)


def draw_again(state: State, code: str, draw: dict[str, Any], actor: str, now: datetime,
               source: str | None = None) -> Change:
    """A section left ``awaiting_draw`` at its opening (too few eligible experts then) gets
    its committee once the pool allows (法37; 条例46): the same decision the opening would
    have made, with the same seed (its record kept by the caller)."""
    sec = awaiting_draw(state, code)
    refuse_while_suspended(state, "no committee is drawn")
    drawn = _seat(state, code, sec, draw, now)
    data: dict[str, Any] = {"section": code, "status": "evaluating"}
    if drawn.evaluation_at is not None:
        data["evaluation_at"] = iso(drawn.evaluation_at)
    return _change(state, actor, "draw", data, {f"section_state.{code}": sec}, [drawn], now,
                   source)


def lines_of(sec: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The lines of a section's opening record as JSON objects (``BidderLine``), None
    before its opening. A section opened before the record became one text keeps
    them as a list (``lines``)."""
    text = sec.get("opening_lines")
    if text is not None:
        return list(json.loads(text))
    old = sec.get("lines")
    return None if old is None else list(old)
