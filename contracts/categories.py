"""Transaction categories (交易类别): the first-class dimension of the platform.

A deployment of a category-specific stage (bidding, announcement) serves all
categories or a listed subset; registration and credit are cross-category.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """A kind of public-resource transaction (公共资源交易类别)."""

    CONSTRUCTION = "construction"  # 工程建设项目招标投标
    PROCUREMENT = "procurement"  # 政府采购
    LAND = "land"  # 土地使用权出让
    MINING = "mining"  # 矿业权出让
    PROPERTY = "property"  # 国有产权交易
    MEDICAL = "medical"  # 医疗器械和药品采购
    OTHER = "other"  # 其他 (排污权、碳排放权、林权、特许经营权…)


def parse_categories(text: str) -> frozenset[Category]:
    """Parse a comma-separated list ("all" or empty means every category)."""
    items = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not items or items == ["all"]:
        return frozenset(Category)
    unknown = [item for item in items if item not in Category._value2member_map_]
    if unknown:
        known = ", ".join(c.value for c in Category)
        raise ValueError(f"unknown categories {unknown}; known: {known}")
    return frozenset(Category(item) for item in items)
