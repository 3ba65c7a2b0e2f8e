"""The SGD loop of Algorithm 1 (and of the SJE and DeViSE baselines), compiled by numba.

What it computes, and each interpretation of the paper's text, is in
:mod:`zsaudio.model.bilinear`; the tests compare it with a literal transcription of Algorithm 1
to 1e-10.

Speed: only the training-class scores matter during training, so the loop keeps
M = W Φᵀ (D, C) and the per-sample coefficients A (n, C) with W = −η Xᵀ A Φ, recovered
once at the end. Samples are processed in blocks of the epoch's order: the block's scores
come from one matrix product with M, each sample's scores are corrected by the block's
earlier updates through the block's Gram matrix, and M is updated once per block. The
per-sample work (losses, the sort, the weights: O(C) each) is compiled by numba, since as
numpy calls it was dominated by call overhead. With fewer samples than dimensions the loop runs
on the samples' coordinates in their own span (:func:`_sample_coordinates`), which keep every
inner product the algorithm reads.
"""

from __future__ import annotations

import contextlib
import functools

import numba
import numpy as np
from threadpoolctl import ThreadpoolController

from zsaudio.model.blas import gram_lower_into, matmul_into

__all__ = ["harmonic_numbers", "rank_weights", "ranking_risk", "ranking_sgd"]


# Samples per block in the vectorised loop: small enough for the in-block correction to be
# cheap, large enough that the per-block matrix products amortise their call overhead.
_BLOCK_SIZE = 32


@functools.cache
def _blas_libraries() -> ThreadpoolController:
    """The BLAS libraries of this process, found once: a scan of the loaded libraries costs
    about 1 ms, as much as a small fit's loop, and there are over a thousand fits in a report.
    numpy and SciPy load theirs on import, before any fit."""
    return ThreadpoolController()


def _single_threaded_blas() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread while the per-sample loop runs.

    The loop issues many tiny matrix products; a multi-threaded BLAS spends more on waking
    and spinning threads than on the work, and is 3-5x slower on a busy machine (measured).
    """
    return _blas_libraries().limit(limits=1, user_api="blas")


def harmonic_numbers(k_max: int) -> np.ndarray:
    """β_k = Σ_{j≤k} 1/j for k = 0..k_max (β_0 = 0), shape (k_max + 1,).

    >>> harmonic_numbers(3)
    array([0.        , 1.        , 1.5       , 1.83333333])
    """
    return np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, k_max + 1))])


def rank_weights(n_classes: int, weighting: str) -> np.ndarray:
    """Update weight of the violating class at rank r = 1..C−1, shape (C − 1,).

    ``"rank"``: β_{⌊(C−1)/r⌋} (Algorithm 1); ``"all"``: 1 for every violator (DeViSE);
    ``"max"``: 1 for the most violating class only (SJE).
    """
    r = np.arange(1, n_classes)
    if weighting == "rank":
        return harmonic_numbers(n_classes - 1)[(n_classes - 1) // r]
    if weighting == "all":
        return np.ones(n_classes - 1)
    if weighting == "max":
        return (r == 1).astype(np.float64)
    raise ValueError(f"weighting must be 'rank', 'all' or 'max', got {weighting!r}")


def ranking_risk(scores: np.ndarray, y: np.ndarray, weighting: str, margin: float = 1.0) -> float:
    """Empirical risk of the ranking objective for given training scores.

    Parameters
    ----------
    scores : np.ndarray, shape (n, C)
        F(xₙ, y) for the training classes.
    y : np.ndarray of int, shape (n,)
    weighting : {"rank", "all", "max"}
        ``"rank"``: eq. (4), (β_{rₙ}/rₙ) Σ_y max(0, ℓ), 0/0 = 0; ``"all"``: Σ_y max(0, ℓ);
        ``"max"``: max_y max(0, ℓ).
    margin : float
        Δ for the wrong classes.

    Returns
    -------
    float, mean over samples.
    """
    n, C = scores.shape
    rows = np.arange(n)
    losses = margin + scores - scores[rows, y][:, None]
    losses[rows, y] = 0.0
    hinge = np.maximum(losses, 0.0)
    if weighting == "rank":
        r = np.count_nonzero(losses > 0, axis=1)
        per_sample = harmonic_numbers(C)[r] / np.maximum(r, 1) * hinge.sum(axis=1)
    elif weighting == "all":
        per_sample = hinge.sum(axis=1)
    elif weighting == "max":
        per_sample = hinge.max(axis=1)
    else:
        raise ValueError(f"weighting must be 'rank', 'all' or 'max', got {weighting!r}")
    return float(per_sample.mean())


def ranking_sgd(
    X: np.ndarray,
    y: np.ndarray,
    class_embeddings: np.ndarray,
    *,
    learning_rate: float,
    epochs: int,
    seed: int,
    weighting: str = "rank",
    margin: float = 1.0,
    checkpoints: list[int] | None = None,
    dtype: str = "float64",
    track_risk: bool = True,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-sample SGD on a ranking hinge loss of a bilinear model (Algorithm 1 and kin).

    Parameters
    ----------
    X : np.ndarray, float64, shape (n, D)
        θ(xₙ) of the training samples (already normalised if wanted).
    y : np.ndarray of int, shape (n,)
    class_embeddings : np.ndarray, float64, shape (C, d)
        φ of the training classes.
    learning_rate : float
        η.
    epochs : int
        Number of passes m (≥ 1).
    seed : int
        Seed of the per-epoch sample permutations.
    weighting : {"rank", "all", "max"}
        See :func:`rank_weights`.
    margin : float
        Δ for the wrong classes (1 in Algorithm 1).
    checkpoints : list of int or None
        Epoch counts after which W is returned (default: ``[epochs]``). Training with m
        epochs is a prefix of training with more, so one run serves an epoch grid.
    dtype : {"float64", "float32"}
        Precision of the loop's arrays (float32 halves the memory traffic of its products;
        W is returned in float64 either way).
    track_risk : bool
        Compute the risk after every epoch (one more product of the training set with the
        model per epoch, about a sixth of a fit on ESC-50); False returns an empty array.

    Returns
    -------
    Ws : list of np.ndarray, shape (D, d)
        W after each checkpoint epoch, in the order of ``sorted(set(checkpoints))``.
    risks : np.ndarray, shape (epochs,), or (0,) without ``track_risk``
        :func:`ranking_risk` after each epoch.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 6)); y = np.arange(40) % 4; E = rng.normal(size=(4, 3))
    >>> Ws, risks = ranking_sgd(X, y, E, learning_rate=0.1, epochs=5, seed=0, checkpoints=[2, 5])
    >>> [W.shape for W in Ws], risks.shape, bool(risks[-1] < risks[0])
    ([(6, 3), (6, 3)], (5,), True)
    """
    checkpoints = sorted(set([epochs] if checkpoints is None else checkpoints))
    if checkpoints[0] < 1 or checkpoints[-1] > epochs:
        raise ValueError(f"checkpoints must lie in [1, {epochs}], got {checkpoints}")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    with _single_threaded_blas():
        return _ranking_sgd_loop(
            X, y, class_embeddings, float(learning_rate), epochs, seed, weighting, margin,
            checkpoints, np.dtype(dtype), bool(track_risk),
        )


