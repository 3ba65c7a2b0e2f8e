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

import numpy as np

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

    def _fit(self, X: np.ndarray, y: np.ndarray, class_embeddings: np.ndarray) -> None:
        for name in ("alpha", "gamma"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be > 0, got {value!r}")
        X, E = self._prepare_fit(X, class_embeddings)
        n, D = X.shape
        C = E.shape[0]
        Y = -np.ones((n, C))
        Y[np.arange(n), y] = 1.0
        # Solve on the smaller side of each product (push-through identity), same result.
        if n < D:
            left = X.T @ np.linalg.solve(X @ X.T + self.alpha * np.eye(n), Y)  # (D, C)
        else:
            left = np.linalg.solve(X.T @ X + self.alpha * np.eye(D), X.T @ Y)
        right = np.linalg.solve(E @ E.T + self.gamma * np.eye(C), E)  # (C, d)
        self.W_ = left @ right


class SJE(BilinearZSL):
    """Structured joint embedding: SGD on the hinge of the most violating class.

    Parameters
    ----------
    learning_rate : float, default 0.01
    epochs : int, default 20
    seed : int, default 0
    normalize : bool, default True

    Attributes
    ----------
    W_ : np.ndarray, shape (D, d)
    risk_history_ : np.ndarray, shape (epochs,)
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

    Attributes
    ----------
    W_ : np.ndarray, shape (D, d)
    risk_history_ : np.ndarray, shape (epochs,)
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
    ):
        super().__init__(learning_rate=learning_rate, epochs=epochs, seed=seed,
                         normalize=normalize)
        self.margin = margin

    def _margin(self) -> float:
        if not (np.isfinite(self.margin) and self.margin > 0):
            raise ValueError(f"margin must be > 0, got {self.margin!r}")
        return float(self.margin)

