"""Headline rows of two ``zsaudio reproduce`` reports side by side.

For every method · label encoder in both reports' ``results.csv``: the category-mean top-1 of
Settings 1-4, GZSL H and the 50-way accuracy (mean ± std over seeds) of each report, the
difference, and a mark where the difference exceeds one standard deviation (the larger of the
two reports' std over seeds), the changes a protocol change must explain.

Usage::

    git show e61d554:results/esc50_yamnet/results.csv > /tmp/old.csv
    python benchmarks/compare_reports.py /tmp/old.csv results/esc50_yamnet/results.csv \\
        --out benchmarks/results/compare_reports_esc50_yamnet.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

SETTINGS = (1, 2, 3, 4, "gzsl", "50-way")
NAMES = {1: "S1", 2: "S2", 3: "S3", 4: "S4", "gzsl": "GZSL H", "50-way": "50-way"}


def compare(old_rows: list[dict], new_rows: list[dict]) -> tuple[str, list[str]]:
    """(Markdown table, the cells whose change exceeds one std as "method, setting: Δ")."""
    from zsaudio.experiments.report import category_average

    methods = [m for m in dict.fromkeys(r["method"] for r in new_rows)
               if any(r["method"] == m for r in old_rows)]
    lines = ["| method · label encoder | " + " | ".join(NAMES[s] for s in SETTINGS) + " |",
             "|---|" + "---|" * len(SETTINGS)]
    beyond = []
    for m in methods:
        cells = []
        for s in SETTINGS:
            metric = "H" if s == "gzsl" else "top1"
            old, new = category_average(old_rows, m, s, metric), category_average(new_rows, m, s, metric)
            if old is None or new is None:
                cells.append("–")
                continue
            delta = new[0] - old[0]
            flag = abs(delta) > max(old[1], new[1]) and abs(delta) >= 0.05
            cells.append(f"{old[0]:.1f} ± {old[1]:.1f} → {new[0]:.1f} ± {new[1]:.1f} "
                         f"({delta:+.1f}){' **>1σ**' if flag else ''}")
            if flag:
                beyond.append(f"{m}, {NAMES[s]}: {delta:+.1f} (std {old[1]:.1f} / {new[1]:.1f})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines), beyond


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="results.csv of the earlier report")
    parser.add_argument("new", type=Path, help="results.csv of the later report")
    parser.add_argument("--out", type=Path, help="write the Markdown here (default: stdout only)")
    args = parser.parse_args(argv)

    from zsaudio.experiments.report import read_rows_csv

    table, beyond = compare(read_rows_csv(args.old), read_rows_csv(args.new))
    text = (f"Headline rows, `{args.old}` → `{args.new}` (top-1 %, mean ± std over seeds; "
            "**>1σ**: the change exceeds the larger std)\n\n" + table + "\n\n"
            + (f"{len(beyond)} change(s) beyond one std:\n" + "\n".join(f"- {b}" for b in beyond)
               if beyond else "No change beyond one std.") + "\n")
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