_WEIGHTING_CODES = {"rank": 0, "all": 1, "max": 2}


def _sample_coordinates(X: np.ndarray) -> np.ndarray:
    """Rows of ``X`` (n, D) in coordinates that keep every inner product between them.

    Algorithm 1 reads the training samples only through inner products among them: a score
    x·M with M a combination of training samples, the Gram matrix of a block. With fewer
    samples than dimensions (Setting 1's 8 classes: n = 320, D = 1024) their coordinates in
    an orthonormal basis of their span, R (n, n) from Xᵀ = QR, train the same model with
    products a third the size; the fitted W is recovered from X itself. The QR is worth its
    cost only when n is well below D.
    """
    n, D = X.shape
    if 2 * n > D:
        return X
    return np.linalg.qr(X.T, mode="r").T


def _ranking_sgd_loop(X, y, class_embeddings, eta, epochs, seed, weighting, margin, checkpoints, dtype,
                      track_risk):
    n, _ = X.shape
    C = class_embeddings.shape[0]
    coordinates = _sample_coordinates(X)
    in_span = coordinates is not X  # else Z is X itself, in the loop's precision
    Z = np.ascontiguousarray(coordinates, dtype=dtype)
    y = np.ascontiguousarray(y, dtype=np.int64)
    # M's update is x·(K c)ᵀ
    K = np.ascontiguousarray(class_embeddings @ class_embeddings.T, dtype=dtype)
    wr = rank_weights(C, weighting).astype(dtype)
    cw = np.cumsum(wr)
    M = np.zeros((Z.shape[1], C), dtype)  # W Φᵀ: the training-class scores of any z are z @ M
    A = np.zeros((n, C), dtype)  # W = −η Xᵀ A Φ
    rng = np.random.default_rng(seed)
    risks = np.empty(epochs if track_risk else 0)
    Ws = []
    code = _WEIGHTING_CODES[weighting]
    for epoch in range(1, epochs + 1):
        _sgd_epoch(Z, y, rng.permutation(n), M, A, K, wr, cw, dtype.type(eta), dtype.type(margin), code,
                   _BLOCK_SIZE)
        if track_risk:
            risks[epoch - 1] = ranking_risk(Z @ M, y, weighting, margin)
        if epoch in checkpoints:
            # (XᵀA)Φ: C is far below n and d, so this order is the cheap one
            XtA = X.T @ A if in_span else Z.T @ A
            Ws.append((-eta) * (XtA.astype(np.float64) @ class_embeddings))
    return Ws, risks


