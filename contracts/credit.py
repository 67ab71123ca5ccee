"""Messages of the credit stage that other stages consume (restrictions and bans).

An entity or expert is blocked for a trade type when a restriction covers that
category, today is within its dates, and it is not revoked (national data
standard, BLACK_LIST / EXPERT_CREDIT_RECORD).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

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


@register
class EntityBanned(_RestrictionEvent):
    """An entity is banned or restricted from the market (市场禁入/限制)."""

    uscc: USCC = Field(description="The restricted entity.")

    def aggregate_id(self) -> str:
        return self.uscc


@register
class EntityReinstated(Event):
    """A restriction was revoked or repaired (信用修复)."""

    stage: ClassVar[Stage] = Stage.CREDIT
    uscc: USCC = Field(description="The entity.")
    restriction_id: str = Field(description="The restriction lifted.")

    def aggregate_id(self) -> str:
        return self.uscc


@register
class ExpertBlacklisted(_RestrictionEvent):
    """An expert is barred from draws (专家黑名单; 条例71, 72)."""

    expert_id: str = Field(description="The expert.")

    def aggregate_id(self) -> str:
        return self.expert_id
