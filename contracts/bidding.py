"""Messages of the bidding stage: tenders, sealed bids, opening, draw, evaluation, award.

All are internal (platform services only) and category-scoped. Before the bid
deadline no message names a bidder except to the platform's own services, and
none carries a price: bids are sealed (ciphertext and digest only). Public data
reaches partners only through announcement's notices.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Event, register
from contracts.categories import Category
from contracts.codes import USCC, ProjectCode, RegionCode, SectionCode, TenderProjectCode
from contracts.topics import Stage


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProcurementMethod(StrEnum):
    """How the contract is procured (政采法26; 招标投标法)."""

    OPEN_TENDER = "open_tender"  # 公开招标
    INVITED_TENDER = "invited_tender"  # 邀请招标
    COMPETITIVE_NEGOTIATION = "competitive_negotiation"  # 竞争性谈判
    COMPETITIVE_CONSULTATION = "competitive_consultation"  # 竞争性磋商
    INQUIRY = "inquiry"  # 询价
    SINGLE_SOURCE = "single_source"  # 单一来源


class EvaluationMethod(StrEnum):
    """How bids are evaluated."""

    LOWEST_PRICE = "lowest_evaluated_price"  # 最低评标价法 / 最低价
    COMPREHENSIVE = "comprehensive_scoring"  # 综合评分法


class Section(_Part):
    """A section or lot (标段/包) of a tender."""

    section_code: SectionCode = Field(description="Section code (tender project code + 3).")
    name: str = Field(min_length=1, max_length=200, description="Section name.")
    estimated_price_fen: int = Field(ge=0, description="Estimated price / budget in fen (分).")
    deposit_fen: int = Field(ge=0, description="Bid deposit in fen (<= 2%, 条例26).")


class TenderDocument(_Part):
    """A file of the tender documents (招标文件), downloadable by anyone: no sign-up is
    needed to obtain it (20号令; 国办发〔2015〕63号)."""

    name: str = Field(min_length=1, max_length=200, description="File name, e.g. 招标文件.pdf.")
    digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file.")
    size_bytes: int = Field(ge=1, description="Size of the file in bytes.")
    url: str = Field(pattern=r"^https?://", max_length=500,
                     description="Where it is downloaded (the platform's file store).")


class BidderLine(_Part):
    """One bid as read out at opening (开标记录)."""

    bid_id: str = Field(description="Bid id.")
    bidder_uscc: USCC = Field(description="Bidder's credit code.")
    bidder_name: str = Field(description="Bidder's name.")
    price_fen: int | None = Field(description="Bid price in fen; None when not decrypted.")
    status: str = Field(description="valid, revoked (bidder's fault) or withdrawn (20号令); "
                        "invalid_related (条例34) or invalid_record (政府采购法第22条(五)).")


class Candidate(_Part):
    """A winning candidate (中标候选人) of the evaluation report."""

    rank: int = Field(ge=1, le=3, description="Rank, 1 = first (条例53: at most 3).")
    bid_id: str = Field(description="Bid id.")
    bidder_uscc: USCC = Field(description="Bidder's credit code.")
    bidder_name: str = Field(description="Bidder's name.")
    price_fen: int = Field(ge=0, description="Bid price in fen.")
    score: str = Field(description="Total score or evaluated price, as a decimal string.")


class _TenderEvent(Event):
    stage: ClassVar[Stage] = Stage.BIDDING
    tender_id: TenderProjectCode = Field(description="Tender project code (the aggregate id).")

    def aggregate_id(self) -> str:
        return self.tender_id


@register
class TenderPublished(_TenderEvent):
    """A tender was published (招标公告/采购公告发布): documents on sale, bids open."""

    project_code: ProjectCode = Field(description="Project code (17 characters).")
    project_name: str = Field(description="Project name.")
    category: Category = Field(description="Transaction category.")
    region_code: RegionCode = Field(description="Region (GB/T 2260).")
    tenderee_uscc: USCC = Field(description="Tenderee / purchaser.")
    tenderee_name: str = Field(description="Tenderee's name.")
    agency_uscc: USCC | None = Field(default=None, description="Agency, if any.")
    method: ProcurementMethod = Field(description="Procurement method.")
    evaluation: EvaluationMethod = Field(description="Evaluation method.")
    state_funded: bool = Field(description="State-funded (first-ranked wins, 条例55).")
    sections: list[Section] = Field(min_length=1, description="Sections / lots.")
    issued_at: datetime = Field(description="When the tender documents are issued.")
    sale_start: datetime = Field(description="Documents on sale from.")
    sale_end: datetime = Field(description="Documents on sale until.")
    bid_deadline: datetime = Field(description="Bid deadline = opening time (法34).")
    qualifications: list[str] = Field(default_factory=list, description="Required qualifications.")
    invited: list[USCC] = Field(
        default_factory=list, description="The bidders invited (投标邀请书: 法17; 政府采购法29, "
        "38, 40): only they may bid. Empty: anyone registered may. Internal: no notice "
        "names them.")
    documents: list[TenderDocument] = Field(
        default_factory=list, description="The files of the tender documents (招标文件).")


@register
class TenderDocumentsObtained(_TenderEvent):
    """A potential bidder recorded that it obtained the tender documents (获取招标文件):
    it is told of every clarification and modification (法23: 通知所有招标文件收受人).
    Internal: before the deadline nobody learns who or how many obtained them (20号令)."""

    bidder_uscc: USCC = Field(description="Who obtained them.")
    obtained_at: datetime = Field(description="When.")


@register
class TenderModified(_TenderEvent):
    """A clarification or modification (澄清/修改) was issued; the deadline may move (法23)."""

    modification_id: str = Field(description="Modification id.")
    summary: str = Field(description="What changed, as published.")
    affects_bids: bool = Field(description="Whether it may affect the preparation of bids.")
    modified_at: datetime = Field(description="When it was issued.")
    previous_deadline: datetime = Field(description="Deadline before the change.")
    bid_deadline: datetime = Field(description="Deadline after the change.")
    postponed_by_rule: bool = Field(description="The deadline moved because <15 days remained.")


@register
class BidSubmitted(_TenderEvent):
    """A sealed bid was received (internal only: never on a partner topic)."""

    section_code: SectionCode = Field(description="Section bid for.")
    bid_id: str = Field(description="Bid id.")
    bidder_uscc: USCC = Field(description="Bidder.")
    digest: str = Field(description="SHA-256 of the ciphertext.")
    received_at: datetime = Field(description="Receipt time.")


@register
class BidWithdrawn(_TenderEvent):
    """A bidder withdrew its bid before the deadline (internal only)."""

    section_code: SectionCode = Field(description="Section.")
    bid_id: str = Field(description="Bid id.")
    bidder_uscc: USCC = Field(description="Bidder.")


@register
class BidsOpened(_TenderEvent):
    """The opening record of a section (开标记录): names and prices, after decryption."""

    section_code: SectionCode = Field(description="Section.")
    opened_at: datetime = Field(description="When the record was closed.")
    lines: list[BidderLine] = Field(description="Every bid extracted at the deadline.")


@register
class TenderFailed(_TenderEvent):
    """A section failed (流标/废标) and must be re-tendered."""

    section_code: SectionCode = Field(description="Section.")
    reason: str = Field(description="Machine-readable reason, e.g. fewer_than_minimum_bids.")
    article: str = Field(description="Legal basis, e.g. 条例44.")
    valid_bids: int = Field(ge=0, description="Valid bids at the time.")


@register
class ExpertsDrawn(_TenderEvent):
    """The evaluation committee was drawn at random (internal; names secret until award).

    It carries the evaluation's time and place (评标时间、地点), which only the drawn
    experts are told."""

    section_code: SectionCode = Field(description="Section.")
    expert_ids: list[str] = Field(description="Drawn experts (ids only).")
    commitment: str = Field(description="SHA-256 of the draw seed, published before the draw.")
    evaluation_at: datetime | None = Field(
        default=None, description="When the evaluation (评标) begins: the time the tender "
                                  "states for the section (moved with its deadline), never "
                                  "before the draw; the draw's own time when it states none; "
                                  "None for a tender published before tenders stated it. "
                                  "Only the drawn experts are told (法37: 名单保密).")
    evaluation_venue: str | None = Field(
        default=None, max_length=200, description="Where the evaluation takes place "
                                                  "(评标场所), as the tender states it.")
    evaluation_remote: bool = Field(
        default=False, description="A remote evaluation (远程异地评标): each expert evaluates "
                                   "from the venue of its own place.")


class ReplacementReason(StrEnum):
    """Why a sitting committee member is replaced (条例48: 评标委员会成员有回避事由、擅离
    职守或者因健康等原因不能继续评标的，应当及时更换; 87号令第49条: 缺席、回避或者健康
    等特殊原因)."""

    RECUSAL = "recusal"  # 回避事由 (条例46; 暂行规定12), found or declared after the draw
    ABSENT = "absent"  # 擅离职守 / 缺席
    HEALTH = "health"  # 健康等原因
    OTHER = "other"  # another cause that keeps it from evaluating, stated in the note


@register
class ExpertReplaced(_TenderEvent):
    """A sitting committee member was replaced by one drawn at random from the same pool
    with the same recusal rules (internal; names secret until award). Its score sheets,
    if any, are void (条例48第3款: 被更换的评标委员会成员作出的评审结论无效，由更换后的
    评标委员会成员重新进行评审; 87号令第49条). The draw is verifiable like the first: the
    committed seed mixed with the bids' digests, in round ``round``."""

    section_code: SectionCode = Field(description="Section.")
    replaced_expert_id: str = Field(description="The member replaced (no longer sitting).")
    expert_id: str = Field(description="The member drawn in its place.")
    reason: ReplacementReason = Field(description="Why it was replaced.")
    expert_ids: list[str] = Field(description="The sitting committee after the replacement.")
    round: int = Field(ge=1, description="The replacement's number in this section (its "
                                         "draw's round).")
    voided_sheets: bool = Field(description="Whether the replaced member had scored: its "
                                            "sheets are void (条例48).")
    replaced_at: datetime = Field(description="When it was replaced.")
    commitment: str = Field(description="SHA-256 of the draw seed, published before the draw.")
    evaluation_at: datetime | None = Field(
        default=None, description="When the evaluation (评标) is held, told to the new "
                                  "member only; None when the tender states none.")
    evaluation_venue: str | None = Field(
        default=None, max_length=200, description="Where, as the tender states it.")
    evaluation_remote: bool = Field(default=False, description="A remote evaluation.")
    article: str = Field(description="Legal basis of the replacement.")


