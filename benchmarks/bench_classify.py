"""Wall time of a warm ``classify`` of 200 ESC-50 clips, this code against a baseline commit.

"Warm": the clips' YAMNet embeddings and the labels' vectors are already in the caches (as on
any second call), so what is measured is the per-call overhead a user pays each time: loading
the model file, creating (and hashing) the audio model to check it, reading the embedding
cache, encoding the labels and ranking them.

Setup (not timed): a temporary cache folder (``XDG_CACHE_HOME`` and the embedding cache), a
``conse-anchored`` + MiniLM model trained by this code on 8 clips of each of 40 ESC-50 classes,
and one classify of 200 clips of the other 10 classes (the first 20 of each) with each
version, which fills the caches. Timed: ``--repeats`` rounds, each running the baseline then this code, each
in a fresh Python process that does ``ZeroShotClassifier.load(model).classify(clips, labels)``
(the time inside the process, from before the import of zsaudio to the results, and the time
of the classify call alone), then repeats load + classify 5 times in that process and keeps
the shortest (imports done: the least noisy figure of the per-call cost on a shared machine).
The baseline is the code of ``--baseline`` (default ``c37b1ea``,
before issue 13) in a temporary ``git worktree``, imported through ``PYTHONPATH``; the
rankings of both versions are compared, label for label and score for score.

Usage::

    python benchmarks/bench_classify.py                    # baseline c37b1ea, 5 rounds
    python benchmarks/bench_classify.py --repeats 3 --baseline HEAD~3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine_facts

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = ["dog", "rooster", "rain", "thunderstorm", "crying_baby", "sneezing", "door_wood_knock",
           "clock_tick", "siren", "church_bells"]
CLIPS_PER_CLASS = 20  # 10 classes x 20 = 200 clips
IN_PROCESS_REPEATS = 5


def child(model: str, clips_file: str, labels: list[str], cache: str) -> dict:
    """In a fresh process: load the model, classify the clips; the seconds and the rankings."""
    t0 = time.perf_counter()
    from zsaudio.classifier import ZeroShotClassifier

    t_import = time.perf_counter()
    clips = json.loads(Path(clips_file).read_text())
    clf = ZeroShotClassifier.load(model, cache_dir=cache, progress=False)
    t_load = time.perf_counter()
    results = clf.classify(clips, labels, top_k=len(labels))
    t_end = time.perf_counter()
    again = []  # the same call repeated in this process (imports done): less noise
    for _ in range(IN_PROCESS_REPEATS):
        t = time.perf_counter()
        ZeroShotClassifier.load(model, cache_dir=cache, progress=False).classify(clips, labels,
                                                                                 top_k=len(labels))
        again.append(time.perf_counter() - t)
    import zsaudio

    return {"seconds_total": t_end - t0, "seconds_import": t_import - t0,
            "seconds_load": t_load - t_import, "seconds_classify": t_end - t_load,
            "seconds_load_and_classify_min_in_process": min(again),
            "zsaudio": zsaudio.__file__,
            "rankings": [[(p.label, p.score) for p in r.ranking] for r in results]}


def run_child(src: Path, env: dict, args: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--_child", *args]
    out = subprocess.run(cmd, env={**env, "PYTHONPATH": str(src)}, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{cmd} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def setup(work: Path, env: dict) -> tuple[str, str, list[str], str]:
    """Train the model with this code; write the clip list. Returns child arguments."""
    os.environ.update(env)
    from zsaudio.classifier import ZeroShotClassifier
    from zsaudio.datasets.labelled import esc50_label, from_esc50

    cache = str(work / "embeddings")
    train = from_esc50(exclude_classes=HOLDOUT, max_per_class=8)
    test = from_esc50(classes=HOLDOUT, max_per_class=CLIPS_PER_CLASS)
    model = ZeroShotClassifier(label_encoder="minilm", cache_dir=cache, progress=False)
    model.fit(train.paths, train.labels)
    path = str(model.save(work / "model.npz"))
    clips_file = work / "clips.json"
    clips_file.write_text(json.dumps([str(p) for p in test.paths]))
    labels = [esc50_label(c) for c in HOLDOUT]
    return path, str(clips_file), labels, cache


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="c37b1ea", help="commit to compare with")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/bench_classify.json")
    parser.add_argument("--work", type=Path, metavar="DIR",
                        help="work folder (caches, model); default a new temporary folder; an "
                             "earlier run's folder skips the cold embedding")
    parser.add_argument("--_child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._child:
        model, clips, labels, cache = args._child
        print(json.dumps(child(model, clips, json.loads(labels), cache)))
        return 0

    sys.path.insert(0, str(ROOT / "src"))  # this checkout's zsaudio, whatever is installed
    results = {"machine": machine_facts(),
               "what": f"warm classify of {len(HOLDOUT) * CLIPS_PER_CLASS} ESC-50 clips against "
                       f"{len(HOLDOUT)} labels, conse-anchored + MiniLM, fresh process per run",
               "target": "at least as fast as before issue 13 (the baseline commit)"}
    work = args.work or Path(tempfile.mkdtemp(prefix="zsaudio-bench-classify-"))
    work = work.resolve()
    baseline = work / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-f", "--detach", str(baseline),
                    args.baseline], check=True, capture_output=True)
    commit = subprocess.run(["git", "-C", str(baseline), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    # Both versions find the assets the same way (a worktree in /tmp has no ../shared/assets).
    from_assets = str(ROOT.parent / "shared" / "assets")
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "xdg"),
           "ZSAUDIO_ASSETS": os.environ.get("ZSAUDIO_ASSETS", from_assets)}
    versions = {"baseline": baseline / "src", "current": ROOT / "src"}
    try:
        t0 = time.perf_counter()
        model, clips, labels, cache = setup(work, env)
        child_args = [model, clips, json.dumps(labels), cache]
        warmup = {name: run_child(src, env, child_args) for name, src in versions.items()}
        results["setup_seconds"] = time.perf_counter() - t0
        runs: dict[str, list[dict]] = {name: [] for name in versions}
        for i in range(args.repeats):
            for name, src in versions.items():
                r = run_child(src, env, child_args)
                assert Path(r["zsaudio"]).is_relative_to(src), r["zsaudio"]
                runs[name].append({k: v for k, v in r.items() if k.startswith("seconds")})
                print(f"round {i + 1} {name}: {r['seconds_total']:.2f} s (classify "
                      f"{r['seconds_classify']:.2f} s; in process, min: "
                      f"{r['seconds_load_and_classify_min_in_process']:.3f} s)", flush=True)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)],
                       capture_output=True)
    same = warmup["baseline"]["rankings"] == warmup["current"]["rankings"]
    results["baseline_commit"] = commit
    results["same_rankings_and_scores"] = same
    for name, rs in runs.items():
        results[name] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        results[name]["runs"] = rs
    for k in ("seconds_total", "seconds_classify", "seconds_load_and_classify_min_in_process"):
        results[f"baseline_over_current_{k}"] = results["baseline"][k] / results["current"][k]
    print(f"median total: baseline {results['baseline']['seconds_total']:.2f} s, current "
          f"{results['current']['seconds_total']:.2f} s "
          f"({results['baseline_over_current_seconds_total']:.2f}x); classify call: "
          f"{results['baseline']['seconds_classify']:.2f} s vs "
          f"{results['current']['seconds_classify']:.2f} s "
          f"({results['baseline_over_current_seconds_classify']:.2f}x); load + classify in a warm "
          f"process (min of {IN_PROCESS_REPEATS}): "
          f"{results['baseline']['seconds_load_and_classify_min_in_process']:.3f} s vs "
          f"{results['current']['seconds_load_and_classify_min_in_process']:.3f} s "
          f"({results['baseline_over_current_seconds_load_and_classify_min_in_process']:.2f}x); "
          f"same rankings: {same}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
