"""Messages of the credit stage that other stages consume (restrictions and bans).

An entity or expert is blocked for a trade type when a restriction covers that
category, today is within its dates, and it is not revoked (national data
standard, BLACK_LIST / EXPERT_CREDIT_RECORD).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Event, register
from contracts.categories import Category
from contracts.codes import USCC
from contracts.topics import Stage


class _RestrictionEvent(Event):
    stage: ClassVar[Stage] = Stage.CREDIT
    restriction_id: str = Field(description="Restriction id.")
    categories: list[Category] = Field(min_length=1, description="Trade types covered.")
    start: date = Field(description="First day of the restriction.")
    end: date = Field(description="Last day of the restriction.")
    decision_no: str = Field(description="Deciding document's number (处罚决定书文号).")
    reason: str = Field(description="Why (e.g. 串通投标, 条例67).")
    penalty: bool | None = Field(
        default=None, description="An administrative penalty a supervisor decided (行政处罚), "
        "not a consequence of the credit level (absent in events from before this field).")


@register
class EntityBanned(_RestrictionEvent):
    """An entity is banned or restricted from the market (市场禁入/限制)."""

    uscc: USCC = Field(description="The restricted entity.")

    def aggregate_id(self) -> str:
        return self.uscc


class LiftedBy(StrEnum):
    """Why a restriction stopped blocking."""

    REVOCATION = "revocation"  # 撤销: the decision was set aside; it never stood
    EXPIRY = "expiry"  # its period ended (信用修复): the penalty stays on the record


_LIFTED_BY = Field(default=None, description="Revocation or the end of its period (absent in "
                   "events from before this field: not told).")


@register
class EntityReinstated(Event):
    """A restriction was revoked or repaired (信用修复)."""

    stage: ClassVar[Stage] = Stage.CREDIT
    uscc: USCC = Field(description="The entity.")
    restriction_id: str = Field(description="The restriction lifted.")
    lifted_by: LiftedBy | None = _LIFTED_BY

    def aggregate_id(self) -> str:
        return self.uscc


@register
class ExpertBlacklisted(_RestrictionEvent):
    """An expert is barred from draws (专家黑名单; 条例71, 72)."""

    expert_id: str = Field(description="The expert.")

    def aggregate_id(self) -> str:
        return self.expert_id


@register
class ExpertReinstated(Event):
    """An expert's blacklisting was revoked or its period repaired (专家信用修复)."""

    stage: ClassVar[Stage] = Stage.CREDIT
    expert_id: str = Field(description="The expert.")
    restriction_id: str = Field(description="The restriction lifted.")
    lifted_by: LiftedBy | None = _LIFTED_BY

    def aggregate_id(self) -> str:
        return self.expert_id


class SubjectKind(StrEnum):
    """Whose credit account it is (信用主体)."""

    ENTITY = "entity"  # a market entity, by credit code
    EXPERT = "expert"  # an evaluation expert, by platform expert id


@register
class CreditChanged(Event):
    """A credit account changed: a record was added or revoked, the score and level moved.

    The level's incentives (e.g. a deposit reduction for the best level,
    国办发〔2015〕63号 守信激励) travel with the event so bidding can apply them.
    """

    stage: ClassVar[Stage] = Stage.CREDIT
    subject_kind: SubjectKind = Field(description="Entity or expert.")
    subject_id: str = Field(description="Credit code of the entity, or the expert id.")
    record_id: str | None = Field(default=None, description="The record that caused it, if any.")
    reason: str = Field(description="Machine-readable reason, e.g. bid_revoked, contract_overdue.")
    score: int = Field(ge=0, le=1000, description="Score after the change (the model's scale).")
    level: str = Field(description="Level after the change, e.g. A, B, C, D.")
    previous_level: str | None = Field(default=None, description="Level before the change.")
    deposit_reduction_pct: int = Field(ge=0, le=100, default=0,
                                       description="Deposit reduction the level earns, in %.")
    changed_at: datetime = Field(description="When it changed.")

    def aggregate_id(self) -> str:
        return self.subject_id


