"""A section's bid fingerprints as columns, the form the collusion check reads (围标串标). Pure.

Responsible for the columns of the fields the check reads (one list per field,
position i being bid i): from fingerprint models, and from the parts credit
keeps of a section, each part stored as columns. A section's part arrives as a
validated ``BidFingerprintsExtracted`` event (bad input is dead-lettered there)
and is kept by field, so that the check of a complete section reads each
field's values from one list instead of building a model per bid and reading
it back (100,000 models scattered over the heap cost more than the check).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

from contracts.bidding import BidFingerprint
from ggzy.runtime.errors import DomainError

VALUE_FIELDS = ("file_digest", "upload_ip", "upload_mac", "agent", "contact_person",
                "project_manager", "deposit_account")
TEXT_FIELDS = ("status", "bid_id", "bidder_uscc", *VALUE_FIELDS)
LIST_FIELDS = ("machine_serials", "part_digests")
CHECKED_FIELDS = ("status", "bid_id", "bidder_uscc", "price_fen", *LIST_FIELDS, *VALUE_FIELDS)
# Checked fields added after credit began keeping parts as columns: a part kept before
# has no column of one, and reads as each bid's default, an empty list (no evidence).
LATER_FIELDS = ("part_digests",)
STORED_FIELDS = tuple(BidFingerprint.model_fields)  # a part keeps every field


@dataclass(frozen=True)
class FingerprintColumns:
    """The checked fields of a section's bids, one list each: ``bid_id[i]``... of bid i."""

    status: Sequence[str]
    bid_id: Sequence[str]
    bidder_uscc: Sequence[str]
    price_fen: Sequence[int | None]
    machine_serials: Sequence[Sequence[str]]
    part_digests: Sequence[Sequence[str]]
    file_digest: Sequence[str]
    upload_ip: Sequence[str]
    upload_mac: Sequence[str]
    agent: Sequence[str]
    contact_person: Sequence[str]
    project_manager: Sequence[str]
    deposit_account: Sequence[str]

    def __len__(self) -> int:
        return len(self.bid_id)


_ROW, _ROW_BY_ATTRIBUTE = itemgetter(*CHECKED_FIELDS), attrgetter(*CHECKED_FIELDS)
_STORED_ROW, _STORED_ROW_BY_ATTRIBUTE = itemgetter(*STORED_FIELDS), attrgetter(*STORED_FIELDS)
_FIELDS = attrgetter("__dict__")


def columns_of(prints: Sequence[BidFingerprint]) -> FingerprintColumns:
    """The columns of fingerprint models, read in one pass over the bids.

    Each model is read once, its fields all at a time; a pydantic model keeps
    its fields in ``__dict__`` (read directly: about a third faster than
    attribute access). Each bid's row is laid end to end with the others in one
    list, which strided slices cut into columns: no row outlives its reading,
    so no 100,000 tracked objects stay alive to hasten a full collection of the
    caller's heap (~0.5 s), as a list of rows or ``zip(*rows)`` would.
    """
    try:
        flat = list(chain.from_iterable(map(_ROW, map(_FIELDS, prints))))
    except (KeyError, AttributeError):  # not a plain model: attribute access
        flat = list(chain.from_iterable(map(_ROW_BY_ATTRIBUTE, prints)))
    width = len(CHECKED_FIELDS)
    return FingerprintColumns(*(flat[k::width] for k in range(width)))


def stored_part(prints: Sequence[BidFingerprint]) -> dict[str, list[Any]]:
    """One part of a section's fingerprints as credit keeps it: every field as a column
    (a part holds at most 500 bids). The fields' values are JSON values already (strings,
    integers, null, lists of strings), read as :func:`columns_of` reads them."""
    try:
        flat = list(chain.from_iterable(map(_STORED_ROW, map(_FIELDS, prints))))
    except (KeyError, AttributeError):  # not a plain model: attribute access
        flat = list(chain.from_iterable(map(_STORED_ROW_BY_ATTRIBUTE, prints)))
    width = len(STORED_FIELDS)
    return {name: flat[k::width] for k, name in enumerate(STORED_FIELDS)}


def columns_of_parts(parts: Iterable[Mapping[str, Any]]) -> FingerprintColumns:
    """The columns of a section from its stored parts, in order (see :func:`stored_part`).

    A part kept as rows (``fingerprints``: one mapping per bid, as credit kept
    them before) is validated as models and read as columns. A part that lacks
    a checked field, whose columns differ in length, or whose values are not
    of the field's type is a ``DomainError`` (``fingerprints_invalid``) naming
    the part and the field; the values themselves were validated when the part
    was consumed, and are not validated again. A part kept before a field of
    ``LATER_FIELDS`` was checked reads as that field's empty lists.
    """
    columns: list[Mapping[str, Any]] = []
    for n, part in enumerate(parts, 1):
        if "columns" not in part and isinstance(part.get("fingerprints"), list):
            prints = [BidFingerprint.model_validate(p) for p in part["fingerprints"]]
            part = {"columns": dict(zip(CHECKED_FIELDS, _as_lists(columns_of(prints)),
                                        strict=True))}
        columns.append(_checked_part(n, part.get("columns")))
    joined = {name: list(chain.from_iterable(c[name] for c in columns))
              for name in CHECKED_FIELDS}
    _check_types(joined)
    return FingerprintColumns(**joined)


def _as_lists(cols: FingerprintColumns) -> list[Sequence[Any]]:
    return [getattr(cols, name) for name in CHECKED_FIELDS]


def _invalid(detail: str) -> DomainError:
    return DomainError("fingerprints_invalid", detail)


def _checked_part(n: int, cols: Any) -> Mapping[str, Any]:
    if not isinstance(cols, Mapping):
        raise _invalid(f"part {n} holds no fingerprint columns")
    later = [name for name in LATER_FIELDS if name not in cols]
    lengths = set()
    for name in CHECKED_FIELDS:
        if name in later:
            continue
        if not isinstance(cols.get(name), list):
            raise _invalid(f"part {n} has no column {name!r}")
        lengths.add(len(cols[name]))
    if len(lengths) > 1:
        raise _invalid(f"part {n}: its columns differ in length ({sorted(lengths)})")
    return {**cols, **{name: [[] for _ in cols["bid_id"]] for name in later}} if later else cols


def _check_types(cols: Mapping[str, list[Any]]) -> None:
    """Each column holds its field's type (C-speed passes over contiguous lists; a text
    column is joined, which refuses anything but a string)."""
    for name in TEXT_FIELDS:
        try:
            "".join(cols[name])
        except TypeError:
            raise _invalid(f"column {name!r} holds a value that is not a string") from None
    if not set(map(type, cols["price_fen"])) <= {int, type(None)}:
        raise _invalid("column 'price_fen' holds a value that is not an integer or null")
    for name in LIST_FIELDS:
        lists = cols[name]
        if not set(map(type, lists)) <= {list} or \
                not set(map(type, chain.from_iterable(lists))) <= {str}:
            raise _invalid(f"column {name!r} holds a value that is not a list of strings")
