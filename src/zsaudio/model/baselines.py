"""Standard zero-shot baselines behind the same interface as :class:`BilinearZSL`.

All three learn a bilinear compatibility F(x, y) = θ(x)ᵀ W φ(y) with the same optional input
normalisation (``normalize=True``: standardised, unit-norm audio features; unit-norm class
embeddings; see :mod:`zsaudio.model.bilinear`, point 8):

- :class:`ESZSL` (Romera-Paredes & Torr, ICML 2015): closed form
  W = (XᵀX + αI)⁻¹ Xᵀ Y Φ (ΦᵀΦ + γI)⁻¹ with Y ∈ {−1, 1}^{n×C} the one-vs-rest targets (their
  V with β = αγ, which makes the solution closed-form).
- :class:`SJE` (Akata et al., CVPR 2015): per-sample SGD on the structured hinge
  max_y [Δ(yₙ, y) + F(x, y) − F(x, yₙ)]₊, updating with the most violating class only.
- :class:`DeViSE` (Frome et al., NeurIPS 2013): per-sample SGD on the unweighted hinge
  Σ_{y≠yₙ} [margin + F(x, y) − F(x, yₙ)]₊ over all wrong classes (the linear map of visual
  features into the embedding space is W).

SJE and DeViSE share Algorithm 1's vectorised loop (:func:`ranking_sgd`), with the same seeded
sample order, so they differ from it only in the loss weighting; ``risk_history_`` holds each
one's own objective per epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zsaudio.model.base import check_fit_inputs
from zsaudio.model.bilinear import BilinearModel, BilinearZSL

__all__ = ["ESZSL", "SJE", "DeViSE"]


class ESZSL(BilinearModel):
    """Embarrassingly simple zero-shot learning (closed-form ridge bilinear model).

    Parameters
    ----------
    alpha : float, default 1.0
        Ridge penalty on the audio-feature side (the paper's γ).
    gamma : float, default 1.0
        Ridge penalty on the class-embedding side (the paper's λ).
    normalize : bool, default True
        Same input normalisation as :class:`BilinearZSL`.

    Attributes
    ----------
    W_ : np.ndarray, shape (D, d)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> E = rng.normal(size=(6, 5)); X = rng.normal(size=(60, 8)); y = np.arange(60) % 6
    >>> ESZSL(alpha=0.1, gamma=0.1).fit(X, y, E).W_.shape
    (8, 5)
    """

    method_name = "eszsl"

    def __init__(self, alpha: float = 1.0, gamma: float = 1.0, normalize: bool = True):
        self.alpha = alpha
        self.gamma = gamma
        self.normalize = normalize

    @staticmethod
    def _check_penalty(name: str, value: float) -> None:
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be > 0, got {value!r}")

    @staticmethod
    def _gram(X: np.ndarray, y: np.ndarray, C: int) -> tuple[np.ndarray, np.ndarray]:
        """The Gram matrix of the smaller side of X (n, D) and the right-hand side of the
        left solve: (X Xᵀ, Y) (n < D) or (Xᵀ X, Xᵀ Y) (n >= D); Y (n, C) the ±1 targets."""
        n, D = X.shape
        Y = -np.ones((n, C))
        Y[np.arange(n), y] = 1.0
        # Solve on the smaller side of each product (push-through identity), same result.
        return (X @ X.T, Y) if n < D else (X.T @ X, X.T @ Y)

    @staticmethod
    def _left(X: np.ndarray, gram: np.ndarray, rhs: np.ndarray, alpha: float) -> np.ndarray:
        """(XᵀX + αI)⁻¹ XᵀY, shape (D, C), from :meth:`_gram`'s pair."""
        if X.shape[0] < X.shape[1]:
            return X.T @ np.linalg.solve(gram + alpha * np.eye(gram.shape[0]), rhs)
        return np.linalg.solve(gram + alpha * np.eye(gram.shape[0]), rhs)

    @staticmethod
    def _right(E: np.ndarray, gamma: float) -> np.ndarray:
        """(EEᵀ + γI)⁻¹ E, shape (C, d)."""
        return np.linalg.solve(E @ E.T + gamma * np.eye(E.shape[0]), E)

    def _fit(self, X: np.ndarray, y: np.ndarray, class_embeddings: np.ndarray) -> None:
        for name in ("alpha", "gamma"):
            self._check_penalty(name, getattr(self, name))
        X, E = self._prepare_fit(X, class_embeddings)
        gram, rhs = self._gram(X, y, E.shape[0])
        self.W_ = self._left(X, gram, rhs, self.alpha) @ self._right(E, self.gamma)

    def _fit_grid(self, X: Any, y: Any, class_embeddings: Any,
                  points: Sequence[dict[str, Any]]) -> list[ESZSL]:
        """Fitted copies, one per point of a grid, from shared work.

        Each point is a dict of hyper-parameters overriding this estimator's; each copy equals
        ``type(self)(**{**self.get_params(), **point}).fit(X, y, class_embeddings)`` exactly
        (same operations): per value of ``normalize``, the standardisation and the Gram matrix
        are computed once, the left solve once per distinct alpha, the right once per gamma.

        Parameters
        ----------
        X : array, shape (n, D)
        y : array of int, shape (n,)
        class_embeddings : array, shape (C, d)
        points : sequence of dict

        Returns
        -------
        list of ESZSL, one per point, in order
        """
        params = [{**self.get_params(), **point} for point in points]
        for p in params:
            for name in ("alpha", "gamma"):
                self._check_penalty(name, p[name])
        X, y, E = check_fit_inputs(self._inputs(X), y, class_embeddings)
        fitted: list[ESZSL | None] = [None] * len(params)
        for normalize in dict.fromkeys(bool(p["normalize"]) for p in params):
            prep = type(self)(normalize=normalize)
            Xn, En = prep._prepare_fit(X, E)
            gram, rhs = self._gram(Xn, y, En.shape[0])
            lefts: dict[float, np.ndarray] = {}
            rights: dict[float, np.ndarray] = {}
            for i, p in enumerate(params):
                if bool(p["normalize"]) != normalize:
                    continue
                if p["alpha"] not in lefts:
                    lefts[p["alpha"]] = self._left(Xn, gram, rhs, p["alpha"])
                if p["gamma"] not in rights:
                    rights[p["gamma"]] = self._right(En, p["gamma"])
                est = type(self)(**p)
                est.n_features_in_, est.embedding_dim_, est.n_classes_ = (
                    X.shape[1], E.shape[1], E.shape[0])
                if normalize:
                    est.feature_mean_ = prep.feature_mean_.copy()
                    est.feature_scale_ = prep.feature_scale_.copy()
                est.W_ = lefts[p["alpha"]] @ rights[p["gamma"]]
                fitted[i] = est
        return fitted


class SJE(BilinearZSL):
    """Structured joint embedding: SGD on the hinge of the most violating class.

    Parameters
    ----------
    learning_rate : float, default 0.01
    epochs : int, default 20
    seed : int, default 0
    normalize : bool, default True
    dtype : {"float64", "float32"}, default "float64"
    track_risk : bool, default True

    Attributes
    ----------
    W_ : np.ndarray, shape (D, d)
    risk_history_ : np.ndarray, shape (epochs,), or (0,) without ``track_risk``
        Mean of max_y [Δ + F(x, y) − F(x, yₙ)]₊ after each epoch.
    """

    method_name = "sje"
    _weighting = "max"


class DeViSE(BilinearZSL):
    """DeViSE-style linear model: SGD on the unweighted hinge over all wrong classes.

    Parameters
    ----------
    learning_rate : float, default 0.01
    epochs : int, default 20
    seed : int, default 0
    margin : float, default 0.1
        Hinge margin (Frome et al. use 0.1 with unit-norm embeddings).
    normalize : bool, default True
    dtype : {"float64", "float32"}, default "float64"
    track_risk : bool, default True

    Attributes
    ----------
    W_ : np.ndarray, shape (D, d)
    risk_history_ : np.ndarray, shape (epochs,), or (0,) without ``track_risk``
        Mean of Σ_y [margin + F(x, y) − F(x, yₙ)]₊ after each epoch.
    """

    method_name = "devise"
    _weighting = "all"

    def __init__(
        self,
        learning_rate: float = 0.01,
        epochs: int = 20,
        seed: int = 0,
        margin: float = 0.1,
        normalize: bool = True,
        dtype: str = "float64",
        track_risk: bool = True,
    ):
        super().__init__(learning_rate=learning_rate, epochs=epochs, seed=seed,
                         normalize=normalize, dtype=dtype, track_risk=track_risk)
        self.margin = margin

    def _margin(self) -> float:
        if not (np.isfinite(self.margin) and self.margin > 0):
            raise ValueError(f"margin must be > 0, got {self.margin!r}")
        return float(self.margin)

