"""Per-category rule sets (规则), loaded from data: every number with its source.

Adding a category is configuration: a block in ``rules.yaml``. Nothing here
depends on a region (国办发〔2015〕63号).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from contracts.bidding import AuctionMethod, ProcurementMethod
from contracts.calendar import Calendar, calendar_of
from contracts.categories import Category
from ggzy.runtime.errors import DomainError, rules_for

RULES_FILE = Path(__file__).resolve().parent.parent / "rules.yaml"


class Rule(BaseModel):
    """One number of the law, with its unit and source article."""

    model_config = ConfigDict(frozen=True)

    value: float
    unit: str
    source: str

    @property
    def n(self) -> int:
        return int(self.value)


class CategoryRules(BaseModel):
    """The rules of one transaction category."""

    model_config = ConfigDict(frozen=True)

    documents_to_deadline: Rule
    documents_to_deadline_from_fen: Rule  # ... for a budget of at least this (0: any budget)
    sale_period: Rule
    modification_notice: Rule
    objection_before_deadline: Rule  # an objection to the documents comes this long before
    objection_window: Rule  # ... or within this long of the end of the sale (0: no limit)
    objection_answer: Rule  # the tenderee answers within this long
    objection_suspends: Rule  # 1: the tender is suspended until the answer
    complaint_within: Rule  # an objection unanswered in time: the objector may complain
    #                        within this long (条例60; 政府采购法55), told when it is overdue
    suspension_restores_time: Rule  # 1: the deadline moves by a suspension's length
    invitation_list: Rule  # 0: open, no list; 1: a list may restrict the bidders; 2: required
    minimum_invitees: Rule  # a list names at least this many (法17: 3)
    opening_objection_window: Rule  # an objection to the opening, this long after it (条例44)
    opening_objection_answer: Rule  # ... answered within this long ("当场")
    minimum_bidders: Rule
    deposit_cap_percent: Rule
    deposit_refund: Rule
    committee_minimum: Rule
    committee_large_budget: Rule
    large_budget_fen: Rule
    expert_share: Rule
    max_candidates: Rule
    publicity: Rule
    contract_within: Rule
    performance_bond_percent: Rule
    acceptance_recipients_opinion: Rule  # 1: a public service's acceptance carries its
    #                        recipients' opinion (政采条例45)
    acceptance_inspection_from_fen: Rule  # a contract of at least this price is accepted with
    #                        a quality inspection body (政府采购法41; 0: never required)
    decryption_window: Rule
    late_bids: Rule
    one_price: Rule  # 1: a bid, once in, is neither replaced nor submitted again (询价)
    lowest_price_only: Rule  # 1: only the lowest evaluated price method (询价)
    expert_penalty_recusal: Rule  # 1: an expert once penalised recuses (暂行规定12(四))
    expert_replacement: Rule  # 1: a member who cannot go on is replaced, its sheets void
    contract_as_awarded: Rule  # 1: the contract's price is the winning bid's (条例57)
    clean_record_years: Rule  # a bidder penalised within this many years is disqualified
    losers_refund_at_award: Rule  # 1: all but the winner refunded from the award, not the
    #                               contract (政采条例33); 0: every deposit from the contract
    draw_before_evaluation: Rule  # experts are drawn no earlier than this before the
    #                        evaluation (0: no limit); drawn at the opening record, the
    #                        evaluation begins within this long of it (198号文第14条)


class AuctionRules(BaseModel):
    """The rules of auctions and listings (拍卖/挂牌) of one category (land, mining,
    property)."""

    model_config = ConfigDict(frozen=True)

    methods: frozenset[AuctionMethod]
    announce_before: Rule  # announcement / disclosure before offers open
    listing_period: Rule  # shortest listing / online bidding
    calls: Rule  # calls with no higher offer that end an auction or live bidding
    call_interval: Rule  # length of one call
    extension_window: Rule  # an offer this close to the end extends it (0: never)
    extension: Rule  # ... to this long after the offer
    increment_max_percent: Rule  # largest increment, in % of the starting price
    first_price_of_appraised_percent: Rule  # first price >= this % of the appraised value
    base_price: Rule  # value 1: a secret base price (底价) set collectively is required
    price_cut: Rule  # a price cut restarts the disclosure (its period: announce_before)
    price_cut_approval_below_percent: Rule  # below this % of the appraisal: approval (0: none)
    listing_result: Rule  # who wins at the end of listing / online bidding
    qualification: Rule  # a sale with a deposit: the seller reviews each applicant
    deposit_refund: Rule  # deposits of all but the winner refunded within this period
    minimum_bidders: Rule  # an auction (拍卖) takes place only with this many qualified
    #                        bidders (0: no minimum); they are counted from the applications
    result_publicity: Rule  # the result's publicity period (成交公示, 0: none)
    confirmation_within: Rule  # the winner signs the confirmation (成交确认书) within (0: none)
    contract_within: Rule  # ... then the sale contract (出让合同) within this, from the later
    #                        of the confirmation and the result's publicity end (0: none)
    agreement_publicity: Rule  # a sale by agreement (协议出让) is publicised this long first
    agreement_price_floor_percent: Rule  # by agreement: the price >= this % of the parcel's
    #                        benchmark price (基准地价; 0: no such floor)
    agreement_result_publicity: Rule  # by agreement: the result is publicised this long from
    #                        its contract (0: the contract's notice has no period)
    result_publicity_after_contract: Rule  # value 1: the result's publicity starts when the
    #                        contract is signed (the confirmation, as property's 产权交易合同)
    one_shot_result: Rule  # value 1: one-shot offers (网络竞价-一次报价) are a method here: one
    #                        sealed offer per buyer, >= the listing price, the highest wins
    one_shot_tie_earliest: Rule  # value 1: among equal highest one-shot offers the earliest
    #                        received wins; 0: a tie is no sale (tied_offers)

    @model_validator(mode="after")
    def _coherent(self) -> AuctionRules:
        if not self.methods:
            raise ValueError("an auction rule set allows at least one method")
        if self.calls.value < 1 or self.call_interval.value <= 0:
            raise ValueError("an auction needs at least one call of a positive interval")
        if self.minimum_bidders.value > 0 and not self.qualification.value:
            raise ValueError("a minimum of bidders is counted from the qualification review: "
                             "it needs qualification")
        if AuctionMethod.AGREEMENT in self.methods and self.agreement_publicity.value <= 0:
            raise ValueError("a sale by agreement is publicised first: agreement needs a "
                             "positive agreement_publicity")
        if self.contract_within.value > 0 and self.confirmation_within.value <= 0:
            raise ValueError("a sale contract is signed on the confirmation (成交确认书): "
                             "contract_within needs confirmation_within")
        if self.result_publicity_after_contract.value and (
                self.confirmation_within.value <= 0 or self.contract_within.value > 0):
            raise ValueError("a result publicised after the contract is publicised on the "
                             "confirmation, as the contract itself: "
                             "result_publicity_after_contract needs confirmation_within and "
                             "no contract_within")
        if AuctionMethod.ONE_SHOT in self.methods and self.one_shot_result.value != 1:
            raise ValueError("one-shot offers are a method only where one_shot_result is 1")
        if self.extension_window.value > 0 and self.extension.value <= 0:
            raise ValueError("an extension window needs a positive extension")
        if not 0 < self.increment_max_percent.value <= 100:
            raise ValueError("increment_max_percent must be in (0, 100]")
        negative = [name for name, rule in self if isinstance(rule, Rule) and rule.value < 0]
        if negative:
            raise ValueError(f"negative auction rules: {negative}")
        unsourced = [name for name, rule in self if isinstance(rule, Rule)
                     and not rule.source.strip()]
        if unsourced:
            raise ValueError(f"auction rules without a source: {unsourced}")
        return self

    @property
    def countdown(self) -> timedelta:
        """No higher offer for this long ends an auction: the calls (三次报价无人应价)."""
        return duration(self.call_interval) * self.calls.n


UNITS = {"days": timedelta(days=1), "minutes": timedelta(minutes=1),
         "seconds": timedelta(seconds=1)}


def duration(rule: Rule) -> timedelta:
    """A rule's period in calendar time (not for working days)."""
    return UNITS.get(rule.unit, UNITS["days"]) * rule.value


