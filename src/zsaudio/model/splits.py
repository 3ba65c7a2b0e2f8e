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

__all__ = ["validation_splits"]


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