@register
class CreditRepairDecided(Event):
    """A supervisor decided an application to repair a credit record (信用修复申请;
    失信行为纠正后的信用信息修复管理办法, unverified). Approved, the record stops counting
    (the account's ``CreditChanged``, reason ``record_repaired``, follows it); refused, the
    subject may apply again. Tells the applicant either way."""

    stage: ClassVar[Stage] = Stage.CREDIT
    subject_kind: SubjectKind = Field(description="Entity or expert.")
    subject_id: str = Field(description="Credit code of the entity, or the expert id.")
    record_id: str = Field(description="The record the application was for.")
    record_kind: str = Field(description="The record's kind, e.g. contract_overdue.")
    approved: bool = Field(description="Approved (the record stops counting) or refused.")
    reason: str = Field(description="The decision's reason, as the supervisor gave it.")
    decided_at: datetime = Field(description="When it was decided.")

    def aggregate_id(self) -> str:
        return self.subject_id


class RiskIndicator(StrEnum):
    """A deemed-collusion indicator (视为串通投标: 条例40; 87号令37) or a risk pattern."""

    SAME_DOCUMENT = "same_document"  # 条例40(一): same file digest (prepared by the same unit)
    SAME_MACHINE = "same_machine"  # 条例40(一): same maker machine serials
    SAME_UPLOAD_IP = "same_upload_ip"  # 条例40(二): uploaded from the same address
    SAME_UPLOAD_MAC = "same_upload_mac"  # 条例40(二)
    SAME_CONTACT = "same_contact"  # 87号令37: same contact person
    SAME_AGENT = "same_agent"  # 条例40(二): entrusted the same unit or person
    SAME_PROJECT_MANAGER = "same_project_manager"  # 条例40(三)
    SAME_DEPOSIT_ACCOUNT = "same_deposit_account"  # 条例40(六)
    PRICE_PATTERN = "price_pattern"  # 条例40(四): regular differences / ratios, abnormal closeness
    MIXED_DOCUMENTS = "mixed_documents"  # 条例40(五): a file of one bid in another's package
    RELATED_ENTITIES = "related_entities"  # 条例34: same legal representative or control
    BID_ROTATION = "bid_rotation"  # cross-tender: the same group takes turns winning


@register
class RiskAlertRaised(Event):
    """A collusion or risk alert for supervisors (围标串标预警), with its evidence."""

    stage: ClassVar[Stage] = Stage.CREDIT
    alert_id: str = Field(description="Deterministic alert id (same evidence, same id).")
    tender_id: str = Field(description="Tender project code ('' for cross-tender patterns).")
    section_code: str = Field(description="Section ('' for cross-tender patterns).")
    category: Category = Field(description="Transaction category.")
    indicator: RiskIndicator = Field(description="Which indicator fired.")
    article: str = Field(description="Legal basis, e.g. 条例40(一).")
    bidders: list[USCC] = Field(min_length=1, description="Bidders involved.")
    evidence: dict[str, Any] = Field(description="What was seen: the shared value, prices, ...")
    raised_at: datetime = Field(description="When it was raised.")

    def aggregate_id(self) -> str:
        return self.tender_id or self.alert_id


class ComplaintMatter(StrEnum):
    """What a complaint (投诉) is about. For the first three the law wants an objection
    (异议) to the tenderee first (条例60 second paragraph, naming 条例22, 44 and 54)."""

    TENDER_DOCUMENTS = "tender_documents"  # 资格预审文件、招标文件 (条例22)
    OPENING = "opening"  # 开标 (条例44)
    EVALUATION_RESULT = "evaluation_result"  # 依法必须招标项目的评标结果 (条例54)
    OTHER = "other"  # any other act against the law (条例60 first paragraph)


class ComplaintOutcome(StrEnum):
    """How a supervising department ended a complaint (条例61)."""

    REFUSED = "refused"  # 不予受理: not accepted
    UPHELD = "upheld"  # 投诉成立
    DISMISSED = "dismissed"  # 驳回: unfounded, or 捏造事实、伪造材料 (条例61 third paragraph)


