"""Benchmark of credit's pure collusion checks (围标串标, 条例40; 87号令37; 条例34).

    .venv/bin/python bench/collusion.py [--sizes 100,1000,10000,100000] [--repeats 5]

Times the check on generated sections (mostly unique fingerprint values, prices
uniform in ±20% of an estimate, 2% revoked without a price, a few planted
colluding pairs per indicator) two ways: ``check_section`` on the bids' models
(``models``, as before session 11), and what credit does for a complete section
(``service``): from its stored parts, as the driver hands them over (decoded
BSON documents, a part of 500 bids kept as columns), to the findings
(``columns_of_parts``, its checks of the parts, and ``check_columns``). Reports
time per size: cold (the first check in a fresh process that has just built the
section, as the service checks a section it has just received) and warm (the
median of repeats after it in this process), per bid, the growth ratio between
sizes and the peak memory of one check (tracemalloc, in a run of its own); the
driver's decoding of the parts, not in those times, as columns and as the rows
kept before; and credit's path before session 11 (the parts kept as rows, each
bid validated as a model, then ``check_section``), once; then the false-positive
rate of honest sections of 5 to 50 bids and ``find_rotation`` on 10,000 section
outcomes. Prints a table and writes the figures as JSON to bench/results/.
Bounded: fixed sizes and repeats, no infrastructure, no timed assertions.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bson  # noqa: E402

from contracts.bidding import BidFingerprint  # noqa: E402
from ggzy.testing.data import new_uscc  # noqa: E402
from services.credit.domain.collusion import Finding, check_columns, check_section  # noqa: E402
from services.credit.domain.fingerprints import columns_of_parts, stored_part  # noqa: E402
from services.credit.domain.rotation import SectionOutcome, find_rotation  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PLANTED = ("file_digest", "machine_serials", "upload_ip", "upload_mac", "contact_person",
           "agent", "project_manager", "deposit_account", "part_digests")
PARTS = 5  # files of each bid's package, each with its digest (条例40(五)); --parts
Entities = dict[str, dict[str, Any]]


def codes(rng: random.Random, n: int) -> list[str]:
    """n distinct valid credit codes."""
    out: set[str] = set()
    while len(out) < n:
        out.add(new_uscc(rng))
    return sorted(out)


def honest_print(i: int, code: str, price: int | None) -> BidFingerprint:
    """A bid whose every fingerprint value is its own."""
    return BidFingerprint(
        bid_id=f"bid-{i:06d}", bidder_uscc=code, digest=f"{i:064x}", price_fen=price,
        status="valid" if price is not None else "revoked", file_digest=f"{i:032x}",
        machine_serials=[f"CPU{i:08d}", f"DISK{i:08d}", f"BOARD{i:08d}"],
        upload_ip=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
        upload_mac=f"02:00:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
        contact_person=f"联系人{i}", agent=f"代理人{i}", project_manager=f"项目经理{i}",
        deposit_account=f"6222{i:012d}",
        part_digests=[f"{i:056x}{p:08x}" for p in range(PARTS)])


def planted(n: int) -> int:
    """Pairs planted in a section of n bids: one per mark at least (every indicator)."""
    return max(len(PLANTED), n // 1000)


def section(rng: random.Random, bidders: list[str], n: int,
            planted_pairs: int) -> tuple[list[BidFingerprint], Entities]:
    """n bids, planted_pairs pairs sharing one value each (cycling through PLANTED)."""
    estimate = 10_000_000_00  # 10 million yuan in fen
    prints = []
    for i in range(n):
        price = None if rng.random() < 0.02 else rng.randint(estimate * 8 // 10,
                                                              estimate * 12 // 10)
        prints.append(honest_print(i, bidders[i], price))
    for k in range(planted_pairs):
        a, b = rng.sample(range(n), 2)
        name = PLANTED[k % len(PLANTED)]
        if name == "part_digests" and not PARTS:
            name = PLANTED[0]  # packages without parts: plant another value instead
        value: Any = [f"SHARED{k}"] if name == "machine_serials" else f"shared-{k}"
        for x in (a, b):
            if name == "part_digests":  # one file of each package the same (相互混装)
                value = [*prints[x].part_digests[1:], f"{0xFEED0000 + k:064x}"]
            prints[x] = prints[x].model_copy(update={name: value})
    entities: Entities = {c: {"legal_representative_ref": f"rep-{j}", "controlled_by": []}
                          for j, c in enumerate(bidders[:n])}
    for k in range(max(1, planted_pairs // 4)):
        for code in rng.sample(bidders[:n], 2):
            entities[code] = {**entities[code], "legal_representative_ref": f"rep-shared-{k}"}
    rng.shuffle(prints)
    return prints, entities


def timed(fn: Callable[[], object], repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (this process) times in seconds of repeats calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def calibration_s() -> float:
    """CPU seconds of a fixed reference loop (1M dict inserts): compares machines and load."""
    c0, d = time.process_time(), dict[str, list[int]]()
    for i in range(1_000_000):
        d.setdefault(str(i), []).append(i)
    return time.process_time() - c0


def peak_kib(fn: Callable[[], object]) -> float:
    """Peak Python heap allocated by one call (tracemalloc), in KiB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


