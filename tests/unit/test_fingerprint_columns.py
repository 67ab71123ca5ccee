"""A section's fingerprints kept as columns and checked as columns (围标串标, 条例40)."""

from __future__ import annotations

import random
from typing import Any

import bson
import pytest

from contracts.bidding import BidFingerprint
from ggzy.runtime.errors import DomainError
from ggzy.testing.data import new_uscc
from services.credit.domain import collusion
from services.credit.domain.collusion import check_columns, check_section
from services.credit.domain.fingerprints import (
    CHECKED_FIELDS,
    LATER_FIELDS,
    LIST_FIELDS,
    STORED_FIELDS,
    VALUE_FIELDS,
    columns_of,
    columns_of_parts,
    stored_part,
)

_RNG = random.Random(11)
CODES = sorted({new_uscc(_RNG) for _ in range(400)})
SPELLINGS = ("{v}", " {v} ", "{V}", "{v}\u3000")  # formatting must not hide a shared value


def varied_section(rng: random.Random) -> tuple[list[BidFingerprint], dict[str, Any]]:
    """Bids of 1-300 bidders (some with two bids): shared values spelled apart, empty ones,
    withdrawn and revoked bids, planted price progressions and close prices, related
    entities (a shared representative, control, a common controller)."""
    n = rng.randint(1, 300)
    bidders = rng.sample(CODES, n)
    prints = []
    for i in range(n):
        status = rng.choice(("valid",) * 8 + ("revoked", "withdrawn", "invalid_related"))
        price = None if status == "revoked" and rng.random() < 0.7 else \
            rng.randint(8_000_000_00, 12_000_000_00)
        row: dict[str, Any] = {
            "bid_id": f"bid-{i:04d}", "bidder_uscc": bidders[i if rng.random() < 0.9 else 0],
            "digest": f"{i:064x}", "price_fen": price, "status": status,
            "machine_serials": [f"CPU{i}", f"DISK{i}"][:rng.randint(0, 2)],
            "part_digests": [f"{i:032x}{k:032x}" for k in range(rng.randint(0, 3))],
            **{name: ("" if rng.random() < 0.1 else f"{name}-{i}") for name in VALUE_FIELDS}}
        prints.append(row)
    for _ in range(rng.randint(0, 12)):
        value = f"Shared-{rng.randint(0, 5)}"
        name = rng.choice((*VALUE_FIELDS, *LIST_FIELDS))
        for i in rng.sample(range(n), min(n, rng.randint(2, 4))):
            spelt = rng.choice(SPELLINGS).format(v=value, V=value.upper())
            prints[i][name] = [spelt, *prints[i][name]] if name in LIST_FIELDS else spelt
    _plant_prices(rng, prints)
    entities: dict[str, Any] = {b: {"legal_representative_ref": f"rep-{k % max(1, n - 3)}",
                                    "controlled_by": []} for k, b in enumerate(bidders)}
    if n > 3:
        entities[bidders[1]]["controlled_by"] = [bidders[0], "91000000000000000X"]
        entities[bidders[2]]["controlled_by"] = ["91000000000000000X"]
    rng.shuffle(prints)
    return [BidFingerprint(**p) for p in prints], entities