@numba.njit(cache=True, nogil=True)
def _sgd_epoch(X, y, perm, M, A, K, wr, cw, eta, margin, weighting, block):  # pragma: no cover
    """One epoch of the ranking SGD, in place on M (D, C) and A (n, C); compiled by numba.

    ``weighting``: 0 rank, 1 all, 2 max. Samples go in blocks of ``block`` of ``perm``: the
    block's scores come from one product with M; sample j's scores are corrected by the
    block's earlier updates through the block's Gram matrix; M is updated once per block.
    Every array (and ``eta``, ``margin``) has one float dtype, float64 or float32; the
    temporaries take it too. The arrays of a block and a sample are allocated once per epoch
    (the products write into them, :mod:`zsaudio.model.blas`), and the per-sample work touches
    only the violating classes (a handful after the first epoch). (Coverage cannot trace compiled code;
    the tests compare it with a literal loop.)
    """
    n, D = X.shape
    C = M.shape[1]
    Xb_all = np.empty((block, D), X.dtype)
    S_all = np.empty((block, C), M.dtype)
    G = np.empty((block, block), M.dtype)  # −η x_j·x_k, lower triangle
    Cb = np.zeros((block, C), M.dtype)  # c_j: W −= η x_j (c_j Φ)
    V = np.zeros((block, C), M.dtype)  # K c_j: M −= η x_j (K c_j)ᵀ
    X_updating = np.empty((block, D), X.dtype)  # the block's samples that update, and their K c_j
    V_updating = np.empty((block, C), M.dtype)
    updated = np.zeros(block, dtype=np.bool_)
    neg_loss = np.empty(C, M.dtype)
    s = np.empty(C, M.dtype)
    violators = np.empty(C, np.int64)
    for start in range(0, n, block):
        b = min(block, n - start)
        Xb = Xb_all[:b]
        for i in range(b):
            Xb[i] = X[perm[start + i]]
        S = S_all[:b]
        matmul_into(Xb, M, S, 1.0, 0.0, False)
        violates = False
        for i in range(b):
            yi = y[perm[start + i]]
            for c in range(C):
                if c != yi and S[i, yi] - margin - S[i, c] < 0.0:
                    violates = True
                    break
            if violates:
                break
        if not violates:
            continue  # no sample of the block updates: nothing changes
        gram_lower_into(Xb, G, -eta)
        Cb[:b] = 0.0
        V[:b] = 0.0
        updated[:b] = False
        n_updated = 0
        for j in range(b):
            yj = y[perm[start + j]]
            s[:] = S[j]
            for k in range(j):
                if updated[k]:
                    g = G[j, k]
                    for c in range(C):
                        s[c] += g * V[k, c]
            p = 0  # violating classes, collected in class order
            for c in range(C):
                neg_loss[c] = 0 if c == yj else (s[yj] - margin) - s[c]
                if neg_loss[c] < 0.0:
                    violators[p] = c
                    p += 1
            if p == 0:
                continue
            if weighting == 2:
                top = violators[0]  # first of the most violating classes
                for r in range(1, p):
                    if neg_loss[violators[r]] < neg_loss[top]:
                        top = violators[r]
                Cb[j, top] = 1.0
                Cb[j, yj] = -1.0
                p = 1
                violators[0] = top
            elif weighting == 1:
                for r in range(p):
                    Cb[j, violators[r]] = 1.0
                Cb[j, yj] = -float(p)
            else:
                # Stable insertion sort by descending loss: collected in class order, ties keep
                # the lower index first; p is small, so this beats a sort of all C classes.
                for r in range(1, p):
                    c = violators[r]
                    q = r - 1
                    while q >= 0 and neg_loss[violators[q]] > neg_loss[c]:
                        violators[q + 1] = violators[q]
                        q -= 1
                    violators[q + 1] = c
                for r in range(p):
                    Cb[j, violators[r]] = wr[r]
                Cb[j, yj] = -cw[p - 1]
            # K c_j over the non-zeros of c_j (K is symmetric)
            for r in range(p):
                w = Cb[j, violators[r]]
                for c in range(C):
                    V[j, c] += w * K[violators[r], c]
            w = Cb[j, yj]
            for c in range(C):
                V[j, c] += w * K[yj, c]
            X_updating[n_updated] = Xb[j]
            V_updating[n_updated] = V[j]
            updated[j] = True
            n_updated += 1
        matmul_into(X_updating[:n_updated], V_updating[:n_updated], M, -eta, 1.0, True)
        for r in range(b):
            if updated[r]:
                A[perm[start + r]] += Cb[r]