@register
class EvaluationCompleted(_TenderEvent):
    """The evaluation report ranked the candidates (评标报告)."""

    section_code: SectionCode = Field(description="Section.")
    method: EvaluationMethod = Field(description="Evaluation method used.")
    candidates: list[Candidate] = Field(max_length=3, description="At most 3, ranked (条例53).")
    reported_at: datetime = Field(description="When the report was made.")


@register
class Awarded(_TenderEvent):
    """The contract was awarded (中标/成交) after the candidates' publicity."""

    section_code: SectionCode = Field(description="Section.")
    winner: Candidate = Field(description="The winner.")
    awarded_at: datetime = Field(description="Award time.")
    contract_due: datetime = Field(description="Contract to be signed by (法46: 30 days).")
    committee: list[str] = Field(description="Committee names, public from award (政采条例43).")
    draw_seed: str = Field(description="The draw seed, revealed so anyone can re-run the draw.")


@register
class ContractSigned(_TenderEvent):
    """The contract was signed (合同签订)."""

    section_code: SectionCode = Field(description="Section.")
    winner_uscc: USCC = Field(description="Winner.")
    price_fen: int = Field(ge=0, description="Contract price in fen: the winning bid's "
                                             "(条例57; 政府采购法46).")
    signed_at: datetime = Field(description="Signing time.")
    performance_bond_fen: int | None = Field(
        default=None, ge=0, description="The performance bond (履约保证金) the documents "
                                        "asked, at most 10% of the price (条例58; 政采条例48); "
                                        "None when none was asked.")


