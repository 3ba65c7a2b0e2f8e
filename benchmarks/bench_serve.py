"""Load test of ``zsaudio serve``: N requests of 5 s ESC-50 clips, C at a time, vs the Python API.

Starts ``zsaudio serve`` in its own process on 127.0.0.1 (a free port), sends ``--requests``
classify requests (one distinct 5 s ESC-50 clip each, ``--labels`` candidate labels) from
``--concurrency`` client threads, and records errors (any answer but 200, or a failed
connection), throughput and the p50/p95 latency seen by the client. In the same run, the same
clips are classified in this process through ``ZeroShotClassifier.classify`` one call per clip
(the reference: the Python API with no HTTP), each call with a fresh embedding cache as the
server uses, so neither side reads embeddings computed before. The rankings of both must agree.

The model: ``--model FILE``, or by default a ConSE + GloVe model trained here on a few ESC-50
classes (seconds); the clips are of other classes (zero-shot). The server is stopped at the end
(and on any failure); every loop is bounded.

Usage::

    python benchmarks/bench_serve.py                       # 500 requests, 8 concurrent
    python benchmarks/bench_serve.py --requests 50 --out /tmp/s.json
    python benchmarks/bench_serve.py --model model.npz

Writes ``benchmarks/results/bench_serve.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from machine import machine_facts

from zsaudio.classifier import ZeroShotClassifier
from zsaudio.datasets.labelled import from_esc50

HERE = Path(__file__).resolve().parent
TRAIN_CLASSES = ["rooster", "rain", "siren", "clock_tick"]
# 13 classes x 40 clips = 520 distinct 5 s clips, none of a training class.
CLIP_CLASSES = ["crow", "airplane", "keyboard_typing", "toilet_flush", "church_bells", "sea_waves",
                "crackling_fire", "cat", "cow", "snoring", "train", "helicopter", "chainsaw"]
START_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 300.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(seconds: list[float]) -> dict:
    a = np.asarray(seconds)
    return {"p50_s": float(np.percentile(a, 50)), "p95_s": float(np.percentile(a, 95)),
            "mean_s": float(a.mean()), "max_s": float(a.max())}


def train_model(path: Path) -> None:
    data = from_esc50(classes=TRAIN_CLASSES, max_per_class=2)
    clf = ZeroShotClassifier(method="conse", label_encoder="glove", search=False, workers=0)
    clf.fit(data.paths, data.labels)
    clf.save(path)


def start_server(model: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "zsaudio.cli.main", "serve", "--model", str(model), "--host",
           "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_healthy(http, url: str, proc: subprocess.Popen) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < START_TIMEOUT_S:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            if http.get(f"{url}/api/v1/health", timeout=5).status_code == 200:
                return time.perf_counter() - t0
        except Exception:  # not listening yet
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT_S:.0f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--model", type=Path, help="model file (default: train a small one here)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_serve.json")
    args = parser.parse_args(argv)
    import httpx

    facts = machine_facts()
    data = from_esc50(classes=CLIP_CLASSES)
    if args.requests > len(data.paths):
        parser.error(f"at most {len(data.paths)} requests (distinct clips of {len(CLIP_CLASSES)} classes)")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data.paths))[: args.requests]
    clips = [str(data.paths[i]) for i in order]
    truth = [data.labels[i] for i in order]
    labels = sorted(set(data.labels))
    form = {"labels": "\n".join(labels), "top_k": str(len(labels))}

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        tmp = Path(tmp)
        model = args.model
        if model is None:
            model = tmp / "conse-glove-small.npz"
            t0 = time.perf_counter()
            train_model(model)
            print(f"trained a ConSE + GloVe model on {TRAIN_CLASSES} in {time.perf_counter() - t0:.1f} s",
                  flush=True)

        # --- in-process reference: the Python API, one call per clip, fresh cache each ---------
        clf = ZeroShotClassifier.load(model, workers=0, progress=False)
        clf.cache_dir = tmp / "warmup-cache"
        clf.classify([clips[0]], labels, top_k=len(labels))  # loads encoders, label vectors
        local_rankings, local_lat = [], []
        t_local = time.perf_counter()
        for i, clip in enumerate(clips):
            clf.cache_dir = tmp / f"local-cache-{i}"
            t0 = time.perf_counter()
            r = clf.classify([clip], labels, top_k=len(labels))[0]
            local_lat.append(time.perf_counter() - t0)
            local_rankings.append([p.label for p in r.ranking])
        local_wall = time.perf_counter() - t_local
        print(f"in-process: {len(clips)} calls in {local_wall:.1f} s", flush=True)

        # --- the server ------------------------------------------------------------------------
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = tmp / "server.log"
        proc = start_server(model, port, log)
        try:
            limits = httpx.Limits(max_connections=args.concurrency,
                                  max_keepalive_connections=args.concurrency)
            with httpx.Client(timeout=REQUEST_TIMEOUT_S, limits=limits) as http:
                startup_s = wait_healthy(http, url, proc)
                warm = http.post(f"{url}/api/v1/classify", data=form,
                                 files={"files": (Path(clips[0]).name, Path(clips[0]).read_bytes())})
                warm.raise_for_status()
                payloads = [Path(c).read_bytes() for c in clips]

                def one(i: int):
                    t0 = time.perf_counter()
                    try:
                        r = http.post(f"{url}/api/v1/classify", data=form,
                                      files={"files": (Path(clips[i]).name, payloads[i], "audio/ogg")})
                        dt = time.perf_counter() - t0
                        if r.status_code != 200:
                            return dt, f"HTTP {r.status_code}: {r.text[:200]}", None
                        return dt, None, [p["label"] for p in r.json()["results"][0]["ranking"]]
                    except Exception as err:  # counted as an error, the run goes on
                        return time.perf_counter() - t0, f"{type(err).__name__}: {err}", None

                t_server = time.perf_counter()
                with ThreadPoolExecutor(args.concurrency) as pool:
                    answers = list(pool.map(one, range(len(clips))))
                server_wall = time.perf_counter() - t_server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        server_log = log.read_text()[-2000:]

    errors = [e for _, e, _ in answers if e]
    server_lat = [dt for dt, e, _ in answers if not e]
    same = sum(a == b for (_, _, a), b in zip(answers, local_rankings, strict=True))
    n = len(clips)
    result = {
        "machine": facts,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "note": "shared 2-core development machine: other engineers' jobs ran beside this benchmark",
        "model": str(args.model) if args.model else f"conse + glove, trained here on {TRAIN_CLASSES}",
        "requests": n, "concurrency": args.concurrency, "labels": labels,
        "clips": f"{n} distinct 5 s ESC-50 clips of {len(CLIP_CLASSES)} classes not trained on",
        "server": {"startup_s": startup_s, "wall_s": server_wall, "requests_per_s": n / server_wall,
                   "errors": len(errors), "error_examples": errors[:5],
                   **(percentiles(server_lat) if server_lat else {})},
        "in_process": {"what": "ZeroShotClassifier.classify([clip]) per clip, sequential, fresh "
                               "embedding cache per call (as the server)",
                       "wall_s": local_wall, "calls_per_s": n / local_wall, **percentiles(local_lat)},
        "throughput_server_over_in_process": (n / server_wall) / (n / local_wall),
        "same_ranking_as_in_process": same,
        "top1_correct_server": sum(a is not None and a[0] == t for (_, _, a), t
                                   in zip(answers, truth, strict=True)),
        "server_log_tail": server_log,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    s, loc = result["server"], result["in_process"]
    print(f"server: {n} requests, {args.concurrency} concurrent: {s['requests_per_s']:.1f} req/s, "
          f"p50 {s.get('p50_s', float('nan')) * 1000:.0f} ms, "
          f"p95 {s.get('p95_s', float('nan')) * 1000:.0f} ms, "
          f"errors {s['errors']}")
    print(f"in-process: {loc['calls_per_s']:.1f} calls/s, p50 {loc['p50_s'] * 1000:.0f} ms, "
          f"p95 {loc['p95_s'] * 1000:.0f} ms; server/in-process throughput "
          f"{result['throughput_server_over_in_process']:.2f}; same ranking {same}/{n}")
    print(f"wrote {args.out}")
    return 1 if errors or same != n else 0


if __name__ == "__main__":
    raise SystemExit(main())
