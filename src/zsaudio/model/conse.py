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
>>> S = np.eye(3, dtype=np.float32)                    # 3 source classes, 3-d label space
>>> model = ConSE(top_t=2).fit(source_embeddings=S)
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
    check_fit_inputs,
    check_matrix,
    l2_normalize_rows,
    softmax,
    stable_topk,
)

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
    source_embeddings_ : np.ndarray, shape (K, d), float32
        The embeddings of the K source-class labels as given to ``fit`` (masked rows zero).
    source_mask_ : np.ndarray, shape (K,), bool
        True for the source classes that may be selected.
    n_features_in_, embedding_dim_, n_classes_ : int
        K, d, and the number of training classes seen by ``fit`` (0 when fitted without).

    Notes
    -----
    ``input_kind = "scores"``: X is the encoder's class-score matrix (n, K), e.g. YAMNet's
    clip-level mean of its frame sigmoid scores (K = 521), in the order of the source
    embeddings' rows. The source embeddings come from the same label encoder as the
    candidates' (e.g. :func:`zsaudio.labels.audioset.embed_source_texts` on
    :func:`zsaudio.labels.audioset.source_label_texts`).
    """

    method_name = "conse"
    input_kind = "scores"
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

    # -- fitting: training-free, stores the source label embeddings
    def fit(
        self,
        X: Any = None,
        y: Any = None,
        class_embeddings: Any = None,
        *,
        source_embeddings: Any,
        source_mask: Any = None,
    ) -> ConSE:
        """Store the source-label embeddings (nothing is learned from X, y).

        Parameters
        ----------
        X : array, shape (n, K), optional
            Training clips' class scores; only validated (a uniform ``fit`` signature lets
            ConSE stand wherever a trained estimator does).
        y : array of int, shape (n,), optional
            Rows of ``class_embeddings``; validated with X, otherwise unused.
        class_embeddings : array, shape (C, d), optional
            Training classes' label embeddings; validated, otherwise unused.
        source_embeddings : array, shape (K, d)
            Label embeddings of the encoder's K classes, in its output order.
        source_mask : array of bool, shape (K,), optional
            Which source classes may be used; default: those with a non-zero embedding.

        Returns
        -------
        self
        """
        self._check_params()
        S = check_matrix(source_embeddings, "source_embeddings").astype(np.float32)
        if source_mask is None:
            mask = np.linalg.norm(S, axis=1) > 0
        else:
            mask = np.asarray(source_mask, dtype=bool)
            if mask.shape != (S.shape[0],):
                raise ValueError(f"source_mask must have shape ({S.shape[0]},), got {mask.shape}")
        if not mask.any():
            raise ValueError("no usable source class (all masked or all-zero embeddings)")
        n_classes = 0
        if X is not None or y is not None or class_embeddings is not None:
            if X is None or y is None or class_embeddings is None:
                raise ValueError("give X, y and class_embeddings together, or none of them")
            X, y, E = check_fit_inputs(X, y, class_embeddings)
            if X.shape[1] != S.shape[0]:
                raise ValueError(f"X has {X.shape[1]} class scores per clip but there are "
                                 f"{S.shape[0]} source embeddings")
            if E.shape[1] != S.shape[1]:
                raise ValueError(f"class_embeddings have dimension {E.shape[1]}, source "
                                 f"embeddings {S.shape[1]}: use the same label encoder")
            n_classes = E.shape[0]
        self.source_embeddings_ = S
        self.source_mask_ = mask
        self.n_features_in_ = S.shape[0]
        self.embedding_dim_ = S.shape[1]
        self.n_classes_ = n_classes
        return self

    @classmethod
    def from_source(cls, source_embeddings, source_mask=None, **params) -> ConSE:
        """A ready ConSE from source embeddings: ``ConSE(**params).fit(source_embeddings=...)``."""
        return cls(**params).fit(source_embeddings=source_embeddings, source_mask=source_mask)

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

    def _top_weights(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Each clip's top-T usable source classes (n, T), ties to the lower index, and their
        unnormalised weights (n, T), float64."""
        self._check_fitted()
        self._check_params()
        X = check_matrix(X, "X", self.n_features_in_)
        mask = self.source_mask_
        if self.score_transform in ("raw", "power") and np.any(X[:, mask] < 0):
            raise ValueError(f"score_transform={self.score_transform!r} needs scores >= 0 "
                             "(probabilities); use 'softmax' or 'uniform' for logits")
        ranked = np.where(mask, X, -np.inf)
        t = min(int(self.top_t), int(mask.sum()))
        top = stable_topk(ranked, t)
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
        top, w = self._top_weights(X)
        S = self.source_embeddings_.astype(np.float64)
        if self.normalize_source:
            S = l2_normalize_rows(S)
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
        return l2_normalize_rows(self.semantic_vectors(X)) @ l2_normalize_rows(
            class_embeddings).T