class AcceptanceItem(_Part):
    """One standard of the contract and how it was performed (验收书: 每一项技术、服务、安全
    标准的履约情况, 政府采购法实施条例第45条)."""

    standard: str = Field(min_length=1, max_length=200, description="A technical, service or "
                          "safety standard the contract sets (技术、服务、安全标准).")
    met: bool = Field(description="Whether the winner's performance met it.")
    note: str = Field(default="", max_length=500, description="What was found (public).")


@register
class ContractAccepted(_TenderEvent):
    """The winner's performance of the contract was checked (履约验收: 政府采购法第41条;
    政府采购法实施条例第45条; 建设工程质量管理条例第16条 竣工验收): passed when every
    standard was met. Public data from here on (履约信息, 国办发〔2015〕63号 (十一)): the
    notice repeats it; credit records a failed acceptance against the winner. A failed
    round may be followed by another after rectification (整改后复验); a passed one is
    final."""

    section_code: SectionCode = Field(description="Section.")
    winner_uscc: USCC = Field(description="The winner whose performance was checked.")
    price_fen: int = Field(ge=0, description="The contract price in fen.")
    round: int = Field(ge=1, description="1 for the first acceptance, 2 after a failed one, "
                                         "...")
    passed: bool = Field(description="Every standard was met (验收合格).")
    items: list[AcceptanceItem] = Field(min_length=1, description="Each standard and its "
                                        "performance.")
    recipients_opinion: str | None = Field(
        default=None, description="The service recipients' opinion, for a public service "
                                  "(政府采购法实施条例第45条: 邀请服务对象参与并出具意见).")
    inspection_body_uscc: USCC | None = Field(
        default=None, description="The quality inspection body that took part (政府采购法第41条: "
                                  "大型或者复杂的项目).")
    accepted_at: datetime = Field(description="When the acceptance was recorded.")
    article: str = Field(description="The legal basis of the acceptance.")


@register
class ContractOverdue(_TenderEvent):
    """The winner did not sign within the rule's days (法46): a credit fact."""

    section_code: SectionCode = Field(description="Section.")
    winner_uscc: USCC = Field(description="Winner that did not sign.")
    due: datetime = Field(description="The deadline that passed.")


