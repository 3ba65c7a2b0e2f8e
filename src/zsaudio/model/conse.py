"""ConSE: zero-shot by a convex combination of the source classes' label embeddings.

Norouzi et al., "Zero-shot learning by convex combination of semantic embeddings", ICLR 2014.
An audio encoder trained on K named source classes (YAMNet: 521 AudioSet classes) gives each
clip K class scores. ConSE maps the clip into the label-embedding space as the score-weighted
mean of the embeddings of its top-T source classes,

    f(x) = (1 / Z) * sum_{t=1..T} w_t(x) * s(c_t(x)),      Z = sum_t w_t(x),

and ranks candidate classes (never seen as audio labels) by cosine(f(x), phi(y)). Nothing is
learned from labelled audio: ``fit`` only stores the K source-label embeddings.

Rules for the corner cases (all deterministic):

- ``top_t`` larger than the number of usable source classes uses all of them.
- Ties among source scores are broken by source index (lower first; stable sort), and ties
  among candidate scores by candidate index (``predict`` / ``predict_topk`` sort stably).
- Masked source classes (a label encoder that cannot embed their text, see
  :func:`zsaudio.labels.audioset.embed_source_texts`) are never selected.
- If the weights of a clip's top-T classes sum to zero (all-zero scores with
  ``score_transform="raw"``), its semantic vector is the zero vector: every candidate scores
  0, a tie, so ``predict`` returns candidate 0 and ``predict_topk`` the first k candidates. No
  evidence, no preference.

Example
-------
>>> import numpy as np
>>> from zsaudio.model.features import SourceLabelSpace
>>> S = SourceLabelSpace(["a", "b", "c"], np.eye(3))  # 3 source classes, 3-d label space
>>> model = ConSE(top_t=2).fit(source=S)
>>> scores = np.array([[0.9, 0.1, 0.0]])               # the clip looks like source class 0
>>> E = np.array([[1.0, 0.2, 0.0], [0.0, 0.0, 1.0]])   # two unseen candidates
>>> model.predict(scores, E)
array([0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zsaudio.model.base import (
    ZeroShotEstimator,
    l2_normalize_rows,
    softmax,
    stable_topk,
)
from zsaudio.model.features import SourceLabelSpace

SCORE_TRANSFORMS = ("raw", "power", "softmax", "uniform")


class ConSE(ZeroShotEstimator):
    """ConSE zero-shot classifier on an audio encoder's class scores.

    Parameters
    ----------
    top_t : int, default 5
        T, the number of top-scoring source classes combined per clip (>= 1; clipped to the
        number of usable source classes).
    score_transform : {"raw", "power", "softmax", "uniform"}, default "raw"
        The weights w_t from the clip's source scores p (one row of X):
        ``"raw"``: w = p (scores must be >= 0, e.g. YAMNet's sigmoid outputs; the paper's
        choice with softmax probabilities); ``"power"``: w = p ** (1 / temperature) (sharper
        for temperature < 1); ``"softmax"``: w = softmax(p / temperature) over all usable
        source classes; ``"uniform"``: w = 1 (only the ranking counts).
    temperature : float, default 1.0
        > 0; used by ``"power"`` and ``"softmax"``.
    normalize_source : bool, default True
        L2-normalise each source-label embedding before averaging, so that word vectors with
        large norms do not dominate the mean (sentence encoders already give unit vectors).

    Attributes
    ----------
    source_names_ : np.ndarray of str, shape (K,)
        The source classes' label texts.
    source_embeddings_ : np.ndarray, shape (K, d), float32
        Their label embeddings as given to ``fit`` (masked rows zero).
    source_mask_ : np.ndarray, shape (K,), bool
        True for the source classes that may be selected.
    n_features_in_, embedding_dim_, n_classes_ : int
        K, d, and the number of training classes seen by ``fit`` (0 when fitted without).

    Notes
    -----
    ConSE reads the scores (``uses = ("scores",)``): the encoder's class-score matrix (n, K),
    e.g. YAMNet's clip-level mean of its frame sigmoid scores (K = 521), in the order of the
    source label space's rows. The source label space comes from the same label encoder as the
    candidates (:func:`zsaudio.model.features.encoder_label_space`).
    """

    method_name = "conse"
    uses = ("scores",)
    needs_source = True
    training_free = True

    def __init__(
        self,
        top_t: int = 5,
        score_transform: str = "raw",
        temperature: float = 1.0,
        normalize_source: bool = True,
    ) -> None:
        self.top_t = top_t
        self.score_transform = score_transform
        self.temperature = temperature
        self.normalize_source = normalize_source

    def _check_params(self) -> None:
        if isinstance(self.top_t, bool) or not isinstance(self.top_t, (int, np.integer)) or \
                self.top_t < 1:
            raise ValueError(f"top_t must be an int >= 1, got {self.top_t!r}")
        if self.score_transform not in SCORE_TRANSFORMS:
            raise ValueError(
                f"score_transform must be one of {SCORE_TRANSFORMS}, got {self.score_transform!r}")
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")

    def _fit(self, X: np.ndarray | None, y: np.ndarray | None,
             class_embeddings: np.ndarray | None) -> None:
        """Nothing to learn: ``fit`` has validated X, y and the source label space (stored as
        ``source_embeddings_`` / ``source_mask_``); X may be None (no training clips)."""

    @classmethod
    def from_source(cls, source: SourceLabelSpace, **params: Any) -> ConSE:
        """A ready ConSE from the encoder's label space: ``ConSE(**params).fit(source=source)``."""
        return cls(**params).fit(source=source)

    def source_weights(self, X) -> np.ndarray:
        """The (unnormalised) weight of every source class for each clip.

        Parameters
        ----------
        X : array, shape (n, K)

        Returns
        -------
        np.ndarray, shape (n, K), float64
            Non-zero only on each clip's top-T usable source classes (ties: lower index).
        """
        top, w = self._top_weights(X)
        W = np.zeros((top.shape[0], self.n_features_in_))
        W[np.arange(top.shape[0])[:, None], top] = w
        return W

    def _top_weights(self, X: Any, shared: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each clip's top-T usable source classes (n, T), ties to the lower index, and their
        unnormalised weights (n, T), float64. ``shared``: as in ``_grid_decision_function``
        (what depends only on the clips and on T is kept there)."""
        X = self._check_X(X)
        self._check_params()
        shared = {} if shared is None else shared
        mask = self.source_mask_
        if self.score_transform in ("raw", "power"):
            if "negative" not in shared:
                shared["negative"] = bool(np.any(X[:, mask] < 0))
            if shared["negative"]:
                raise ValueError(f"score_transform={self.score_transform!r} needs scores >= 0 "
                                 "(probabilities); use 'softmax' or 'uniform' for logits")
        if "ranked" not in shared:
            shared["ranked"] = np.where(mask, X, -np.inf)
        ranked = shared["ranked"]
        t = min(int(self.top_t), int(mask.sum()))
        if ("top", t) not in shared:
            shared["top", t] = stable_topk(ranked, t)
        top = shared["top", t]
        rows = np.arange(X.shape[0])[:, None]
        if self.score_transform == "raw":
            w = X[rows, top]
        elif self.score_transform == "power":
            w = X[rows, top] ** (1.0 / self.temperature)
        elif self.score_transform == "softmax":
            w = softmax(ranked, self.temperature)[rows, top]  # masked classes (-inf) get 0
        else:  # uniform
            w = np.ones(top.shape)
        return top, w.astype(np.float64, copy=False)

    def semantic_vectors(self, X) -> np.ndarray:
        """f(x): each clip's convex combination of its top-T source-label embeddings.

        Parameters
        ----------
        X : array, shape (n, K)
            Class scores.

        Returns
        -------
        np.ndarray, shape (n, d), float64
            Zero rows where the top-T weights sum to zero.
        """
        return self._semantic_vectors(X, {})

    def _semantic_vectors(self, X: Any, shared: dict) -> np.ndarray:
        """:meth:`semantic_vectors`; ``shared`` as in ``_grid_decision_function``."""
        top, w = self._top_weights(X, shared)
        key = ("source", bool(self.normalize_source))
        if key not in shared:
            S = self.source_embeddings_.astype(np.float64)
            shared[key] = l2_normalize_rows(S) if self.normalize_source else S
        S = shared[key]
        # Only T of the K weights per clip are non-zero: gather their T embeddings rather than
        # multiply the dense (n, K) weights with all K.
        F = np.zeros((top.shape[0], S.shape[1]))
        for t in range(top.shape[1]):
            F += w[:, t, None] * S[top[:, t]]
        Z = w.sum(axis=1, keepdims=True)
        return np.divide(F, Z, out=np.zeros_like(F), where=Z > 0)

    def _decision_function(self, X: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
        """Cosine between each clip's semantic vector and each candidate's embedding, (n, C);
        0 for a zero semantic vector. Called by ``decision_function`` after validation."""
        return self._cosines(X, class_embeddings, {})

    def _cosines(self, X: np.ndarray, class_embeddings: np.ndarray, shared: dict) -> np.ndarray:
        """:meth:`_decision_function` on validated inputs; ``shared`` as in
        ``_grid_decision_function``."""
        if "candidates" not in shared:
            shared["candidates"] = l2_normalize_rows(class_embeddings)
        return l2_normalize_rows(self._semantic_vectors(X, shared)) @ shared["candidates"].T

    def _grid_decision_function(self, X: Any, class_embeddings: Any, shared: dict) -> np.ndarray:
        """The cosines (n, C) in a grid search, sharing what the grid points have in common:
        the ranking of the source classes (per T), the normalised source and candidate
        embeddings, and the whole scores of points that differ only in a hyper-parameter
        their transform ignores (``temperature`` of ``"raw"`` and ``"uniform"``)."""
        X, E = self._check_predict_inputs(X, class_embeddings)
        self._check_params()
        tempered = self.score_transform in ("power", "softmax")
        key = ("scores", min(int(self.top_t), int(self.source_mask_.sum())), self.score_transform,
               float(self.temperature) if tempered else None, bool(self.normalize_source))
        if key not in shared:
            scores = self._cosines(X, E, shared)
            scores.setflags(write=False)  # returned for every such point
            shared[key] = scores
        return shared[key]
