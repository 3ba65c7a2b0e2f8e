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

import inspect

import numpy as np

SCORE_TRANSFORMS = ("raw", "power", "softmax", "uniform")


def _as_2d_finite(name: str, a, dtype=np.float64) -> np.ndarray:
    a = np.asarray(a, dtype=dtype)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def l2_normalize(a: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; all-zero rows stay zero. Shape preserved."""
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    return np.divide(a, norms, out=np.zeros_like(a), where=norms > 0)


def stable_topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries of each row, best first; ties -> lower index first.

    Parameters
    ----------
    scores : np.ndarray, shape (n, C)
    k : int, 1 <= k <= C

    Returns
    -------
    np.ndarray, shape (n, k), int64
    """
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


class ConSE:
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

    Notes
    -----
    ``input_kind = "scores"``: X is the encoder's class-score matrix (n, K), e.g. YAMNet's
    clip-level mean of its frame sigmoid scores (K = 521), in the order of the source
    embeddings' rows.
    """

    input_kind = "scores"

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

    # -- scikit-learn style parameter access (constructor arguments are the hyper-parameters)
    def get_params(self, deep: bool = True) -> dict:
        """Hyper-parameters as a dict (the constructor's arguments)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params) -> ConSE:
        """Set hyper-parameters by name; returns self."""
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"unknown parameter {k!r} for {type(self).__name__}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

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
        X=None,
        y=None,
        class_embeddings=None,
        *,
        source_embeddings,
        source_mask=None,
    ) -> ConSE:
        """Store the source-label embeddings (nothing is learned from X, y).

        Parameters
        ----------
        X : array, shape (n, K), optional
            Training clips' class scores; only checked for shape (a uniform ``fit`` signature
            lets ConSE stand wherever a trained estimator does).
        y, class_embeddings : optional
            Ignored beyond shape checks (training-free).
        source_embeddings : array, shape (K, d)
            Label embeddings of the encoder's K classes, in its output order.
        source_mask : array of bool, shape (K,), optional
            Which source classes may be used; default: those with a non-zero embedding.

        Returns
        -------
        self
        """
        self._check_params()
        S = _as_2d_finite("source_embeddings", source_embeddings).astype(np.float32)
        if source_mask is None:
            mask = np.linalg.norm(S, axis=1) > 0
        else:
            mask = np.asarray(source_mask, dtype=bool)
            if mask.shape != (S.shape[0],):
                raise ValueError(f"source_mask must have shape ({S.shape[0]},), got {mask.shape}")
        if not mask.any():
            raise ValueError("no usable source class (all masked or all-zero embeddings)")
        if X is not None:
            X = _as_2d_finite("X", X)
            if X.shape[1] != S.shape[0]:
                raise ValueError(f"X has {X.shape[1]} class scores per clip but there are "
                                 f"{S.shape[0]} source embeddings")
            if y is not None and len(y) != X.shape[0]:
                raise ValueError(f"y has {len(y)} entries, X has {X.shape[0]} rows")
        if class_embeddings is not None:
            E = _as_2d_finite("class_embeddings", class_embeddings)
            if E.shape[1] != S.shape[1]:
                raise ValueError(f"class_embeddings have dimension {E.shape[1]}, source "
                                 f"embeddings {S.shape[1]}")
        self.source_embeddings_ = S
        self.source_mask_ = mask
        return self

    @classmethod
    def from_source(cls, source_embeddings, source_mask=None, **params) -> ConSE:
        """A ready ConSE from source embeddings: ``ConSE(**params).fit(source_embeddings=...)``."""
        return cls(**params).fit(source_embeddings=source_embeddings, source_mask=source_mask)

    def _check_fitted(self) -> None:
        if not hasattr(self, "source_embeddings_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(...) first")

    def _check_scores(self, X) -> np.ndarray:
        X = _as_2d_finite("X", X)
        K = self.source_embeddings_.shape[0]
        if X.shape[1] != K:
            raise ValueError(f"X must have {K} class scores per clip (one per source class), "
                             f"got shape {X.shape}")
        return X

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
        self._check_fitted()
        self._check_params()
        X = self._check_scores(X)
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
            z = ranked / self.temperature
            z = np.exp(z - z.max(axis=1, keepdims=True))  # exp(-inf) = 0 for masked classes
            w = (z / z.sum(axis=1, keepdims=True))[rows, top]
        else:  # uniform
            w = np.ones(top.shape)
        W = np.zeros(X.shape)
        W[rows, top] = w
        return W

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
        W = self.source_weights(X)
        S = self.source_embeddings_.astype(np.float64)
        if self.normalize_source:
            S = l2_normalize(S)
        Z = W.sum(axis=1, keepdims=True)
        return np.divide(W @ S, Z, out=np.zeros((W.shape[0], S.shape[1])), where=Z > 0)

    def decision_function(self, X, class_embeddings) -> np.ndarray:
        """Cosine between each clip's semantic vector and each candidate's embedding.

        Parameters
        ----------
        X : array, shape (n, K)
            Class scores.
        class_embeddings : array, shape (C, d)
            Candidate classes' label embeddings (same label encoder as the source ones).

        Returns
        -------
        np.ndarray, shape (n, C), in [-1, 1]; 0 for a zero semantic vector.
        """
        self._check_fitted()
        E = _as_2d_finite("class_embeddings", class_embeddings)
        if E.shape[1] != self.source_embeddings_.shape[1]:
            raise ValueError(f"class_embeddings have dimension {E.shape[1]} but the source "
                             f"embeddings {self.source_embeddings_.shape[1]}: use the same "
                             "label encoder for both")
        return l2_normalize(self.semantic_vectors(X)) @ l2_normalize(E).T

    def predict(self, X, class_embeddings) -> np.ndarray:
        """Index (row of ``class_embeddings``) of the best candidate per clip, shape (n,)."""
        return self.predict_topk(X, class_embeddings, 1)[:, 0]

    def predict_topk(self, X, class_embeddings, k: int) -> np.ndarray:
        """Indices of the k best candidates per clip, best first, shape (n, k); ties -> lower
        index first."""
        scores = self.decision_function(X, class_embeddings)
        if not 1 <= k <= scores.shape[1]:
            raise ValueError(f"k must be in [1, {scores.shape[1]}], got {k}")
        return stable_topk(scores, k)

    def score(self, X, y, class_embeddings, k: int = 1) -> float:
        """Top-k accuracy: the fraction of clips whose true candidate index ``y`` is among the
        k best. ``y``: shape (n,), ints in [0, C)."""
        y = np.asarray(y)
        top = self.predict_topk(X, class_embeddings, k)
        if y.shape != (top.shape[0],):
            raise ValueError(f"y must have shape ({top.shape[0]},), got {y.shape}")
        return float(np.mean(np.any(top == y[:, None], axis=1)))