class BidFingerprint(_Part):
    """The fingerprint of one bid (national data standard: 投标文件特征码), never public."""

    bid_id: str = Field(description="Bid id.")
    bidder_uscc: USCC = Field(description="Bidder.")
    digest: str = Field(description="SHA-256 of the sealed bid's ciphertext.")
    price_fen: int | None = Field(default=None, description="Price once opened, else None.")
    status: str = Field(description="Status in the opening record (valid, revoked, ...).")
    file_digest: str = Field(default="", description="Digest of the bid document file (MD5/SHA).")
    machine_serials: list[str] = Field(default_factory=list,
                                       description="CPU/disk/board serials of the maker machine.")
    part_digests: list[str] = Field(default_factory=list, description=(
        "SHA-256 digests of each file in the bid package (投标文件各组成文件), as the "
        "bidder's tool computed them; the tender documents' own files left out."))
    upload_ip: str = Field(default="", description="IP address of the upload, as the "
                           "platform saw it (through its trusted proxies).")
    upload_mac: str = Field(default="", description="MAC address of the upload.")
    contact_person: str = Field(default="", description="Contact person named in the bid.")
    agent: str = Field(default="", description="Entrusted agent (委托代理人) of the bid.")
    project_manager: str = Field(default="", description="Project manager (项目负责人).")
    deposit_account: str = Field(default="", description="Account the deposit was paid from.")
    declared_upload_ip: str = Field(default="", description="The upload IP the bidder's tool "
                                    "declared, when it differs from the one seen.")


@register
class BidFingerprintsExtracted(_TenderEvent):
    """The fingerprints of a section's extracted bids at opening, for the collusion check.

    Internal only (credit's 围标串标 check, 条例40); a section with many bids is
    sent in ``parts`` events of at most 500 fingerprints each.
    """

    section_code: SectionCode = Field(description="Section.")
    part: int = Field(ge=1, description="This part's number, from 1.")
    parts: int = Field(ge=1, description="How many parts the section's fingerprints fill.")
    fingerprints: list[BidFingerprint] = Field(description="Fingerprints in this part.")
    extracted_at: datetime = Field(description="Opening time.")


class DepositRefund(_Part):
    """One bid deposit's fate (投标保证金退还)."""

    bid_id: str = Field(description="Bid id.")
    bidder_uscc: USCC = Field(description="Bidder.")
    payer_account: str = Field(description="Account the deposit came from (refunded to it).")
    amount_fen: int = Field(ge=0, description="Deposit in fen.")
    action: str = Field(description="refund, or withheld (bid revoked after the deadline, 条例35).")
    due: datetime | None = Field(description="Refund due by (None when withheld).")
    article: str = Field(description="Legal basis.")


@register
class DepositRefundsScheduled(_TenderEvent):
    """Deposits of a section are to be refunded by the rule's deadline (条例35, 57)."""

    section_code: SectionCode = Field(description="Section.")
    trigger: str = Field(description="withdrawn, failed, contract_signed, or late (a bid "
                                     "written after the opening read the bids).")
    refunds: list[DepositRefund] = Field(description="One entry per deposit.")
    scheduled_at: datetime = Field(description="When they were scheduled.")


@register
class AwardDeclined(_TenderEvent):
    """The winner declined the award (放弃中标): the next candidate in rank wins (条例55),
    or the section fails when none is left; a credit fact (条例74)."""

    section_code: SectionCode = Field(description="Section.")
    bidder_uscc: USCC = Field(description="The winner that declined.")
    reason: str = Field(description="The reason it gave.")
    declined_at: datetime = Field(description="When it declined.")
    next_winner: Candidate | None = Field(default=None,
                                          description="The candidate awarded instead, if any.")
    article: str = Field(description="Legal basis, e.g. 招标投标法实施条例第55条.")


class ObjectionMatter(StrEnum):
    """What an objection to a tender is about, where bidding records it."""

    DOCUMENTS = "documents"  # 招标文件 (条例22; 政采法52)
    OPENING = "opening"  # 开标 (条例44; 87号令第41条): at the opening, answered there


@register
class TenderObjectionFiled(_TenderEvent):
    """A potential bidder or other interested party objected to the tender documents
    (对招标文件提出异议, 条例22; 政府采购的质疑, 政采法52), or a bidder to the opening
    (条例44). Internal: it names the objector, whom no notice or partner topic shows
    (20号令: who takes part stays unknown before the deadline)."""

    objection_id: str = Field(description="Objection id.")
    objector_uscc: USCC = Field(description="Who objected.")
    text: str = Field(description="The grounds, as filed.")
    filed_at: datetime = Field(description="When it was filed.")
    answer_due: datetime = Field(description="The tenderee answers by then (条例22: 3 days).")
    suspends: bool = Field(description="Whether the tender is suspended until the answer.")
    article: str = Field(description="Legal basis of the filing and its answer.")
    matter: ObjectionMatter = Field(default=ObjectionMatter.DOCUMENTS,
                                    description="What it is about.")
    section_code: SectionCode | None = Field(
        default=None, description="The section, for an objection to its opening.")


