#!/usr/bin/env python3
"""Draw the server's throughput/latency curve as an SVG (Python 3 stdlib only).

Usage: python3 scripts/bench-chart.py [docs/bench/curve.csv [docs/bench/curve.svg]]

Reads the CSV that scripts/bench-curve.sh writes (lines starting with `#`
are comments; the first other line is the header) and draws two panels:
decision requests/s and p99 latency of protect() against the number of
concurrent callers (log scale), one line per storage (file database,
:memory:). The first comment line (machine, commit) and the load average
go under the panels.
"""

import csv
import math
import sys
from html import escape

COLORS = {"file": "#1f77b4", "memory": "#d62728"}
LABELS = {
    "file": "file database (SQLite WAL, synchronous=FULL)",
    "memory": ":memory:",
}
DASH = {"file": "", "memory": "6 4"}


def read(path):
    comments, rows = [], []
    with open(path, newline="", encoding="utf-8") as f:
        lines = []
        for line in f:
            if line.startswith("#"):
                comments.append(line[1:].strip())
            elif line.strip():
                lines.append(line)
    for row in csv.DictReader(lines):
        rows.append(row)
    return comments, rows


def nice_ticks(top, count=5):
    """Round tick values from 0 to at least `top`."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks, v = [], 0.0
    while v < top + step * 0.999:
        ticks.append(v)
        v += step
        if v >= top:
            ticks.append(v)
            break
    return ticks


def fmt(v):
    """A tick or point label: 12.3k, 950, 9.2."""
    if v >= 1000 and v % 1000 == 0:
        return f"{v / 1000:g}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    if v >= 100 or v == int(v):
        return f"{v:.0f}"
    return f"{v:.1f}"


def panel(out, x0, y0, w, h, title, ylabel, series, xs):
    """One chart: `series` maps storage -> [(concurrency, value)]."""
    top = max((v for pts in series.values() for _, v in pts), default=1)
    ticks = nice_ticks(top)
    ymax = ticks[-1]
    lx = [math.log2(x) for x in xs]
    lo, hi = min(lx), max(lx)
    span = (hi - lo) or 1

    pad = 0.07 * w  # points and their labels clear of the frame

    def px(c):
        return x0 + pad + (math.log2(c) - lo) / span * (w - 2 * pad)

    def py(v):
        return y0 + h - v / ymax * h

    out.append(
        f'<text x="{x0 + w / 2}" y="{y0 - 14}" text-anchor="middle" '
        f'font-size="15" font-weight="bold">{escape(title)}</text>'
    )
    for t in ticks:
        y = py(t)
        out.append(
            f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#e0e0e0"/>'
        )
        out.append(
            f'<text x="{x0 - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12">{fmt(t)}</text>'
        )
    for c in xs:
        x = px(c)
        out.append(
            f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + h}" stroke="#f0f0f0"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{y0 + h + 18}" text-anchor="middle" font-size="12">{c}</text>'
        )
    out.append(
        f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#444"/>'
    )
    out.append(
        f'<text x="{x0 + w / 2}" y="{y0 + h + 38}" text-anchor="middle" font-size="13">'
        "concurrent protect() callers (log scale)</text>"
    )
    cy = y0 + h / 2
    out.append(
        f'<text x="{x0 - 52}" y="{cy}" text-anchor="middle" font-size="13" '
        f'transform="rotate(-90 {x0 - 52} {cy})">{escape(ylabel)}</text>'
    )
    first = next(iter(series), None)
    for storage, pts in series.items():
        pts = sorted(pts)
        color = COLORS.get(storage, "#555")
        path = " ".join(f"{px(c):.1f},{py(v):.1f}" for c, v in pts)
        dash = DASH.get(storage, "")
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" '
            f'stroke-width="2.5"{dash_attr}/>'
        )
        for c, v in pts:
            out.append(
                f'<circle cx="{px(c):.1f}" cy="{py(v):.1f}" r="4" fill="{color}">'
                f"<title>{escape(storage)}, {c} callers: {v:,.1f}</title></circle>"
            )
            # The first series' labels above its points, the others' below.
            # (To the right when below would cross the x axis.)
            dx, dy, anchor = 0, -9, "middle"
            if storage != first:
                dy = 17
                if py(v) + dy > y0 + h - 3:
                    dx, dy, anchor = 7, -6, "start"
            out.append(
                f'<text x="{px(c) + dx:.1f}" y="{py(v) + dy:.1f}" text-anchor="{anchor}" '
                f'font-size="11" fill="{color}">{fmt(v)}</text>'
            )


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "docs/bench/curve.csv"
    dst = sys.argv[2] if len(sys.argv) > 2 else src.rsplit(".", 1)[0] + ".svg"
    comments, rows = read(src)
    if not rows:
        sys.exit(f"error: {src} has no rows")
    throughput, p99 = {}, {}
    for r in rows:
        c = int(r["concurrency"])
        throughput.setdefault(r["storage"], []).append((c, float(r["decisions_per_s"])))
        p99.setdefault(r["storage"], []).append((c, float(r["p99_ms"])))
    xs = sorted({int(r["concurrency"]) for r in rows})

    width, height = 960, 470
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold">'
        "atlasent-server: throughput and p99 latency of protect() (evaluate + verify)</text>",
    ]
    pw, ph, top = 360, 270, 70
    panel(out, 95, top, pw, ph, "Throughput", "decision requests / s", throughput, xs)
    panel(out, 95 + pw + 110, top, pw, ph, "Latency", "p99 of protect() (ms)", p99, xs)
    # Legend, under the panels.
    ly = top + ph + 62
    lx = 95
    for storage in throughput:
        color = COLORS.get(storage, "#555")
        dash = DASH.get(storage, "")
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{lx}" y1="{ly}" x2="{lx + 30}" y2="{ly}" stroke="{color}" '
            f'stroke-width="2.5"{dash_attr}/>'
        )
        label = LABELS.get(storage, storage)
        out.append(f'<text x="{lx + 38}" y="{ly + 4}" font-size="13">{escape(label)}</text>')
        lx += 60 + 7 * len(label)
    notes = [c for c in comments if c.startswith("atlasent-server bench curve")]
    notes += [c for c in comments if c.startswith("uptime before")]
    for i, note in enumerate(notes[:2]):
        out.append(
            f'<text x="{width / 2}" y="{ly + 28 + 16 * i}" text-anchor="middle" '
            f'font-size="11" fill="#555">{escape(note[:150])}</text>'
        )
    out.append("</svg>")
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {dst}", file=sys.stderr)


if __name__ == "__main__":
    main()
