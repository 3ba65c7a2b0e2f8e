"""Run zero-shot methods over the splits of the ESC-50 settings.

Each (method, split) is one task: choose hyper-parameters on validation classes carved out of
the split's *training* classes (never its test classes), fit on the training clips, rank the
split's candidate classes for every test clip. Tasks are independent and run in worker
processes (fork: the features are shared, not copied).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from zsaudio.experiments.protocols import Split, SplitInfo
from zsaudio.model import METHODS, AudioFeatures, HeldOutClassSearch, SourceLabelSpace
from zsaudio.model.search import fit_method

TOP_K = 3
#: Seed of every hyper-parameter search (its validation classes and, for SGD methods, its runs):
#: a choice depends on the training classes, not on the seed of the split that uses it.
SELECTION_SEED = 0


@dataclass
class Features:
    """Per-clip inputs of the methods, rows aligned with the data set's present clips.

    ``audio``: the encoder's embeddings θ(x) (n, D) and class scores (n, K) (YAMNet's 521
    AudioSet classes; None for an encoder without a classifier head). ``class_embeddings``
    (50, d) embed the ESC-50 class labels (rows of classes the label encoder cannot embed are
    unused); ``source`` is the encoder's label space (for ConSE and the hybrids), or None,
    with every source text as a row (``rows``) when a soft-map method runs. ``audio.gated``
    holds the silence-gated embeddings when a method reads them (the few-shot soft map).
    """

    audio: AudioFeatures
    class_embeddings: np.ndarray
    source: SourceLabelSpace | None = None


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
    def trains(self) -> bool:
        """False for training-free methods (they still pick hyper-parameters on training classes)."""
        return not METHODS[self.method].training_free

    def search(self, seed: int) -> HeldOutClassSearch:
        """The search estimator of this method with this spec's parameters and grid."""
        return HeldOutClassSearch(self.method, self.params, self.grid, seed=seed)


@dataclass(frozen=True)
class SplitResult(SplitInfo):
    """One method on one split (its :class:`SplitInfo`): global class targets of the truth
    and the top-3 ranking, with the hyper-parameters it was given (``params``) and those it
    chose itself inside ``fit`` (``chosen``, e.g. a hybrid's mixing weight)."""

    method: str
    y_true: np.ndarray
    topk: np.ndarray
    params: dict
    chosen: dict = field(default_factory=dict)

    @property
    def top1(self) -> float:
        return float(np.mean(self.topk[:, 0] == self.y_true))

    @property
    def top3(self) -> float:
        return float(np.mean((self.topk[:, :TOP_K] == self.y_true[:, None]).any(axis=1)))


