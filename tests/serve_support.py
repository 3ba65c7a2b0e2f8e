"""Shared by the serve tests: a small model trained once per session, a real local server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

from zsaudio.classifier import ZeroShotClassifier
from zsaudio.datasets.labelled import from_esc50

# Trained on 4 ESC-50 classes; the tests classify clips of other classes against labels the
# model never heard (ConSE through YAMNet's AudioSet classes: quick to fit, right on these).
TRAIN_CLASSES = ["rooster", "rain", "siren", "clock_tick"]
UNSEEN_CLASSES = ["crow", "airplane", "keyboard_typing", "toilet_flush"]
UNSEEN_LABELS = ["crow", "airplane", "keyboard typing", "toilet flush"]
# The long recording of the timeline tests: one clip of each, in this order, silence between
# (keyboard typing is the candidate label that never sounds).
LONG_ORDER = ["crow", "airplane", "toilet flush"]


def train_small_model(path: Path) -> ZeroShotClassifier:
    """ConSE + GloVe on 2 clips of each of :data:`TRAIN_CLASSES`, saved to ``path``.

    GloVe, not MiniLM: MiniLM embeds the 521 AudioSet class names one at a time, minutes on a
    busy 2-core machine; GloVe takes seconds."""
    data = from_esc50(classes=TRAIN_CLASSES, max_per_class=2)
    clf = ZeroShotClassifier(method="conse", label_encoder="glove", search=False, workers=0)
    clf.fit(data.paths, data.labels)
    clf.save(path)
    return clf


def unseen_clips(per_class: int = 1) -> dict[str, list[str]]:
    """ESC-50 clips of the unseen classes: label -> paths."""
    data = from_esc50(classes=UNSEEN_CLASSES, max_per_class=per_class)
    out: dict[str, list[str]] = {}
    for path, label in zip(data.paths, data.labels, strict=True):
        out.setdefault(label, []).append(str(path))
    return out


def long_recording(path: Path, clips: dict[str, list[str]], order=LONG_ORDER, lead: float = 1.0,
                   gap: float = 2.0) -> tuple[Path, list[tuple[float, float, str]]]:
    """Write ``lead`` s of silence, then the first clip of each label of ``order`` with ``gap`` s
    of silence after each, as 16 kHz FLAC at ``path`` (about 22 s for three 5 s ESC-50 clips);
    returns (path, [(onset, offset, label)])."""
    import numpy as np
    import soundfile as sf

    from zsaudio.audio.io import load_audio

    rate = 16000
    parts, truth, pos = [np.zeros(int(lead * rate), np.float32)], [], lead
    for label in order:
        wave = load_audio(clips[label][0])
        parts += [wave, np.zeros(int(gap * rate), np.float32)]
        truth.append((pos, pos + len(wave) / rate, label))
        pos += len(wave) / rate + gap
    sf.write(path, np.concatenate(parts), rate)
    return path, truth


@contextlib.contextmanager
def running_server(app, start_timeout: float = 30.0):
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def require(module: str):
    """Import ``module``; in CI (``CI`` set) a missing one fails, elsewhere it skips the test."""
    import importlib
    import os

    import pytest

    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} not installed (pip install -e '.[dev]')")