@register
class TenderObjectionAnswered(_TenderEvent):
    """The tenderee answered an objection to the documents (条例22; 政采法53)."""

    objection_id: str = Field(description="Objection id.")
    objector_uscc: USCC = Field(description="Who objected (the answer goes to it).")
    answer: str = Field(description="The answer, as given.")
    answered_at: datetime = Field(description="When it was answered.")
    late: bool = Field(description="Answered after the rule's deadline (a credit fact).")
    article: str = Field(description="Legal basis.")
    matter: ObjectionMatter = Field(default=ObjectionMatter.DOCUMENTS,
                                    description="What the objection was about.")
    section_code: SectionCode | None = Field(
        default=None, description="The section, for an objection to its opening.")


@register
class TenderObjectionOverdue(_TenderEvent):
    """An objection's answer is overdue: its due time (条例22: 3 days; 条例44: on the spot;
    政采法53: 7 working days) passed with no answer. Once per objection. A tender the
    objection suspended stays suspended until the answer (条例22: 作出答复前，应当暂停招标投标
    活动); an answer still given later is accepted and marked late. The objector may now
    complain to the supervising department (条例60; 政府采购法55); a credit fact against the
    tenderee, whose duty the answer is (条例77第2款)."""

    objection_id: str = Field(description="Objection id.")
    objector_uscc: USCC = Field(description="Who objected (it may now complain).")
    answerer_uscc: USCC = Field(description="Who should have answered: the tenderee.")
    agency_uscc: USCC | None = Field(default=None,
                                     description="The agency, which may answer for it.")
    answer_due: datetime = Field(description="The due time that passed unanswered.")
    overdue_at: datetime = Field(description="When the platform found it overdue.")
    article: str = Field(description="Legal basis of the answer's time.")
    matter: ObjectionMatter = Field(default=ObjectionMatter.DOCUMENTS,
                                    description="What the objection is about.")
    section_code: SectionCode | None = Field(
        default=None, description="The section, for an objection to its opening.")
    suspended: bool = Field(description="Whether the tender stays suspended (by this "
                                        "objection) until the answer.")
    complaint_article: str | None = Field(
        default=None, description="The rule under which the objector may complain now "
                                  "(条例60: within 10 days; 政府采购法55: 15 working days "
                                  "after the answer's time ran out).")


@register
class TenderSuspended(_TenderEvent):
    """The tendering is suspended (暂停招标投标活动): no bid is taken or withdrawn, and the
    tender does not open, until it resumes (条例22: an objection to the documents)."""

    reason: str = Field(description="Why: objection (to the documents).")
    reference: str = Field(description="What caused it, e.g. the objection's id.")
    suspended_at: datetime = Field(description="Since when.")
    article: str = Field(description="Legal basis.")


class Period(StrEnum):
    """A section's period that a suspension stops (条例62: 暂停招标投标活动)."""

    DECRYPTION = "decryption"  # the bidders' window to reveal their keys (20号令)
    CONTRACT = "contract"  # the winner's time to sign the contract (法46)


class ResumedClock(_Part):
    """A section's period that stood still while the tender was suspended, with its new
    end: a suspension stops the activities (条例62), so their periods do not run."""

    section_code: SectionCode = Field(description="Section code.")
    period: Period = Field(description="Which period.")
    previous_end: datetime = Field(description="When it would have ended.")
    end: datetime = Field(description="When it ends now: the time left when the "
                                      "suspension began, counted from the resumption.")


@register
class TenderResumed(_TenderEvent):
    """The tendering resumes; the time it was suspended is given back to the bidders when
    the category's rules say so (the deadline moves by as much). A decryption window or a
    contract period that was running gets back the time it had left (``clocks``)."""

    resumed_at: datetime = Field(description="When it resumed.")
    suspended_at: datetime = Field(description="When the suspension began.")
    previous_deadline: datetime = Field(description="The deadline before the suspension.")
    bid_deadline: datetime = Field(description="The deadline now.")
    article: str = Field(description="Legal basis.")
    clocks: list[ResumedClock] = Field(
        default_factory=list, description="Sections' periods moved by the suspension.")


