"""The soft map: zero-shot scores through an audio encoder's own label space, with no training.

An audio encoder trained on K named source classes (YAMNet: 521 AudioSet classes) gives each
clip K class scores s_k(x) (clip means of its frame scores). A candidate label y, never heard
as audio, is scored by spreading it softly over the source classes its text is close to:

    score(x, y) = sum_k  softmax_k( cos(text_y, text_k) / tau ) * s_k(x)

where cos(text_y, text_k) is the best cosine between the candidate's label embedding and any
text of source class k (its display name, each comma-separated synonym of the name, or
"name. description": :func:`zsaudio.labels.audioset.source_text_rows`, one documented rule;
the hyper-parameter ``source_text`` says which kinds of rows are used). Unlike ConSE it never
averages the label vectors of the clip's top classes (which dilutes them with generic classes
such as "Speech" or "Inside, small room"): each candidate keeps its own text and reads the
scores of the few source classes it names.

Pure functions (numpy in, numpy out) hold the math; :class:`SoftMap` is a thin training-free
estimator around them (``uses = ("scores",)``, ``training_free``, ``needs_source_rows``: it
reads the source texts as rows of :class:`~zsaudio.model.features.SourceLabelSpace`), whose
``tau`` and ``source_text`` are chosen on validation classes by the caller's search
(:data:`zsaudio.model.search.DEFAULT_SEARCH`), with defaults fixed a priori for use with no
training data at all.

Example
-------
>>> import numpy as np
>>> from zsaudio.model.features import SourceLabelSpace
>>> S = SourceLabelSpace.from_vectors(np.eye(3))       # 3 source texts, one per source class
>>> model = SoftMap(tau=0.05).fit(source=S)
>>> scores = np.array([[0.9, 0.1, 0.0]])               # the clip sounds like source class 0
>>> E = np.array([[1.0, 0.2, 0.0], [0.0, 0.0, 1.0]])   # two candidates
>>> model.predict(scores, E)
array([0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zsaudio.labels.audioset import SOURCE_TEXT_KINDS
from zsaudio.model.base import ZeroShotEstimator, check_matrix, l2_normalize_rows

__all__ = [
    "DEFAULT_SOURCE_TEXT",
    "DEFAULT_TAU",
    "SOURCE_TEXT_CHOICES",
    "SoftMap",
    "soft_map_scores",
    "soft_map_weights",
    "source_similarity",
]

#: Which kinds of source text rows (:data:`zsaudio.labels.audioset.SOURCE_TEXT_KINDS`) each
#: ``source_text`` choice uses; a candidate matches a source class by its best row.
SOURCE_TEXT_CHOICES: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "synonyms": ("synonym",),
    "name+description": ("name+description",),
    "synonyms+description": ("synonym", "name+description"),
}
#: Defaults fixed a priori (used with no training classes, e.g. the 50-way protocol and
#: ``zsaudio classify`` without a model): every text of a source class, and a temperature in
#: the middle of the 0.02-0.05 range an earlier study found on seen classes.
DEFAULT_SOURCE_TEXT = "synonyms+description"
DEFAULT_TAU = 0.03


def source_similarity(candidates: np.ndarray, source_rows: np.ndarray, owner: np.ndarray,
                      n_sources: int) -> np.ndarray:
    """Best cosine between each candidate and any text row of each source class.

    Parameters
    ----------
    candidates : np.ndarray, shape (C, d)
        Candidate label embeddings (any norm; zero rows give cosine 0).
    source_rows : np.ndarray, shape (M, d)
        Embeddings of the source texts.
    owner : np.ndarray of int, shape (M,)
        The source class (0..n_sources-1) of each row.
    n_sources : int
        K, the number of source classes (the audio encoder's outputs).

    Returns
    -------
    np.ndarray, shape (C, K), float64
        ``-inf`` for a source class with no row (it then gets weight 0).

    Example
    -------
    >>> source_similarity(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]),
    ...                   np.array([0, 1, 1]), 3)
    array([[ 1. ,  0.6, -inf]])
    """
    owner = np.asarray(owner, dtype=np.int64)
    cos = l2_normalize_rows(np.asarray(candidates, np.float64)) @ l2_normalize_rows(
        np.asarray(source_rows, np.float64)).T                                  # (C, M)
    best = np.full((cos.shape[0], int(n_sources)), -np.inf)
    np.maximum.at(best.T, owner, cos.T)  # best[:, k] = max over the rows owned by k
    return best


def soft_map_weights(similarity: np.ndarray, tau: float) -> np.ndarray:
    """``softmax_k(similarity / tau)`` per candidate: how each candidate spreads over sources.

    Parameters
    ----------
    similarity : np.ndarray, shape (C, K)
        From :func:`source_similarity` (``-inf`` entries get weight 0).
    tau : float
        Temperature > 0 (cosine units): small = the best-matching source class only.

    Returns
    -------
    np.ndarray, shape (C, K), float64; each row sums to 1.

    Example
    -------
    >>> soft_map_weights(np.array([[0.5, 0.5, -np.inf]]), 0.1)
    array([[0.5, 0.5, 0. ]])
    """
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be > 0, got {tau!r}")
    z = np.asarray(similarity, np.float64) / float(tau)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def soft_map_scores(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each clip's score for each candidate: the candidate's weighted source scores.

    Parameters
    ----------
    scores : np.ndarray, shape (n, K)
        The audio encoder's class scores per clip (YAMNet: clip means of sigmoid outputs).
    weights : np.ndarray, shape (C, K)
        From :func:`soft_map_weights`.

    Returns
    -------
    np.ndarray, shape (n, C), float64: ``scores @ weights.T``.

    Example
    -------
    >>> soft_map_scores(np.array([[0.8, 0.2]]), np.array([[1.0, 0.0], [0.5, 0.5]]))
    array([[0.8, 0.5]])
    """
    return np.asarray(scores, np.float64) @ np.asarray(weights, np.float64).T


