"""Messages of the announcement stage: public notices and publicity periods."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Event, register
from contracts.categories import Category
from contracts.codes import RegionCode
from contracts.topics import Audience, Stage


class NoticeType(StrEnum):
    """Notices the law requires (信息公开), per the national data standard."""

    TENDER = "tender"  # 招标公告 / 采购公告
    MODIFICATION = "modification"  # 澄清、修改公告
    OPENING = "opening"  # 开标记录
    CANDIDATES = "candidates"  # 中标候选人公示
    RESULT = "result"  # 中标结果公告
    CONTRACT = "contract"  # 合同公告
    FAILURE = "failure"  # 终止/流标公告
    AUCTION = "auction"  # 拍卖/挂牌出让公告, 产权转让信息披露公告
    AUCTION_RESULT = "auction_result"  # 成交公示 / 不成交（流拍）公告
    SUSPENSION = "suspension"  # 暂停公告 (条例22: an objection to the documents)
    RESUMPTION = "resumption"  # 恢复公告, with the deadline after the suspension
    SALE_LAPSED = "sale_lapsed"  # 成交不成立 / 成交结果无效公告: the winner did not sign the
    #                                confirmation or the contract, or an objection was upheld
    SALE_CONTRACT = "sale_contract"  # 出让合同公告 / 产权交易结果公告: the sale's contract signed
    PERFORMANCE = "performance"  # 履约验收结果公告 (履约信息): the contract's acceptance


@register
class NoticePublished(Event):
    """A public notice was published (partner-facing: public data only)."""

    stage: ClassVar[Stage] = Stage.ANNOUNCEMENT
    audience: ClassVar[Audience] = Audience.PARTNER
    notice_id: str = Field(description="Notice id.")
    notice_type: NoticeType = Field(description="Type of notice.")
    tender_id: str = Field(description="Tender project code.")
    section_code: str | None = Field(default=None, description="Section, where it applies.")
    category: Category = Field(description="Transaction category.")
    region_code: RegionCode = Field(description="Region (GB/T 2260).")
    title: str = Field(description="Title.")
    content: dict[str, Any] = Field(description="Fields of the notice (public data only).")
    published_at: datetime = Field(description="Publication time.")
    publicity_end: datetime | None = Field(default=None, description="End of publicity, if any.")

    def aggregate_id(self) -> str:
        return self.tender_id


class FieldChange(BaseModel):
    """One field of a published notice as a later notice changed it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    field: str = Field(description="The field of the corrected notice's content (the data "
                                   "standard's name, e.g. BID_DOC_REFER_END_TIME).")
    before: Any = Field(description="Its value in force before the correction.")
    after: Any = Field(description="Its value from the correction on.")


@register
class NoticeCorrected(Event):
    """A published notice was corrected by a later notice (更正公告: 财政部87号令第27条;
    澄清、修改: 招标投标法第23条). Partner-facing, public data only. The corrected notice
    stays as it was published (a record is not rewritten); the correction says what
    changed, and the corrected notice lists its corrections (``corrected_by``)."""

    stage: ClassVar[Stage] = Stage.ANNOUNCEMENT
    audience: ClassVar[Audience] = Audience.PARTNER
    notice_id: str = Field(description="The corrected notice (the tender notice).")
    correction_notice_id: str = Field(description="The notice that corrects it.")
    tender_id: str = Field(description="Tender project code.")
    category: Category = Field(description="Transaction category.")
    region_code: RegionCode = Field(description="Region (GB/T 2260).")
    changes: list[FieldChange] = Field(description="The fields changed (empty: the documents "
                                                   "were clarified, no field of the notice).")
    summary: str = Field(description="What was corrected, as published.")
    corrected_at: datetime = Field(description="When the correction was published.")

    def aggregate_id(self) -> str:
        return self.tender_id


