"""The message envelope (CloudEvents 1.0 Kafka binding) and topic naming."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from contracts.base import Event
from contracts.categories import Category, parse_categories
from contracts.envelope import Envelope, EnvelopeError, new_id
from contracts.topics import Audience, Stage, TopicError, dead_letter_topic, topic_name


def test_envelope_round_trips_through_kafka_headers() -> None:
    env = Envelope.new(type="ggzy.bidding.BidsOpened.v1", source="/ggzy/bidding",
                       subject="T1", category=Category.LAND, causationid="c-1")
    raw = [(k, v.encode()) for k, v in env.headers().items()]
    assert Envelope.from_headers(raw) == env
    assert env.headers()["ce_specversion"] == "1.0"
    assert env.headers()["content-type"] == "application/json"


def test_extension_and_other_headers_are_ignored_when_reading_an_envelope() -> None:
    env = Envelope.new(type="ggzy.bidding.BidsOpened.v1", source="/ggzy/bidding", subject="T1")
    raw = [(k, v.encode()) for k, v in env.headers().items()]
    raw += [("ce_dataschema", b"https://example.org/s"), ("traceparent", b"00-ab-cd-01")]
    assert Envelope.from_headers(raw) == env


def test_envelope_without_required_headers_is_refused_with_their_names() -> None:
    with pytest.raises(EnvelopeError) as err:
        Envelope.from_headers({"ce_id": "x", "ce_type": "t"})
    assert err.value.code == "envelope_missing"
    assert "source" in str(err.value)


def test_envelope_with_other_specversion_is_refused() -> None:
    env = Envelope.new(type="t", source="s", subject="a")
    headers = {**env.headers(), "ce_specversion": "0.3"}
    with pytest.raises(EnvelopeError) as err:
        Envelope.from_headers(headers)
    assert err.value.code == "envelope_specversion"


def test_correlation_defaults_to_the_event_id_and_is_kept_when_given() -> None:
    first = Envelope.new(type="t", source="s", subject="a")
    follow = Envelope.new(type="t", source="s", subject="a", correlationid=first.correlationid)
    assert first.correlationid == first.id
    assert follow.correlationid == first.id


def reference_headers(envelope: Envelope) -> dict[str, str]:
    """The headers as the envelope's JSON form gives them (what headers() must equal)."""
    return {"content-type": "application/json", **{
        f"ce_{k}": str(v) for k, v in envelope.model_dump(mode="json").items()
        if v is not None}}


@pytest.mark.parametrize("when", [
    datetime(2026, 12, 1, 15, 30, 1, 123456, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))),
    datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=timezone(timedelta(0))),
    datetime(2026, 1, 1, 1, 2, 3, 5000)])
def test_headers_are_the_envelopes_json_form(when: datetime) -> None:
    envelope = Envelope(id="e-1", type="t.v1", source="/s", time=when, subject="x",
                        category=Category.LAND, correlationid="c", partnerid="p")
    assert envelope.headers() == reference_headers(envelope)
    assert Envelope.from_headers(envelope.headers()) == envelope


def test_a_new_envelope_is_the_validated_model_and_wrong_types_are_still_refused() -> None:
    new = Envelope.new(type="t.v1", source="/s", subject="x", category=Category.LAND,
                       causationid="cause")
    assert new == Envelope.model_validate(new.model_dump())
    assert new.headers() == reference_headers(new)
    assert Envelope.new(type="t.v1", source="/s", subject="x").category is None
    wrong: Any = 17
    with pytest.raises(ValidationError):
        Envelope.new(type="t.v1", source="/s", subject=wrong)
    assert Envelope.new(type="t.v1", source="/s", subject="x",
                        category=wrong_category()).category is Category.LAND


def wrong_category() -> Any:
    return "land"  # a plain string where a Category is declared: validated into one


def test_new_ids_are_distinct_random_uuids_written_as_uuid4_writes_them() -> None:
    ids = [new_id() for _ in range(2000)]  # more than one read of the random source
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
    assert Envelope.new(type="t", source="/s", subject="x").id != Envelope.new(
        type="t", source="/s", subject="x").id


def test_topic_names_are_versioned_and_category_scoped_where_the_stage_is() -> None:
    assert topic_name(Stage.REGISTRATION) == "ggzy.internal.registration.v1"
    assert topic_name(Stage.BIDDING, Category.LAND) == "ggzy.internal.bidding.land.v1"
    assert (topic_name(Stage.ANNOUNCEMENT, Category.CONSTRUCTION, audience=Audience.PARTNER,
                       prefix="t1") == "t1.ggzy.partner.announcement.construction.v1")
    assert (topic_name(Stage.REGISTRATION, audience=Audience.PARTNER, kind="commands")
            == "ggzy.partner.registration.commands.v1")
    assert dead_letter_topic("registration.partner") == "ggzy.deadletter.registration.partner.v1"


def test_topic_refuses_a_missing_or_superfluous_category() -> None:
    with pytest.raises(TopicError):
        topic_name(Stage.BIDDING)
    with pytest.raises(TopicError):
        topic_name(Stage.CREDIT, Category.LAND)


def test_category_filter_parses_all_or_a_subset_and_names_unknown_ones() -> None:
    assert parse_categories("all") == frozenset(Category)
    assert parse_categories("land, mining") == {Category.LAND, Category.MINING}
    with pytest.raises(ValueError, match="fishing"):
        parse_categories("land,fishing")


def test_an_envelope_reads_the_same_from_bytes_text_mixed_and_a_one_pass_iterator() -> None:
    env = Envelope.new(type="ggzy.bidding.BidsOpened.v1", source="/ggzy/bidding",
                       subject="T1", category=Category.LAND, causationid="c-1")
    text = list(env.headers().items())
    raw = [(k, v.encode()) for k, v in text]
    mixed = [(k, v.encode() if n % 2 else v) for n, (k, v) in enumerate(text)]
    for headers in (raw, text, mixed, tuple(raw)):
        assert Envelope.from_headers(headers) == env
    assert Envelope.from_headers(iter(mixed)) == env  # read once, whatever it holds


def test_a_message_types_name_is_its_own_class_stage_and_version_every_time() -> None:
    class Noted(Event):
        stage: ClassVar[Stage] = Stage.CREDIT

    class NotedAgain(Noted):  # a later version of it, a class of its own
        version: ClassVar[int] = 2

    assert Noted.type_name() == "ggzy.credit.Noted.v1"
    assert NotedAgain.type_name() == "ggzy.credit.NotedAgain.v2"
    assert Noted.type_name() == "ggzy.credit.Noted.v1"  # as the first time
    assert Noted().type_name() == Noted.type_name()  # from an instance too