# Auctions and listings (拍卖/挂牌) of land use rights and state property ----------------
class AuctionMethod(StrEnum):
    """How a land parcel or a state property is sold (39号令; 32号令第22条)."""

    AUCTION = "auction"  # 拍卖: sold after the calls with no higher offer
    LISTING = "listing"  # 挂牌: offers during a listing period; may go live at its end
    ONLINE_BIDDING = "online_bidding"  # 网络竞价 (多次报价): fixed end, extended by late offers
    ONE_SHOT = "one_shot"  # 网络竞价 (一次报价): each qualified buyer makes one sealed offer of at
    #                        least the listing price before a fixed end, never changed; the
    #                        highest wins (on a tie the earliest); nothing is shown before the end
    AGREEMENT = "agreement"  # 协议出让: one named buyer at a price of at least the appraisal,
    #                          publicised first; no offers (矿业权交易规则第32条, unverified)


class AuctionCloseReason(StrEnum):
    """Why an auction or listing closed as it did."""

    SOLD = "sold"  # 成交
    NO_VALID_OFFER = "no_valid_offer"  # 无人应价 / 挂牌不成交
    BELOW_BASE_PRICE = "below_base_price"  # 最高应价低于底价: 终止拍卖 / 不成交
    TOO_FEW_BIDDERS = "too_few_bidders"  # 竞买人不足: the auction does not take place
    OBJECTION_UPHELD = "objection_upheld"  # a sale by agreement: an objection to its
    #                                        publicity was upheld, so it is not concluded
    TIED_OFFERS = "tied_offers"  # one-shot offers: equal highest offers, where the rules do
    #                              not let the earliest win (one_shot_tie_earliest: 0)


class _AuctionEvent(Event):
    stage: ClassVar[Stage] = Stage.BIDDING
    auction_id: TenderProjectCode = Field(description="Auction or listing id: project code + "
                                          "3 digits (the aggregate id).")

    def aggregate_id(self) -> str:
        return self.auction_id


@register
class AuctionPublished(_AuctionEvent):
    """An auction or listing was announced (出让公告 / 产权转让信息披露).

    Public content: the base price (底价) is secret and never in any event; only
    whether one is set."""

    project_code: ProjectCode = Field(description="Project code (17 characters).")
    name: str = Field(description="What is sold: land parcel (宗地), mining right (探矿权 / "
                      "采矿权) or property (标的).")
    category: Category = Field(description="Transaction category (land, mining or property).")
    region_code: RegionCode = Field(description="Region (GB/T 2260).")
    seller_uscc: USCC = Field(description="Seller (出让人 / 转让方).")
    seller_name: str = Field(description="Seller's name.")
    method: AuctionMethod = Field(description="Auction, listing, online bidding (多次报价), "
                                  "one-shot offers (一次报价) or agreement.")
    starting_price_fen: int = Field(ge=0, description="Starting / listing price (起始价/挂牌价) "
                                    "in fen.")
    increment_fen: int = Field(ge=0, description="Bid increment (加价幅度) in fen (0: a sale "
                               "by agreement, which takes no offers, or one-shot offers, "
                               "which take one offer per buyer of at least the listing "
                               "price).")
    appraised_fen: int | None = Field(default=None, ge=0,
                                      description="Appraised value (评估值), if any, in fen.")
    has_base_price: bool = Field(description="Whether a secret base price (底价) is set.")
    announced_at: datetime = Field(description="When the announcement was published.")
    start_at: datetime = Field(description="When offers open.")
    end_at: datetime | None = Field(description="End of listing / online bidding; None for an "
                                    "auction, which ends after the calls.")
    countdown_s: int = Field(ge=0, description="Seconds with no higher offer that end an "
                             "auction or live bidding (the calls).")
    extension_window_s: int = Field(ge=0, description="An offer this close to the end of "
                                    "online bidding extends it (0: never).")
    description: str = Field(default="", description="Conditions of the sale, as published.")
    deposit_fen: int = Field(default=0, ge=0, description="Bidder's deposit (竞买保证金) in fen; "
                             "above 0, only applicants who paid it and passed the seller's "
                             "qualification review get a paddle and may offer.")
    applications_close_at: datetime | None = Field(
        default=None, description="Applications (竞买申请) with their deposit close then "
                                  "(required with a deposit).")
    buyer_uscc: USCC | None = Field(
        default=None, description="A sale by agreement (协议出让): the named buyer, public "
                                  "(申请人名称, 矿业权交易规则第32条); its start_at is the end "
                                  "of the sale's publicity, when it concludes.")
    buyer_name: str | None = Field(default=None, description="A sale by agreement: the "
                                   "buyer's name.")
    approval_no: str | None = Field(
        default=None, description="A sale by agreement: the number of the people's "
                                  "government's consent (协议出让报请同级人民政府同意).")
    benchmark_price_fen: int | None = Field(
        default=None, ge=0, description="A land sale by agreement: the benchmark land price "
                                        "(基准地价) of the parcel's grade in fen; the agreed "
                                        "price may not be below the rule's share of it "
                                        "(21号令第5条, unverified).")


