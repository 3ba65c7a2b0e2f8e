"""Run zero-shot methods over the splits of the ESC-50 settings.

Each (method, split) is one task: choose hyper-parameters on validation classes carved out of
the split's *training* classes (never its test classes), fit on the training clips, rank the
split's candidate classes for every test clip. Tasks are independent and run in worker
processes (fork: the features are shared, not copied).
"""

from __future__ import annotations

import inspect
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from zsaudio.experiments.protocols import Split, SplitInfo
from zsaudio.model import METHODS, make_estimator
from zsaudio.model.selection import select_hyperparameters

TOP_K = 3
# Fewer training classes than this cannot spare 25 % (≥ 2) as validation classes: the
# method's default hyper-parameters are used instead of a search.
MIN_SEARCH_CLASSES = 8
# Random validation-class splits averaged per grid point (more: steadier choice, slower).
SELECTION_SPLITS = 2


@dataclass
class Features:
    """Per-clip inputs of the methods, rows aligned with the data set's present clips.

    ``embeddings`` (n, D) are the audio embeddings θ(x); ``scores`` (n, K) the audio
    encoder's own class scores (YAMNet's 521 AudioSet classes), or None.
    ``class_embeddings`` (50, d) embed the ESC-50 class labels (rows of classes the label
    encoder cannot embed are unused); ``source_embeddings`` (K, d) embed the encoder's own
    class names (for ConSE and hybrids), or None. ``source_rows`` = (embeddings (M, d),
    owner (M,), kind (M,)): every source text as a row (the soft map,
    :func:`zsaudio.labels.audioset.encoder_source_text_rows`), or None. ``gated_embeddings``
    (n, D): the audio embeddings pooled with silence gating (``input_kind = "gated+scores"``),
    or None.
    """

    embeddings: np.ndarray
    scores: np.ndarray | None
    class_embeddings: np.ndarray
    source_embeddings: np.ndarray | None = None
    source_rows: tuple | None = None
    gated_embeddings: np.ndarray | None = None

    def inputs(self, input_kind: str) -> np.ndarray:
        """The feature matrix a method of ``input_kind`` takes."""
        if input_kind == "embedding":
            return self.embeddings
        if self.scores is None:
            raise ValueError(f"a method with input_kind={input_kind!r} needs encoder class scores; "
                             "this audio encoder has no classifier head")
        if input_kind == "scores":
            return self.scores
        if input_kind == "both":
            return np.hstack([self.embeddings, self.scores])
        if input_kind == "gated+scores":
            if self.gated_embeddings is None:
                raise ValueError("a method with input_kind='gated+scores' needs silence-gated "
                                 "embeddings (embed_files(..., pooling='silence-gated'))")
            return np.hstack([self.gated_embeddings, self.scores])
        raise ValueError(f"unknown input_kind {input_kind!r}")

    def fit_params(self, input_kind: str, method: str | None = None) -> dict:
        """Extra keyword arguments of ``fit``: the source-class embeddings for ConSE-like
        methods, every source text as rows for those that take them (``source_rows_input``)."""
        if input_kind == "embedding":
            return {}
        if method is not None and getattr(METHODS[method], "source_rows_input", False):
            if self.source_rows is None:
                raise ValueError(f"{method} needs the source texts as rows (Features.source_rows: "
                                 "zsaudio.labels.audioset.encoder_source_text_rows)")
            rows, owner, kind = self.source_rows
            return {"source_embeddings": rows, "source_owner": owner, "source_kind": kind,
                    "n_sources": self.scores.shape[1]}
        return {"source_embeddings": self.source_embeddings}

    def method_params(self, method: str) -> dict:
        """Hyper-parameters fixed by the data: ``n_scores`` (K) for methods taking
        ``X = [embeddings, scores]``."""
        cls = METHODS[method]
        if getattr(cls, "input_kind", "embedding") in ("both", "gated+scores") and \
                _accepts(cls, "n_scores"):
            return {"n_scores": self.scores.shape[1]}
        return {}


