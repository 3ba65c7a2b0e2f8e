"""Algorithm 1 (and SJE / DeViSE) in float32 against float64 on the report's splits.

Runs the SGD methods on every split of ``zsaudio reproduce``'s protocol (ESC-50, YAMNet +
MiniLM, 5 seeds, Settings 1-4, GZSL) once with the loop in float64 and once in float32 (the
same code, ``dtype=``), and records, per method: the wall time of each, the hyper-parameters
chosen on validation classes (same or not), the test predictions that changed (top-1 and the
top-3 list, over every test clip of every split) and the largest change of a result row's
accuracy. Results: ``benchmarks/results/compare_sgd_precision.json``.

Usage::

    python benchmarks/compare_sgd_precision.py                 # bilinear
    python benchmarks/compare_sgd_precision.py --methods bilinear sje devise
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from machine import machine_facts

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["bilinear"], choices=["bilinear", "sje", "devise"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/compare_sgd_precision.json")
    args = parser.parse_args(argv)

    from zsaudio.datasets import load_esc50
    from zsaudio.embeddings.extract import embed_files
    from zsaudio.experiments import report
    from zsaudio.experiments.markdown import class_texts
    from zsaudio.experiments.reproduce import (
        ReproduceConfig,
        all_methods,
        embed_classes,
        label_encoder_from_spec,
        protocol_splits,
    )
    from zsaudio.experiments.runner import Features, run_tasks
    from zsaudio.model import AudioFeatures

    results = {"machine": machine_facts(), "seeds": args.seeds, "label_encoder": "minilm",
               "protocol": "zsaudio reproduce's splits (Settings 1-4, GZSL), YAMNet, every clip",
               "methods": {}}  # fmt: skip
    data = load_esc50()
    ext = embed_files(data.paths, "yamnet", progress=False)
    ok = ext.ok
    targets, folds = data.targets[ok], data.folds[ok]
    class_emb, available, _ = embed_classes(label_encoder_from_spec("minilm"), class_texts(data))
    features = Features(AudioFeatures(ext.embeddings[ok], ext.scores[ok]), class_emb)
    config = ReproduceConfig(seeds=args.seeds, fifty_way=False)
    splits = protocol_splits(config, targets, folds, available)
    specs = {s.method: s for s in all_methods() if s.label == s.method}  # not the ablations
    for method in args.methods:
        base = specs[method]
        mine = [sp for sp in splits if base.runs_in(sp.setting)]
        runs = {}
        for dtype in ("float64", "float32"):
            spec = replace(base, params={**base.params, "dtype": dtype})
            t0 = time.perf_counter()
            done = run_tasks([spec], mine, features, targets, args.workers, progress=False)
            runs[dtype] = (time.perf_counter() - t0, done)
            print(f"{method} {dtype}: {runs[dtype][0]:.1f} s over {len(mine)} splits", flush=True)
        (t64, r64), (t32, r32) = runs["float64"], runs["float32"]
        clips = sum(len(a.y_true) for a in r64)
        top1 = sum(int(np.sum(a.topk[:, 0] != b.topk[:, 0])) for a, b in zip(r64, r32, strict=True))
        top3 = sum(int(np.sum(np.any(a.topk != b.topk, axis=1))) for a, b in zip(r64, r32, strict=True))
        same_params = sum({k: v for k, v in a.params.items() if k != "dtype"}
                          == {k: v for k, v in b.params.items() if k != "dtype"}
                          for a, b in zip(r64, r32, strict=True))
        rows64, rows32 = report.per_seed_rows(r64), report.per_seed_rows(r32)
        worst = max(abs(a["top1"] - b["top1"]) for a, b in zip(rows64, rows32, strict=True))
        headline64 = report.summary_json(rows64)
        headline32 = report.summary_json(rows32)
        results["methods"][method] = {
            "splits": len(mine), "test_predictions": clips,
            "seconds_float64": t64, "seconds_float32": t32, "float64_over_float32": t64 / t32,
            "splits_with_the_same_hyperparameters": same_params,
            "changed_top1_predictions": top1, "changed_top3_lists": top3,
            "largest_row_top1_change_points": worst,
            "summary_float64": headline64, "summary_float32": headline32,
        }  # fmt: skip
        print(f"{method}: {top1} of {clips} top-1 predictions changed, {top3} top-3 lists; "
              f"same hyper-parameters on {same_params} of {len(mine)} splits; largest row change "
              f"{worst:.2f} points; float64 / float32 time {t64 / t32:.2f}x", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
