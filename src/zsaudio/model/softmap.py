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
estimator around them (``input_kind = "scores"``), whose ``tau`` and ``source_text`` are
chosen on validation classes by the caller's search (``zsaudio reproduce``: the grid of
``default_methods``), with defaults fixed a priori for use with no training data at all.

Example
-------
>>> import numpy as np
>>> S = np.eye(3)                                      # 3 source texts, one per source class
>>> model = SoftMap(tau=0.05).fit(source_embeddings=S)
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
    source_rows_ : np.ndarray, shape (M, d), float32
        The source text embeddings kept (the chosen kinds).
    source_owner_ : np.ndarray, shape (M,), int64
        Source class of each kept row.
    n_features_in_, embedding_dim_, n_classes_ : int
        K, d and the number of training classes seen by ``fit`` (0 without).

    Notes
    -----
    ``fit`` takes the source texts as rows: ``source_embeddings`` (M, d), ``source_owner`` (M,)
    and ``source_kind`` (M,) (:func:`zsaudio.labels.audioset.encoder_source_text_rows`).
    Given one row per source class and no kinds (the ConSE-style input), every row is used
    and the class of row i is i.
    """

    method_name = "softmap"
    input_kind = "scores"
    training_free = True
    #: ``fit`` takes the source texts as rows (owner, kind): see the class notes.
    source_rows_input = True

    def __init__(self, tau: float = DEFAULT_TAU, source_text: str = DEFAULT_SOURCE_TEXT) -> None:
        self.tau = tau
        self.source_text = source_text

    def _check_params(self) -> None:
        if self.source_text not in SOURCE_TEXT_CHOICES:
            raise ValueError(f"source_text must be one of {sorted(SOURCE_TEXT_CHOICES)}, "
                             f"got {self.source_text!r}")
        if not (np.isfinite(self.tau) and self.tau > 0):
            raise ValueError(f"tau must be > 0, got {self.tau!r}")

    def fit(self, X: Any = None, y: Any = None, class_embeddings: Any = None, *,
            source_embeddings: Any, source_owner: Any = None, source_kind: Any = None,
            n_sources: int | None = None, source_mask: Any = None) -> SoftMap:
        """Keep the source text rows of the chosen kinds (nothing is learned from X, y).

        Parameters
        ----------
        X, y, class_embeddings : optional
            Training clips' scores (n, K), their class indices (n,) and the training classes'
            embeddings (C, d): only checked for shape (a uniform ``fit`` signature).
        source_embeddings : array, shape (M, d)
            Source text embeddings.
        source_owner : array of int, shape (M,), optional
            Source class of each row; default ``arange(M)`` (one row per class).
        source_kind : array of int, shape (M,), optional
            Index into :data:`zsaudio.labels.audioset.SOURCE_TEXT_KINDS`; default: none given,
            every row is used whatever ``source_text`` says.
        n_sources : int, optional
            K; default ``len(source_mask)``, else ``max(source_owner) + 1``.
        source_mask : array of bool, shape (K,), optional
            Source classes that may be used (ConSE-style input; zero rows are never used).

        Returns
        -------
        self
        """
        self._check_params()
        rows = check_matrix(source_embeddings, "source_embeddings").astype(np.float32)
        M = rows.shape[0]
        owner = np.arange(M) if source_owner is None else np.asarray(source_owner, np.int64)
        kind = np.zeros(M, np.int64) if source_kind is None else np.asarray(source_kind, np.int64)
        if owner.shape != (M,) or kind.shape != (M,):
            raise ValueError(f"source_owner and source_kind must have shape ({M},), got "
                             f"{owner.shape} and {kind.shape}")
        if n_sources is None:
            n_sources = len(source_mask) if source_mask is not None else int(owner.max()) + 1
        if owner.min() < 0 or owner.max() >= n_sources:
            raise ValueError(f"source_owner must be in [0, {n_sources}), got "
                             f"[{owner.min()}, {owner.max()}]")
        wanted = [SOURCE_TEXT_KINDS.index(k) for k in SOURCE_TEXT_CHOICES[self.source_text]]
        # Rows without kinds are one text per class, whatever the choice.
        keep = (np.isin(kind, wanted) if source_kind is not None else np.ones(M, bool)) & (
            np.linalg.norm(rows, axis=1) > 0)
        if source_mask is not None:
            keep &= np.asarray(source_mask, bool)[owner]
        if not keep.any():
            raise ValueError(f"no source text of the kinds {SOURCE_TEXT_CHOICES[self.source_text]} "
                             "(give source_kind, or choose source_text='name')")
        n_classes = 0
        if class_embeddings is not None:
            E = check_matrix(class_embeddings, "class_embeddings")
            if E.shape[1] != rows.shape[1]:
                raise ValueError(f"class_embeddings have dimension {E.shape[1]}, source texts "
                                 f"{rows.shape[1]}: use the same label encoder")
            n_classes = E.shape[0]
        if X is not None and check_matrix(X, "X").shape[1] != n_sources:
            raise ValueError(f"X has {np.asarray(X).shape[1]} class scores per clip but there "
                             f"are {n_sources} source classes")
        self.source_rows_ = rows[keep]
        self.source_owner_ = owner[keep]
        self.n_features_in_ = int(n_sources)
        self.embedding_dim_ = rows.shape[1]
        self.n_classes_ = n_classes
        return self

    def candidate_weights(self, class_embeddings: Any) -> np.ndarray:
        """How each candidate spreads over the source classes, shape (C, K), rows sum to 1.

        Parameters
        ----------
        class_embeddings : array, shape (C, d)
        """
        self._check_fitted()
        E = check_matrix(class_embeddings, "class_embeddings", self.embedding_dim_)
        sim = source_similarity(E, self.source_rows_, self.source_owner_, self.n_features_in_)
        return soft_map_weights(sim, self.tau)

    def _decision_function(self, X: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
        """Soft-map scores, shape (n, C)."""
        return soft_map_scores(X, self.candidate_weights(class_embeddings))