@register
class PublicityPeriodEnded(Event):
    """A publicity period (公示期) ended; bidding may award if no objection was upheld."""

    stage: ClassVar[Stage] = Stage.ANNOUNCEMENT
    notice_id: str = Field(description="The publicity notice.")
    tender_id: str = Field(description="Tender project code.")
    section_code: str = Field(description="Section.")
    objection_upheld: bool = Field(description="An objection was upheld during the period.")
    ended_at: datetime = Field(description="End time.")

    def aggregate_id(self) -> str:
        return self.tender_id


@register
class PublicityObjectionFiled(Event):
    """An objection (异议) to a publicised evaluation result, filed during its publicity
    period (条例54; 政府采购法52: 质疑). Internal: it names the objector, whom only the
    tenderee, its agency and the supervisors may know; a complaint about the result must
    follow it (条例60 second paragraph)."""

    stage: ClassVar[Stage] = Stage.ANNOUNCEMENT
    notice_id: str = Field(description="The publicity notice objected to.")
    tender_id: str = Field(description="Tender project code.")
    section_code: str | None = Field(default=None, description="Section, where it applies.")
    objection_id: str = Field(description="Objection id.")
    objector_uscc: str = Field(description="Who objected (credit code, or the user's id).")
    text: str = Field(description="The grounds, as filed.")
    filed_at: datetime = Field(description="When it was filed.")
    answer_due: datetime | None = Field(description="To be answered by (条例54: 3 days).")
    article: str = Field(description="Legal basis.")
    answerers: list[str] = Field(
        default_factory=list, description="Credit codes of those who answer it: the tenderee "
                                          "and its agency, or the seller (so whoever tells "
                                          "them need not have seen the tender first).")

    def aggregate_id(self) -> str:
        return self.tender_id


@register
class PublicityObjectionAnswered(Event):
    """The tenderee (or its agency) answered an objection to a publicised result: upheld,
    the section is evaluated again; dismissed, the award may follow (条例54)."""

    stage: ClassVar[Stage] = Stage.ANNOUNCEMENT
    notice_id: str = Field(description="The publicity notice objected to.")
    tender_id: str = Field(description="Tender project code.")
    section_code: str | None = Field(default=None, description="Section, where it applies.")
    objection_id: str = Field(description="Objection id.")
    objector_uscc: str = Field(description="Who objected (the answer goes to it).")
    upheld: bool = Field(description="Whether the objection was upheld.")
    answer: str = Field(description="The answer, as given.")
    answered_at: datetime = Field(description="When it was answered.")
    late: bool = Field(description="Answered after the rule's deadline (a credit fact).")
    article: str = Field(description="Legal basis.")

    def aggregate_id(self) -> str:
        return self.tender_id


@register
class PublicityObjectionOverdue(Event):
    """An objection to a publicised result went unanswered past its due time (条例54: 3
    days; 政府采购法53: 7 working days). Once per objection. The award still waits for the
    answer (条例54: 作出答复前，应当暂停招标投标活动); an answer given later is accepted and
    marked late. The objector may now complain (条例60; 政府采购法55); a credit fact against
    the answerer."""

    stage: ClassVar[Stage] = Stage.ANNOUNCEMENT
    notice_id: str = Field(description="The publicity notice objected to.")
    tender_id: str = Field(description="Tender project code (or a sale's id).")
    section_code: str | None = Field(default=None, description="Section, where it applies.")
    objection_id: str = Field(description="Objection id.")
    objector_uscc: str = Field(description="Who objected (credit code, or the user's id).")
    answerer_uscc: str | None = Field(default=None, description="Who should have answered: "
                                      "the tenderee, or the seller.")
    answerers: list[str] = Field(default_factory=list, description="Credit codes of those who "
                                 "may answer it (the tenderee and its agency, or the seller).")
    answer_due: datetime = Field(description="The due time that passed unanswered.")
    overdue_at: datetime = Field(description="When the platform found it overdue.")
    article: str = Field(description="Legal basis of the answer's time.")
    complaint_article: str | None = Field(
        default=None, description="The rule under which the objector may complain now.")

    def aggregate_id(self) -> str:
        return self.tender_id
