"""Credit accounts as decisions: restrictions block exactly within their dates and
categories (national data standard BLACK_LIST), records re-score, serious cases ban."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts.credit import CreditChanged, EntityBanned, EntityReinstated, LiftedBy, SubjectKind
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict
from ggzy.testing.data import new_uscc
from services.credit.domain import records
from services.credit.domain.records import Record, Restriction
from services.credit.domain.rules import Deduction, load

MODEL = load().entity
NOW = datetime(2026, 5, 1, 10, tzinfo=UTC)
TODAY = NOW.date()


def _apply(state: dict[str, Any], change: Change) -> dict[str, Any]:
    """Apply a change's dotted $set paths to a state, as the store would."""
    return records.opened_with(state, change)


def _account() -> dict[str, Any]:
    return records.new_account(SubjectKind.ENTITY, new_uscc(), MODEL)


def _restriction(start: date, end: date, categories: tuple[str, ...] = ("construction",)
                 ) -> Restriction:
    return Restriction("R-1", "bidding", list(categories), start, end, "深建罚〔2026〕7号",
                       "串通投标 (条例67)")


def test_a_restriction_blocks_only_its_categories_within_its_dates() -> None:
    s = _apply(acc := _account(), records.add_restriction(
        acc, MODEL, _restriction(TODAY, TODAY + timedelta(days=9)), NOW))
    assert records.blocking(s, "construction", TODAY)
    assert records.blocking(s, "construction", TODAY + timedelta(days=9))  # end inclusive
    assert not records.blocking(s, "construction", TODAY + timedelta(days=10))
    assert not records.blocking(s, "construction", TODAY - timedelta(days=1))
    assert not records.blocking(s, "procurement", TODAY)


def test_recording_a_restriction_emits_entity_banned_and_a_penalty_record() -> None:
    acc = _account()
    change = records.add_restriction(acc, MODEL, _restriction(TODAY, TODAY), NOW)
    kinds = [type(o.event) for o in change.events]
    assert kinds[0] is EntityBanned and CreditChanged in kinds
    assert change.events[0].event.penalty is True  # a supervisor's decision (暂行规定12(四))
    assert change.set["score"] == 100 - MODEL.deductions["administrative_penalty"].points


def test_the_same_decision_twice_is_a_conflict() -> None:
    acc = _account()
    s = _apply(acc, records.add_restriction(acc, MODEL, _restriction(TODAY, TODAY), NOW))
    with pytest.raises(Conflict):
        records.add_restriction(s, MODEL, _restriction(TODAY, TODAY), NOW)


def test_revocation_lifts_the_block_and_its_record_stops_counting() -> None:
    acc = _account()
    s = _apply(acc, records.add_restriction(acc, MODEL, _restriction(TODAY, TODAY), NOW))
    change = records.revoke_restriction(s, MODEL, "R-1", "sup", "复议撤销", NOW)
    s = _apply(s, change)
    assert isinstance(event := change.events[0].event, EntityReinstated)
    assert event.lifted_by == LiftedBy.REVOCATION  # set aside: it never stood
    assert not records.blocking(s, "construction", TODAY)
    assert s["score"] == MODEL.base.value


def test_expiry_before_the_end_date_is_refused_and_after_it_reinstates() -> None:
    """信用修复: only after the last day."""
    acc = _account()
    s = _apply(acc, records.add_restriction(acc, MODEL, _restriction(TODAY, TODAY), NOW))
    with pytest.raises(Conflict):
        records.expire_restriction(s, "R-1", TODAY)
    change = records.expire_restriction(s, "R-1", TODAY + timedelta(days=1))
    assert isinstance(event := change.events[0].event, EntityReinstated)
    assert event.lifted_by == LiftedBy.EXPIRY  # the penalty stays on the record