PART = 500  # bidding sends a section's fingerprints in parts of at most 500


def stored_parts(prints: list[BidFingerprint], rows: bool = False) -> list[bytes]:
    """The section's parts as credit's store holds them (BSON): as columns, or as the rows
    of one mapping per bid that credit kept before session 11."""
    out = []
    for n, at in enumerate(range(0, len(prints), PART), 1):
        part = prints[at:at + PART]
        body: dict[str, Any] = {"fingerprints": [p.model_dump(mode="json") for p in part]} \
            if rows else {"columns": stored_part(part)}
        out.append(bson.encode({"_id": f"T:001:{n}", "section": "T:001", "part": n,
                                "parts": -(-len(prints) // PART), "category": "construction",
                                **body}))
    return out


def decoded(raw: list[bytes]) -> list[dict[str, Any]]:
    """What the driver hands the store's caller: the parts decoded, in order."""
    return [bson.decode(b) for b in raw]


def service_check(parts: list[dict[str, Any]], entities: Entities) -> list[Finding]:
    """Credit's check of a complete section from its stored parts (handlers.on_fingerprints)."""
    return check_columns(columns_of_parts(parts), entities)


def service_check_before(parts: list[dict[str, Any]], entities: Entities) -> list[Finding]:
    """The same before session 11: the parts kept as rows, each bid validated as a model."""
    every = [BidFingerprint.model_validate(fp) for d in parts for fp in d["fingerprints"]]
    return check_section(every, entities)


def cold_check(n: int, seed: int, path: str) -> dict[str, float]:
    """The first check of a fresh process on a section of n bids it has just built
    (``models``: check_section on the models; ``service``: from the decoded stored parts)."""
    rng = random.Random(seed)
    prints, entities = section(rng, codes(rng, n), n, planted_pairs=planted(n))
    if path == "service":
        parts = decoded(stored_parts(prints))
        del prints
        check = partial(service_check, parts, entities)
    else:
        check = partial(check_section, prints, entities)
    t0, c0 = time.perf_counter(), time.process_time()
    check()
    return {"cold_s": time.perf_counter() - t0, "cold_cpu_s": time.process_time() - c0}


def cold_in_fresh_process(n: int, seed: int, path: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--cold-one", str(n), "--seed", str(seed),
                          "--path", path, "--parts", str(PARTS)], check=True,
                         capture_output=True, text=True).stdout
    figures: dict[str, float] = json.loads(out)
    return figures


