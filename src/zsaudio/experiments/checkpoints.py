"""Checkpoints of ``zsaudio reproduce``: one JSON file per (label encoder, method).

A checkpoint holds one method's split results with one label encoder, the seconds they took,
and a *fingerprint* of everything they depend on (the method's spec, the encoders'
configurations, the protocol, the clips' targets, the zsaudio version). A run reuses a
checkpoint only when its fingerprint matches, so an interrupted run resumes after the last
finished method, a method added later is the only one computed, and a report can be rewritten
without recomputation. JSON, not pickle: reading a checkpoint never runs code from it.

>>> import tempfile, pathlib
>>> from zsaudio.experiments.runner import SplitResult
>>> r = SplitResult(3, None, "animals", 0, 0, (1, 2), (0,), "conse", np.array([0]),
...                 np.array([[0]]), {"top_t": 5}, {})
>>> path = pathlib.Path(tempfile.mkdtemp()) / "c.json"
>>> save_checkpoint(path, "abc", [r], 1.25)
>>> results, seconds = load_checkpoint(path, "abc")
>>> results[0] == r, seconds, load_checkpoint(path, "other")
(True, 1.2, None)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

import zsaudio
from zsaudio.experiments.runner import MethodSpec, SplitResult
from zsaudio.fileio import atomic_write_text, json_dumps

__all__ = ["fingerprint", "load_checkpoint", "save_checkpoint"]

_ARRAYS = ("y_true", "topk")
_TUPLES = ("train_classes", "test_classes")


def fingerprint(spec: MethodSpec, protocol: dict[str, Any], label_config: dict, audio_config: dict,
                targets: np.ndarray) -> str:
    """What one method's results with one label encoder depend on (a sha256 hex digest).

    ``protocol``: the run's seeds, settings, GZSL / 50-way switches and source-text mode.
    """
    key = {"spec": asdict(spec), "label": label_config, "audio": audio_config, **protocol,
           "targets": hashlib.sha256(np.asarray(targets).tobytes()).hexdigest(),
           "version": zsaudio.__version__}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def _result_dict(r: SplitResult) -> dict[str, Any]:
    return {f.name: getattr(r, f.name) for f in fields(r)}


def _result(d: dict[str, Any]) -> SplitResult:
    d = dict(d)
    for name in _ARRAYS:
        d[name] = np.asarray(d[name], dtype=np.int64)
    for name in _TUPLES:
        d[name] = tuple(d[name])
    return SplitResult(**d)


def save_checkpoint(path: Path, fingerprint: str, results: Sequence[SplitResult], compute_s: float) -> None:
    """Atomically write one method's results with one label encoder and the seconds they took."""
    atomic_write_text(path, json_dumps({"fingerprint": fingerprint, "compute_s": round(compute_s, 1),
                                        "results": [_result_dict(r) for r in results]}, indent=None))


def load_checkpoint(path: Path, fingerprint: str) -> tuple[list[SplitResult], float] | None:
    """``(results, seconds they took)`` of a checkpoint with this fingerprint, else None (no
    file, another fingerprint, or a file that cannot be read: it is recomputed)."""
    try:
        saved = json.loads(Path(path).read_text())
        if saved.get("fingerprint") != fingerprint:
            return None
        return [_result(d) for d in saved["results"]], saved["compute_s"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