def test_a_record_is_counted_once() -> None:
    acc = _account()
    rec = Record("contract_overdue:T:S", "contract_overdue", "ContractOverdue")
    s = _apply(acc, records.add_record(acc, MODEL, rec, NOW))
    assert records.add_record(s, MODEL, rec, NOW).events == []


def test_serious_collusion_bans_the_entity_for_the_rules_period() -> None:
    """条例67: serious collusion -> ban of 1-2 years (the model's period)."""
    acc = _account()
    rec = Record("collusion:A1", "collusion_serious", "RiskAlertRaised",
                 {"categories": ["construction"], "decision_no": "深建罚〔2026〕9号"})
    change = records.add_record(acc, MODEL, rec, NOW)
    bans = [o.event for o in change.events if isinstance(o.event, EntityBanned)]
    assert any(b.decision_no == "深建罚〔2026〕9号" and b.categories == ["construction"]
               and (b.end - b.start).days + 1 == MODEL.serious_bans["collusion_serious"].days
               and b.penalty is True for b in bans)


def test_falling_to_level_d_bans_from_the_whole_market() -> None:
    """国办发〔2015〕63号: the seriously dishonest are banned from the market."""
    s = _account()
    for n in range(7):
        s = _apply(s, records.add_record(s, MODEL, Record(f"o{n}", "contract_overdue", "x"),
                                         NOW))
    assert s["level"] == "D"
    bans = [r for r in s["restrictions"].values() if r["action"] == "market_ban"]
    assert len(bans) == 1 and set(bans[0]["categories"]) == set(records.ALL_CATEGORIES)


def test_a_level_ban_is_told_apart_from_a_penalty() -> None:
    """A ban that follows the credit level is not an administrative penalty: bidding's
    recusal of penalised experts (暂行规定12(四)) does not count it."""
    s = _account()
    events = []
    for n in range(7):
        change = records.add_record(s, MODEL, Record(f"o{n}", "contract_overdue", "x"), NOW)
        events += [o.event for o in change.events if isinstance(o.event, EntityBanned)]
        s = _apply(s, change)
    assert [e.penalty for e in events] == [False]


def test_a_sale_winner_that_does_not_sign_gets_a_credit_record_once() -> None:
    """39号令第22条 (unverified): 竞得人逾期不签订成交确认书, a record of its own kind, with
    a deduction in the scoring model; one per sale (its id names the sale)."""
    from contracts.bidding import AuctionConfirmationOverdue
    from services.credit.handlers import records_of

    lapsed = AuctionConfirmationOverdue(
        auction_id="2026ABCDEFGHIJKLM001", winner_uscc="91110108551385082Q", due=NOW,
        deposit_forfeited_fen=20_000_00, article="39号令第22条")
    [(uscc, rec)] = records_of(lapsed)
    assert uscc == "91110108551385082Q"
    assert (rec.record_id, rec.kind) == ("sale_unconfirmed:2026ABCDEFGHIJKLM001",
                                          "sale_unconfirmed")
    assert records_of(lapsed) == [(uscc, rec)]
    s = records.new_account(SubjectKind.ENTITY, uscc, MODEL)
    s = _apply(s, records.add_record(s, MODEL, rec, NOW))
    assert s["score"] == 85
    assert records.add_record(s, MODEL, rec, NOW).events == []  # the same record again


def test_a_sale_winner_that_does_not_sign_the_contract_gets_a_credit_record_once() -> None:
    """39号令第21条; 矿业权交易规则第26条 (unverified): 竞得人未按期签订出让合同, a record
    of its own kind (sale_contract_unsigned), one per sale."""
    from contracts.bidding import AuctionContractOverdue
    from services.credit.handlers import RECORDED, records_of

    assert AuctionContractOverdue in RECORDED  # the subscription and its batch take it
    overdue = AuctionContractOverdue(
        auction_id="2026ABCDEFGHIJKLM001", winner_uscc="91110108551385082Q", due=NOW,
        deposit_forfeited_fen=0, article="39号令第21条")
    [(uscc, rec)] = records_of(overdue)
    assert (uscc, rec.record_id, rec.kind) == (
        "91110108551385082Q", "sale_contract_unsigned:2026ABCDEFGHIJKLM001",
        "sale_contract_unsigned")
    s = records.new_account(SubjectKind.ENTITY, uscc, MODEL)
    s = _apply(s, records.add_record(s, MODEL, rec, NOW))
    assert s["score"] == 85
    assert records.add_record(s, MODEL, rec, NOW).events == []


