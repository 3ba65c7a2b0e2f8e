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
from functools import cached_property
from typing import Any

import numpy as np

from zsaudio.labels.audioset import (
    audioset_classes,
    embed_source_texts,
    encoder_source_text_rows,
    source_label_texts,
)
from zsaudio.model.arrays import check_matrix

__all__ = ["FEATURE_FIELDS", "AudioFeatures", "CheckedSource", "SourceLabelSpace",
           "encoder_label_space"]

#: The fields of :class:`AudioFeatures`, in the order estimators list them.
FEATURE_FIELDS = ("embeddings", "scores", "gated")


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
    gated : np.ndarray, shape (n, D), or None
        Silence-gated, power-normalised clip embeddings
        (:func:`zsaudio.embeddings.pooling.silence_gated_pool`; ``embed_files(...,
        pooling="silence-gated")``), read by the few-shot soft map's prototypes; None when not
        extracted.
    """

    embeddings: np.ndarray | None = None
    scores: np.ndarray | None = None
    gated: np.ndarray | None = None

    def _arrays(self) -> tuple[np.ndarray | None, ...]:
        return tuple(getattr(self, f) for f in FEATURE_FIELDS)

    def __post_init__(self) -> None:
        rows = {len(a) for a in self._arrays() if a is not None}
        if len(rows) > 1:
            raise ValueError(f"{', '.join(FEATURE_FIELDS)} must have one row per clip, got "
                             f"{sorted(rows)} rows")

    def __len__(self) -> int:
        for a in self._arrays():
            if a is not None:
                return len(a)
        return 0

    def __getitem__(self, rows: Any) -> AudioFeatures:
        """The features of some clips (any numpy row index: array of indices, mask, slice)."""
        return AudioFeatures(*(None if a is None else a[rows] for a in self._arrays()))

    def only(self, fields: Sequence[str]) -> AudioFeatures:
        """These features with only ``fields`` kept (the others None), the arrays shared: all a
        method reading ``fields`` (``ZeroShotEstimator.uses``) sees, so that taking rows
        afterwards copies nothing it does not read.

        >>> feats = AudioFeatures(embeddings=np.zeros((4, 3)), scores=np.ones((4, 2)))
        >>> feats.only(("scores",))[:2].embeddings is None
        True
        """
        unknown = sorted(set(fields) - set(FEATURE_FIELDS))
        if unknown:
            raise ValueError(f"no feature field {unknown}; fields: {FEATURE_FIELDS}")
        return AudioFeatures(**{f: getattr(self, f) for f in fields})


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
    rows : np.ndarray, shape (M, d), or None
        Every source *text* as a row (:func:`zsaudio.labels.audioset.source_text_rows`: each
        class's name, its comma-separated synonyms, "name. description"), embedded without
        the candidate template; read by the soft map, which matches a candidate against each
        class's best text. None: not embedded (methods needing rows then use ``vectors``,
        one row per class, as rows of unknown kind).
    row_owner : np.ndarray of int, shape (M,), or None
        The class (0..K-1) of each row.
    row_kind : np.ndarray of int, shape (M,), or None
        Index into :data:`zsaudio.labels.audioset.SOURCE_TEXT_KINDS` of each row.
    """

    names: Sequence[str]
    vectors: np.ndarray
    mask: np.ndarray | None = None
    rows: np.ndarray | None = None
    row_owner: np.ndarray | None = None
    row_kind: np.ndarray | None = None

    def __post_init__(self) -> None:
        vectors = np.asarray(self.vectors)
        if vectors.ndim != 2 or len(vectors) != len(self.names):
            raise ValueError(f"vectors must have shape ({len(self.names)}, d) (one row per name), "
                             f"got {vectors.shape}")
        if self.mask is not None and np.asarray(self.mask).shape != (len(self.names),):
            raise ValueError(f"mask must have shape ({len(self.names)},), got {np.asarray(self.mask).shape}")
        given = [x is not None for x in (self.rows, self.row_owner, self.row_kind)]
        if any(given) and not all(given):
            raise ValueError("rows, row_owner and row_kind go together: give all three or none")
        if self.rows is not None:
            rows = np.asarray(self.rows)
            m = len(rows)
            if rows.ndim != 2 or rows.shape[1] != vectors.shape[1]:
                raise ValueError(f"rows must have shape (M, {vectors.shape[1]}), got {rows.shape}")
            owner, kind = np.asarray(self.row_owner), np.asarray(self.row_kind)
            if owner.shape != (m,) or kind.shape != (m,):
                raise ValueError(f"row_owner and row_kind must have shape ({m},), got "
                                 f"{owner.shape} and {kind.shape}")
            if m and (owner.min() < 0 or owner.max() >= len(self.names)):
                raise ValueError(f"row_owner must be in [0, {len(self.names)})")

    def text_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows (M, d), row_owner (M,), row_kind (M,))``; without rows, ``vectors`` as one
        row per class with kind -1 (unknown: used whatever kinds a method asks for).

        >>> SourceLabelSpace(["a", "b"], np.eye(2)).text_rows()[2].tolist()
        [-1, -1]
        """
        if self.rows is None:
            k = len(self.names)
            return np.asarray(self.vectors), np.arange(k), np.full(k, -1)
        return (np.asarray(self.rows), np.asarray(self.row_owner, np.int64),
                np.asarray(self.row_kind, np.int64))

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

    # A grid search fits one estimator per grid point on the same label space: validating and
    # converting it once, into read-only arrays those estimators share, saves re-checking
    # thousands of rows per fit. The label space is frozen and its arrays are taken as
    # immutable (changing one in place after a fit is not seen).
    @cached_property
    def checked(self) -> CheckedSource:
        """This label space validated as ``ZeroShotEstimator.fit`` stores it, computed once.

        Raises ValueError (from :func:`zsaudio.model.arrays.check_matrix`) for vectors that are
        not a finite numeric (K, d) matrix.

        >>> space = SourceLabelSpace(["a", "b"], np.array([[1.0, 0.0], [0.0, 0.0]]))
        >>> space.checked.mask.tolist(), space.checked.vectors.flags.writeable
        ([True, False], False)
        """
        return CheckedSource(
            names=_frozen(np.asarray([str(n) for n in self.names])),
            vectors=_frozen(check_matrix(self.vectors, "source.vectors").astype(np.float32)),
            mask=_frozen(np.array(self.usable(), dtype=bool)))

    @cached_property
    def checked_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`text_rows` validated, computed once: ``(rows (M, d) float32, row_owner (M,)
        int64, row_kind (M,) int64)``, read-only."""
        rows, owner, kind = self.text_rows()
        return (_frozen(check_matrix(rows, "source.rows").astype(np.float32)),
                _frozen(np.array(owner, dtype=np.int64)), _frozen(np.array(kind, dtype=np.int64)))


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` (a new array, owned here) made read-only."""
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class CheckedSource:
    """A :class:`SourceLabelSpace` validated (:attr:`SourceLabelSpace.checked`): the arrays an
    estimator stores as ``source_names_``, ``source_embeddings_`` and ``source_mask_``.
    Read-only, so that every estimator fitted on the label space can share them.

    Attributes
    ----------
    names : np.ndarray of str, shape (K,)
    vectors : np.ndarray, float32, shape (K, d)
        Finite (validated).
    mask : np.ndarray of bool, shape (K,)
        :meth:`SourceLabelSpace.usable`.
    """

    names: np.ndarray
    vectors: np.ndarray
    mask: np.ndarray


def encoder_label_space(label_encoder: Any, class_ids: Sequence[str], mode: str = "name",
                        text_rows: bool = False) -> SourceLabelSpace:
    """The label space of an audio encoder's AudioSet classes under a label encoder.

    Parameters
    ----------
    label_encoder : LabelEncoder
        Embeds the class texts (the same one that embeds the candidate labels).
    class_ids : sequence of str, length K
        The AudioSet mid of each encoder output (``AudioEncoder.class_ids``).
    mode : str, default "name"
        How a class becomes text (:func:`zsaudio.labels.audioset.source_label_texts`).
    text_rows : bool, default False
        Also embed every source text as a row (``rows``, ``row_owner``, ``row_kind``:
        :func:`zsaudio.labels.audioset.encoder_source_text_rows`) for the soft map; about four
        texts per class, so off unless a method needs them (``needs_source_rows``).

    Returns
    -------
    SourceLabelSpace
        K texts and their vectors; classes the label encoder cannot embed are zero rows, so
        unusable (``mask`` None: the non-zero rows are usable). Source texts are embedded
        without the candidate template (:meth:`zsaudio.labels.LabelEncoder.source_encoder`).
    """
    texts = source_label_texts(audioset_classes(class_ids), mode)
    vectors, _ = embed_source_texts(label_encoder.source_encoder(), texts)
    if not text_rows:
        return SourceLabelSpace(texts, vectors)
    rows, owner, kind = encoder_source_text_rows(label_encoder, class_ids)
    return SourceLabelSpace(texts, vectors, rows=rows, row_owner=owner, row_kind=kind)
