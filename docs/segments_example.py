"""Make the README's long-recording example: three ESC-50 clips of classes the model never
heard (dog, rain, siren) with silence between them, classified window by window.

    python docs/segments_example.py [--out docs/segments_example.png]

Writes ``three.flac``, ``model.npz`` and ``events.tsv`` into a temporary folder (printed), the
picture to ``--out``, and prints the events. The clips are the ones ``tests/test_segments.py``
picks (the first of each class with no digital silence that whole-clip ``classify`` gets right).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from zsaudio.audio.io import load_audio
from zsaudio.classifier import ZeroShotClassifier
from zsaudio.datasets.labelled import from_esc50

TRAIN = ["cat", "hen", "wind", "thunderstorm", "crying_baby", "laughing", "keyboard_typing",
         "clock_alarm", "train", "church_bells", "cow", "rooster"]
HELD_OUT = ["dog", "rain", "siren"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("segments_example.png"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="zsaudio-segments-"))
    train = from_esc50(classes=TRAIN, max_per_class=4)
    clf = ZeroShotClassifier(label_encoder="glove").fit(train.paths, train.labels)
    clf.save(folder / "model.npz")
    parts = [np.zeros(32000, np.float32)]
    held = from_esc50(classes=HELD_OUT)
    for cls in HELD_OUT:
        paths = [p for p, lab in zip(held.paths, held.labels, strict=True) if lab == cls][:12]
        for p, r in zip(paths, clf.classify(paths, HELD_OUT, top_k=1), strict=True):
            wave = load_audio(p)
            frames = wave[: len(wave) // 160 * 160].reshape(-1, 160)
            if r.label == cls and r.ranking[0].probability >= 0.7 and np.mean(
                    np.mean(frames**2, axis=1) < 1e-6) < 0.02:
                print(f"{cls}: {Path(p).name}")
                parts += [wave, np.zeros(48000, np.float32)]
                break
    sf.write(folder / "three.flac", np.concatenate(parts), 16000)
    cmd = ["zsaudio", "classify", str(folder / "three.flac"), "--model", str(folder / "model.npz"),
           "--labels", *HELD_OUT, "--segments", "--events-out", str(folder / "events.tsv"),
           "--plot", str(args.out)]
    print("$", " ".join(cmd), flush=True)
    rc = subprocess.run([sys.executable, "-m", "zsaudio.cli.main", *cmd[1:]], check=False).returncode
    print(f"files in {folder}; picture {args.out}")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
