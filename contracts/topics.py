"""Topic names: the one function that names every Kafka topic of the platform.

Names are versioned and say who may read them:
``ggzy.<audience>.<stage>[.<category>].v<N>``. Internal topics carry data only
platform services may see (bidders before opening, prices, expert names);
partner topics carry only public data, and in production Kafka ACLs enforce it.
Category-scoped stages (bidding, announcement) get one topic per category so a
deployment can serve, and be scaled for, a subset of categories.
"""

from __future__ import annotations

from enum import StrEnum

from contracts.categories import Category

VERSION = 1


class Stage(StrEnum):
    """A stage of the platform; each stage is one service that owns its topics."""

    REGISTRATION = "registration"
    ANNOUNCEMENT = "announcement"
    BIDDING = "bidding"
    CREDIT = "credit"
    NOTIFY = "notify"


class Audience(StrEnum):
    """Who may read a topic."""

    INTERNAL = "internal"  # platform services only
    PARTNER = "partner"  # partner trading systems and upper platforms (public data only)


CATEGORY_SCOPED: frozenset[Stage] = frozenset({Stage.BIDDING, Stage.ANNOUNCEMENT})


class TopicError(ValueError):
    """A topic was asked for with a category where none applies, or without one."""


def topic_name(
    stage: Stage,
    category: Category | None = None,
    *,
    audience: Audience = Audience.INTERNAL,
    kind: str = "events",
    version: int = VERSION,
    prefix: str = "",
) -> str:
    """Name the topic of ``stage``'s ``kind`` of messages (events or commands).

    ``prefix`` isolates deployments (and tests) sharing one cluster.
    """
    scoped = stage in CATEGORY_SCOPED
    if scoped and category is None:
        raise TopicError(f"stage {stage} is category-scoped: name a category")
    if not scoped and category is not None:
        raise TopicError(f"stage {stage} is cross-category: no category applies")
    parts = [p for p in (prefix, "ggzy", audience.value, stage.value) if p]
    if category is not None:
        parts.append(category.value)
    if kind != "events":
        parts.append(kind)
    parts.append(f"v{version}")
    return ".".join(parts)


def dead_letter_topic(group: str, *, version: int = VERSION, prefix: str = "") -> str:
    """Name the dead-letter topic of one consumer group."""
    parts = [p for p in (prefix, "ggzy", "deadletter", group) if p]
    parts.append(f"v{version}")
    return ".".join(parts)


def retry_topic(group: str, *, version: int = VERSION, prefix: str = "") -> str:
    """Name the topic one consumer group reads its replayed dead letters from (only that
    group: the others, and partners, never see a replay)."""
    parts = [p for p in (prefix, "ggzy", "retry", group) if p]
    parts.append(f"v{version}")
    return ".".join(parts)
