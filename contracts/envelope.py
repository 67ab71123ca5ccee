"""The one envelope of every message: CloudEvents 1.0, Kafka protocol binding.

Binary content mode: the event's data is the Kafka value (JSON); its
attributes travel as ``ce_*`` headers; the Kafka key is the aggregate id (a
tender id, a USCC) so one aggregate's messages keep their order. Platform
extensions: ``category``, ``correlationid``, ``causationid``; partner commands
add ``partnerid`` and ``signature``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts.categories import Category

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"


class EnvelopeError(ValueError):
    """Headers that do not form a valid envelope; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Envelope(BaseModel):
    """CloudEvents attributes of one message, plus the platform's extensions."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Unique event id (ce_id); consumers deduplicate on it.")
    type: str = Field(description="Event type, e.g. ggzy.registration.EntityRegistered.v1.")
    source: str = Field(description="Producing service, e.g. /ggzy/registration.")
    time: datetime = Field(description="When the fact happened (UTC).")
    subject: str = Field(description="Aggregate id; also the Kafka message key.")
    specversion: str = Field(default=SPECVERSION, description="CloudEvents version.")
    category: Category | None = Field(default=None, description="Transaction category.")
    correlationid: str = Field(description="Id shared by every message of one business flow.")
    causationid: str | None = Field(default=None, description="Id of the message that caused this.")
    partnerid: str | None = Field(default=None, description="Partner system that sent a command.")
    signature: str | None = Field(default=None, description="Partner's Ed25519 signature (base64).")

    @classmethod
    def new(
        cls,
        *,
        type: str,
        source: str,
        subject: str,
        category: Category | None = None,
        correlationid: str | None = None,
        causationid: str | None = None,
        id: str | None = None,
    ) -> Envelope:
        """Stamp a fresh envelope: now, with a new id (or the deterministic ``id`` given)."""
        event_id = id or new_id()
        return cls(
            id=event_id,
            type=type,
            source=source,
            time=datetime.now(UTC),
            subject=subject,
            category=category,
            correlationid=correlationid or event_id,
            causationid=causationid,
        )

    def headers(self) -> dict[str, str]:
        """The ``ce_*`` headers (and content-type) of the Kafka binding: each attribute
        as in the envelope's JSON form (``model_dump(mode="json")``), None left out."""
        out = {"content-type": CONTENT_TYPE}
        attrs = self.__dict__
        for name, header in _HEADER_NAMES:
            value = attrs[name]
            if value is None:
                continue
            out[header] = _time_text(value) if name == "time" else str(value)
        return out

    @classmethod
    def from_headers(
        cls, headers: Mapping[str, str | bytes] | Iterable[tuple[str, bytes]]
    ) -> Envelope:
        """Read an envelope back from Kafka headers; raise EnvelopeError if invalid."""
        pairs = headers if isinstance(headers, list | tuple) \
            else headers.items() if isinstance(headers, Mapping) else list(headers)
        # the envelope's own attributes (other ce_ headers are extensions it ignores)
        attrs: dict[str, str]
        try:  # as Kafka gives them: every value bytes (no type test per header)
            attrs = {_ATTRIBUTES[key]: raw.decode()  # type: ignore[union-attr]
                     for key, raw in pairs if key in _ATTRIBUTES}
        except AttributeError:  # some given as text
            attrs = {_ATTRIBUTES[key]: raw.decode() if isinstance(raw, bytes) else raw
                     for key, raw in pairs if key in _ATTRIBUTES}
        if not attrs.keys() >= _REQUIRED_SET:
            missing = [k for k in _REQUIRED if k not in attrs]
            raise EnvelopeError("envelope_missing", f"missing CloudEvents headers: {missing}")
        if attrs.get("specversion", SPECVERSION) != SPECVERSION:
            raise EnvelopeError(
                "envelope_specversion", f"unsupported specversion {attrs['specversion']}"
            )
        try:
            return cls.__pydantic_validator__.validate_python(attrs)  # type: ignore[no-any-return]
        except ValueError as exc:
            raise EnvelopeError("envelope_invalid", f"invalid envelope headers: {exc}") from exc


def new_id() -> str:
    """A fresh event id: a random UUID (version 4) as text, as ``str(uuid.uuid4())``
    writes it. The random bytes of ``_IDS_AT_ONCE`` ids are read from the system's
    source (``os.urandom``) in one call, not one call per id."""
    if not _ids:
        _ids.extend(_random_ids(_IDS_AT_ONCE))
    return _ids.pop()


def _random_ids(count: int) -> list[str]:
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # the RFC 4122 variant
    text = raw.hex()
    return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
            for h in (text[i:i + 32] for i in range(0, len(text), 32))]


_IDS_AT_ONCE = 256
_ids: list[str] = []
os.register_at_fork(after_in_child=_ids.clear)  # a child draws its own ids
_REQUIRED = ("id", "type", "source", "time", "subject", "correlationid")
_REQUIRED_SET = frozenset(_REQUIRED)
_HEADER_NAMES = tuple((name, f"ce_{name}") for name in Envelope.model_fields)
_ATTRIBUTES = {header: name for name, header in _HEADER_NAMES}


def _time_text(value: datetime) -> str:
    """A datetime as pydantic writes it in JSON: ISO 8601, a zero offset as ``Z``."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
