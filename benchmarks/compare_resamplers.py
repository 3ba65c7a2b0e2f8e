"""How far zsaudio's resampler (soxr "HQ") is from the one Google's VGGish code uses (resampy
"kaiser_best"), measured where it matters: on the log-mel features of real clips.

For ``--clips`` ESC-50 clips (the first clip of each of the first classes, 44.1 kHz), decoded
once as float and averaged to mono, resampled to 16 kHz by both, then turned into the 64-band
log-mel spectrogram of :func:`zsaudio.audio.mel.log_mel_spectrogram` (VGGish's offset 0.01):
per mel band, the mean, 99th percentile and largest absolute difference (natural-log units)
over every frame of every clip, and the largest away from the clips' first and last 3 frames
(where the two filters start up differently); and each resampler's time for all the clips.

Needs ``resampy`` (``pip install -e ".[bench]"``). Usage::

    python benchmarks/compare_resamplers.py [--clips 20] [--out benchmarks/results/compare_resamplers.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import resampy
import soundfile as sf
from machine import machine_facts

ROOT = Path(__file__).resolve().parents[1]
EDGE_FRAMES = 3  # 10 ms frames at each end of a clip where the two filters start up


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/compare_resamplers.json")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    from zsaudio.audio import mel, params
    from zsaudio.audio.io import resample
    from zsaudio.datasets import from_esc50

    data = from_esc50(max_per_class=1)
    paths = data.paths[: args.clips]
    waves = []
    for p in paths:
        x, sr = sf.read(p, dtype="float32", always_2d=True)
        waves.append((x.mean(axis=1), sr))
    resample(waves[0][0], waves[0][1])  # warm-up (resampy compiles with numba on first use)
    resampy.resample(waves[0][0], waves[0][1], params.SAMPLE_RATE)

    seconds = {"soxr_hq": 0.0, "resampy_kaiser_best": 0.0}
    diffs = []
    for x, sr in waves:
        t0 = time.perf_counter()
        a = resample(x, sr)
        t1 = time.perf_counter()
        b = resampy.resample(x, sr, params.SAMPLE_RATE, filter="kaiser_best").astype(np.float32)
        t2 = time.perf_counter()
        seconds["soxr_hq"] += t1 - t0
        seconds["resampy_kaiser_best"] += t2 - t1
        n = min(len(a), len(b))
        la = mel.log_mel_spectrogram(np.clip(a[:n], -1, 1))
        lb = mel.log_mel_spectrogram(np.clip(b[:n], -1, 1))
        diffs.append(np.abs(la - lb))
    d = np.concatenate(diffs)  # (frames, 64)
    # the resamplers treat the clip's ends differently (filter start-up): frames away from them
    inner = np.concatenate([x[EDGE_FRAMES:-EDGE_FRAMES] for x in diffs])
    per_band_max = d.max(axis=0)
    per_band_max_inner = inner.max(axis=0)
    per_band_p99 = np.percentile(d, 99, axis=0)
    per_band_mean = d.mean(axis=0)
    agree = [int(i) for i in np.flatnonzero(per_band_max <= 0.01)]
    result = {
        "machine": machine_facts(),
        "clips": [Path(p).name for p in paths],
        "frames": int(len(d)),
        "resampy": resampy.__version__,
        "log_offset": params.LOG_OFFSET,
        "per_band_max_abs_diff": [round(float(v), 5) for v in per_band_max],
        "per_band_mean_abs_diff": [round(float(v), 6) for v in per_band_mean],
        "bands_with_max_diff_at_most_0.01": agree,
        "per_band_p99_abs_diff": [round(float(v), 5) for v in per_band_p99],
        "edge_frames_left_out_of_inner": EDGE_FRAMES,
        "per_band_max_abs_diff_inner": [round(float(v), 5) for v in per_band_max_inner],
        "max_abs_diff_inner_bands_0_61": float(per_band_max_inner[:62].max()),
        "max_abs_diff_inner_bands_62_63": [float(v) for v in per_band_max_inner[62:]],
        "max_mean_abs_diff_bands_0_61": float(per_band_mean[:62].max()),
        "mean_abs_diff_bands_62_63": [float(v) for v in per_band_mean[62:]],
        "max_abs_diff_bands_0_61": float(per_band_max[:62].max()),
        "max_abs_diff_bands_62_63": [float(v) for v in per_band_max[62:]],
        "mean_abs_diff_all_bands": float(d.mean()),
        "seconds": seconds,
        "resampy_over_soxr_time": seconds["resampy_kaiser_best"] / seconds["soxr_hq"],
    }
    print(f"mean |diff| per band: bands 0-61 at most {per_band_mean[:62].max():.5f}, band 62 "
          f"{per_band_mean[62]:.4f}, band 63 {per_band_mean[63]:.4f}; max |diff| away from the "
          f"ends ({EDGE_FRAMES} frames): bands 0-61 {per_band_max_inner[:62].max():.4f}, band 62 "
          f"{per_band_max_inner[62]:.4f}, band 63 {per_band_max_inner[63]:.4f}")
    print(f"{len(paths)} clips, {len(d)} frames: max |diff| bands 0-61 "
          f"{result['max_abs_diff_bands_0_61']:.4f}, band 62 {per_band_max[62]:.4f}, band 63 "
          f"{per_band_max[63]:.4f} (log units); mean over all {result['mean_abs_diff_all_bands']:.5f}; "
          f"time soxr {seconds['soxr_hq']:.3f} s, resampy {seconds['resampy_kaiser_best']:.3f} s "
          f"({result['resampy_over_soxr_time']:.0f}x)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
