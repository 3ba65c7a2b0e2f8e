"""Wall time of ``zsaudio reproduce`` on cached audio embeddings.

Each configuration runs in a fresh Python process (imports, label-encoder loading and the
warm embedding-cache read are part of the measured time, as for ``zsaudio reproduce``), with
the report written to a temporary folder (so no checkpoint of an earlier run is reused).
Before the timed runs, the ESC-50 YAMNet embeddings are brought into the cache once (the
time this took is recorded: seconds when it was already warm).

Configurations (label encoder MiniLM, YAMNet audio embeddings, 5 seeds, every clip present):

- ``default``: ``zsaudio reproduce --seeds 5`` with one label encoder: the default methods of
  the code measured, Settings 1-4, GZSL and 50-way (with ``--baseline`` an older commit runs
  *its* default run: before issue 17 that was every method, hyper-parameters chosen per seed).
- ``paper``: the paper's protocol alone, ``--method bilinear``, Settings 1-4, GZSL, 50-way.
- ``quick``: bilinear (Algorithm 1) and ConSE, Setting 3 only, no GZSL, no 50-way.

A configuration still running after ``--timeout`` seconds is stopped and recorded as not
finished, with its limit: never an extrapolated figure.

With ``--baseline COMMIT`` every configuration also runs with the code of that commit (a
temporary ``git worktree``, imported through ``PYTHONPATH``), alternating with the current code
on the same machine, and the ratio baseline / current is reported.

Usage::

    python benchmarks/bench_reproduce.py                       # default, then paper
    python benchmarks/bench_reproduce.py --configs quick --timeout 300
    python benchmarks/bench_reproduce.py --configs quick --baseline 3ca833b
    python benchmarks/bench_reproduce.py --baseline 3ca833b --baseline-configs quick

Targets (issue 17): on cached embeddings and 2 cores, the default run under 90 s and the
paper's protocol alone under 60 s, each against the code before the protocol decision.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from machine import machine_facts

ROOT = Path(__file__).resolve().parents[1]

CONFIGS = {
    "default": {"label_encoders": ["minilm"], "seeds": 5},
    "paper": {"label_encoders": ["minilm"], "seeds": 5, "methods": ["bilinear"]},
    "quick": {"label_encoders": ["minilm"], "seeds": 5, "settings": [3], "gzsl": False,
              "fifty_way": False, "methods": ["bilinear", "conse"]},
}  # fmt: skip
#: Issue 17's targets, seconds (the whole process, imports included).
TARGETS_S = {"default": 90.0, "paper": 60.0}


def run_one(name: str, out: str) -> dict:
    """Child process: time one reproduce run (imports included) and print the figures."""
    t0 = time.perf_counter()
    from zsaudio.experiments.reproduce import ReproduceConfig, reproduce

    config = ReproduceConfig(**CONFIGS[name])
    t1 = time.perf_counter()
    summary = reproduce(config, out, progress=False)
    t2 = time.perf_counter()
    record = json.loads((Path(out) / "run.json").read_text())
    return {
        "finished": True,
        "seconds_total": t2 - t0,
        "seconds_imports": t1 - t0,
        "seconds_reproduce_call": t2 - t1,
        "run_json_wall_time_s": record.get("wall_time_s"),
        "clips_embedded": record.get("clips_embedded"),
        "compute_s_by_method": {label: {m: r["compute_s"] for m, r in rec.get("methods", {}).items()}
                                for label, rec in record.get("label_encoders", {}).items()},
        "methods_reported": sorted(summary),
        "configuration": asdict(config),
    }


def prepare_cache() -> dict:
    """Embed (or read back) every ESC-50 clip with YAMNet into the default cache, and the
    label texts of the configurations into the label cache (the 50 classes and YAMNet's 521)."""
    from zsaudio.datasets.esc50 import load_esc50
    from zsaudio.embeddings import get_audio_encoder
    from zsaudio.embeddings.extract import embed_files
    from zsaudio.experiments.markdown import class_texts
    from zsaudio.experiments.reproduce import embed_classes, label_encoder_from_spec
    from zsaudio.labels.audioset import encoder_source_embeddings

    data = load_esc50()
    t0 = time.perf_counter()
    res = embed_files(data.paths, "yamnet", progress=False)
    t1 = time.perf_counter()
    ids = get_audio_encoder("yamnet").class_ids
    for spec in sorted({x for c in CONFIGS.values() for x in c["label_encoders"]}):
        encoder = label_encoder_from_spec(spec)
        embed_classes(encoder, class_texts(data))
        encoder_source_embeddings(encoder, ids)
    return {"clips": len(data.paths), "ok": int(res.ok.sum()), "seconds": t1 - t0,
            "label_cache_seconds": time.perf_counter() - t1}


def run_config(name: str, timeout: float, pythonpath: str | None = None) -> dict:
    """One configuration in a fresh process (``pythonpath``: import zsaudio from there)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
        # the other checkout looks for ../shared/assets beside itself: point it at ours
        from zsaudio.assets import find_asset

        env.setdefault("ZSAUDIO_ASSETS", str(find_asset("esc50/meta/esc50.csv").parents[2]))
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, __file__, "--_one", name, out]
        load = [round(x, 2) for x in os.getloadavg()]  # other work beside this run
        t0 = time.perf_counter()
        # own session: on timeout the run's worker processes are stopped with it
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, env=env)  # fmt: skip
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {"finished": False, "timeout_s": timeout, "configuration": CONFIGS[name],
                    "load_average_at_start": load}  # fmt: skip
        if proc.returncode != 0:
            sys.stderr.write(stderr[-3000:])
            raise SystemExit(f"{name}: reproduce failed (exit {proc.returncode})")
        r = json.loads(stdout.strip().splitlines()[-1])
        r["seconds_process"] = time.perf_counter() - t0
        r["load_average_at_start"] = load
        return r


def _describe(label: str, r: dict, name: str) -> str:
    if not r["finished"]:
        return f"{label:16s} not finished within {r['timeout_s']:.0f} s (stopped)"
    return (f"{label:16s} {r['seconds_total']:7.1f} s total ({r['seconds_imports']:.1f} s imports; "
            f"run.json {r['run_json_wall_time_s']}) "
            + (f"{'meets' if r['seconds_total'] < TARGETS_S[name] else 'misses'} the "
               f"{TARGETS_S[name]:.0f} s target" if name in TARGETS_S else ""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["default", "paper"], choices=list(CONFIGS))
    parser.add_argument(
        "--timeout",
        type=float,
        default=1200.0,
        help="seconds after which a configuration is stopped (default 1200)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/bench_reproduce.json")
    parser.add_argument("--baseline", metavar="COMMIT",
                        help="also run every configuration with the code of this commit")
    parser.add_argument("--baseline-configs", nargs="+", choices=list(CONFIGS),
                        help="the configurations that also run at --baseline (default: all)")
    parser.add_argument("--_one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:
        print(json.dumps(run_one(*args._one)))
        return 0

    results = {"machine": machine_facts(), "targets_s": TARGETS_S,
               "target": "on cached embeddings, 2 cores: default run < 90 s, paper's protocol "
                         "(bilinear) alone < 60 s (issue 17)"}  # fmt: skip
    results["cache_prepare"] = prepare_cache()
    print(
        f"embedding cache ready: {results['cache_prepare']['ok']} clips in "
        f"{results['cache_prepare']['seconds']:.1f} s"
    )
    results["configs"] = {}
    baseline_dir = None
    if args.baseline:
        baseline_dir = Path(tempfile.mkdtemp(prefix="zsaudio-baseline-"))
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(baseline_dir),
                        args.baseline], check=True, capture_output=True)  # fmt: skip
        commit = subprocess.run(["git", "-C", str(baseline_dir), "rev-parse", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        results["baseline"] = {"commit": commit, "configs": {}}
    try:
        for name in args.configs:
            with_baseline = baseline_dir is not None and name in (args.baseline_configs or CONFIGS)
            if with_baseline:
                b = run_config(name, args.timeout, str(baseline_dir / "src"))
                results["baseline"]["configs"][name] = b
                print(_describe(f"{name} (baseline)", b, name))
            r = run_config(name, args.timeout)
            results["configs"][name] = r
            print(_describe(name, r, name))
            if with_baseline and b["finished"] and r["finished"]:
                r["baseline_over_current"] = b["seconds_total"] / r["seconds_total"]
                print(f"{name}: {r['baseline_over_current']:.2f}x faster than the baseline")
    finally:
        if baseline_dir is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(baseline_dir)], capture_output=True)  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