def after(rules_rule: Rule, start: datetime, calendar: Calendar) -> datetime:
    """The moment a rule's period that starts at ``start`` ends."""
    if rules_rule.unit == "working_days":
        return calendar.add_working_days(start, rules_rule.n)
    return start + UNITS.get(rules_rule.unit, UNITS["days"]) * rules_rule.value


class Methods(BaseModel):
    """The procurement methods a category allows, each with the rules it changes (e.g.
    竞争性磋商: 10 days to the first response instead of a tender's 20)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str  # why these methods (招标投标法第10条; 政府采购法第26条)
    rules: dict[ProcurementMethod, dict[str, Rule]]

    @model_validator(mode="after")
    def _known(self) -> Methods:
        unknown = {name for changes in self.rules.values() for name in changes
                   if name not in CategoryRules.model_fields}
        if unknown:
            raise ValueError(f"method rules name no tender rule: {sorted(unknown)}")
        if not self.rules:
            raise ValueError("a category allows at least one procurement method")
        return self


class RuleBook(BaseModel):
    """Every category's rules and the working-day calendar of one deployment."""

    model_config = ConfigDict(frozen=True)

    categories: dict[Category, CategoryRules]
    calendar: Calendar
    auctions: dict[Category, AuctionRules] = {}
    methods: dict[Category, Methods] = {}
    _by_method: dict[tuple[Category, str], CategoryRules] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        # the rules of every (category, method), built once: a bid reads them each time
        self._by_method = {(c, m.value): base.model_copy(update=self.methods[c].rules[m])
                           for c, base in self.categories.items() if c in self.methods
                           for m in self.methods[c].rules}

    def for_category(self, category: Category) -> CategoryRules:
        """The rules of ``category``; a specific refusal if it has none yet."""
        return rules_for(self.categories, category, "tender")

    def for_tender(self, category: Category, method: str | None) -> CategoryRules:
        """The rules of a ``category`` tender procured by ``method``: the category's, as
        the method changes them; a specific refusal for a method the category does not
        allow (招标投标法第10条: construction is tendered, openly or by invitation)."""
        base = self.for_category(category)
        allowed = self.methods.get(category)
        if allowed is None or method is None:
            return base
        found = self._by_method.get((category, str(method)))
        if found is None:
            raise DomainError("method_not_allowed", f"{category.value} is procured by "
                              f"{', '.join(sorted(allowed.rules))}, not {method} "
                              f"({allowed.source})", article=allowed.source,
                              allowed=sorted(allowed.rules))
        return found

    def for_auctions(self, category: Category) -> AuctionRules:
        """The auction rules of ``category``; a specific refusal if it has none."""
        return rules_for(self.auctions, category, "auction")


@cache
def load(path: Path = RULES_FILE) -> RuleBook:
    """The rule book in ``path`` (the service's rules.yaml unless configured otherwise)."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    calendar = calendar_of(raw)
    raw.pop("calendar", None)
    auctions = {Category(k): AuctionRules.model_validate(v)
                for k, v in (raw.pop("auctions", None) or {}).items()}
    methods = {Category(k): Methods.model_validate(v.pop("methods"))
               for k, v in raw.items() if "methods" in v}
    return RuleBook(categories={Category(k): CategoryRules.model_validate(v)
                                for k, v in raw.items()}, calendar=calendar, auctions=auctions,
                    methods=methods)
