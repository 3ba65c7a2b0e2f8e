"""The grid search on validation classes behind :func:`zsaudio.model.selection.select_hyperparameters`,
on an estimator *class* rather than a registered name.

It lives below the registry (:mod:`zsaudio.model.registry` imports every estimator module) so
that an estimator can search another method's grid inside its own ``fit`` (the few-shot soft
map searches the soft map's) without importing the registry that imports it. Callers above
the model modules use :func:`~zsaudio.model.selection.select_hyperparameters`, which takes a
method name.

>>> import numpy as np
>>> from zsaudio.model.baselines import ESZSL
>>> rng = np.random.default_rng(0)
>>> E = rng.normal(size=(10, 6)); y = np.repeat(np.arange(10), 8)
>>> X = E[y] @ rng.normal(size=(6, 12)) + 0.1 * rng.normal(size=(80, 12))
>>> search_grid(ESZSL, {"alpha": [0.1, 1.0]}, X, y, E, n_val_classes=3, n_splits=2).best_params
{'alpha': 1.0}
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zsaudio.model.base import ZeroShotEstimator, check_labels, check_matrix, check_two_classes
from zsaudio.model.features import SourceLabelSpace
from zsaudio.model.splits import split_sides, topk_accuracy, validation_splits

__all__ = ["SelectionResult", "search_grid"]


@dataclass
class SelectionResult:
    """Outcome of :func:`select_hyperparameters`.

    Attributes
    ----------
    best_params : dict
        The winning grid point (only the grid's keys).
    table : list of dict
        One row per grid point, in grid order: the parameters plus ``"mean_score"``,
        ``"std_score"`` and ``"split_scores"`` (list, one per split).
    splits : list of list of int
        The validation classes (indices into ``class_embeddings``) of each split.
    """

    best_params: dict
    table: list[dict]
    splits: list[list[int]] = field(default_factory=list)


def search_grid(
    cls: type[ZeroShotEstimator],
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
    """Grid search scored by zero-shot accuracy on held-out training classes.

    Parameters
    ----------
    cls : ZeroShotEstimator subclass
        The method's estimator class.
    grid : dict of str to list
        Values to try per hyper-parameter (full Cartesian product).
    X : AudioFeatures, or array-like of shape (n, D) for a method reading one field
        Training samples only (never the test classes).
    y : array-like of int, shape (n,)
        Indices into ``class_embeddings``.
    class_embeddings : array-like, shape (C, d)
        Embeddings of the training classes.
    n_val_classes : int or float
        Validation classes per split (count, or fraction of classes with samples).
    n_splits : int, default 3
        Random class splits; scores are averaged over them.
    seed : int, default 0
        Seed of the splits.
    k : int, default 1
        Score is top-k accuracy on the validation classes.
    fixed_params : dict or None
        Hyper-parameters set for every grid point (e.g. ``{"seed": 1}``).
    source : SourceLabelSpace or None
        The encoder's label space, passed to every fit (methods that do not need it ignore it).

    Returns
    -------
    SelectionResult
    """
    method = cls.method_name or cls.__name__
    valid = set(cls._param_names())
    fixed_params = dict(fixed_params or {})
    for name, values in grid.items():
        if name not in valid:
            raise ValueError(f"{method} has no hyper-parameter {name!r}; valid: {sorted(valid)}")
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list, got {values!r}")
    E = check_matrix(class_embeddings, "class_embeddings")
    if cls.training_free:
        # Converted once (float64, only the fields read) rather than by each grid point's fit
        # and decision function; the converted form validates without a copy.
        X = cls._inputs(X)
    y = check_labels(y, len(X), E.shape[0])
    check_two_classes(y)
    splits = validation_splits(y, n_val_classes, n_splits, seed)

    names = list(grid)
    points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]
    if cls.training_free:
        scores = _training_free_scores(cls, points, X, y, E, splits, k, fixed_params, source)
    else:
        scores = _trained_scores(cls, points, X, y, E, splits, k, fixed_params, source)

    table = []
    for i, point in enumerate(points):
        s = np.asarray(scores[i])
        table.append({**point, "mean_score": float(s.mean()), "std_score": float(s.std()),
                      "split_scores": s.tolist()})
    best = int(np.argmax([row["mean_score"] for row in table]))
    return SelectionResult(best_params=dict(points[best]), table=table,
                           splits=[v.tolist() for v in splits])


def _training_free_scores(cls: type, points: list[dict], X: Any, y: np.ndarray, E: np.ndarray,
                          splits: list[np.ndarray], k: int, fixed_params: dict,
                          source: SourceLabelSpace | None) -> dict[int, list[float]]:
    """Per grid point, its score on each split, for a method that learns nothing from the
    training clips (``X`` already validated by ``cls._inputs``): one fit (on all clips, which
    only validates them) and one decision function on the validation clips of every split
    against every class, indexed per split."""
    rows = np.flatnonzero(np.isin(y, np.concatenate(splits)))  # clips validated in any split
    X_val = X[rows]
    where = np.full(y.size, -1)
    where[rows] = np.arange(rows.size)
    sides = [split_sides(y, val, np.arange(E.shape[0])) for val in splits]
    scores: dict[int, list[float]] = {}
    shared: dict = {}  # work the grid points share (ZeroShotEstimator._grid_decision_function)
    for i, point in enumerate(points):
        est = cls(**{**fixed_params, **point}).fit(X, y, E, source=source)
        S = est._grid_decision_function(X_val, E, shared)
        scores[i] = [topk_accuracy(S[np.ix_(where[is_val], val)], y_val, k)
                     for val, (is_val, _, _, y_val) in zip(splits, sides, strict=True)]
    return scores


def _trained_scores(cls: type, points: list[dict], X: Any, y: np.ndarray, E: np.ndarray,
                    splits: list[np.ndarray], k: int, fixed_params: dict,
                    source: SourceLabelSpace | None) -> dict[int, list[float]]:
    """Per grid point, its score on each split: fitted on the split's training clips."""
    path = getattr(cls, "_path_param", None)
    # The shared-work paths exist for methods that read no source label space.
    grid_fit = hasattr(cls, "_fit_grid") and not cls.needs_source
    path = path if path in points[0] and not cls.needs_source else None
    scores: dict[int, list[float]] = {i: [] for i in range(len(points))}
    for val in splits:
        is_val, train_classes, ytr, yva = split_sides(y, val, np.arange(E.shape[0]))
        Xtr, Etr = X[~is_val], E[train_classes]
        Xva, Eva = X[is_val], E[val]
        if grid_fit:
            fitted = cls(**fixed_params)._fit_grid(Xtr, ytr, Etr, points)
            for i, f in enumerate(fitted):
                scores[i].append(f.score(Xva, yva, Eva, k=k))
        elif path is None:
            for i, point in enumerate(points):
                est = cls(**{**fixed_params, **point}).fit(Xtr, ytr, Etr, source=source)
                scores[i].append(est.score(Xva, yva, Eva, k=k))
        else:
            # Group points that differ only in the path parameter: one run each group.
            groups: dict[tuple, list[int]] = {}
            for i, point in enumerate(points):
                key = tuple((n, repr(v)) for n, v in point.items() if n != path)
                groups.setdefault(key, []).append(i)
            for members in groups.values():
                base = {n: v for n, v in points[members[0]].items() if n != path}
                est = cls(**{**fixed_params, **base})
                fitted = est._fit_path(Xtr, ytr, Etr, [points[i][path] for i in members])
                for i, f in zip(members, fitted, strict=True):
                    scores[i].append(f.score(Xva, yva, Eva, k=k))
    return scores
