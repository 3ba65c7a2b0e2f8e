"""Speed and peak memory of ``embed_files`` vs a straightforward reference pipeline.

Same 100 ESC-50 clips for every variant; each variant runs in a fresh subprocess so that its
peak RSS (its own + its worker processes') is its alone. Reference pipeline (the usual pattern
of public VGGish ports): per file decode -> numpy front end -> model one patch at a time, no
batching, no workers. VGGish uses random weights (same FLOPs as the real ones).

Variants of ``embed_files``, on a fresh cache: ``cold`` (empty cache), ``warm`` (the rerun:
reads the pack the cold run wrote), ``warm_entries`` (packs deleted first: reads one per-clip
file per clip, as before packs existed, then writes a pack). ``--all-clips`` adds the same
three for YAMNet on every ESC-50 clip (about 2 minutes cold on 2 cores).

    python benchmarks/bench_embed.py [--clips 100] [--all-clips] [--out FILE.json]

Targets (issue 2): cold >= 3x the reference for VGGish; warm >= 50x faster than cold.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import machine_facts


def clip_paths(n: int) -> list[str]:
    """``n`` ESC-50 clips spread over the folder (all of them for ``n <= 0``)."""
    from zsaudio.assets import find_asset

    files = sorted(p for p in find_asset("esc50/audio").iterdir() if p.is_file())
    if n <= 0:
        return [str(p) for p in files]
    step = max(1, len(files) // n)  # spread over folds: mixed Ogg / FLAC, 44.1 / 48 kHz
    return [str(p) for p in files[::step][:n]]


def reference(paths: list[str], encoder: str) -> None:
    import soundfile as sf
    import torch
    from scipy.signal import resample_poly

    from zsaudio.audio import mel, params
    from zsaudio.embeddings import get_audio_encoder

    enc = get_audio_encoder(encoder, weights="random") if encoder == "vggish" else None
    if encoder == "yamnet":
        enc = get_audio_encoder("yamnet")
    for path in paths:
        data, rate = sf.read(path, dtype="float64", always_2d=True)
        wave = resample_poly(data.mean(axis=1), 16000, rate)  # numpy/scipy, float64
        if encoder == "vggish":
            wave = mel.pad_waveform(wave)
            patches = mel.frame_patches(mel.log_mel_spectrogram(wave, log_offset=params.LOG_OFFSET))
            with torch.no_grad():
                out = [enc.model(torch.tensor(p[None, None], dtype=torch.float32)) for p in patches]
            np.mean([o.numpy()[0] for o in out], axis=0)
        else:
            emb, _ = enc.embed_patches(enc.prepare(wave.astype(np.float32)))
            emb.mean(axis=0)


def ours(paths: list[str], encoder: str, cache: str) -> None:
    from zsaudio.embeddings.extract import embed_files

    options = {"weights": "random"} if encoder == "vggish" else {}
    res = embed_files(paths, encoder, options, cache_dir=cache, progress=False)
    assert res.ok.all(), res.failures


def run_one(variant: str, encoder: str, n: int, cache: str) -> dict:
    cmd = [sys.executable, __file__, "--_one", variant, encoder, str(n), cache]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--all-clips", action="store_true",
                        help="also YAMNet cold/warm on every ESC-50 clip (no reference)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_embed.json"))
    parser.add_argument("--_one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._one:
        variant, encoder, n, cache = args._one
        paths = clip_paths(int(n))
        import torch  # noqa: F401  (imports are not part of the measured time)

        import zsaudio.embeddings.extract  # noqa: F401
        import zsaudio.embeddings.vggish  # noqa: F401
        import zsaudio.embeddings.yamnet  # noqa: F401

        start = time.perf_counter()
        if variant == "reference":
            reference(paths, encoder)
        else:
            ours(paths, encoder, cache)
        seconds = time.perf_counter() - start
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(json.dumps({"seconds": seconds, "clips_per_s": len(paths) / seconds,
                          "peak_rss_mb": peak_kb / 1024,
                          "peak_worker_rss_mb": children_kb / 1024}))  # fmt: skip
        return

    results: dict = {"clips": args.clips, "machine": machine_facts()}
    runs = [("vggish", args.clips, True), ("yamnet", args.clips, True)]
    if args.all_clips:
        runs.append(("yamnet", 0, False))
    for encoder, n, with_reference in runs:
        key = encoder if n > 0 else f"{encoder}_all_clips"
        with tempfile.TemporaryDirectory() as cache:
            r = {"clips": len(clip_paths(n))}
            if with_reference:
                r["reference"] = run_one("reference", encoder, n, cache)
            r["cold"] = run_one("ours", encoder, n, cache)
            r["warm"] = run_one("ours", encoder, n, cache)
            for packs in Path(cache).glob("*/packs"):
                shutil.rmtree(packs)
            r["warm_entries"] = run_one("ours", encoder, n, cache)
        if with_reference:
            r["speedup_cold_vs_reference"] = r["reference"]["seconds"] / r["cold"]["seconds"]
        r["speedup_warm_vs_cold"] = r["cold"]["seconds"] / r["warm"]["seconds"]
        r["speedup_warm_entries_vs_cold"] = r["cold"]["seconds"] / r["warm_entries"]["seconds"]
        results[key] = r
        for k in ("reference", "cold", "warm", "warm_entries"):
            if k in r:
                v = r[k]
                print(f"{key:17s} {k:12s} {v['seconds']:7.2f} s  {v['clips_per_s']:8.1f} clips/s  "
                      f"peak {v['peak_rss_mb']:.0f} MB "
                      f"(+ workers {v['peak_worker_rss_mb']:.0f} MB)")  # fmt: skip
        if with_reference:
            print(f"{key:17s} speed-up cold vs reference: {r['speedup_cold_vs_reference']:.2f}x")
        print(f"{key:17s} warm vs cold: {r['speedup_warm_vs_cold']:.1f}x (per-clip entries only: "
              f"{r['speedup_warm_entries_vs_cold']:.1f}x)")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(f"results -> {args.out}")


if __name__ == "__main__":
    main()
