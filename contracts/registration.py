"""Messages of the registration stage: market entities, experts, partner systems.

Entities are registered once by unified social credit code and recognised
everywhere (一地注册、全网共享). These events are internal: they carry the
legal representative's reference and experts' identities, which partners must
not read. Each event carries the aggregate's full snapshot and version, so a
projection applies it only when it is newer than what it holds.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Command, Event, register
from contracts.categories import Category
from contracts.codes import USCC, RegionCode
from contracts.topics import Audience, Stage


class EntityKind(StrEnum):
    """The roles a market entity plays in transactions (市场主体类型)."""

    TENDEREE = "tenderee"  # 招标人 / 采购人 / 出让人
    AGENCY = "agency"  # 招标代理机构 / 采购代理机构
    BIDDER = "bidder"  # 投标人 / 供应商 / 竞买人
    SUPERVISOR = "supervisor"  # 行政监督部门


class EntityStatus(StrEnum):
    """Registration status of an entity."""

    ACTIVE = "active"
    SUSPENDED = "suspended"  # e.g. registration documents expired
    DEREGISTERED = "deregistered"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Contact(_Part):
    """A contact person of an entity (联系人)."""

    name: str = Field(min_length=1, max_length=50, description="Contact person's name.")
    phone: str = Field(default="", max_length=30, description="Phone number.")
    email: str = Field(default="", max_length=120, description="E-mail address.")


class Qualification(_Part):
    """A qualification certificate (资质证书)."""

    name: str = Field(
        min_length=1, max_length=100, description="Qualification, e.g. 建筑工程施工总承包."
    )
    level: str = Field(default="", max_length=30, description="Grade, e.g. 一级.")
    certificate_no: str = Field(min_length=1, max_length=60, description="Certificate number.")
    valid_until: date | None = Field(default=None, description="Expiry date, if any.")


class EntitySnapshot(_Part):
    """Everything later stages need to know about a market entity."""

    uscc: USCC = Field(description="Unified social credit code (统一社会信用代码), the id.")
    name: str = Field(min_length=1, max_length=200, description="Registered name.")
    kinds: list[EntityKind] = Field(min_length=1, description="Roles the entity plays.")
    legal_representative: str = Field(
        min_length=1, max_length=50, description="Legal representative's name (法定代表人)."
    )
    legal_representative_ref: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the legal representative's id number: equal refs mean the "
        "same person (条例34 related bidders) without carrying the number.",
    )
    controlled_by: list[USCC] = Field(
        default_factory=list,
        description="Entities holding control (控股/管理关系) over this one (条例34).",
    )
    region_code: RegionCode = Field(description="Administrative division (GB/T 2260).")
    contacts: list[Contact] = Field(default_factory=list, description="Contact persons.")
    qualifications: list[Qualification] = Field(default_factory=list, description="Qualifications.")
    status: EntityStatus = Field(default=EntityStatus.ACTIVE, description="Registration status.")


@register
class EntityRegistered(Event):
    """A market entity was registered (市场主体注册), once for the whole network."""

    stage: ClassVar[Stage] = Stage.REGISTRATION
    entity: EntitySnapshot = Field(description="The entity as registered.")
    entity_version: int = Field(ge=1, description="Aggregate version after this event.")
    registered_at: datetime = Field(description="When it was registered.")

    def aggregate_id(self) -> str:
        return self.entity.uscc


@register
class EntityUpdated(Event):
    """A market entity's data changed (信息变更)."""

    stage: ClassVar[Stage] = Stage.REGISTRATION
    entity: EntitySnapshot = Field(description="The entity after the change.")
    entity_version: int = Field(ge=1, description="Aggregate version after this event.")
    changed: list[str] = Field(description="Names of the fields that changed.")
    updated_at: datetime = Field(description="When it changed.")

    def aggregate_id(self) -> str:
        return self.entity.uscc


class ExpertSnapshot(_Part):
    """An evaluation expert (评标专家) in the pool; identities are internal only."""

    expert_id: str = Field(pattern=r"^EXP-[0-9A-F]{12}$", description="Platform expert id.")
    name: str = Field(
        min_length=1, max_length=50, description="Name (secret outside the platform)."
    )
    id_ref: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the resident id number.")
    specialties: list[str] = Field(min_length=1, description="Specialty codes (评标专业).")
    employer_uscc: USCC | None = Field(default=None, description="Employer, for recusal (法37).")
    related_usccs: list[USCC] = Field(
        default_factory=list, description="Entities the expert declared a relation to (回避)."
    )
    region_code: RegionCode = Field(description="Region of residence (GB/T 2260).")
    available: bool = Field(default=True, description="Available for draws.")
    email: str = Field(default="", max_length=120, description="Address for draw notices.")


@register
class ExpertRegistered(Event):
    """An expert joined the pool (专家入库)."""

    stage: ClassVar[Stage] = Stage.REGISTRATION
    expert: ExpertSnapshot = Field(description="The expert as registered.")
    expert_version: int = Field(ge=1, description="Aggregate version after this event.")

    def aggregate_id(self) -> str:
        return self.expert.expert_id


@register
class ExpertUpdated(Event):
    """An expert's data or availability changed."""

    stage: ClassVar[Stage] = Stage.REGISTRATION
    expert: ExpertSnapshot = Field(description="The expert after the change.")
    expert_version: int = Field(ge=1, description="Aggregate version after this event.")
    changed: list[str] = Field(description="Names of the fields that changed.")

    def aggregate_id(self) -> str:
        return self.expert.expert_id


@register
class PartnerRegistered(Event):
    """A partner trading system was connected (交易系统对接)."""

    stage: ClassVar[Stage] = Stage.REGISTRATION
    partner_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,40}$", description="Partner system id.")
    name: str = Field(min_length=1, max_length=200, description="Partner system name.")
    operator_uscc: USCC = Field(description="Entity operating the partner system.")
    public_key_pem: str = Field(
        description="Ed25519 public key (PEM) its messages are signed with."
    )
    categories: list[Category] = Field(description="Categories it may publish for.")

    def aggregate_id(self) -> str:
        return self.partner_id


class EntityRegistration(_Part):
    """The data needed to register an entity."""

    uscc: str = Field(description="Unified social credit code (validated, GB 32100-2015).")
    name: str = Field(min_length=1, max_length=200, description="Registered name.")
    kinds: list[EntityKind] = Field(min_length=1, description="Roles the entity plays.")
    legal_representative: str = Field(
        min_length=1, max_length=50, description="Legal representative."
    )
    legal_representative_id: str = Field(
        description="Legal representative's resident id (GB 11643)."
    )
    controlled_by: list[str] = Field(
        default_factory=list, description="Controlling entities (USCC)."
    )
    region_code: str = Field(description="Administrative division (GB/T 2260).")
    contacts: list[Contact] = Field(default_factory=list, description="Contact persons.")
    qualifications: list[Qualification] = Field(default_factory=list, description="Qualifications.")


@register
class RegisterEntity(Command):
    """A partner system asks to register an entity it has verified (partner-facing, signed)."""

    stage: ClassVar[Stage] = Stage.REGISTRATION
    audience: ClassVar[Audience] = Audience.PARTNER
    registration: EntityRegistration = Field(description="The entity to register.")

    def aggregate_id(self) -> str:
        return self.registration.uscc.upper()
