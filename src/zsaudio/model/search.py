"""Choose a method's hyper-parameters on held-out training classes, then fit: one estimator.

:class:`HeldOutClassSearch` is to zsaudio's methods what scikit-learn's ``GridSearchCV`` is to
its estimators, with zero-shot validation: the grid is scored on *validation classes* held
out of the training classes (:func:`zsaudio.model.selection.select_hyperparameters`), never on
the classes a model is later asked about. The user API (:mod:`zsaudio.classifier`) and the
ESC-50 experiments both fit methods through it.

:data:`DEFAULT_SEARCH` holds each method's default fixed hyper-parameters and searched grid
(those of the committed report).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> E = rng.normal(size=(10, 6)); y = np.repeat(np.arange(10), 8)
>>> X = E[y] @ rng.normal(size=(6, 12)) + 0.1 * rng.normal(size=(80, 12))
>>> search = HeldOutClassSearch("eszsl").fit(X, y, E)
>>> sorted(search.best_params_), search.best_estimator_.predict(X[:2], E).shape
(['alpha', 'gamma'], (2,))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from zsaudio.model.base import ZeroShotEstimator
from zsaudio.model.features import SourceLabelSpace
from zsaudio.model.registry import METHODS, make_estimator
from zsaudio.model.selection import SelectionResult, select_hyperparameters

__all__ = ["DEFAULT_SEARCH", "MIN_SEARCH_CLASSES", "SELECTION_SPLITS", "HeldOutClassSearch", "fit_method"]

#: Fewer training classes than this cannot spare 25 % (>= 2) as validation classes: the
#: method's default hyper-parameters are used instead of a search.
MIN_SEARCH_CLASSES = 8
#: Random validation-class splits averaged per grid point (more: steadier choice, slower).
SELECTION_SPLITS = 2
#: Fraction of the training classes held out per split.
VALIDATION_FRACTION = 0.25

#: How the SGD loop of bilinear, SJE and DeViSE runs in searches and reports. float32: on the
#: report's 475 bilinear splits (MiniLM, 5 seeds) one of the 134 searches chose another grid
#: point (Setting 3's of one category, which its 40 Setting 4 folds share); 1466 of 148,000 top-1
#: predictions changed, category means by at most 0.39 points; 1.20x faster
#: (benchmarks/compare_sgd_precision.py). The risk is a diagnostic nobody reads there.
_SGD_LOOP: dict[str, Any] = {"dtype": "float32", "track_risk": False}

#: Per method: (fixed hyper-parameters, grid searched on validation classes). The hybrids
#: choose their mixing weight / shrinkage inside their own fit (ConSE is one end of each of
#: their searches), so they have no outer grid.
DEFAULT_SEARCH: dict[str, tuple[dict[str, Any], dict[str, list]]] = {
    "bilinear": (_SGD_LOOP, {"learning_rate": [0.001, 0.003, 0.01], "epochs": [5, 10, 20]}),
    "eszsl": ({}, {"alpha": [0.1, 1.0, 10.0], "gamma": [0.1, 1.0, 10.0]}),
    "sje": (_SGD_LOOP, {"learning_rate": [0.01, 0.03]}),
    "devise": (_SGD_LOOP, {"learning_rate": [0.01, 0.03]}),
    "conse": ({}, {"top_t": [1, 3, 5, 10], "score_transform": ["raw", "power"],
                   "temperature": [1.0, 2.0, 4.0]}),
    "conse-anchored": ({}, {}),
    "conse-mix": ({}, {}),
    "conse-fewshot": ({}, {}),
    # The soft map (training-free): temperature and source texts chosen on validation
    # classes; with fewer than MIN_SEARCH_CLASSES training classes, its a-priori defaults.
    "softmap": ({}, {"tau": [0.01, 0.02, 0.03, 0.05, 0.1],
                     "source_text": ["name", "synonyms", "name+description",
                                     "synonyms+description"]}),
    # The few-shot soft map searches the soft map's grid and its weight inside its own fit.
    "softmap-fewshot": ({}, {}),
    "softmap-fewshot-mean": ({}, {}),
    # Calibrated stacking chooses gamma inside its fit; the base at its defaults.
    "calibrated-stacking": ({}, {}),
}


class HeldOutClassSearch:
    """Grid search of one method on validation classes of the training classes, then a fit.

    Parameters
    ----------
    method : str
        A name of :data:`zsaudio.model.METHODS`.
    params : dict, optional
        Fixed hyper-parameters (never searched). Default: the method's in :data:`DEFAULT_SEARCH`.
    grid : dict of str to list, optional
        Values to search (Cartesian product); keys also in ``params`` are not searched.
        Default: the method's in :data:`DEFAULT_SEARCH`; ``{}`` searches nothing.
    n_splits : int, default :data:`SELECTION_SPLITS`
        Random validation-class splits averaged per grid point.
    min_classes : int, default :data:`MIN_SEARCH_CLASSES`
        With fewer training classes (with clips) the defaults are used, unsearched.
    seed : int, default 0
        Seeds the validation splits and, for methods with a ``seed``, their training.

    Attributes
    ----------
    best_params_ : dict
        Every hyper-parameter given to the final fit (fixed, chosen, and ``seed``).
    best_estimator_ : ZeroShotEstimator
        The method fitted on all training clips with ``best_params_``.
    selection_ : SelectionResult or None
        The grid's validation table; None when nothing was searched.
    """

    def __init__(self, method: str, params: Mapping[str, Any] | None = None,
                 grid: Mapping[str, list] | None = None, n_splits: int = SELECTION_SPLITS,
                 min_classes: int = MIN_SEARCH_CLASSES, seed: int = 0) -> None:
        self.method = method
        self.params = params
        self.grid = grid
        self.n_splits = n_splits
        self.min_classes = min_classes
        self.seed = seed

    # -- scikit-learn parameter protocol (sklearn.base.clone works) ----------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments (``deep`` changes nothing: no nested estimator)."""
        return {k: getattr(self, k) for k in ("method", "params", "grid", "n_splits", "min_classes", "seed")}

    def set_params(self, **params: Any) -> HeldOutClassSearch:
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"HeldOutClassSearch has no parameter {name!r}; valid: {sorted(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        return f"HeldOutClassSearch({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    # -- the search ----------------------------------------------------------------------
    def resolved(self) -> tuple[dict[str, Any], dict[str, list]]:
        """(fixed params, grid) this search uses: defaults filled in, fixed names not searched,
        ``seed`` set for methods that take one."""
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {sorted(METHODS)}")
        default_params, default_grid = DEFAULT_SEARCH.get(self.method, ({}, {}))
        params = dict(default_params if self.params is None else self.params)
        grid = {k: list(v) for k, v in (default_grid if self.grid is None else self.grid).items()
                if k not in params}
        if "seed" in METHODS[self.method]._param_names():
            params.setdefault("seed", self.seed)  # a seed fixed in ``params`` wins
        return params, grid

    def select(self, X: Any, y: Any, class_embeddings: Any,
               source: SourceLabelSpace | None = None) -> tuple[dict[str, Any], SelectionResult | None]:
        """The hyper-parameters to fit with, chosen on validation classes; no final fit.

        Parameters are those of :meth:`fit`. Returns ``(params, selection)``: every
        hyper-parameter (fixed, chosen, ``seed``) and the validation table (None when the grid
        is empty or there are fewer than ``min_classes`` classes with clips).
        """
        params, grid = self.resolved()
        if X is None or not grid or np.unique(np.asarray(y)).size < self.min_classes:
            return params, None
        selection = select_hyperparameters(
            self.method, grid, X, y, class_embeddings, n_val_classes=VALIDATION_FRACTION,
            n_splits=self.n_splits, seed=self.seed, fixed_params=params, source=source)
        return {**params, **selection.best_params}, selection

    def fit(self, X: Any, y: Any, class_embeddings: Any,
            source: SourceLabelSpace | None = None) -> HeldOutClassSearch:
        """Search the grid on validation classes, then fit the method on every clip.

        Parameters
        ----------
        X : AudioFeatures (or the one array the method reads), n rows; None with y and
            class_embeddings None for a training-free method with no training clips
        y : array of int, shape (n,)
            Row of ``class_embeddings`` of each clip's class.
        class_embeddings : array, shape (C, d)
        source : SourceLabelSpace, optional
            The encoder's label space (methods that rank through it need it).

        Returns
        -------
        self
        """
        self.best_params_, self.selection_ = self.select(X, y, class_embeddings, source)
        self.best_estimator_ = fit_method(self.method, self.best_params_, X, y, class_embeddings, source)
        return self

    def decision_function(self, X: Any, class_embeddings: Any) -> np.ndarray:
        """The fitted method's scores, (n, C')."""
        return self.best_estimator_.decision_function(X, class_embeddings)


def fit_method(method: str, params: Mapping[str, Any], X: Any, y: Any, class_embeddings: Any,
               source: SourceLabelSpace | None = None) -> ZeroShotEstimator:
    """A new estimator of ``method`` with ``params``, fitted; X = None (no training clips)
    fits a training-free method on ``source`` alone.

    Raises
    ------
    ValueError
        A method that learns from clips given none.
    """
    estimator = make_estimator(method, **params)
    if X is None:
        if not estimator.training_free:
            raise ValueError(f"{method} needs training classes; only training-free methods run "
                             "without training clips")
        return estimator.fit(source=source)
    return estimator.fit(X, y, class_embeddings, source=source)
