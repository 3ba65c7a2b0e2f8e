"""The bilinear compatibility model of Xie & Virtanen (WASPAA 2019), trained by Algorithm 1.

Compatibility of an audio feature vector θ(x) (D,) with a class embedding φ(y) (d,):
F(x, y) = θ(x)ᵀ W φ(y), W (D, d). A sample is classified by the candidate class with the
largest F. W is learnt by stochastic gradient descent on the weighted approximate ranking
(WARP / ALE-style) objective, Algorithm 1 of the paper:

    W ← 0
    for each epoch: for each training sample n, in a seeded random order:
        ℓ(y) = Δ(yₙ, y) + F(xₙ, y) − F(xₙ, yₙ)   for every training class y (computed once)
        sort ℓ in descending order, r = 1 for the largest
        for each ℓ(y) > 0, in that order:
            W ← W − η · β_{⌊(C−1)/r⌋} · θ(xₙ) · [φ(y) − φ(yₙ)]ᵀ,   β_k = Σ_{j≤k} 1/j

and the empirical risk of eq. (4), tracked after every epoch,

    R(W) = (1/N) Σₙ (β_{rₙ} / rₙ) Σ_y max(0, ℓₙ(y)),   rₙ = #{y : ℓₙ(y) > 0},  0/0 = 0.

Interpretations of the paper's text (each one is what the code does):

1. Δ is the 0/1 loss: Δ(yₙ, y) = 0 if y = yₙ else 1. So ℓ(yₙ) = 0 exactly and the true class
   never updates W; every sample has at most C − 1 positive losses.
2. "All training classes" are the C rows of the ``class_embeddings`` given to ``fit``,
   including classes that have no samples (they act as negatives only); C in β_{⌊(C−1)/r⌋} is
   that C.
3. The losses of a sample are computed once, with W as it is before the sample's first update;
   the sample's updates then do not change each other's weights, so they are applied as their
   sum, one rank-one update W ← W − η θ(xₙ) (Σ_r β_r [φ(y_r) − φ(yₙ)])ᵀ. This is exact, not an
   approximation (the tests compare with a literal loop to 1e-10).
4. Ties among equal losses are ordered by the lower class index first (a stable sort); this
   matters at the start, when W = 0 and every wrong class has ℓ = 1 exactly.
5. The ranks r count all classes in the sorted order (the true class sorts among the zeros, so
   the positive losses take ranks 1..p exactly).
6. Each epoch visits every sample once in a new order ``rng.permutation(n)``, all drawn from
   one ``np.random.default_rng(seed)`` created at the start of ``fit``; ``epochs`` is m.
7. ``risk_history_[e]`` is R(W) over the training set with W at the end of epoch e + 1
   (length ``epochs``; empty with ``track_risk=False``); R(0) = β_{C−1} for reference. No
   regularisation term is used (the paper's objective has none; early stopping through m is
   the regulariser).
8. θ and φ are the given vectors, or (``normalize=True``, the default) θ = audio features
   standardised with the training mean and standard deviation per dimension then scaled to
   unit L2 norm, and φ = class embeddings scaled to unit L2 norm (all-zero embeddings, e.g. of
   labels without word vectors, stay zero). The paper does not specify a normalisation; unit
   norms make the margin Δ = 1 and η comparable across encoders (VGGish vs YAMNet scales) and
   label embeddings. ``W_`` acts on the normalised vectors.

The loop, and the speed-ups that keep it exact, are in :mod:`zsaudio.model.ranking_sgd`.

The same loop trains the SJE and DeViSE baselines (``zsaudio.model.baselines``), which differ
only in which violating classes update and with what weight.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zsaudio.model.base import (
    FeatureStandardizer,
    ZeroShotEstimator,
    check_fit_inputs,
    l2_normalize_rows,
)
from zsaudio.model.ranking_sgd import ranking_sgd

__all__ = ["BilinearModel", "BilinearZSL"]


class BilinearModel(ZeroShotEstimator):
    """Base of the models F(x, y) = θ(x)ᵀ W_ φ(y) with the optional input normalisation.

    Subclasses set ``self.normalize`` in their constructor, call ``_prepare_fit`` in
    ``_fit`` and set ``W_`` (D, d); scoring is shared.
    """

    normalize: bool = True

    def _prepare_fit(self, X: np.ndarray, E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.normalize:
            std = FeatureStandardizer.fit(X)
            self.feature_mean_, self.feature_scale_ = std.mean, std.scale
            return std.transform(X), l2_normalize_rows(E)
        return X, E

    def _transform(self, X: np.ndarray, E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.normalize:
            X = FeatureStandardizer(self.feature_mean_, self.feature_scale_).transform(X)
            E = l2_normalize_rows(E)
        return X, E

    def _decision_function(self, X: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
        X, E = self._transform(X, class_embeddings)
        (n, D), (C, d) = X.shape, E.shape
        # The cheaper order: with many clips and few candidates, W Eᵀ (D, C) first.
        if D * C * (d + n) < n * d * (D + C):
            return X @ (self.W_ @ E.T)
        return (X @ self.W_) @ E.T


class BilinearZSL(BilinearModel):
    """Bilinear compatibility model F(x, y) = θ(x)ᵀ W φ(y) trained by Algorithm 1.

    Parameters
    ----------
    learning_rate : float, default 0.01
        η, the SGD step.
    epochs : int, default 20
        m, passes over the training samples.
    seed : int, default 0
        Seed of the per-epoch sample order.
    normalize : bool, default True
        Standardise audio features with the training mean/std then scale rows to unit norm,
        and scale class embeddings to unit norm (see the module docstring, point 8).
    dtype : {"float64", "float32"}, default "float64"
        Precision of the SGD loop (:func:`ranking_sgd`); W_ is float64 either way.
    track_risk : bool, default True
        Compute ``risk_history_`` (a diagnostic; costs about a sixth of the fit). Like
        scikit-learn's ``compute_score``, it changes no prediction.

    Attributes
    ----------
    W_ : np.ndarray, shape (D, d)
        The learnt compatibility matrix (on normalised inputs if ``normalize``).
    risk_history_ : np.ndarray, shape (epochs,), or (0,) without ``track_risk``
        Empirical risk of eq. (4) after each epoch.
    feature_mean_, feature_scale_ : np.ndarray, shape (D,)
        Training statistics (only if ``normalize``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> E = rng.normal(size=(6, 5)); X = rng.normal(size=(60, 8)); y = np.arange(60) % 6
    >>> model = BilinearZSL(epochs=3).fit(X, y, E)
    >>> model.W_.shape, model.risk_history_.shape, model.predict(X[:4], E[:3]).shape
    ((8, 5), (3,), (4,))
    """

    method_name = "bilinear"
    _weighting = "rank"
    # Hyper-parameter whose values along a grid come from one training run (see selection).
    _path_param = "epochs"

    def __init__(
        self, learning_rate: float = 0.01, epochs: int = 20, seed: int = 0, normalize: bool = True,
        dtype: str = "float64", track_risk: bool = True,
    ):
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.seed = seed
        self.normalize = normalize
        self.dtype = dtype
        self.track_risk = track_risk

    def _margin(self) -> float:
        return 1.0

    def _check_params(self) -> None:
        if not (isinstance(self.epochs, (int, np.integer)) and self.epochs >= 1):
            raise ValueError(f"epochs must be an integer >= 1, got {self.epochs!r}")
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")

    def _fit(self, X: np.ndarray, y: np.ndarray, class_embeddings: np.ndarray) -> None:
        self._check_params()
        Xn, En = self._prepare_fit(X, class_embeddings)
        Ws, risks = ranking_sgd(
            Xn, y, En, learning_rate=self.learning_rate, epochs=int(self.epochs),
            seed=self.seed, weighting=self._weighting, margin=self._margin(), dtype=self.dtype,
            track_risk=self.track_risk,
        )
        self.W_ = Ws[-1]
        self.risk_history_ = risks

    def _fit_path(
        self, X: Any, y: Any, class_embeddings: Any, values: list[int]
    ) -> list[BilinearZSL]:
        """Fitted copies for each epoch count in ``values``, from one training run.

        ``self.epochs`` is ignored; each copy has ``epochs`` set to its value and equals
        ``clone.fit(...)`` exactly.
        """
        values = [int(v) for v in values]
        longest = type(self)(**{**self.get_params(), "epochs": max(values)})
        longest._check_params()
        X, y, E = check_fit_inputs(self._inputs(X), y, class_embeddings)
        longest.n_features_in_, longest.embedding_dim_, longest.n_classes_ = (
            X.shape[1], E.shape[1], E.shape[0])
        Xn, En = longest._prepare_fit(X, E)
        Ws, risks = ranking_sgd(
            Xn, y, En, learning_rate=self.learning_rate, epochs=max(values), seed=self.seed,
            weighting=self._weighting, margin=self._margin(), checkpoints=values, dtype=self.dtype,
            track_risk=self.track_risk,
        )
        by_epochs = dict(zip(sorted(set(values)), Ws, strict=True))
        fitted = []
        for v in values:
            est = type(self)(**{**self.get_params(), "epochs": v})
            est._set_state({k: np.asarray(a) for k, a in longest._state_arrays().items()})
            est.W_ = by_epochs[v]
            est.risk_history_ = risks[:v].copy()  # empty without track_risk
            fitted.append(est)
        return fitted