def _plant_prices(rng: random.Random, prints: list[dict[str, Any]]) -> None:
    at = rng.sample(range(len(prints)), min(len(prints), rng.randint(0, 6)))
    base, kind = rng.randint(9_000_000_00, 10_000_000_00), rng.randrange(3)
    for k, i in enumerate(at):
        prints[i]["price_fen"] = (base + k * 1_000_000_00 if kind == 0 else
                                  base * 11 ** k // 10 ** k if kind == 1 else base + k * 100)


def stored(prints: list[BidFingerprint], size: int) -> list[dict[str, Any]]:
    """The section's parts as the store gives them back (through BSON, as the driver does)."""
    return [bson.decode(bson.encode({"part": n, "columns": stored_part(prints[at:at + size])}))
            for n, at in enumerate(range(0, len(prints), size), 1)]


@pytest.mark.parametrize("seed", range(40))
def test_the_stored_columns_give_the_findings_of_the_models_evidence_included(
        seed: int) -> None:
    """The check from the kept columns finds what the check of the bids' models finds
    (the path before: each stored bid validated as a model), evidence and ids included."""
    rng = random.Random(seed)
    prints, entities = varied_section(rng)
    rows = [p.model_dump(mode="json") for p in prints]
    before = check_section([BidFingerprint.model_validate(r) for r in rows], entities)
    after = check_columns(columns_of_parts(stored(prints, rng.randint(1, 60))), entities)
    assert after == before
    assert [collusion.finding_id("T", "001", f) for f in after] == \
        [collusion.finding_id("T", "001", f) for f in before]


def test_varied_sections_do_find_every_kind_of_finding() -> None:
    """The comparison above is not vacuous: its sections hold every indicator."""
    found = {f.indicator for seed in range(40)
             for f in check_section(*varied_section(random.Random(seed)))}
    assert found == set(collusion.ARTICLES)


def test_a_part_keeps_every_field_of_every_bid() -> None:
    prints, _ = varied_section(random.Random(3))
    part = stored_part(prints)
    assert tuple(part) == STORED_FIELDS
    assert [dict(zip(part, row, strict=True)) for row in zip(*part.values(), strict=True)] == \
        [p.model_dump(mode="json") for p in prints]


def test_parts_kept_as_rows_before_read_as_the_same_columns() -> None:
    """A part stored by the earlier layout (one mapping per bid) reads as columns too."""
    prints, entities = varied_section(random.Random(5))
    rows = {"part": 1, "fingerprints": [p.model_dump(mode="json") for p in prints[:50]]}
    parts = [rows, *stored(prints[50:], 40)]
    assert columns_of_parts(parts) == columns_of(prints)
    assert check_columns(columns_of_parts(parts), entities) == check_section(prints, entities)


def test_parts_kept_as_columns_before_part_digests_read_as_bids_without_any() -> None:
    """A part kept before bids carried part digests (条例40(五)) has no column of them:
    each of its bids reads as one with none, and the rest of the part is checked as ever."""
    prints, entities = varied_section(random.Random(7))
    earlier = [p.model_copy(update={name: [] for name in LATER_FIELDS}) for p in prints]
    parts = stored(earlier, 40)
    for part in parts:
        for name in LATER_FIELDS:
            del part["columns"][name]
    assert columns_of_parts(parts) == columns_of(earlier)
    assert check_columns(columns_of_parts(parts), entities) == check_section(earlier, entities)


def test_the_check_reads_every_value_field_it_normalises() -> None:
    assert {name for _, name, _ in collusion._SINGLE_VALUED} == set(VALUE_FIELDS)
    assert {name for _, name, _, _ in collusion._MULTI_VALUED} == set(LIST_FIELDS)


def _bad(part: dict[str, Any]) -> str:
    good = stored([BidFingerprint(bid_id="b-1", bidder_uscc=CODES[0], digest="d",
                                  status="valid", price_fen=1)], 1)[0]
    with pytest.raises(DomainError) as caught:
        columns_of_parts([good, part])
    assert caught.value.code == "fingerprints_invalid"
    return caught.value.message


@pytest.mark.parametrize(("change", "reason"), [
    (lambda c: c.pop("upload_ip"), "part 2 has no column 'upload_ip'"),
    (lambda c: c["bid_id"].append("b-9"), "part 2: its columns differ in length ([1, 2])"),
    (lambda c: c.update(agent=[7]), "column 'agent' holds a value that is not a string"),
    (lambda c: c.update(price_fen=["1"]), "column 'price_fen' holds a value that is not an "
                                          "integer or null"),
    (lambda c: c.update(machine_serials=["CPU"]), "column 'machine_serials' holds a value "
                                                  "that is not a list of strings"),
    (lambda c: c.update(part_digests=[[1]]), "column 'part_digests' holds a value that is "
                                             "not a list of strings"),
    (lambda c: c["part_digests"].append([]), "part 2: its columns differ in length ([1, 2])"),
])
def test_a_damaged_stored_part_is_refused_with_its_reason(change: Any, reason: str) -> None:
    cols = stored_part([BidFingerprint(bid_id="b-2", bidder_uscc=CODES[1], digest="d",
                                       status="valid", price_fen=2)])
    change(cols)
    assert _bad({"part": 2, "columns": cols}) == reason


def test_a_part_without_columns_or_rows_is_refused() -> None:
    assert _bad({"part": 2}) == "part 2 holds no fingerprint columns"


def test_every_checked_field_is_a_fingerprint_field() -> None:
    assert set(CHECKED_FIELDS) <= set(STORED_FIELDS)
