"""Long recordings: real-time factor and peak memory of ``classify_segments`` (streamed) against
the whole-file path, on a one-hour recording made of ESC-50 clips.

The recording: ESC-50 clips (seeded random order, all classes) written one after the other
into a 44.1 kHz 16-bit FLAC in a temporary folder (3600 s). A model is trained first on
4 clips each of 12 classes (GloVe labels, the default method), and 5 labels are ranked.

Each variant runs in a fresh process, one after the other, whose peak RSS is its own
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, read by the process itself at its end):

* ``streamed``: ``ZeroShotClassifier.classify_segments`` (2 s windows, 0.5 s hop): decoded,
  resampled, embedded, pooled and scored in 10 s blocks.
* ``streamed_plot``: the same plus the spectrogram kept for ``--plot`` and the PNG drawn.
* ``streamed_threads2``: ``streamed`` with ``threads=2`` (two YAMNet interpreters, each on
  half of every block's patches).
* ``whole_file``: the same windows computed the straightforward way: ``load_audio`` of the
  whole file, ``embed_waveform`` on all its patches at once, then the same pooling and
  ``score_features``. Its probabilities are compared with the streamed ones.

Real-time factor = audio seconds / wall seconds of the variant's work (imports and model
loading excluded, reported apart; so are its CPU seconds, all threads, and the peak RSS after
the imports, most of which is the imported libraries). Audio seconds per CPU second (all
threads) is the figure a busy machine changes least: the real-time factor one core would reach
with nothing else running. The machine's load average is recorded: on the shared
2-core machine other work slows every figure.

    python benchmarks/bench_segments.py [--minutes 60] [--out benchmarks/results/bench_segments.json]

Targets (issue 15): streamed >= 100x real time with YAMNet on 2 cores; peak memory < 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import machine_facts

HERE = Path(__file__).resolve().parent
TRAIN = ["cat", "hen", "wind", "thunderstorm", "crying_baby", "laughing", "keyboard_typing",
         "clock_alarm", "train", "church_bells", "cow", "rooster"]
LABELS = ["dog barking", "rain", "siren", "birds chirping", "footsteps"]
RATE = 44100


def make_recording(path: Path, minutes: float, seed: int = 0) -> dict:
    """Write ESC-50 clips one after the other into ``path`` until ``minutes`` are reached."""
    import soundfile as sf
    import soxr

    from zsaudio.assets import find_asset

    files = sorted(p for p in find_asset("esc50/audio").iterdir() if p.is_file())
    order = np.random.default_rng(seed).permutation(len(files))
    target = int(minutes * 60 * RATE)
    written, used = 0, 0
    with sf.SoundFile(str(path), "w", samplerate=RATE, channels=1, subtype="PCM_16", format="FLAC") as out:
        for i in np.resize(order, max(len(order), 1 + target // (5 * RATE))):
            data, rate = sf.read(str(files[i]), dtype="float32", always_2d=True)
            wave = data.mean(axis=1)
            if rate != RATE:
                wave = soxr.resample(wave, rate, RATE)
            wave = wave[: target - written]
            out.write(wave)
            written += len(wave)
            used += 1
            if written >= target:
                break
    return {"seconds": written / RATE, "clips": used, "rate": RATE, "format": "FLAC PCM_16",
            "bytes": path.stat().st_size}


def child(args: argparse.Namespace) -> None:
    """One variant, in this process; prints one JSON line."""
    t0 = time.perf_counter()
    from zsaudio.classifier import ZeroShotClassifier

    clf = ZeroShotClassifier.load(args.model)
    clf.check_environment()
    clf.score_features(np.zeros((1, 1024), np.float32), np.zeros((1, 521), np.float32), LABELS)
    setup = time.perf_counter() - t0
    setup_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    if args.child.startswith("streamed"):
        res = clf.classify_segments(args.file, LABELS, spectrogram=args.child == "streamed_plot",
                                    threads=2 if args.child == "streamed_threads2" else 1)
        if args.child == "streamed_plot":
            from zsaudio.timeline_plot import plot_segments

            plot_segments(res, args.plot_out or Path(args.probabilities).with_suffix(".png"))
        probabilities, duration, n_events = res.probabilities, res.duration, len(res.events)
    else:
        from zsaudio.audio.io import load_audio
        from zsaudio.embeddings import get_audio_encoder
        from zsaudio.timeline import DEFAULT_HOP, DEFAULT_WINDOW, count_windows, pool_windows

        wave = load_audio(args.file)
        duration = len(wave) / 16000
        clip = get_audio_encoder(clf.audio_encoder).embed_waveform(wave)
        del wave
        centres = np.arange(len(clip.patch_embeddings)) * 0.48 + 0.975 / 2
        starts = np.arange(count_windows(duration, DEFAULT_WINDOW, DEFAULT_HOP)) * DEFAULT_HOP
        pooled = pool_windows(centres, np.hstack([clip.patch_embeddings, clip.patch_scores]), starts,
                              DEFAULT_WINDOW)
        _, probabilities = clf.score_features(pooled[:, :1024], pooled[:, 1024:], LABELS)
        n_events = None
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    np.save(args.probabilities, probabilities)
    print(json.dumps({"variant": args.child, "audio_seconds": duration, "seconds": seconds,
                      "cpu_seconds": cpu, "setup_seconds": setup, "realtime_factor": duration / seconds,
                      "audio_seconds_per_cpu_second": duration / cpu,
                      "peak_rss_after_setup_mib": setup_rss,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "windows": int(len(probabilities)), "events": n_events}))


def run_variant(variant: str, model: Path, recording: Path, folder: Path, plot_out: Path | None) -> dict:
    probs = folder / f"{variant}.npy"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent / "src"),
                                                       os.environ.get("PYTHONPATH", "")]))
    load = [round(x, 2) for x in os.getloadavg()]
    out = subprocess.run([sys.executable, __file__, "--child", variant, "--model", str(model), "--file",
                          str(recording), "--probabilities", str(probs)]
                         + (["--plot-out", str(plot_out)] if plot_out else []),
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load_average_at_start"] = load
    result["probabilities_file"] = str(probs)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_segments.json")
    parser.add_argument("--variants", nargs="+",
                        default=["streamed", "streamed_plot", "streamed_threads2", "whole_file"])
    parser.add_argument("--plot-out", type=Path, help="keep the streamed_plot picture here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--probabilities", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    doc = {"machine": machine_facts(), "labels": LABELS, "window": 2.0, "hop": 0.5,
           "audio_encoder": "yamnet"}
    with tempfile.TemporaryDirectory(prefix="bench_segments_") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        doc["recording"] = make_recording(folder / "hour.flac", args.minutes)
        doc["recording"]["write_seconds"] = time.perf_counter() - t0
        print(f"recording: {doc['recording']}", flush=True)
        from zsaudio.classifier import ZeroShotClassifier
        from zsaudio.datasets.labelled import from_esc50

        data = from_esc50(classes=TRAIN, max_per_class=4)
        clf = ZeroShotClassifier(label_encoder="glove", cache_dir=folder / "cache", workers=2)
        clf.fit(data.paths, data.labels).save(folder / "model.npz")
        doc["model"] = {"method": clf.method, "label_encoder": "glove", "classes": TRAIN,
                        "clips_per_class": 4}
        doc["variants"] = {}
        for variant in args.variants:
            r = run_variant(variant, folder / "model.npz", folder / "hour.flac", folder,
                            args.plot_out.resolve() if args.plot_out else None)
            print(f"{variant}: {r['seconds']:.1f} s for {r['audio_seconds']:.0f} s of audio = "
                  f"{r['realtime_factor']:.0f}x real time, peak RSS {r['peak_rss_mib']:.0f} MiB "
                  f"(load {r['load_average_at_start']})", flush=True)
            doc["variants"][variant] = r
        v = doc["variants"]
        if "streamed" in v and "whole_file" in v:
            a = np.load(v["streamed"].pop("probabilities_file"))
            b = np.load(v["whole_file"].pop("probabilities_file"))
            doc["streamed_vs_whole_file"] = {
                "max_abs_probability_difference": float(np.abs(a - b).max()) if a.shape == b.shape
                else None, "windows": [len(a), len(b)],
                "speed_ratio": v["whole_file"]["seconds"] / v["streamed"]["seconds"],
                "memory_ratio": v["whole_file"]["peak_rss_mib"] / v["streamed"]["peak_rss_mib"]}
            print(doc["streamed_vs_whole_file"])
        for r in v.values():
            r.pop("probabilities_file", None)
        doc["targets"] = {"streamed_realtime_factor_at_least": 100, "peak_rss_mib_below": 1024}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