@dataclass
class MethodSpec:
    """A method as it appears in the reports: registry name, fixed and searched hyper-parameters."""

    label: str
    method: str
    params: dict = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)
    settings: tuple | None = None  # settings it runs in (1-4, "gzsl", "50-way"); None: all

    def runs_in(self, setting) -> bool:
        """Whether this method runs in ``setting`` (the 50-way protocol: training-free only)."""
        if setting == "50-way" and self.trains:
            return False
        return self.settings is None or setting in self.settings

    @property
    def input_kind(self) -> str:
        return getattr(METHODS[self.method], "input_kind", "embedding")

    @property
    def trains(self) -> bool:
        """False for training-free methods (they still pick hyper-parameters on training classes)."""
        return getattr(METHODS[self.method], "training_free", False) is not True


@dataclass(frozen=True)
class SplitResult(SplitInfo):
    """One method on one split (its :class:`SplitInfo`): global class targets of the truth
    and the top-3 ranking, with the hyper-parameters it was given (``params``) and those it
    chose itself inside ``fit`` (``chosen``, e.g. a hybrid's mixing weight; None in results
    unpickled from checkpoints written before it was recorded)."""

    method: str
    y_true: np.ndarray
    topk: np.ndarray
    params: dict
    chosen: dict | None = field(default_factory=dict)

    @property
    def top1(self) -> float:
        return float(np.mean(self.topk[:, 0] == self.y_true))

    @property
    def top3(self) -> float:
        return float(np.mean((self.topk[:, :TOP_K] == self.y_true[:, None]).any(axis=1)))

    def __setstate__(self, state: dict) -> None:
        # Checkpoints written before ``chosen`` was recorded unpickle with chosen=None ("not
        # recorded"), which the report tells apart from {} ("chose nothing").
        object.__setattr__(self, "__dict__", {"chosen": None, **state})