@register
class OfferAccepted(_AuctionEvent):
    """An offer (报价/应价) was accepted. Public: the paddle number (竞买号), never who."""

    offer_no: int = Field(ge=1, description="Number of this offer in the auction, from 1.")
    paddle: int = Field(ge=1, description="The bidder's anonymous paddle number (竞买号).")
    price_fen: int = Field(ge=0, description="Offered price in fen.")
    offered_at: datetime = Field(description="When the offer was accepted.")
    ends_at: datetime = Field(description="When bidding ends now (after a countdown restart "
                              "or an extension).")
    extended: bool = Field(description="Whether this offer moved the end.")


@register
class ListingWentLive(_AuctionEvent):
    """At the end of listing a bidder wanted to go on: live bidding (现场竞价) starts from
    the highest offer plus one increment (39号令第21条, unverified)."""

    top_price_fen: int = Field(ge=0, description="Highest listing offer in fen.")
    minimum_offer_fen: int = Field(ge=0, description="Lowest acceptable live offer in fen.")
    ends_at: datetime = Field(description="End of live bidding unless a higher offer comes.")
    article: str = Field(description="Legal basis.")


@register
class AuctionRepriced(_AuctionEvent):
    """The price was cut (降价); a new disclosure period runs (32号令第18条, unverified)."""

    previous_price_fen: int = Field(ge=0, description="Price before the cut, in fen.")
    starting_price_fen: int = Field(ge=0, description="New starting / listing price in fen.")
    announced_at: datetime = Field(description="When the new disclosure began.")
    start_at: datetime = Field(description="When offers open after the new disclosure.")
    end_at: datetime | None = Field(description="New end (None for an auction).")
    article: str = Field(description="Legal basis.")
    approval_no: str | None = Field(default=None, description="The approving unit's written "
                                    "consent, for a price below 90% of the appraisal "
                                    "(32号令第18条).")


class AuctionOfferLine(_Part):
    """One one-shot offer (一次报价) as published at the close: who, how much, when
    received. Before the end nobody learns any of it, nor how many there are."""

    rank: int = Field(ge=1, description="Rank: the highest price first, equal prices in "
                      "the order received.")
    paddle: int = Field(ge=1, description="The buyer's paddle number (竞买号).")
    bidder_uscc: USCC = Field(description="The buyer's (意向受让方) credit code.")
    bidder_name: str = Field(description="The buyer's name.")
    price_fen: int = Field(ge=0, description="Offered price in fen.")
    offered_at: datetime = Field(description="When the offer was received.")


@register
class AuctionClosed(_AuctionEvent):
    """An auction or listing closed, sold (成交) or not (流拍 / 不成交).

    Internal (platform services only), like every bidding event: it names the
    winner's credit code. Public data (paddle, price, whether the base price was
    met) reaches partners through announcement's result notice; the base price
    itself is never published."""

    category: Category = Field(description="Transaction category.")
    sold: bool = Field(description="Whether a buyer won.")
    reason: AuctionCloseReason = Field(description="sold, no_valid_offer, below_base_price, "
                                       "too_few_bidders, objection_upheld or tied_offers.")
    article: str = Field(description="Legal basis of the outcome.")
    offers: int = Field(ge=0, description="Offers accepted in all.")
    winning_paddle: int | None = Field(default=None, description="Winner's paddle number.")
    price_fen: int | None = Field(default=None, description="Deal price (成交价) in fen, or the "
                                  "top offer when not sold.")
    winner_uscc: USCC | None = Field(default=None, description="Winner (竞得人), internal.")
    winner_name: str | None = Field(default=None, description="Winner's name.")
    base_price_met: bool | None = Field(default=None, description="Whether the top offer met "
                                        "the base price (None when no base price or no offer).")
    closed_at: datetime = Field(description="When it closed.")
    publicity_end: datetime | None = Field(
        default=None, description="End of the result's publicity period (成交公示), when the "
                                  "category's rules have one; None: a notice without a period.")
    publicity_article: str | None = Field(default=None,
                                          description="Legal basis of the publicity period.")
    confirmation_due: datetime | None = Field(
        default=None, description="A sold result: the winner signs the confirmation (成交确认书) "
                                  "by then (None when the category asks none).")
    contract_due: datetime | None = Field(
        default=None, description="A sale by agreement: the contract (出让合同) is signed by "
                                  "then, with no confirmation before it (None otherwise: the "
                                  "confirmation gives the contract's due time).")
    offer_lines: list[AuctionOfferLine] = Field(
        default_factory=list, description="One-shot offers (网络竞价-一次报价): every offer, "
                                          "ranked, with the buyer's name and price, published "
                                          "at the close (sealed until then); empty for the "
                                          "other methods.")


