"""Array helpers of the model layer: input validation with messages that say what was wrong,
stable top-k, softmax, row normalisation and feature standardisation.

>>> check_matrix([[1, 2], [3, 4]], "X").dtype
dtype('float64')
>>> stable_topk(np.array([[0.2, 0.5, 0.5]]), 2)
array([[1, 2]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "FeatureStandardizer",
    "check_fit_inputs",
    "check_labels",
    "check_matrix",
    "check_two_classes",
    "l2_normalize_rows",
    "softmax",
    "stable_topk",
]


def check_matrix(A: Any, name: str, n_cols: int | None = None) -> np.ndarray:
    """Validate a 2-D, non-empty, finite numeric array and return it as float64.

    Parameters
    ----------
    A : array-like, shape (n, m)
    name : str
        Used in error messages (e.g. ``"X"``, ``"class_embeddings"``).
    n_cols : int or None
        Required number of columns (the dimension seen during ``fit``), or None.

    Returns
    -------
    np.ndarray, float64, shape (n, m)

    Raises
    ------
    ValueError
        If ``A`` is not 2-D, is empty, is not numeric, contains NaN/Inf or has the wrong
        number of columns.
    """
    arr = np.asarray(A)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
    ):
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_rows, n_dims), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad = int(np.count_nonzero(~np.isfinite(arr).all(axis=1)))
        raise ValueError(f"{name} contains NaN or Inf values (in {bad} row(s))")
    if n_cols is not None and arr.shape[1] != n_cols:
        raise ValueError(
            f"{name} has {arr.shape[1]} columns but the estimator was fitted with {n_cols}"
        )
    return arr


def check_labels(y: Any, n_samples: int, n_classes: int, name: str = "y") -> np.ndarray:
    """Validate integer class indices ``0 <= y < n_classes``, one per sample.

    Returns
    -------
    np.ndarray, int64, shape (n_samples,)
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,), got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} labels but X has {n_samples} rows")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)) or not (
            np.all(arr == np.round(arr))
        ):
            raise ValueError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{name} must index the rows of class_embeddings (0 <= {name} < {n_classes}), "
            f"got values in [{arr.min()}, {arr.max()}]"
        )
    return arr


def check_fit_inputs(
    X: Any, y: Any, class_embeddings: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``fit`` inputs: X (n, D), y (n,) indices into class_embeddings (C, d).

    At least two classes must have samples (a ranking loss needs a wrong class); classes
    without samples are allowed (they act as negatives only).
    """
    X = check_matrix(X, "X")
    E = check_matrix(class_embeddings, "class_embeddings")
    y = check_labels(y, X.shape[0], E.shape[0])
    check_two_classes(y)
    return X, y, E


def check_two_classes(y: np.ndarray) -> None:
    """Raise ValueError unless samples of at least two classes are present (a ranking loss
    needs a wrong class)."""
    n_present = np.unique(y).size
    if n_present < 2:
        raise ValueError(
            f"need samples of at least 2 classes to fit, got samples of {n_present} class "
            f"(labels present: {np.unique(y).tolist()})"
        )


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
    scores = np.asarray(scores)
    n, C = scores.shape
    if k == 1 and not np.isnan(scores).any():
        # The best of each row is the first index of its maximum, ~10x faster than partitioning
        # (model selection takes top-1 thousands of times). Not with NaN: argmax puts it first.
        return np.argmax(scores, axis=1)[:, None]
    if 4 * k >= C:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    # Few of many (ConSE's top-T of 521 classes): partition instead of sorting every row.
    # Everything above the k-th largest value v is in; of the entries equal to v, the
    # lowest-indexed ones fill the remaining places (the stable sort's tie rule).
    v = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    above = scores > v
    tied = scores == v
    take = above | (tied & (np.cumsum(tied, axis=1) <= k - above.sum(axis=1, keepdims=True)))
    idx = np.nonzero(take)[1].reshape(n, k)  # exactly k per row, in index order
    order = np.argsort(-np.take_along_axis(scores, idx, axis=1), axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1)


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise ``softmax(scores / temperature)`` in float64, shape kept; numerically stable
    (entries of -inf get probability 0).

    >>> softmax(np.array([[0.0, np.log(3.0)]]), 1.0).round(2)
    array([[0.25, 0.75]])
    """
    z = np.asarray(scores, dtype=np.float64) / float(temperature)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def l2_normalize_rows(A: np.ndarray) -> np.ndarray:
    """Divide each row by its Euclidean norm; all-zero rows stay zero.

    >>> l2_normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]])
    """
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    return A / np.where(norms > 0, norms, 1.0)


class FeatureStandardizer:
    """Per-dimension standardisation with training statistics, then L2 row normalisation.

    Dimensions that are constant in the training data keep scale 1 (no division by ~0).
    Stored as two arrays (``mean``, ``scale``) so estimators can save them as state.
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray):
        self.mean = mean
        self.scale = scale

    @classmethod
    def fit(cls, X: np.ndarray) -> FeatureStandardizer:
        std = X.std(axis=0)
        tiny = 1e-12 * max(float(np.abs(X).max()), 1.0)
        return cls(X.mean(axis=0), np.where(std > tiny, std, 1.0))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return l2_normalize_rows((X - self.mean) / self.scale)