class SoftMap(ZeroShotEstimator):
    """Training-free zero-shot classifier: the soft map through the encoder's label space.

    Parameters
    ----------
    tau : float, default :data:`DEFAULT_TAU`
        Temperature of the softmax over source classes (> 0).
    source_text : str, default :data:`DEFAULT_SOURCE_TEXT`
        A key of :data:`SOURCE_TEXT_CHOICES`: which source text rows are matched.

    Attributes
    ----------
    source_names_, source_embeddings_, source_mask_ : the encoder's label space (base class).
    source_rows_, source_row_owner_, source_row_kind_ : every source text row (base class,
        ``needs_source_rows``).
    text_rows_ : np.ndarray, shape (M', d), float32
        The rows matched: the chosen kinds (and rows of unknown kind, -1), non-zero, of usable
        classes. Derived (``rebuilt_on_load``).
    text_owner_ : np.ndarray, shape (M',), int64
        Source class of each matched row. Derived.
    n_features_in_, embedding_dim_, n_classes_ : int
        K, d and the number of training classes seen by ``fit`` (0 without).

    Notes
    -----
    ``fit(source=SourceLabelSpace)`` with text rows (``encoder_label_space(...,
    text_rows=True)``). A label space without rows gives one row per class (its vectors) of
    unknown kind: every row is used whatever ``source_text`` says (the ConSE-style input).
    Training clips, when given, are only checked (the method learns nothing from them).
    """

    method_name = "softmap"
    uses = ("scores",)
    needs_source = True
    needs_source_rows = True
    training_free = True
    rebuilt_on_load = ("text_rows_", "text_owner_")

    def __init__(self, tau: float = DEFAULT_TAU, source_text: str = DEFAULT_SOURCE_TEXT) -> None:
        self.tau = tau
        self.source_text = source_text

    def _check_params(self) -> None:
        if self.source_text not in SOURCE_TEXT_CHOICES:
            raise ValueError(f"source_text must be one of {sorted(SOURCE_TEXT_CHOICES)}, "
                             f"got {self.source_text!r}")
        if not (np.isfinite(self.tau) and self.tau > 0):
            raise ValueError(f"tau must be > 0, got {self.tau!r}")

    def _fit(self, X: np.ndarray | None, y: np.ndarray | None, E: np.ndarray | None) -> None:
        """Keep the source text rows of the chosen kinds (nothing is learned from X, y)."""
        self._rebuild()

    def _rebuild(self) -> None:
        rows, owner, kind = self.source_rows_, self.source_row_owner_, self.source_row_kind_
        wanted = [SOURCE_TEXT_KINDS.index(k) for k in SOURCE_TEXT_CHOICES[self.source_text]]
        keep = (np.isin(kind, wanted) | (kind < 0)) & (np.linalg.norm(rows, axis=1) > 0)
        keep &= np.asarray(self.source_mask_, bool)[owner]
        if not keep.any():
            raise ValueError(f"no source text (usable) of the kinds "
                             f"{SOURCE_TEXT_CHOICES[self.source_text]} (build the label space "
                             "with encoder_label_space(..., text_rows=True), or choose "
                             "source_text='name')")
        self.text_rows_ = rows[keep]
        self.text_owner_ = owner[keep]

    def candidate_weights(self, class_embeddings: Any) -> np.ndarray:
        """How each candidate spreads over the source classes, shape (C, K), rows sum to 1.

        Parameters
        ----------
        class_embeddings : array, shape (C, d)
        """
        self._check_fitted()
        E = check_matrix(class_embeddings, "class_embeddings", self.embedding_dim_)
        sim = source_similarity(E, self.text_rows_, self.text_owner_, len(self.source_mask_))
        return soft_map_weights(sim, self.tau)

    def _decision_function(self, X: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
        """Soft-map scores, shape (n, C)."""
        return soft_map_scores(X, self.candidate_weights(class_embeddings))

    def _grid_decision_function(self, X: Any, class_embeddings: Any, shared: dict) -> np.ndarray:
        """Soft-map scores (n, C) in a grid search: the candidates' similarities to the source
        classes depend on ``source_text`` only, not on ``tau``, so each is computed once."""
        X, E = self._check_predict_inputs(X, class_embeddings)
        key = ("similarity", self.source_text)
        if key not in shared:
            shared[key] = source_similarity(E, self.text_rows_, self.text_owner_,
                                            len(self.source_mask_))
        return soft_map_scores(X, soft_map_weights(shared[key], self.tau))