# records' periods (有效期; 失信行为纠正后的信用信息修复管理办法, unverified) ---------------
def _applied(state: dict[str, Any], change: Change) -> dict[str, Any]:
    out = _apply(state, change)
    for path in change.unset:
        out.pop(path, None)
    return out


def _revoked_bid(n: int = 1) -> Record:
    return Record(f"bid_revoked:T{n}", "bid_revoked", "BidsOpened", {"tender_id": f"T{n}"})


def test_a_general_record_stops_counting_after_its_period_58号令() -> None:
    """A general record (bid revoked, 20号令第31条) counts one year (the rule's days), then
    the account is scored again without it; the record stays, marked expired."""
    rule = MODEL.deductions["bid_revoked"]
    acc = _account()
    s = _applied(acc, records.add_record(acc, MODEL, _revoked_bid(), NOW))
    until = (TODAY + timedelta(days=rule.days)).isoformat()
    assert s["score"] == 100 - rule.points
    assert s["records"]["bid_revoked:T1"]["until"] == until == s["next_record_expiry"]
    day_before = TODAY + timedelta(days=rule.days - 1)
    assert records.expire_records(s, MODEL, day_before, NOW) == Change()
    change = records.expire_records(s, MODEL, TODAY + timedelta(days=rule.days), NOW)
    after = _applied(s, change)
    assert after["score"] == 100 and after["records"]["bid_revoked:T1"]["expired"] == 1
    assert "next_record_expiry" not in after
    (event,) = [o.event for o in change.events]
    assert isinstance(event, CreditChanged)
    assert (event.reason, event.record_id, event.score) == ("record_expired", "bid_revoked:T1",
                                                            100)
    assert records.expire_records(after, MODEL, date(2099, 1, 1), NOW) == Change()  # once


def test_the_next_expiry_follows_the_records_still_counting() -> None:
    acc = _account()
    s = _applied(acc, records.add_record(acc, MODEL, _revoked_bid(1), NOW))
    later = NOW + timedelta(days=30)
    s = _applied(s, records.add_record(s, MODEL, _revoked_bid(2), later))
    assert s["next_record_expiry"] == (TODAY + timedelta(days=365)).isoformat()
    s = _applied(s, records.expire_records(s, MODEL, TODAY + timedelta(days=365), NOW))
    assert s["next_record_expiry"] == (later.date() + timedelta(days=365)).isoformat()
    assert s["score"] == 100 - MODEL.deductions["bid_revoked"].points


def test_a_restrictions_penalty_record_counts_until_revoked_not_by_a_period() -> None:
    """A supervisor's decision (处罚决定) governs its own period: its record does not age."""
    acc = _account()
    s = _applied(acc, records.add_restriction(acc, MODEL, _restriction(TODAY, TODAY), NOW))
    assert "until" not in s["records"]["R-1"] and "next_record_expiry" not in s
    assert records.expire_records(s, MODEL, date(2099, 1, 1), NOW) == Change()


def test_a_stale_marker_with_nothing_due_is_removed() -> None:
    acc = {**_account(), "next_record_expiry": TODAY.isoformat()}
    assert records.expire_records(acc, MODEL, TODAY, NOW) == Change(unset=["next_record_expiry"])


def test_a_period_needs_its_source() -> None:
    with pytest.raises(ValueError, match="days_article"):
        Deduction(points=5, article="20号令第31条", days=365)
    assert Deduction(points=5, article="x").days == 0  # no period: counts until revoked
