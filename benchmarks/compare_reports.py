"""Headline rows of two ``zsaudio reproduce`` reports side by side.

For every method · label encoder in both reports' ``results.csv``: the category-mean top-1 of
Settings 1-4, GZSL H and the 50-way accuracy (mean ± std over seeds) of each report, the
difference, and a mark where the difference exceeds one standard deviation (the larger of the
two reports' std over seeds) and 0.05 points (so that two rows constant over seeds are not
marked for rounding), the changes a protocol change must explain. For each such
change, how many of the later report's rows (one per seed, category and fold) equal the
earlier report's row of seed 0: all of them, for a deterministic method whose hyper-parameters
the earlier report chose per seed and the later one once, with seed 0's validation classes.

A report may be named ``REV:PATH``, read from git at that revision.

Usage::

    python benchmarks/compare_reports.py 23688a8:results/esc50_yamnet/results.csv \\
        results/esc50_yamnet/results.csv --out benchmarks/results/compare_reports_esc50_yamnet.md
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
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
                same, total = _equal_to_seed0(old_rows, new_rows, m, s, metric)
                beyond.append(f"{m}, {NAMES[s]}: {delta:+.1f} (std {old[1]:.1f} / {new[1]:.1f}); "
                              f"{same} of {total} rows equal the earlier seed-0 row")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines), beyond


def _equal_to_seed0(old_rows: list[dict], new_rows: list[dict], method: str, setting,
                    metric: str) -> tuple[int, int]:
    def key(r):
        return r["train_category"], r["eval_category"], r.get("fold")

    seed0 = {key(r): r[metric] for r in old_rows
             if r["method"] == method and r["setting"] == setting and r["seed"] == 0}
    new = [r for r in new_rows if r["method"] == method and r["setting"] == setting]
    return sum(abs(r[metric] - seed0.get(key(r), float("nan"))) < 1e-9 for r in new), len(new)


def _rows(source: str) -> list[dict]:
    """The rows of a results.csv given as a path, or as ``REV:PATH`` in this git repository."""
    from zsaudio.experiments.report import read_rows_csv

    if Path(source).exists() or ":" not in source:
        return read_rows_csv(source)
    text = subprocess.run(["git", "show", source], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1]).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".csv") as f:
        f.write(text)
        f.flush()
        return read_rows_csv(f.name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="results.csv of the earlier report (a path or REV:PATH)")
    parser.add_argument("new", help="results.csv of the later report (a path or REV:PATH)")
    parser.add_argument("--out", type=Path, help="write the Markdown here (default: stdout only)")
    args = parser.parse_args(argv)

    table, beyond = compare(_rows(args.old), _rows(args.new))
    text = (f"Headline rows, `{args.old}` → `{args.new}` (top-1 %, mean ± std over seeds; "
            "**>1σ**: the change exceeds the larger std and 0.05 points)\n\n" + table + "\n\n"
            + (f"{len(beyond)} change(s) beyond one std:\n" + "\n".join(f"- {b}" for b in beyond)
               if beyond else "No change beyond one std.") + "\n")
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
