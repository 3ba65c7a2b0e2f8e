"""Shared input validation and the base class of every zero-shot estimator.

A zero-shot estimator scores audio feature vectors against *class embeddings*: it is fitted
on samples of the training classes and can then rank any candidate set of classes, seen or
not, given their embeddings. Subclasses implement two hooks on validated float64 arrays:

- ``_fit(X, y, class_embeddings)``: learn the state (attributes ending in ``_``);
- ``_decision_function(X, class_embeddings) -> (n, C')``: the compatibility scores.

Everything else (validation with clear messages, ``predict``, ``predict_topk``, ``score``,
``get_params``, the state used by :mod:`zsaudio.model.io`) lives here.

Example
-------
>>> import numpy as np
>>> class Nearest(ZeroShotEstimator):  # cosine between a fixed projection and embeddings
...     method_name = "nearest-example"
...     def __init__(self, scale=1.0):
...         self.scale = scale
...     def _fit(self, X, y, class_embeddings):
...         self.P_ = np.linalg.lstsq(X, class_embeddings[y], rcond=None)[0]
...     def _decision_function(self, X, class_embeddings):
...         return self.scale * (X @ self.P_) @ class_embeddings.T
>>> rng = np.random.default_rng(0)
>>> est = Nearest().fit(rng.normal(size=(20, 4)), np.arange(20) % 3, rng.normal(size=(3, 2)))
>>> est.predict_topk(rng.normal(size=(5, 4)), rng.normal(size=(4, 2)), k=2).shape
(5, 2)
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

__all__ = [
    "ZeroShotEstimator",
    "NotFittedError",
    "check_matrix",
    "check_labels",
    "check_fit_inputs",
    "l2_normalize_rows",
    "softmax",
    "FeatureStandardizer",
]


class NotFittedError(ValueError, AttributeError):
    """Raised when a method that needs a fitted estimator is called before ``fit``."""


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
    n_present = np.unique(y).size
    if n_present < 2:
        raise ValueError(
            f"need samples of at least 2 classes to fit, got samples of {n_present} class "
            f"(labels present: {np.unique(y).tolist()})"
        )
    return X, y, E


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


class ZeroShotEstimator:
    """Base class: validation, prediction helpers, parameters and state for saving.

    Class attributes
    ----------------
    method_name : str
        Registry name (``zsaudio.model.METHODS``), also written into saved files.
    input_kind : str
        What ``X`` holds: ``"embedding"`` (audio encoder embeddings) or ``"scores"``
        (encoder class-score vectors, for methods such as ConSE).

    Fitted attributes set here: ``n_features_in_`` (D), ``embedding_dim_`` (d),
    ``n_classes_`` (C, rows of the training ``class_embeddings``).
    """

    method_name: str = ""
    input_kind: str = "embedding"
    #: True for methods that learn nothing from labelled audio (they can run with no training
    #: data at all, e.g. the 50-way protocol); their ``fit`` accepts X = y = None.
    training_free: bool = False

    # --- hooks for subclasses -------------------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray, class_embeddings: np.ndarray) -> None:
        raise NotImplementedError

    def _decision_function(self, X: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # --- public API -----------------------------------------------------------------
    def fit(self, X: Any, y: Any, class_embeddings: Any) -> ZeroShotEstimator:
        """Fit on training samples.

        Parameters
        ----------
        X : array-like, shape (n, D)
            Audio features of the training samples.
        y : array-like of int, shape (n,)
            Index of each sample's class into the rows of ``class_embeddings``.
        class_embeddings : array-like, shape (C, d)
            Embeddings of the training classes (classes without samples allowed).

        Returns
        -------
        self
        """
        X, y, E = check_fit_inputs(X, y, class_embeddings)
        self.n_features_in_ = X.shape[1]
        self.embedding_dim_ = E.shape[1]
        self.n_classes_ = E.shape[0]
        self._fit(X, y, E)
        return self

    def decision_function(self, X: Any, class_embeddings: Any) -> np.ndarray:
        """Compatibility scores of each sample with each candidate class.

        Parameters
        ----------
        X : array-like, shape (n, D)
        class_embeddings : array-like, shape (C', d)
            Any candidate set (e.g. the unseen test classes).

        Returns
        -------
        np.ndarray, float64, shape (n, C')
        """
        X, E = self._check_predict_inputs(X, class_embeddings)
        return self._decision_function(X, E)

    def predict(self, X: Any, class_embeddings: Any) -> np.ndarray:
        """Index (into ``class_embeddings``) of the best class per sample, shape (n,).

        Ties go to the lowest index.
        """
        return np.argmax(self.decision_function(X, class_embeddings), axis=1)

    def predict_topk(self, X: Any, class_embeddings: Any, k: int) -> np.ndarray:
        """Indices of the ``k`` best classes per sample, best first, shape (n, k).

        Ties are broken by the lower class index.
        """
        scores = self.decision_function(X, class_embeddings)
        n_cand = scores.shape[1]
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= n_cand:
            raise ValueError(f"k must be an integer in [1, {n_cand}] (candidates), got {k!r}")
        return stable_topk(scores, k)

    def score(self, X: Any, y: Any, class_embeddings: Any, k: int = 1) -> float:
        """Top-``k`` accuracy: fraction of samples whose class is among the ``k`` best.

        ``y`` indexes the rows of ``class_embeddings`` (the candidate set).
        """
        E = check_matrix(class_embeddings, "class_embeddings")
        X = check_matrix(X, "X")
        y = check_labels(y, X.shape[0], E.shape[0])
        top = self.predict_topk(X, E, k)
        return float(np.mean(np.any(top == y[:, None], axis=1)))

    # --- parameters and state (scikit-learn style; used by io and selection) ---------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        """Constructor hyper-parameters as a dict (JSON-serialisable values expected)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> ZeroShotEstimator:
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no hyper-parameter {name!r}; "
                    f"valid: {sorted(valid)}"
                )
            setattr(self, name, value)
        return self

    def chosen_params(self) -> dict[str, Any]:
        """Hyper-parameters this estimator chose itself inside ``fit`` (on validation classes
        held out of its training classes), by name; empty for estimators that choose none.

        >>> from zsaudio.model import ESZSL
        >>> ESZSL().chosen_params()
        {}
        """
        return {}

    def _is_fitted(self) -> bool:
        return hasattr(self, "n_features_in_")

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """Learned state to save: every public attribute ending in ``_``.

        Arrays are saved as they are; Python scalars become 0-d arrays. Override (with
        ``_set_state``) if a subclass holds state that is neither.
        """
        state = {}
        for key, value in vars(self).items():
            if key.endswith("_") and not key.startswith("_"):
                arr = np.asarray(value)
                if arr.dtype == object:
                    raise TypeError(f"cannot save attribute {key} of type {type(value)}")
                state[key] = arr
        return state

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what ``_state_arrays`` returned (0-d arrays back to Python scalars)."""
        for key, arr in arrays.items():
            setattr(self, key, arr.item() if arr.ndim == 0 else arr)

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit first")

    def _check_predict_inputs(self, X: Any, class_embeddings: Any) -> tuple[np.ndarray, ...]:
        self._check_fitted()
        X = check_matrix(X, "X", self.n_features_in_)
        E = check_matrix(class_embeddings, "class_embeddings", self.embedding_dim_)
        return X, E

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