def bench_sections(sizes: list[int], repeats: int, rng: random.Random,
                   seed: int) -> list[dict[str, Any]]:
    """check_section per size: times, per bid, growth, peak memory, findings by indicator."""
    bidders = codes(rng, max(sizes))
    rows: list[dict[str, Any]] = []
    for n in sizes:
        prints, entities = section(rng, bidders, n, planted_pairs=planted(n))
        findings = check_section(prints, entities)  # warm-up, and the findings
        check = partial(check_section, prints, entities)
        runs = repeats if n < 100_000 else max(3, repeats // 2)
        times, cpu = timed(check, runs)
        med = statistics.median(times)
        row = {"bids": n, **cold_in_fresh_process(n, seed + n, "models"),
               "repeats": len(times), "median_s": med, "min_s": min(times),
               "cpu_median_s": statistics.median(cpu), "us_per_bid": med / n * 1e6,
               "peak_kib": peak_kib(check),
               "findings": dict(Counter(str(f.indicator) for f in findings))}
        row.update(bench_service(prints, entities, findings, runs, n, seed))
        if rows:
            row["growth"] = med / rows[-1]["median_s"]
            row["service_growth"] = row["service_median_s"] / rows[-1]["service_median_s"]
            row["size_ratio"] = n / rows[-1]["bids"]
        rows.append(row)
    return rows


def bench_service(prints: list[BidFingerprint], entities: Entities, findings: list[Finding],
                  runs: int, n: int, seed: int) -> dict[str, Any]:
    """Credit's path for one section, from its decoded stored parts (see the docstring)."""
    raw, raw_rows = stored_parts(prints), stored_parts(prints, rows=True)
    parts = decoded(raw)
    if service_check(parts, entities) != findings:
        raise SystemExit(f"{n} bids: the service path's findings differ from check_section's")
    check = partial(service_check, parts, entities)
    times, cpu = timed(check, runs)
    cold = cold_in_fresh_process(n, seed + n, "service")
    row_parts = decoded(raw_rows)
    before, _ = timed(partial(service_check_before, row_parts, entities), 1)
    del row_parts
    return {"service_cold_s": cold["cold_s"], "service_cold_cpu_s": cold["cold_cpu_s"],
            "service_median_s": statistics.median(times), "service_min_s": min(times),
            "service_cpu_median_s": statistics.median(cpu),
            "service_us_per_bid": statistics.median(times) / n * 1e6,
            "service_peak_kib": peak_kib(check),
            "decode_columns_s": statistics.median(timed(partial(decoded, raw), 3)[0]),
            "decode_rows_s": statistics.median(timed(partial(decoded, raw_rows), 3)[0]),
            "service_before_s": before[0]}


def false_positive_rates(rng: random.Random, sections: int) -> dict[str, float]:
    """Share of honest sections (unique values, prices in ±20%) with any finding, per size."""
    bidders = codes(rng, 50)
    rates = {}
    for n in (5, 10, 20, 50):
        hits = 0
        for _ in range(sections):
            estimate = rng.randint(10**7, 10**10)
            prints = [honest_print(i, bidders[i], rng.randint(estimate * 8 // 10,
                                                              estimate * 12 // 10))
                      for i in range(n)]
            hits += bool(check_section(prints, {}))
        rates[str(n)] = hits / sections
    return rates


def outcomes(rng: random.Random, count: int) -> list[SectionOutcome]:
    """count sections: 3-12 bidders from 3,000, five planted rotating groups, a few huge ones."""
    pool = [f"91{n:016d}" for n in range(3_000)]
    out = []
    for n in range(count):
        big = n % 1_000 == 0
        bidders = rng.sample(pool, 1_000 if big else rng.randint(3, 12))
        out.append(SectionOutcome(f"T{n:06d}", "001", "construction", frozenset(bidders),
                                  rng.choice(bidders)))
    for g in range(5):
        group = [f"91RING{g}{m:011d}" for m in range(3 + g % 3)]
        for k in range(4 + g):
            ring = frozenset(group + rng.sample(pool, 2))
            out.append(SectionOutcome(f"R{g}{k:04d}", "001", "procurement", ring,
                                      group[k % len(group)]))
    return out


def bench_rotation(rng: random.Random, count: int, repeats: int) -> dict[str, Any]:
    data = outcomes(rng, count)
    found = find_rotation(data)
    times, cpu = timed(lambda: find_rotation(data), repeats)
    return {"outcomes": len(data), "repeats": repeats, "median_s": statistics.median(times),
            "cpu_median_s": statistics.median(cpu),
            "min_s": min(times), "peak_kib": peak_kib(lambda: find_rotation(data)),
            "patterns": len(found), "planted_found": sum(p.bidders[0].startswith("91RING")
                                                          for p in found)}


def report(result: dict[str, Any]) -> None:
    print(f"calibration (1M dict inserts, CPU): {result['calibration_s']:.3f} s; "
          f"load average {result['loadavg']}")
    print("cold: first check in a fresh process; warm: median of repeats after a warm-up")
    print("models: check_section on the bids' models (the figure before session 11)")
    print(f"{'bids':>8} {'cold s':>9} {'cold cpu':>9} {'warm s':>9} {'min s':>9} {'cpu s':>9} "
          f"{'µs/bid':>7} {'growth':>7} {'peak KiB':>9}  findings")
    for r in result["sections"]:
        growth = f"{r['growth']:.1f}x" if "growth" in r else "-"
        print(f"{r['bids']:>8} {r['cold_s']:>9.4f} {r['cold_cpu_s']:>9.4f} {r['median_s']:>9.4f} "
              f"{r['min_s']:>9.4f} {r['cpu_median_s']:>9.4f} "
              f"{r['us_per_bid']:>7.2f} {growth:>7} {r['peak_kib']:>9.0f}  {r['findings']}")
    print("service: credit's check of a complete section, from its decoded stored parts "
          "(columns) to the findings; decode: the driver's BSON decoding of the parts, not "
          "included (columns | rows, as kept before); before: credit's path before session "
          "11 (rows -> models -> check_section), one run")
    print(f"{'bids':>8} {'cold s':>9} {'cold cpu':>9} {'warm s':>9} {'min s':>9} {'cpu s':>9} "
          f"{'µs/bid':>7} {'growth':>7} {'peak KiB':>9} {'decode c':>9} {'decode r':>9} "
          f"{'before s':>9}")
    for r in result["sections"]:
        growth = f"{r['service_growth']:.1f}x" if "service_growth" in r else "-"
        print(f"{r['bids']:>8} {r['service_cold_s']:>9.4f} {r['service_cold_cpu_s']:>9.4f} "
              f"{r['service_median_s']:>9.4f} {r['service_min_s']:>9.4f} "
              f"{r['service_cpu_median_s']:>9.4f} {r['service_us_per_bid']:>7.2f} {growth:>7} "
              f"{r['service_peak_kib']:>9.0f} {r['decode_columns_s']:>9.4f} "
              f"{r['decode_rows_s']:>9.4f} {r['service_before_s']:>9.4f}")
    print("honest sections with any finding:",
          {k: f"{v:.1%}" for k, v in result["false_positive_rate"].items()})
    rot = result["rotation"]
    print(f"find_rotation: {rot['outcomes']} outcomes, median {rot['median_s']:.3f} s "
          f"(cpu {rot['cpu_median_s']:.3f} s), "
          f"peak {rot['peak_kib']:.0f} KiB, {rot['patterns']} patterns "
          f"({rot['planted_found']} of 5 planted)")


def main() -> None:
    global PARTS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100,1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fp-sections", type=int, default=2_000)
    parser.add_argument("--outcomes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=40)
    parser.add_argument("--cold-one", type=int, help="time one check of this size, print JSON")
    parser.add_argument("--path", choices=("models", "service"), default="models",
                        help="with --cold-one: the check timed")
    parser.add_argument("--parts", type=int, default=5, help="files per bid package, "
                        "each with its digest (条例40(五)); 0: none, as before session 17")
    args = parser.parse_args()
    PARTS = args.parts
    if args.cold_one:
        print(json.dumps(cold_check(args.cold_one, args.seed, args.path)))
        return
    rng = random.Random(args.seed)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    result = {"stamp": stamp, "python": sys.version.split()[0], "seed": args.seed,
              "parts": PARTS,
              "loadavg": Path("/proc/loadavg").read_text().split()[:3],
              "calibration_s": calibration_s(),
              "sections": bench_sections([int(s) for s in args.sizes.split(",")],
                                         args.repeats, rng, args.seed),
              "false_positive_rate": false_positive_rates(rng, args.fp_sections),
              "rotation": bench_rotation(rng, args.outcomes, 3)}
    report(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"collusion-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
