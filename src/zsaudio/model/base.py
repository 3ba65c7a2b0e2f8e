"""The base class of every zero-shot estimator (array helpers: :mod:`zsaudio.model.arrays`).

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
import json
from typing import Any

import numpy as np

from zsaudio.model.arrays import (  # noqa: F401  (re-exported: the estimators' helpers)
    FeatureStandardizer,
    check_fit_inputs,
    check_labels,
    check_matrix,
    check_two_classes,
    l2_normalize_rows,
    softmax,
    stable_topk,
)
from zsaudio.model.features import AudioFeatures, SourceLabelSpace

__all__ = [
    "ZeroShotEstimator",
    "NotFittedError",
    "check_matrix",
    "check_labels",
    "check_fit_inputs",
    "check_two_classes",
    "l2_normalize_rows",
    "softmax",
    "FeatureStandardizer",
]


class NotFittedError(ValueError, AttributeError):
    """Raised when a method that needs a fitted estimator is called before ``fit``."""


def restore_tuples(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """Hyper-parameters read back from JSON, with lists turned back into tuples where the
    constructor's default is a tuple (JSON has no tuples), so ``get_params()`` round-trips.

    >>> from zsaudio.model import AnchoredConSE
    >>> restore_tuples(AnchoredConSE, {"lams": [1.0, 0.1], "seed": 0})
    {'lams': (1.0, 0.1), 'seed': 0}
    """
    defaults = inspect.signature(cls.__init__).parameters
    return {k: tuple(v) if isinstance(v, list) and k in defaults
            and isinstance(defaults[k].default, tuple) else v for k, v in params.items()}


class ZeroShotEstimator:
    """Base class: validation, prediction helpers, parameters and state for saving.

    Class attributes
    ----------------
    method_name : str
        Registry name (``zsaudio.model.METHODS``), also written into saved files.
    uses : tuple of str
        The :class:`~zsaudio.model.features.AudioFeatures` fields the method reads:
        ``("embeddings",)``, ``("scores",)``, ``("gated", "scores")``, ... (in the order of
        :data:`~zsaudio.model.features.FEATURE_FIELDS`). A method reading one field receives
        that array in its hooks (and accepts it bare in the public methods); one reading
        several receives the :class:`AudioFeatures` of those fields.
    needs_source : bool
        Whether ``fit`` needs the encoder's label space (``source=SourceLabelSpace``); stored
        as ``source_embeddings_`` (K, d) and ``source_mask_`` (K,) before ``_fit`` runs.
        Every estimator accepts ``source`` so that callers never branch on the method.
    needs_source_rows : bool
        Whether the method reads every source *text* as a row (the soft map); ``fit`` then also
        stores ``source_rows_`` (M, d), ``source_row_owner_`` (M,) and ``source_row_kind_``
        (M,) from :meth:`SourceLabelSpace.text_rows` (kind -1: a label space without text
        rows, its vectors one row per class). Implies ``needs_source``.
    training_free : bool
        True for methods that learn nothing from labelled audio: ``fit(source=...)`` with no
        clips makes them ready (e.g. the 50-way protocol).
    sub_estimators : dict of str to class (or tuple of classes)
        Fitted sub-estimators held in public attributes (e.g. ``{"eszsl_": ESZSL}``); saved
        and restored with the estimator's own state. A tuple lists the classes the attribute
        may hold (calibrated stacking's base method): the saved method name picks one.
    rebuilt_on_load : tuple of str
        Fitted attributes derived from the rest of the state (not saved; ``_rebuild``).

    Fitted attributes set here: ``n_features_in_`` (width of the fields read, summed),
    ``embedding_dim_`` (d), ``n_classes_`` (C, rows of the training ``class_embeddings``).
    """

    method_name: str = ""
    uses: tuple[str, ...] = ("embeddings",)
    needs_source: bool = False
    needs_source_rows: bool = False
    training_free: bool = False
    sub_estimators: dict[str, type[ZeroShotEstimator] | tuple[type[ZeroShotEstimator], ...]] = {}
    #: Fitted attributes not saved but rebuilt from the saved state by ``_rebuild``.
    rebuilt_on_load: tuple[str, ...] = ()

    # --- hooks for subclasses -------------------------------------------------------
    def _check_params(self) -> None:
        """Validate the hyper-parameters (called first by ``fit``); raise ValueError."""

    def _fit(self, X: Any, y: np.ndarray | None, class_embeddings: np.ndarray | None) -> None:
        raise NotImplementedError

    def _decision_function(self, X: Any, class_embeddings: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # --- public API -----------------------------------------------------------------
    def fit(self, X: Any = None, y: Any = None, class_embeddings: Any = None, *,
            source: SourceLabelSpace | None = None) -> ZeroShotEstimator:
        """Fit on training samples.

        Parameters
        ----------
        X : AudioFeatures, or array-like of shape (n, D) for a method reading one field
            Audio features of the training samples. None (with y and class_embeddings) for a
            training-free method given only ``source``.
        y : array-like of int, shape (n,)
            Index of each sample's class into the rows of ``class_embeddings``.
        class_embeddings : array-like, shape (C, d)
            Embeddings of the training classes (classes without samples allowed).
        source : SourceLabelSpace, optional
            The encoder's classes as label embeddings (K, d); required when
            ``needs_source``, ignored otherwise.

        Returns
        -------
        self
        """
        self._check_params()
        if X is None and y is None and class_embeddings is None:
            if not self.training_free:
                raise ValueError(f"{type(self).__name__} learns from labelled clips: give X, y "
                                 "and class_embeddings")
            X, E = None, None
        elif X is None or y is None or class_embeddings is None:
            raise ValueError("give X, y and class_embeddings together, or none of them")
        else:
            X = self._inputs(X)
            E = check_matrix(class_embeddings, "class_embeddings")
            y = check_labels(y, len(X), E.shape[0])
            check_two_classes(y)
        if self.needs_source:
            self._set_source(source, X, E)
        self.n_features_in_ = self._input_width(X)
        self.embedding_dim_ = E.shape[1] if E is not None else self.source_embeddings_.shape[1]
        self.n_classes_ = 0 if E is None else E.shape[0]
        self._fit(X, y, E)
        return self

    def decision_function(self, X: Any, class_embeddings: Any) -> np.ndarray:
        """Compatibility scores of each sample with each candidate class.

        Parameters
        ----------
        X : AudioFeatures, or array-like of shape (n, D) for a method reading one field
        class_embeddings : array-like, shape (C', d)
            Any candidate set (e.g. the unseen test classes).

        Returns
        -------
        np.ndarray, float64, shape (n, C')
        """
        X, E = self._check_predict_inputs(X, class_embeddings)
        return self._decision_function(X, E)

    def _grid_decision_function(self, X: Any, class_embeddings: Any, shared: dict) -> np.ndarray:
        """:meth:`decision_function`, called by the grid search of a training-free method for
        each of its estimators: fitted on the same inputs, differing only in hyper-parameters,
        scoring the same ``X`` and ``class_embeddings``. ``shared`` is one dict the search
        keeps across those calls, where a method may keep the work that does not depend on
        the hyper-parameters it is keyed by (the same numbers as computing it again); the
        result may then be shared too, read-only. Default: ``shared`` is not used."""
        return self.decision_function(X, class_embeddings)

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
        X = self._inputs(X)
        y = check_labels(y, len(X), E.shape[0])
        top = self.predict_topk(X, E, k)
        return float(np.mean(np.any(top == y[:, None], axis=1)))

    # --- inputs -----------------------------------------------------------------------
    @classmethod
    def _inputs(cls, X: Any) -> Any:
        """X validated into what the hooks take: the one array read, or AudioFeatures of
        validated float64 arrays for a method reading several fields. A class method: a
        search validates its clips once for every grid point (validated X passes unchanged)."""
        name = cls.__name__
        if not isinstance(X, AudioFeatures):
            if len(cls.uses) != 1:
                raise ValueError(f"{name} reads {' and '.join(cls.uses)}: pass "
                                 "AudioFeatures(embeddings=..., scores=...)")
            return check_matrix(X, "X")
        arrays = []
        for field_name in cls.uses:
            a = getattr(X, field_name)
            if a is None:
                raise ValueError(
                    f"{name} reads the audio encoder's {field_name}, which these features lack"
                    + (" (an encoder without a classifier head has no class scores)"
                       if field_name == "scores" else ""))
            arrays.append(check_matrix(a, f"X.{field_name}"))
        if len(arrays) == 1:
            return arrays[0]
        return AudioFeatures(**dict(zip(cls.uses, arrays, strict=True)))

    def _input_width(self, X: Any) -> int:
        if X is None:  # training-free, no clips: the method reads the K scores
            return self.source_embeddings_.shape[0]
        if isinstance(X, AudioFeatures):
            return sum(getattr(X, f).shape[1] for f in self.uses)
        return X.shape[1]

    def _set_source(self, source: SourceLabelSpace | None, X: Any, E: np.ndarray | None) -> None:
        name = type(self).__name__
        if not isinstance(source, SourceLabelSpace):
            raise ValueError(f"{name} ranks through the audio encoder's own classes: give "
                             f"source=SourceLabelSpace(names, vectors), got {type(source).__name__}")
        checked = source.checked
        S, mask = checked.vectors, checked.mask
        if not mask.any():
            raise ValueError("no usable source class (all masked or all-zero embeddings)")
        scores = X.scores if isinstance(X, AudioFeatures) else X
        if scores is not None and scores.shape[1] != S.shape[0]:
            raise ValueError(f"X has {scores.shape[1]} class scores per clip but the source label "
                             f"space has {S.shape[0]} classes")
        if E is not None and E.shape[1] != S.shape[1]:
            raise ValueError(f"class_embeddings have dimension {E.shape[1]}, source embeddings "
                             f"{S.shape[1]}: use the same label encoder")
        # Shared, read-only arrays (SourceLabelSpace.checked): no estimator writes its state.
        self.source_names_ = checked.names
        self.source_embeddings_ = S
        self.source_mask_ = mask
        if self.needs_source_rows:
            self.source_rows_, self.source_row_owner_, self.source_row_kind_ = source.checked_rows

    def _source(self) -> SourceLabelSpace:
        """The source label space stored by ``fit`` (for fitting sub-estimators), with its text
        rows when this method stored them."""
        if self.needs_source_rows:
            return SourceLabelSpace(self.source_names_, self.source_embeddings_, self.source_mask_,
                                    self.source_rows_, self.source_row_owner_,
                                    self.source_row_kind_)
        return SourceLabelSpace(self.source_names_, self.source_embeddings_, self.source_mask_)

    # --- parameters and state (scikit-learn style; used by io and selection) ---------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor hyper-parameters as a dict (JSON-serialisable values expected).

        ``deep`` is accepted for scikit-learn (``sklearn.base.clone``); no zsaudio
        estimator takes another estimator as a hyper-parameter, so it changes nothing.
        """
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

        Arrays are saved as they are; Python scalars become 0-d arrays; a fitted
        sub-estimator (``sub_estimators``) is saved as its hyper-parameters (JSON) and its own
        state, under ``"<attribute>."``.
        """
        state = {}
        for key, value in vars(self).items():
            if not key.endswith("_") or key.startswith("_") or key in self.rebuilt_on_load:
                continue
            if key in self.sub_estimators:
                state[f"{key}.params"] = np.asarray(json.dumps(value.get_params()))
                state[f"{key}.method"] = np.asarray(value.method_name)
                state.update({f"{key}.{k}": v for k, v in value._state_arrays().items()})
                continue
            arr = np.asarray(value)
            if arr.dtype == object:
                raise TypeError(f"cannot save attribute {key} of type {type(value)}")
            state[key] = arr
        return state

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what ``_state_arrays`` returned (0-d arrays back to Python scalars)."""
        subs: dict[str, dict[str, np.ndarray]] = {}
        for key, arr in arrays.items():
            head, dot, rest = key.partition(".")
            if dot and head in self.sub_estimators:
                subs.setdefault(head, {})[rest] = arr
            else:
                setattr(self, key, arr.item() if arr.ndim == 0 else arr)
        for key, sub_state in subs.items():
            cls = self._sub_estimator_class(key, str(sub_state.pop("method", "")))
            sub = cls(**restore_tuples(cls, json.loads(str(sub_state.pop("params")))))
            sub._set_state(sub_state)
            setattr(self, key, sub)
        self._rebuild()

    def _sub_estimator_class(self, attr: str, method: str) -> type[ZeroShotEstimator]:
        """The class of saved sub-estimator ``attr`` whose method name is ``method`` (empty:
        a file from before names were saved, when each attribute had one class)."""
        declared = self.sub_estimators[attr]
        classes = declared if isinstance(declared, tuple) else (declared,)
        for cls in classes:
            if cls.method_name == method or (not method and len(classes) == 1):
                return cls
        raise ValueError(f"{type(self).__name__}.{attr}: saved method {method!r} is not one of "
                         f"{[c.method_name for c in classes]}")

    def _rebuild(self) -> None:
        """Recreate the ``rebuilt_on_load`` attributes from the restored state."""

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit first")

    def _check_X(self, X: Any) -> Any:
        """X of a fitted estimator, validated (see ``_inputs``) with the width seen in ``fit``."""
        self._check_fitted()
        X = self._inputs(X)
        if self.needs_source and isinstance(X, AudioFeatures):
            k = self.source_embeddings_.shape[0]
            if X.scores.shape[1] != k:
                raise ValueError(f"X.scores has {X.scores.shape[1]} class scores per clip but the "
                                 f"source label space has {k} classes")
        width = self._input_width(X)
        if width != self.n_features_in_:
            raise ValueError(f"X has {width} columns but the estimator was fitted with "
                             f"{self.n_features_in_}")
        return X

    def _check_predict_inputs(self, X: Any, class_embeddings: Any) -> tuple[Any, np.ndarray]:
        X = self._check_X(X)
        return X, check_matrix(class_embeddings, "class_embeddings", self.embedding_dim_)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
