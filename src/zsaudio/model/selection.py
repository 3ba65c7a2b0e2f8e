"""Hyper-parameter selection on validation classes held out of the training classes.

The grid search itself is :func:`zsaudio.model.grid.search_grid` (on an estimator class).

Zero-shot model selection must not look at the test classes. Here, each split holds out a
random subset of the *training* classes (those with samples) as validation classes: the
model is fitted on the samples of the other training classes and scored zero-shot on the
held-out classes' samples, ranked among the held-out classes only. The grid point with the
best mean top-k accuracy over the splits wins (ties: the first in grid order).

Shared work, same scores (each shortcut equals fitting every grid point on every split):

- training-free methods (``training_free = True``, e.g. ConSE) learn nothing from the split,
  so each grid point is fitted once and scores the validation clips of all splits against all
  classes in one ``decision_function``; each split takes its rows and its classes' columns
  (a clip's score for a class depends on that clip and that class only); the grid points
  share what does not depend on them (``_grid_decision_function``: ConSE's ranking of the
  source classes per T, the soft map's similarities per source text);
- methods whose fits share work across a whole grid (``_fit_grid``, e.g. ESZSL: one Gram
  matrix for every alpha and gamma) fit all grid points in one call per split;
- methods with a one-run path (``_path_param``, e.g. ``epochs`` of Algorithm 1, where a run of
  m epochs is a prefix of a longer run) score all values of that parameter from a single
  training run per split and combination of the other parameters.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> E = rng.normal(size=(10, 6)); y = np.repeat(np.arange(10), 8)
>>> X = E[y] @ rng.normal(size=(6, 12)) + 0.1 * rng.normal(size=(80, 12))
>>> res = select_hyperparameters("bilinear", {"learning_rate": [0.01, 0.1], "epochs": [1, 5]},
...                              X, y, E, n_val_classes=3, n_splits=2)
>>> sorted(res.best_params), len(res.table)
(['epochs', 'learning_rate'], 4)
"""

from __future__ import annotations

from typing import Any

from zsaudio.model.features import SourceLabelSpace
from zsaudio.model.grid import SelectionResult, search_grid
from zsaudio.model.registry import METHODS

__all__ = ["SelectionResult", "select_hyperparameters"]


def select_hyperparameters(
    method: str,
    grid: dict[str, list],
    X: Any,
    y: Any,
    class_embeddings: Any,
    n_val_classes: int | float,
    n_splits: int = 3,
    seed: int = 0,
    k: int = 1,
    fixed_params: dict[str, Any] | None = None,
    source: SourceLabelSpace | None = None,
) -> SelectionResult:
    """:func:`zsaudio.model.grid.search_grid` for the registered method named ``method``
    (a key of :data:`zsaudio.model.METHODS`); every other argument as there.

    Raises
    ------
    ValueError
        An unknown method (the known ones named), or what ``search_grid`` raises.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {sorted(METHODS)}")
    return search_grid(METHODS[method], grid, X, y, class_embeddings, n_val_classes, n_splits,
                       seed, k, fixed_params, source)
