"""Hyper-parameter selection on validation classes held out of the training classes.

Zero-shot model selection must not look at the test classes. Here, each split holds out a
random subset of the *training* classes (those with samples) as validation classes: the
model is fitted on the samples of the other training classes and scored zero-shot on the
held-out classes' samples, ranked among the held-out classes only. The grid point with the
best mean top-k accuracy over the splits wins (ties: the first in grid order).

Shared work, same scores (each shortcut equals fitting every grid point on every split):

- training-free methods (``training_free = True``, e.g. ConSE) learn nothing from the split,
  so each grid point is fitted once and scores the validation clips of all splits against all
  classes in one ``decision_function``; each split takes its rows and its classes' columns
  (a clip's score for a class depends on that clip and that class only);
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

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zsaudio.model.base import check_labels, check_matrix, check_two_classes, stable_topk
from zsaudio.model.features import SourceLabelSpace
from zsaudio.model.registry import METHODS
from zsaudio.model.splits import validation_splits

__all__ = ["SelectionResult", "select_hyperparameters"]


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
    """Grid search scored by zero-shot accuracy on held-out training classes.

    Parameters
    ----------
    method : str
        A key of :data:`zsaudio.model.METHODS`.
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
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {sorted(METHODS)}")
    cls = METHODS[method]
    valid = set(cls._param_names())
    fixed_params = dict(fixed_params or {})
    for name, values in grid.items():
        if name not in valid:
            raise ValueError(f"{method} has no hyper-parameter {name!r}; valid: {sorted(valid)}")
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list, got {values!r}")
    E = check_matrix(class_embeddings, "class_embeddings")
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


def _topk_accuracy(scores: np.ndarray, y: np.ndarray, k: int) -> float:
    """Top-k accuracy of ``scores`` (n, C) for labels ``y`` (n,): what
    :meth:`ZeroShotEstimator.score` computes from the decision function (same k check, same
    tie rule)."""
    n_cand = scores.shape[1]
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n_cand:
        raise ValueError(f"k must be an integer in [1, {n_cand}] (candidates), got {k!r}")
    return float(np.mean(np.any(stable_topk(scores, k) == y[:, None], axis=1)))


def _split_sides(y: np.ndarray, n_classes: int,
                 val: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(is_val (n,), train_classes, y re-indexed into train_classes for the training clips,
    y re-indexed into ``val`` for the validation clips): training sees only its classes,
    validation ranks only the held-out ones."""
    is_val = np.isin(y, val)
    train_classes = np.setdiff1d(np.arange(n_classes), val)
    tr_map = np.full(n_classes, -1)
    tr_map[train_classes] = np.arange(train_classes.size)
    va_map = np.full(n_classes, -1)
    va_map[val] = np.arange(val.size)
    return is_val, train_classes, tr_map[y[~is_val]], va_map[y[is_val]]


def _training_free_scores(cls: type, points: list[dict], X: Any, y: np.ndarray, E: np.ndarray,
                          splits: list[np.ndarray], k: int, fixed_params: dict,
                          source: SourceLabelSpace | None) -> dict[int, list[float]]:
    """Per grid point, its score on each split, for a method that learns nothing from the
    training clips: one fit (on all clips, which only validates them) and one decision function
    on the validation clips of every split against every class, indexed per split."""
    rows = np.flatnonzero(np.isin(y, np.concatenate(splits)))  # clips validated in any split
    where = np.full(y.size, -1)
    where[rows] = np.arange(rows.size)
    sides = [_split_sides(y, E.shape[0], val) for val in splits]
    scores: dict[int, list[float]] = {}
    for i, point in enumerate(points):
        est = cls(**{**fixed_params, **point}).fit(X, y, E, source=source)
        S = est.decision_function(X[rows], E)
        scores[i] = [_topk_accuracy(S[np.ix_(where[is_val], val)], y_val, k)
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
        is_val, train_classes, ytr, yva = _split_sides(y, E.shape[0], val)
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