class AuctionDeposit(_Part):
    """One bidder's deposit (竞买保证金) when a sale ends."""

    bidder_uscc: USCC = Field(description="The applicant.")
    payer_account: str = Field(description="Account it came from (a refund goes back to it).")
    amount_fen: int = Field(ge=0, description="Deposit in fen.")
    action: str = Field(description="refund; to_price: the winner's counts towards the price; "
                        "forfeit: a winner who did not sign the confirmation loses it.")
    due: datetime | None = Field(description="Refund due by (None for to_price).")
    article: str = Field(description="Legal basis.")


@register
class AuctionDepositsSettled(_AuctionEvent):
    """What happens to each applicant's deposit once a sale has ended or an applicant was
    not qualified: refunded by the rule's deadline, or the winner's counted towards the
    price (39号令, unverified). Internal: it names the applicants."""

    deposits: list[AuctionDeposit] = Field(min_length=1, description="One per deposit.")
    settled_at: datetime = Field(description="When they were settled.")


@register
class AuctionConfirmed(_AuctionEvent):
    """The winner signed the confirmation of the sale (成交确认书; 39号令第22条, unverified).
    Internal: it names the winner."""

    winner_uscc: USCC = Field(description="The winner (竞得人) that signed.")
    price_fen: int = Field(ge=0, description="Deal price (成交价) in fen.")
    confirmed_at: datetime = Field(description="When it signed.")
    article: str = Field(description="Legal basis.")
    contract_due: datetime | None = Field(
        default=None, description="The sale contract (出让合同) is to be signed by then, counted "
                                  "from the later of this confirmation and the end of the "
                                  "result's publicity (None when the category asks no "
                                  "separate contract).")
    publicity_end: datetime | None = Field(
        default=None, description="Where the confirmation is the contract and the result is "
                                  "publicised after it (产权交易合同; 32号令第29条, unverified): "
                                  "the end of that publicity period, from this confirmation.")
    publicity_article: str | None = Field(default=None,
                                          description="Legal basis of the publicity period.")
    appraised_fen: int | None = Field(default=None, ge=0, description="The appraised value "
                                      "(评估结果) in fen, for the result announcement.")
    listing_price_fen: int | None = Field(default=None, ge=0, description="The listing price "
                                          "(转让底价: the floor of the sale) in fen, for the "
                                          "result announcement.")


class _WinnerLapsed(_AuctionEvent):
    """A winner did not sign in time (the fields of every such lapse)."""

    winner_uscc: USCC = Field(description="The winner (竞得人) that did not sign.")
    due: datetime = Field(description="The deadline that passed.")
    deposit_forfeited_fen: int = Field(ge=0, description="The winner's deposit forfeited "
                                       "(0: the sale asked none).")
    article: str = Field(description="Legal basis.")


@register
class AuctionConfirmationOverdue(_WinnerLapsed):
    """The winner did not sign the confirmation in time: the sale falls through and its
    deposit is forfeited (竞买保证金不予退还); a credit fact. Internal: it names the
    winner."""


@register
class AuctionContractSigned(_AuctionEvent):
    """The sale contract (国有建设用地使用权出让合同 / 矿业权出让合同) was signed at the deal
    price, as the confirmation said (39号令; 矿业权交易规则第26条; unverified). Internal: it
    names the winner."""

    winner_uscc: USCC = Field(description="The buyer (竞得人) that signed.")
    contract_no: str = Field(description="The contract's number, as the seller gives it.")
    price_fen: int = Field(ge=0, description="Contract price in fen: the deal price.")
    signed_at: datetime = Field(description="When it was signed.")
    article: str = Field(description="Legal basis.")
    publicity_end: datetime | None = Field(
        default=None, description="Where the category publicises a sale by agreement's result "
                                  "from its contract (21号令第14条, unverified: >= 15 days): "
                                  "the end of that period; None: the contract's notice has "
                                  "no period.")
    publicity_article: str | None = Field(default=None,
                                          description="Legal basis of the publicity period.")


@register
class AuctionContractOverdue(_WinnerLapsed):
    """The sale contract was not signed in time: the winner's deposit (定金) is forfeited;
    a credit fact against the winner. Internal: it names the winner."""


@register
class AuctionResultAnnulled(_AuctionEvent):
    """The seller upheld an objection to the publicised result (成交公示期内异议成立): the
    result does not stand (成交结果无效), any confirmation or contract on it falls, and the
    winner's deposit is refunded (it did not default). Internal: it names the winner."""

    winner_uscc: USCC = Field(description="The winner whose result was annulled.")
    price_fen: int = Field(ge=0, description="The annulled deal price in fen.")
    objection_id: str = Field(description="The objection upheld.")
    reason: str = Field(description="The seller's answer to the objection, as given.")
    annulled_at: datetime = Field(description="When the objection was upheld.")
    contract_signed: bool = Field(description="Whether a contract had been signed on the "
                                  "result (it falls with it).")
    article: str = Field(description="Legal basis.")
