"""Base classes of messages and the registry of every message type.

Events are facts in the past tense; commands are imperative requests that one
owner accepts or refuses. Every message is a frozen pydantic model whose fields
are described, and whose type name is ``ggzy.<stage>.<Name>.v<N>``.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from contracts.topics import Audience, Stage


class Message(BaseModel):
    """A message on the bus; subclasses set ``stage`` and describe every field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: ClassVar[Stage]
    version: ClassVar[int] = 1
    kind: ClassVar[str] = "events"
    audience: ClassVar[Audience] = Audience.INTERNAL

    @classmethod
    def type_name(cls) -> str:
        """The CloudEvents type of this message (made once per class: its stage and
        version are the class's own)."""
        name = _TYPE_NAMES.get(cls)
        if name is None:
            name = _TYPE_NAMES[cls] = f"ggzy.{cls.stage.value}.{cls.__name__}.v{cls.version}"
        return name

    def aggregate_id(self) -> str:
        """The aggregate this message is about (the Kafka key)."""
        raise NotImplementedError


_TYPE_NAMES: dict[type[Message], str] = {}


class Event(Message):
    """A fact that happened."""


class Command(Message):
    """A request that its one owner accepts or refuses."""

    kind: ClassVar[str] = "commands"


M = TypeVar("M", bound=type[Message])
REGISTRY: dict[str, type[Message]] = {}


def register(cls: M) -> M:
    """Class decorator: make a message type known to consumers and the exporter."""
    name = cls.type_name()
    if name in REGISTRY and REGISTRY[name] is not cls:
        raise ValueError(f"message type {name} registered twice")
    REGISTRY[name] = cls
    return cls


def message_type(type_name: str) -> type[Message] | None:
    """Look up a registered message class by its CloudEvents type."""
    return REGISTRY.get(type_name)


def all_messages() -> dict[str, type[Message]]:
    """Every registered message type, importing every contract module first."""
    import contracts.announcement
    import contracts.bidding
    import contracts.credit
    import contracts.notify
    import contracts.registration  # noqa: F401  (each module registers its messages)

    return dict(sorted(REGISTRY.items()))


def dump(message: Message) -> dict[str, Any]:
    """The JSON data of a message (the Kafka value)."""
    return message.model_dump(mode="json")
