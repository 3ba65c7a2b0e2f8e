"""Mini-batch variant of Algorithm 1 in torch, for large data sets and GPUs.

Same model, loss weighting, sample order and normalisation as :class:`BilinearZSL`, but the
losses of ``batch_size`` consecutive samples (of the epoch's permutation) are computed with W
as it is at the start of the batch, and their rank-one updates are summed:

    W ← W − η Σ_{n∈batch} θ(xₙ) (Σ_r β_{⌊(C−1)/r⌋} [φ(y_r) − φ(yₙ)])ᵀ.

The update is a sum, not a mean, so η keeps its per-sample meaning; with ``batch_size=1`` and
``dtype="float64"`` the result equals :class:`BilinearZSL` (tested). Larger batches trade
the sequential per-sample dependence for matrix products (fast on a GPU).

``device``: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"`` (CUDA if available, else
CPU). torch is imported only when this model is fitted or used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zsaudio.device import resolve_device
from zsaudio.model.bilinear import BilinearZSL
from zsaudio.model.ranking_sgd import rank_weights, ranking_risk

__all__ = ["BilinearTorch"]

_DTYPES = ("float32", "float64")


class BilinearTorch(BilinearZSL):
    """Bilinear model trained by mini-batch Algorithm 1 in torch (CPU or GPU).

    Parameters
    ----------
    learning_rate : float, default 0.01
    epochs : int, default 20
    seed : int, default 0
    normalize : bool, default True
    batch_size : int, default 64
        Samples whose losses are computed with the same W (1 = Algorithm 1 exactly).
    device : str, default "cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    dtype : {"float32", "float64"}, default "float32"
        Precision of the training arithmetic; ``W_`` is returned as float64.
    cpu_threads : int or None, default 1
        torch intra-op threads while fitting on the CPU (restored afterwards; None leaves
        torch's setting). The per-batch products are small: on a busy 2-core machine two
        spinning threads made a fit 40x slower than one (measured, benchmarks/bench_fit.py).
    track_risk : bool, default True
        Compute ``risk_history_`` (changes no prediction).

    Attributes
    ----------
    W_ : np.ndarray, float64, shape (D, d)
    risk_history_ : np.ndarray, shape (epochs,), or (0,) without ``track_risk``
        Empirical risk of eq. (4) after each epoch.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> E = rng.normal(size=(6, 5)); X = rng.normal(size=(60, 8)); y = np.arange(60) % 6
    >>> BilinearTorch(epochs=2, batch_size=16).fit(X, y, E).W_.shape
    (8, 5)
    """

    method_name = "bilinear-torch"
    _path_param = None  # no one-run epoch path (selection refits per grid point)

    def __init__(
        self,
        learning_rate: float = 0.01,
        epochs: int = 20,
        seed: int = 0,
        normalize: bool = True,
        batch_size: int = 64,
        device: str = "cpu",
        dtype: str = "float32",
        cpu_threads: int | None = 1,
        track_risk: bool = True,
    ):
        super().__init__(learning_rate=learning_rate, epochs=epochs, seed=seed,
                         normalize=normalize, track_risk=track_risk)
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.cpu_threads = cpu_threads

    def _fit(self, X: np.ndarray, y: np.ndarray, class_embeddings: np.ndarray) -> None:
        import torch

        dev = torch.device(resolve_device(self.device))
        if dev.type != "cpu" or self.cpu_threads is None:
            return self._fit_torch(X, y, class_embeddings, dev)
        previous = torch.get_num_threads()
        torch.set_num_threads(int(self.cpu_threads))
        try:
            return self._fit_torch(X, y, class_embeddings, dev)
        finally:
            torch.set_num_threads(previous)

    def _fit_torch(self, X: np.ndarray, y: np.ndarray, class_embeddings: np.ndarray, dev) -> None:
        import torch

        self._check_params()
        if not (isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {self.dtype!r}")
        tdtype = getattr(torch, self.dtype)
        Xn, En = self._prepare_fit(X, class_embeddings)
        n, D = Xn.shape
        C, d = En.shape
        eta = float(self.learning_rate)
        margin = self._margin()

        Xt = torch.as_tensor(Xn, dtype=tdtype, device=dev)
        Et = torch.as_tensor(En, dtype=tdtype, device=dev)
        yt = torch.as_tensor(y, dtype=torch.long, device=dev)
        # Weight per sorted position 1..C; position C can only hold a zero loss.
        wr = torch.as_tensor(
            np.append(rank_weights(C, self._weighting), 0.0), dtype=tdtype, device=dev
        )
        # As in the numpy loop, keep M = W Φᵀ (D, C) and per-sample coefficients A (n, C),
        # W = −η Xᵀ A Φ: an update costs D·C instead of D·d.
        K = Et @ Et.T
        M = torch.zeros((D, C), dtype=tdtype, device=dev)
        A = torch.zeros((n, C), dtype=tdtype, device=dev)
        rng = np.random.default_rng(self.seed)
        risks = np.empty(int(self.epochs) if self.track_risk else 0)
        with torch.no_grad():
            for epoch in range(int(self.epochs)):
                perm = torch.as_tensor(rng.permutation(n), device=dev)
                for start in range(0, n, int(self.batch_size)):
                    idx = perm[start : start + int(self.batch_size)]
                    xb, yb = Xt[idx], yt[idx]
                    rows = torch.arange(len(idx), device=dev)
                    S = xb @ M
                    L = margin + S - S[rows, yb][:, None]
                    L[rows, yb] = 0.0
                    # Descending, ties keep the lower class index first (as Algorithm 1).
                    Ls, order = torch.sort(L, dim=1, descending=True, stable=True)
                    w = torch.where(Ls > 0, wr, torch.zeros((), dtype=tdtype, device=dev))
                    coef = torch.zeros_like(L).scatter_(1, order, w)
                    coef[rows, yb] = -w.sum(dim=1)
                    M -= eta * (xb.T @ (coef @ K))
                    A.index_add_(0, idx, coef)
                if self.track_risk:
                    scores = (Xt @ M).double().cpu().numpy()
                    risks[epoch] = ranking_risk(scores, y, self._weighting, margin)
            W = -eta * (Xt.T @ (A @ Et))
        self.W_ = W.double().cpu().numpy()
        self.risk_history_ = risks

    def _fit_path(self, *args: Any, **kwargs: Any) -> list[BilinearZSL]:
        raise NotImplementedError("BilinearTorch has no one-run epoch path; refit per value")