class _ComplaintEvent(Event):
    stage: ClassVar[Stage] = Stage.CREDIT
    complaint_id: str = Field(description="Complaint id (one per complainant, tender, "
                                          "matter and facts).")
    tender_id: str = Field(description="The tender project complained about.")
    category: Category = Field(description="Transaction category of the tender.")
    complainant_uscc: USCC = Field(description="Who complains (投诉人).")

    def aggregate_id(self) -> str:
        return self.complaint_id


@register
class ComplaintFiled(_ComplaintEvent):
    """A bidder or other interested party complained to the supervising department
    (投诉, 条例60; 政府采购法55). The facts stay with the supervisors (credit's API)."""

    section_code: str = Field(description="The section concerned ('' for the whole tender).")
    respondent_uscc: USCC | None = Field(description="Whose conduct is complained about "
                                                     "(被投诉人), when named.")
    matter: ComplaintMatter = Field(description="What the complaint is about.")
    filed_at: datetime = Field(description="When it was received.")
    acceptance_due: datetime = Field(description="Accept or refuse by then (条例61: 3 "
                                                 "working days).")
    article: str = Field(description="The rule it was filed under.")


@register
class ComplaintAccepted(_ComplaintEvent):
    """The supervising department accepted the complaint (受理, 条例61)."""

    accepted_at: datetime = Field(description="When it was accepted.")
    decision_due: datetime = Field(description="A written decision is due by then (条例61: "
                                               "30 working days).")


@register
class ComplaintDecided(_ComplaintEvent):
    """The complaint ended: refused, upheld or dismissed, by a written decision (条例61)."""

    respondent_uscc: USCC | None = Field(description="Whose conduct it was about, if named.")
    outcome: ComplaintOutcome = Field(description="refused, upheld or dismissed.")
    decision_no: str = Field(description="The decision's document number ('' for a refusal "
                                         "without one).")
    reason: str = Field(description="Why, as the supervisor wrote it.")
    false_complaint: bool = Field(description="Dismissed as made up or forged (捏造事实、伪造"
                                              "材料: 条例61, 77): a record on the complainant.")
    decided_at: datetime = Field(description="When it was decided.")


@register
class TenderSuspensionOrdered(_ComplaintEvent):
    """While handling an accepted complaint the supervising department orders the tender's
    activities suspended (责令暂停招标投标活动, 条例62; 政府采购法57: in writing, at most 30
    days): bidding takes and releases no bids, does not open, award or contract."""

    ordered_at: datetime = Field(description="When it was ordered.")
    until: datetime | None = Field(description="The longest it may last (政府采购法57: 30 "
                                               "days); None: until lifted or decided.")
    reason: str = Field(description="Why, as the supervisor wrote it.")
    article: str = Field(description="Legal basis.")


@register
class TenderSuspensionLifted(_ComplaintEvent):
    """The suspension a complaint's handling ordered ends: lifted by the supervisor, or
    the complaint was decided."""

    lifted_at: datetime = Field(description="When it ended.")
    cause: str = Field(description="lifted or decided.")


class RecordDue(BaseModel):
    """One credit record a decision adds to one account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_kind: SubjectKind = Field(description="Whose account.")
    subject_id: str = Field(description="Credit code or expert id.")
    record_id: str = Field(description="Deterministic record id (applied once).")
    kind: str = Field(description="Record kind of the scoring model, e.g. complaint_upheld.")
    source: str = Field(description="The event the decision made, e.g. ComplaintDecided.")
    detail: dict[str, Any] = Field(description="What the record says (decision, tender).")


@register
class CreditRecordsDue(Event):
    """The credit records a supervisor's decision adds (a complaint decided, a collusion
    alert confirmed), written with the decision itself and applied by credit to each
    account once. Credit's own: on its records topic, read by no other service."""

    stage: ClassVar[Stage] = Stage.CREDIT
    kind: ClassVar[str] = "records"
    decision_id: str = Field(description="The complaint or alert decided (the key).")
    records: list[RecordDue] = Field(min_length=1, description="One per account.")
    decided_at: datetime = Field(description="When it was decided.")

    def aggregate_id(self) -> str:
        return self.decision_id

