"""A disk cache of label embeddings, so that a warm run never loads a sentence model.

Embedding a few hundred labels with a sentence model costs seconds, and importing
sentence-transformers and loading the model costs more than that; ``zsaudio reproduce``
embeds the 50 ESC-50 classes and the 521 AudioSet class names with every label encoder.
:class:`CachedLabelEncoder` wraps any :class:`~zsaudio.labels.base.LabelEncoder`: vectors and
word coverage of labels it has seen are read from one ``.npz`` file per encoder identity
(:meth:`~zsaudio.labels.base.LabelEncoder.identity`: model, weights' sha256, template,
descriptions, rule; plus the device it runs on), and only new labels reach the wrapped
encoder. (A word-vector encoder still opens its memory-mapped vectors to say its identity.)

Example
-------
>>> import tempfile
>>> from zsaudio.labels import get_label_encoder
>>> folder = tempfile.mkdtemp()
>>> enc = CachedLabelEncoder(get_label_encoder("glove"), cache_dir=folder)
>>> enc.encode(["dog", "sea_waves"]).shape
(2, 50)
>>> again = CachedLabelEncoder(get_label_encoder("glove"), cache_dir=folder)
>>> again.encoder.encode = None  # the vectors now come from the file alone
>>> bool((again.encode(["sea_waves"]) == enc.encode(["sea_waves"])).all())
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zsaudio import assets
from zsaudio.fileio import atomic_write
from zsaudio.labels.base import LabelCoverage, LabelEncoder

__all__ = ["CachedLabelEncoder", "default_label_cache_dir"]

_FORMAT = 1


def default_label_cache_dir() -> Path:
    """``zsaudio.assets.cache_subdir("label-embeddings")`` (``labels/embeddings`` in the cache)."""
    return assets.cache_subdir("label-embeddings")


class CachedLabelEncoder(LabelEncoder):
    """``encoder`` with its label vectors and coverage remembered on disk.

    Parameters
    ----------
    encoder : LabelEncoder
        The encoder to wrap; it is only asked for labels not in the cache.
    cache_dir : str or Path, optional
        Folder of the cache files (default :func:`default_label_cache_dir`).

    Outputs are the wrapped encoder's float32 rows as they came. A file that cannot be read
    (truncated, empty, foreign) is ignored and rewritten; writes are atomic, and a writer
    merges what another writer added before its own write (best effort: entries lost in a
    race are only computed again).
    """

    def __init__(self, encoder: LabelEncoder, cache_dir: str | Path | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.name = encoder.name
        self._identity = encoder.identity()
        # The device is in the key, not in the identity: results on another device may differ
        # in the last bits, but it does not change what the encoder is.
        key = json.dumps({"format": _FORMAT, "identity": self._identity,
                          "device": getattr(encoder, "device", None)}, sort_keys=True, default=str)
        folder = Path(cache_dir) if cache_dir is not None else default_label_cache_dir()
        self.path = folder / f"{self.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"
        self._vectors, self._coverage, self._dim = self._read()
        self._dirty = False

    # -- the file --------------------------------------------------------------------------
    def _read(self) -> tuple[dict[str, np.ndarray], dict[str, LabelCoverage], int | None]:
        try:
            with np.load(self.path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                vectors = z["vectors"]
            if meta.get("identity") != json.loads(json.dumps(self._identity, default=str)):
                raise ValueError("another identity")  # a hash collision or an edited file
            coverage = {c["label"]: LabelCoverage(**c) for c in meta["coverage"]}
            embedded = dict(zip(meta["embedded"], vectors, strict=True))
            return embedded, coverage, meta.get("dim")
        except Exception:  # noqa: BLE001 - any unreadable file is a cache miss, rebuilt on write
            return {}, {}, None

    def _write(self) -> None:
        on_disk, cov_disk, dim_disk = self._read()  # keep what another writer added meanwhile
        vectors = {**on_disk, **self._vectors}
        coverage = {**cov_disk, **self._coverage}
        if self._dim is None:
            self._dim = dim_disk
        labels = list(vectors)
        meta = {"identity": self._identity, "dim": self._dim, "embedded": labels,
                "coverage": [vars(c) for c in coverage.values()]}
        arr = (np.stack([vectors[x] for x in labels]) if labels
               else np.zeros((0, self._dim or 0), np.float32))
        atomic_write(self.path, lambda f: np.savez(f, meta=np.array(json.dumps(meta, default=str)),
                                                   vectors=arr))
        self._dirty = False

    # -- the LabelEncoder interface --------------------------------------------------------
    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.encoder.dim)
        return self._dim

    def config(self) -> dict[str, Any]:
        return {**self._identity, "dim": self.dim} if "dim" not in self._identity else self._identity

    def identity(self) -> dict[str, Any]:
        return self._identity

    def source_encoder(self) -> LabelEncoder:
        """The wrapped encoder's :meth:`~LabelEncoder.source_encoder`, cached in the same folder
        (itself when the wrapped encoder has no candidate-side rule)."""
        inner = self.encoder.source_encoder()
        return self if inner is self.encoder else CachedLabelEncoder(inner, self.path.parent)

    def coverage(self, labels: Sequence[str]) -> list[LabelCoverage]:
        out = super().coverage(labels)
        if self._dirty:
            self._write()
        return out

    def _coverage_one(self, label: str) -> LabelCoverage:
        if label not in self._coverage:
            self._coverage[label] = self.encoder.coverage([label])[0]
            self._dirty = True
        return self._coverage[label]

    def _encode_new(self, labels: list[str]) -> np.ndarray:
        new = [x for x in labels if x not in self._vectors]
        if new:
            for label, vec in zip(new, self.encoder.encode(new), strict=True):
                self._vectors[label] = np.asarray(vec, dtype=np.float32)
            self._dim = int(self._vectors[new[0]].shape[0])
            self._dirty = True
        if self._dirty:
            self._write()
        return np.stack([self._vectors[x] for x in labels])
