"""Validation classes: random subsets of the training classes held out for model selection.

Zero-shot model selection must not look at the test classes; it holds out some *training*
classes instead, fits on the others and scores zero-shot on the held-out ones. Every search
in zsaudio (:mod:`zsaudio.model.selection`, the hybrids' inner searches, the classifier's
temperature) draws its held-out classes here.

>>> validation_splits(np.repeat(np.arange(8), 3), 0.25, n_splits=2, seed=0)
[array([5, 7]), array([1, 2])]
"""

from __future__ import annotations

import numpy as np

from zsaudio.model.base import stable_topk

__all__ = ["split_sides", "topk_accuracy", "validation_splits"]


def validation_splits(
    y: np.ndarray, n_val_classes: int | float, n_splits: int, seed: int = 0
) -> list[np.ndarray]:
    """Random subsets of the classes present in ``y`` to hold out, one per split.

    Parameters
    ----------
    y : np.ndarray of int, shape (n,)
    n_val_classes : int or float
        Number of validation classes, or a fraction in (0, 1) of the classes with samples.
        At least 2 must be held out and at least 2 must remain for training.
    n_splits : int
    seed : int

    Returns
    -------
    list of np.ndarray of int, each sorted, shape (n_val,)
    """
    present = np.unique(y)
    n_present = present.size
    if isinstance(n_val_classes, float) and not float(n_val_classes).is_integer():
        if not 0 < n_val_classes < 1:
            raise ValueError(f"a fractional n_val_classes must be in (0, 1), got {n_val_classes}")
        n_val = int(round(n_val_classes * n_present))
    else:
        n_val = int(n_val_classes)
    if n_val < 2 or n_present - n_val < 2:
        raise ValueError(
            f"need >= 2 validation and >= 2 remaining training classes; got n_val={n_val} "
            f"of {n_present} classes with samples"
        )
    if n_splits < 1:
        raise ValueError(f"n_splits must be >= 1, got {n_splits}")
    rng = np.random.default_rng(seed)
    return [np.sort(rng.choice(present, size=n_val, replace=False)) for _ in range(n_splits)]


def split_sides(y: np.ndarray, val: np.ndarray,
                classes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two sides of one validation split.

    Parameters
    ----------
    y : np.ndarray of int, shape (n,)
        Each clip's class, among ``classes``.
    val : np.ndarray of int, sorted
        The held-out classes.
    classes : np.ndarray of int, sorted
        The classes the training side chooses from (all class rows, or those with clips).

    Returns
    -------
    (is_val (n,) bool, train_classes = classes minus val, y of the training clips re-indexed
    into train_classes, y of the validation clips re-indexed into val)
        Training sees only its classes; validation ranks only the held-out ones.

    >>> split_sides(np.array([0, 1, 2, 3]), np.array([1, 3]), np.arange(5))
    (array([False,  True, False,  True]), array([0, 2, 4]), array([0, 1]), array([0, 1]))
    """
    is_val = np.isin(y, val)
    train_classes = np.setdiff1d(classes, val)
    return (is_val, train_classes, np.searchsorted(train_classes, y[~is_val]),
            np.searchsorted(val, y[is_val]))


def topk_accuracy(scores: np.ndarray, y: np.ndarray, k: int = 1) -> float:
    """Top-k accuracy of ``scores`` (n, C) for labels ``y`` (n,), ties to the lower index: what
    ``ZeroShotEstimator.score`` computes from the decision function.

    >>> topk_accuracy(np.array([[0.2, 0.8], [0.5, 0.5]]), np.array([1, 1]))
    0.5
    """
    n_cand = scores.shape[1]
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n_cand:
        raise ValueError(f"k must be an integer in [1, {n_cand}] (candidates), got {k!r}")
    return float(np.mean(np.any(stable_topk(scores, k) == y[:, None], axis=1)))
