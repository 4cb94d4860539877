#!/usr/bin/env python3
"""Turn `cargo bench` output (divan's tree) into the markdown table of
BENCHMARKS.md: per request, the median time per decision of each engine and
Cedar's time over ours. Usage: cargo bench | python3 table.py"""
import re
import sys

UNITS = {"ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
medians = {}  # (engine, request) -> ns
engine = None
for line in sys.stdin:
    # The tree's own "│" (first column) is not a cell separator.
    cells = [c.strip() for c in line.rstrip("\n").lstrip("│").split("│")]
    head = cells[0]
    m = re.match(r"^[├╰]─ (\S+)\s*$", head)
    if m:
        engine = m.group(1)
        continue
    m = re.match(r"^[├╰]─ (\S+/\S+)\s+\S+ \S+$", head)
    if m and engine and len(cells) >= 3:
        value, unit = cells[2].split()
        medians[(engine, m.group(1))] = float(value) * UNITS[unit]

requests = list(dict.fromkeys(r for (_, r) in medians))
engines = ["ours", "cedar", "cedar_from_json"]


def fmt(ns):
    return f"{ns:,.0f}" if ns >= 100 else f"{ns:.1f}"


print("| case / request | ours (ns) | cedar, request prebuilt (ns) | cedar from JSON (ns) | cedar ÷ ours | cedar from JSON ÷ ours |")
print("|---|---:|---:|---:|---:|---:|")
for r in requests:
    row = [medians.get((e, r)) for e in engines]
    if None in row:
        continue
    ours, cedar, json = row
    print(f"| {r} | {fmt(ours)} | {fmt(cedar)} | {fmt(json)} | {cedar / ours:.1f}× | {json / ours:.1f}× |")
