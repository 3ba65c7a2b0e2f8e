"""What the estimators read: audio features of clips, and the label space of the encoder's classes.

:class:`AudioFeatures` holds, row-aligned per clip, the audio encoder's embedding θ(x) and its
own class scores (YAMNet: the 521 AudioSet classes), either of which may be absent. Each
estimator reads the fields it declares (``ZeroShotEstimator.uses``); callers always pass the
whole :class:`AudioFeatures` and never need to know which.

:class:`SourceLabelSpace` describes the columns of ``scores``: the encoder's class names and
their label embeddings (same label encoder as the candidates). Methods that reason through the
encoder's classes (ConSE and its hybrids) take it as ``fit(..., source=...)``.

>>> import numpy as np
>>> feats = AudioFeatures(embeddings=np.zeros((4, 3)), scores=np.ones((4, 2)))
>>> len(feats), feats[[0, 2]].scores.shape
(4, (2, 2))
>>> space = SourceLabelSpace(["Speech", "Dog"], np.eye(2))
>>> len(space), space.usable().tolist()
(2, [True, True])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zsaudio.labels.audioset import audioset_classes, embed_source_texts, source_label_texts

__all__ = ["FEATURE_FIELDS", "AudioFeatures", "SourceLabelSpace", "encoder_label_space"]

#: The fields of :class:`AudioFeatures`, in the order estimators list them.
FEATURE_FIELDS = ("embeddings", "scores")


@dataclass(frozen=True)
class AudioFeatures:
    """Per-clip audio features, rows aligned.

    Attributes
    ----------
    embeddings : np.ndarray, shape (n, D), or None
        The audio encoder's clip embeddings (YAMNet: 1024-d mean over patches).
    scores : np.ndarray, shape (n, K), or None
        The audio encoder's own class scores (YAMNet: 521 AudioSet classes), None for an
        encoder without a classifier head.
    """

    embeddings: np.ndarray | None = None
    scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        rows = {len(a) for a in (self.embeddings, self.scores) if a is not None}
        if len(rows) > 1:
            raise ValueError(f"embeddings and scores must have one row per clip, got {sorted(rows)} rows")

    def __len__(self) -> int:
        for a in (self.embeddings, self.scores):
            if a is not None:
                return len(a)
        return 0

    def __getitem__(self, rows: Any) -> AudioFeatures:
        """The features of some clips (any numpy row index: array of indices, mask, slice)."""
        return AudioFeatures(*(None if a is None else a[rows] for a in (self.embeddings, self.scores)))


@dataclass(frozen=True)
class SourceLabelSpace:
    """The audio encoder's own classes as label text and label embeddings.

    Attributes
    ----------
    names : sequence of str, length K
        Class names in the encoder's output order (the columns of ``AudioFeatures.scores``).
    vectors : np.ndarray, shape (K, d)
        Their label embeddings, from the label encoder that embeds the candidate labels.
    mask : np.ndarray of bool, shape (K,), or None
        Which classes may be used; None: those with a non-zero vector (a label the label
        encoder could not embed has a zero row).
    """

    names: Sequence[str]
    vectors: np.ndarray
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        vectors = np.asarray(self.vectors)
        if vectors.ndim != 2 or len(vectors) != len(self.names):
            raise ValueError(f"vectors must have shape ({len(self.names)}, d) (one row per name), "
                             f"got {vectors.shape}")
        if self.mask is not None and np.asarray(self.mask).shape != (len(self.names),):
            raise ValueError(f"mask must have shape ({len(self.names)},), got {np.asarray(self.mask).shape}")

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_vectors(cls, vectors: Any, mask: Any = None) -> SourceLabelSpace:
        """A label space of unnamed classes ("class 0", ...) from their vectors (K, d)."""
        vectors = np.asarray(vectors)
        return cls([f"class {k}" for k in range(len(vectors))], vectors,
                   None if mask is None else np.asarray(mask, dtype=bool))

    def usable(self) -> np.ndarray:
        """Boolean (K,): the classes a method may use (``mask``, or the non-zero rows)."""
        if self.mask is not None:
            return np.asarray(self.mask, dtype=bool)
        return np.linalg.norm(np.asarray(self.vectors, dtype=np.float64), axis=1) > 0


def encoder_label_space(label_encoder: Any, class_ids: Sequence[str], mode: str = "name") -> SourceLabelSpace:
    """The label space of an audio encoder's AudioSet classes under a label encoder.

    Parameters
    ----------
    label_encoder : LabelEncoder
        Embeds the class texts (the same one that embeds the candidate labels).
    class_ids : sequence of str, length K
        The AudioSet mid of each encoder output (``AudioEncoder.class_ids``).
    mode : str, default "name"
        How a class becomes text (:func:`zsaudio.labels.audioset.source_label_texts`).

    Returns
    -------
    SourceLabelSpace
        K texts and their vectors; classes the label encoder cannot embed are zero rows, so
        unusable (``mask`` None: the non-zero rows are usable).
    """
    texts = source_label_texts(audioset_classes(class_ids), mode)
    vectors, _ = embed_source_texts(label_encoder, texts)
    return SourceLabelSpace(texts, vectors)