def class_indices(targets: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Row of each target in the sorted ``classes`` (the ``y`` of ``fit``); raises if a target
    is not among them, which would otherwise silently train on the wrong class."""
    idx = np.searchsorted(classes, targets)
    if np.any(idx >= len(classes)) or np.any(classes[np.minimum(idx, len(classes) - 1)] != targets):
        raise ValueError(f"targets {sorted(set(targets.tolist()) - set(classes.tolist()))} are not "
                         "among the training classes")
    return idx


def _accepts(cls: type, name: str) -> bool:
    return name in inspect.signature(cls.__init__).parameters


def _base_params(spec: MethodSpec, features: Features, seed: int) -> dict:
    params = {**features.method_params(spec.method), **spec.params}
    if _accepts(METHODS[spec.method], "seed"):
        params["seed"] = seed
    return params


def select_for_split(spec: MethodSpec, features: Features, train_idx: np.ndarray,
                     train_classes: Sequence[int], targets: np.ndarray, seed: int) -> dict:
    """Hyper-parameters of ``spec`` chosen on validation classes held out of ``train_classes``
    (their clips ``train_idx``): the grid's best, or the defaults when there is no grid or
    fewer than :data:`MIN_SEARCH_CLASSES` classes."""
    params = _base_params(spec, features, seed)
    classes = np.asarray(train_classes, dtype=int)
    if not spec.grid or len(classes) < MIN_SEARCH_CLASSES:
        return params
    selection = select_hyperparameters(
        spec.method, spec.grid, features.inputs(spec.input_kind)[train_idx],
        class_indices(targets[train_idx], classes), features.class_embeddings[classes],
        n_val_classes=0.25, n_splits=SELECTION_SPLITS, seed=seed, fixed_params=params,
        fit_params=features.fit_params(spec.input_kind, spec.method),
    )
    return {**params, **selection.best_params}


def fit_with_params(spec: MethodSpec, features: Features, train_idx: np.ndarray,
                    train_classes: Sequence[int], targets: np.ndarray, params: dict):
    """A new estimator of ``spec.method`` with ``params``, fitted on the clips ``train_idx``."""
    fit_params = features.fit_params(spec.input_kind, spec.method)
    classes = np.asarray(train_classes, dtype=int)
    estimator = make_estimator(spec.method, **params)
    if len(classes) == 0:  # the 50-way protocol: nothing to train on
        if spec.trains:
            raise ValueError(f"{spec.label} needs training classes; only training-free "
                             "methods run without ESC-50 training")
        return estimator.fit(None, None, None, **fit_params)
    return estimator.fit(features.inputs(spec.input_kind)[train_idx],
                         class_indices(targets[train_idx], classes),
                         features.class_embeddings[classes], **fit_params)


def fit_for_split(spec: MethodSpec, features: Features, train_idx: np.ndarray,
                  train_classes: Sequence[int], targets: np.ndarray, seed: int):
    """Select hyper-parameters on validation classes of the training classes, then fit.

    Returns the fitted estimator and the parameters used.
    """
    params = select_for_split(spec, features, train_idx, train_classes, targets, seed)
    return fit_with_params(spec, features, train_idx, train_classes, targets, params), params


def run_split(spec: MethodSpec, split: Split, features: Features, targets: np.ndarray,
              params: dict | None = None) -> SplitResult:
    """Fit ``spec`` on the split's training side and rank its candidates for the test clips.

    ``params``: hyper-parameters already selected for this split (default: select now).
    """
    if params is None:
        params = select_for_split(spec, features, split.selection_idx(targets),
                                  split.selection_classes, targets, split.seed)
    estimator = fit_with_params(spec, features, split.train_idx, split.train_classes, targets,
                                params)
    candidates = np.asarray(split.test_classes)
    X_test = features.inputs(spec.input_kind)[split.test_idx]
    k = min(TOP_K, len(candidates))
    topk = candidates[estimator.predict_topk(X_test, features.class_embeddings[candidates], k)]
    return SplitResult(**vars(split.info()), method=spec.label, y_true=targets[split.test_idx],
                       topk=topk, params=params, chosen=estimator.chosen_params())


# Fork-shared state of the worker processes (set before the pool starts).
_SHARED: dict = {}


def _select_task(task: tuple[int, int]) -> dict:
    from threadpoolctl import threadpool_limits

    spec_i, split_i = task
    split, targets = _SHARED["splits"][split_i], _SHARED["targets"]
    with threadpool_limits(1):  # one BLAS thread per worker: the workers are the parallelism
        return select_for_split(_SHARED["specs"][spec_i], _SHARED["features"],
                                split.selection_idx(targets), split.selection_classes, targets,
                                split.seed)


def _fit_task(task: tuple[int, int, dict]) -> SplitResult:
    from threadpoolctl import threadpool_limits

    spec_i, split_i, params = task
    with threadpool_limits(1):
        return run_split(_SHARED["specs"][spec_i], _SHARED["splits"][split_i],
                         _SHARED["features"], _SHARED["targets"], params)


def _map(fn, tasks: list, workers: int, bar) -> list:
    if workers == 1:
        out = []
        for t in tasks:
            out.append(fn(t))
            bar.update()
        return out
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        out = []
        for r in pool.map(fn, tasks, chunksize=1):
            out.append(r)
            bar.update()
        return out


def run_tasks(specs: Sequence[MethodSpec], splits: Sequence[Split], features: Features,
              targets: np.ndarray, workers: int | None = None, progress: bool = True,
              desc: str = "splits") -> list[SplitResult]:
    """Run every method on every split; results in (method, split) order.

    First the hyper-parameter selections, one per distinct (method, selection clips, seed),
    so that splits sharing their training side (Setting 4's folds, Setting 3) share one;
    then the fits. ``workers`` processes (default: the CPU count, at most 8); 1 runs here.
    """
    targets = np.asarray(targets)
    pairs = [(i, j) for i in range(len(specs)) for j in range(len(splits))]
    keys = {}
    for i, j in pairs:
        sel = splits[j].selection_idx(targets)
        keys[(i, j)] = (i, splits[j].seed, sel.tobytes(), splits[j].selection_classes)
    first = {}
    for pair, key in keys.items():
        first.setdefault(key, pair)
    workers = min(workers or os.cpu_count() or 1, 8, max(len(pairs), 1))
    _SHARED.update(specs=list(specs), splits=list(splits), features=features, targets=targets)
    try:
        with tqdm(total=len(first) + len(pairs), desc=desc, disable=not progress,
                  unit="fit") as bar:
            chosen = dict(zip(first, _map(_select_task, list(first.values()), workers, bar),
                              strict=True))
            return _map(_fit_task, [(i, j, chosen[keys[(i, j)]]) for i, j in pairs], workers, bar)
    finally:
        _SHARED.clear()
