"""Contracts stay readable within a version: the committed schemas are the yardstick."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from contracts import export
from contracts.base import Event
from contracts.topics import Stage


def test_current_models_do_not_break_the_committed_schemas() -> None:
    assert export.check() == []


def test_every_message_has_a_committed_schema_and_described_fields() -> None:
    committed = {p.stem for p in export.SCHEMAS.glob("*.json")}
    messages = export.all_messages()
    assert set(messages) <= committed, "run `ggzy contracts export` and commit the files"
    for name, cls in messages.items():
        for field_name, info in cls.model_fields.items():
            assert info.description, f"{name}.{field_name} has no description"


class V1(Event):
    stage: ClassVar[Stage] = Stage.CREDIT
    uscc: str = Field(max_length=18, description="code")
    score: int = Field(description="score")
    note: str | None = Field(default=None, description="note")


class Removed(Event):
    stage: ClassVar[Stage] = Stage.CREDIT
    uscc: str = Field(max_length=18, description="code")
    note: str | None = Field(default=None, description="note")


class Retyped(Event):
    stage: ClassVar[Stage] = Stage.CREDIT
    uscc: str = Field(max_length=18, description="code")
    score: str = Field(description="score")
    note: str | None = Field(default=None, description="note")


class Tightened(Event):
    stage: ClassVar[Stage] = Stage.CREDIT
    uscc: str = Field(max_length=10, description="code")
    score: int = Field(description="score")
    note: str = Field(description="note")


class Added(Event):
    stage: ClassVar[Stage] = Stage.CREDIT
    uscc: str = Field(max_length=18, description="code")
    score: int = Field(description="score")
    note: str | None = Field(default=None, description="note")
    extra: str | None = Field(default=None, description="new optional field")


def _breaks(new: type[Event]) -> list[str]:
    return export.breaking_changes(V1.model_json_schema(), new.model_json_schema())


def test_removing_or_renaming_a_field_is_breaking() -> None:
    assert any("score: field removed" in p for p in _breaks(Removed))


def test_retyping_a_field_is_breaking() -> None:
    assert any("score: type changed" in p for p in _breaks(Retyped))


def test_tightening_a_constraint_or_requiring_a_field_is_breaking() -> None:
    problems = _breaks(Tightened)
    assert any("uscc: maxLength tightened" in p for p in problems)
    assert any("note: field became required" in p for p in problems)


def test_adding_an_optional_field_is_compatible() -> None:
    assert _breaks(Added) == []