def class_indices(targets: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Row of each target in the sorted ``classes`` (the ``y`` of ``fit``); raises if a target
    is not among them, which would otherwise silently train on the wrong class."""
    idx = np.searchsorted(classes, targets)
    if np.any(idx >= len(classes)) or np.any(classes[np.minimum(idx, len(classes) - 1)] != targets):
        raise ValueError(f"targets {sorted(set(targets.tolist()) - set(classes.tolist()))} are not "
                         "among the training classes")
    return idx


def _audio(spec: MethodSpec, features: Features, rows: np.ndarray) -> AudioFeatures:
    """The audio features of clips ``rows`` that ``spec``'s method reads (the other fields are
    not copied)."""
    return features.audio.only(METHODS[spec.method].uses)[rows]


def _training_side(spec: MethodSpec, features: Features, train_idx: np.ndarray,
                   train_classes: Sequence[int], targets: np.ndarray) -> tuple:
    """(X, y, class_embeddings) of ``fit`` for the clips ``train_idx`` of ``train_classes``;
    all None without training classes (the 50-way protocol)."""
    classes = np.asarray(train_classes, dtype=int)
    if len(classes) == 0:
        return None, None, None
    return (_audio(spec, features, train_idx), class_indices(targets[train_idx], classes),
            features.class_embeddings[classes])


def select_for_split(spec: MethodSpec, features: Features, train_idx: np.ndarray,
                     train_classes: Sequence[int], targets: np.ndarray, seed: int) -> dict:
    """Hyper-parameters of ``spec`` chosen on validation classes held out of ``train_classes``
    (their clips ``train_idx``): the grid's best, or the defaults when there is no grid or
    too few classes (:class:`zsaudio.model.HeldOutClassSearch`)."""
    X, y, E = _training_side(spec, features, train_idx, train_classes, targets)
    return spec.search(seed).select(X, y, E, _source(spec, features))[0]


def _source(spec: MethodSpec, features: Features) -> SourceLabelSpace | None:
    """``features.source`` for ``spec``'s method; a clear error for a soft-map method whose
    label space was built without the source texts as rows (it would otherwise fall back to
    one text per class and report another method than it says)."""
    if METHODS[spec.method].needs_source_rows and (
            features.source is None or features.source.rows is None):
        raise ValueError(f"{spec.label} needs the source texts as rows: build Features.source "
                         "with encoder_label_space(..., text_rows=True)")
    return features.source


def run_split(spec: MethodSpec, split: Split, features: Features, targets: np.ndarray,
              params: dict | None = None) -> SplitResult:
    """Fit ``spec`` on the split's training side and rank its candidates for the test clips.

    ``params``: hyper-parameters already selected for this split's training side (default:
    select now, with :data:`SELECTION_SEED`); a ``seed`` among them becomes the split's seed.
    """
    if params is None:
        params = select_for_split(spec, features, split.selection_idx(targets),
                                  split.selection_classes, targets, SELECTION_SEED)
    if "seed" in params:  # the split's seed drives the training; the search used SELECTION_SEED
        params = {**params, "seed": split.seed}
    X, y, E = _training_side(spec, features, split.train_idx, split.train_classes, targets)
    estimator = fit_method(spec.method, params, X, y, E, _source(spec, features))
    candidates = np.asarray(split.test_classes)
    k = min(TOP_K, len(candidates))
    topk = candidates[estimator.predict_topk(_audio(spec, features, split.test_idx),
                                             features.class_embeddings[candidates], k)]
    return SplitResult(**vars(split.info()), method=spec.label, y_true=targets[split.test_idx],
                       topk=topk, params=params, chosen=estimator.chosen_params())


# Fork-shared state of the worker processes (set before the pool starts).
_SHARED: dict = {}


def _select_task(task: tuple[int, int]) -> dict:
    spec_i, split_i = task
    split, targets = _SHARED["splits"][split_i], _SHARED["targets"]
    return select_for_split(_SHARED["specs"][spec_i], _SHARED["features"],
                            split.selection_idx(targets), split.selection_classes, targets,
                            SELECTION_SEED)


def _fit_task(task: tuple[int, int, dict]) -> SplitResult:
    spec_i, split_i, params = task
    return run_split(_SHARED["specs"][spec_i], _SHARED["splits"][split_i], _SHARED["features"],
                     _SHARED["targets"], params)


def _one_blas_thread() -> None:
    """Initializer of a worker process: one BLAS thread for its whole life (the workers are the
    parallelism). Set once per worker: building the limits scans the loaded libraries, which
    cost more than many a task. It limits the libraries loaded at the fork (numpy's and SciPy's
    OpenBLAS, imported with the model layer before any task runs)."""
    threadpool_limits(1)


def _map(fn, tasks: list, workers: int, bar) -> list:
    if workers == 1:
        out = []
        with threadpool_limits(1):  # one BLAS thread, as in a worker: the same arithmetic
            for t in tasks:
                out.append(fn(t))
                bar.update()
        return out
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_one_blas_thread) as pool:
        out = []
        for r in pool.map(fn, tasks, chunksize=1):
            out.append(r)
            bar.update()
        return out


def run_tasks(specs: Sequence[MethodSpec], splits: Sequence[Split], features: Features,
              targets: np.ndarray, workers: int | None = None, progress: bool = True,
              desc: str = "splits") -> list[SplitResult]:
    """Run every method on every split; results in (method, split) order.

    First the hyper-parameter selections, one per method and distinct training side (the
    selection clips and classes), made with :data:`SELECTION_SEED`: splits that share their
    training classes share one choice whatever their seed (Setting 3's seeds, Setting 4's folds,
    Setting 2's seeds). Then the fits, each with its split's seed (SGD sample order, the
    hybrids' inner validation splits; the few-shot draw is the split's own). ``workers``
    processes (default: the CPU count, at most 8); 1 runs here.
    """
    targets = np.asarray(targets)
    pairs = [(i, j) for i in range(len(specs)) for j in range(len(splits))]
    keys = {}
    for i, j in pairs:
        sel = splits[j].selection_idx(targets)
        keys[(i, j)] = (i, sel.tobytes(), splits[j].selection_classes)
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
