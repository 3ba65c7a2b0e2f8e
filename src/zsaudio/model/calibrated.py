"""Calibrated stacking for generalized zero-shot classification (Chao et al., ECCV 2016).

A model trained on seen classes scores them far above any unseen class, so when seen and
unseen classes are candidates together (GZSL) it almost never predicts an unseen one (H ~ 0).
Calibrated stacking subtracts a constant gamma from the scores of the seen candidates:

    score'(x, y) = z(score(x, .))_y - gamma * [y is a seen class]

(z: per-clip standardisation over the candidates, so that gamma is in units of a clip's score
spread whatever the method's scale). gamma is chosen on the training data alone: some
training classes are held out as pseudo-unseen classes and some clips of the others as
seen test clips; the model is fitted on the rest, and the gamma with the best harmonic mean
H of seen and unseen accuracy (all training classes as candidates) wins.

Example
-------
>>> import numpy as np
>>> calibrated_stacking(np.array([[2.0, 1.0]]), np.array([True, False]), 0.5)
array([[ 0.5, -1. ]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zsaudio.model.base import ZeroShotEstimator
from zsaudio.model.baselines import ESZSL, SJE, DeViSE
from zsaudio.model.bilinear import BilinearZSL
from zsaudio.model.fewshot import match_rows
from zsaudio.model.hybrid import validation_table, zscore_rows
from zsaudio.model.torch_bilinear import BilinearTorch

__all__ = ["CalibratedStacking", "calibrated_stacking", "harmonic_mean_accuracy"]

DEFAULT_GAMMAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
#: The methods calibrated stacking can wrap: trained on audio embeddings alone (the model
#: modules sit below the registry, so they are listed here rather than looked up in it).
BASE_METHODS: dict[str, type[ZeroShotEstimator]] = {
    cls.method_name: cls for cls in (BilinearZSL, ESZSL, SJE, DeViSE, BilinearTorch)}


def calibrated_stacking(scores: np.ndarray, seen: np.ndarray, gamma: float) -> np.ndarray:
    """``z(scores) - gamma * seen`` per clip.

    Parameters
    ----------
    scores : np.ndarray, shape (n, C)
    seen : np.ndarray of bool, shape (C,)
        True for candidates that are training classes.
    gamma : float

    Returns
    -------
    np.ndarray, shape (n, C), float64
    """
    return zscore_rows(np.asarray(scores, np.float64)) - float(gamma) * np.asarray(seen, float)


def harmonic_mean_accuracy(pred: np.ndarray, truth: np.ndarray, seen_clip: np.ndarray) -> float:
    """H = 2 s u / (s + u) of top-1 accuracy s on seen clips and u on unseen clips (0 if both
    are 0).

    >>> harmonic_mean_accuracy(np.array([0, 1, 1, 2]), np.array([0, 0, 1, 2]),
    ...                        np.array([True, True, False, False]))
    0.6666666666666666
    """
    hit = np.asarray(pred) == np.asarray(truth)
    s, u = float(hit[seen_clip].mean()), float(hit[~seen_clip].mean())
    return 0.0 if s + u == 0 else 2 * s * u / (s + u)


class CalibratedStacking(ZeroShotEstimator):
    """A trained zero-shot method with calibrated stacking for GZSL.

    Parameters
    ----------
    base : str, default "eszsl"
        A key of :data:`BASE_METHODS` (a trained method on audio embeddings).
    base_params : dict, optional
        Its hyper-parameters (fixed; default: its defaults).
    gammas : sequence of float, default (0, 0.25, ..., 4)
        Candidate gamma (in per-clip standard deviations of the scores).
    n_val_splits : int, default 2
    val_fraction : float, default 0.25
        Fraction of the training classes held out as pseudo-unseen (>= 2), and of the other
        classes' clips held out as seen test clips.
    seed : int, default 0

    Attributes
    ----------
    gamma_ : float
        The chosen gamma (0 when no validation was possible).
    validation_grid_, validation_accuracy_ : the gammas tried and their mean H.
    seen_class_embeddings_ : np.ndarray, shape (S, d)
        The training classes with clips (candidates matching them are "seen").
    base_ : ZeroShotEstimator
        The base method fitted on every training clip (a sub-estimator, saved with its
        hyper-parameters and method name).
    """

    method_name = "calibrated-stacking"
    uses = ("embeddings",)
    sub_estimators = {"base_": tuple(BASE_METHODS.values())}

    def __init__(self, base: str = "eszsl", base_params: dict | None = None,
                 gammas: tuple = DEFAULT_GAMMAS, n_val_splits: int = 2,
                 val_fraction: float = 0.25, seed: int = 0) -> None:
        self.base = base
        self.base_params = base_params
        self.gammas = gammas
        self.n_val_splits = n_val_splits
        self.val_fraction = val_fraction
        self.seed = seed

    def _check_params(self) -> None:
        if self.base not in BASE_METHODS:
            raise ValueError(f"base must be a trained method on audio embeddings, one of "
                             f"{sorted(BASE_METHODS)}, got {self.base!r}")

    def _new_base(self) -> ZeroShotEstimator:
        cls = BASE_METHODS[self.base]
        params = dict(self.base_params or {})
        if "seed" in cls._param_names():
            params.setdefault("seed", self.seed)
        return cls(**params)

    def _fit(self, X: np.ndarray, y: np.ndarray, class_embeddings: np.ndarray) -> None:
        E = class_embeddings
        present = np.unique(y)
        rng = np.random.default_rng(self.seed)
        n_val = int(round(self.val_fraction * present.size))
        results: dict[tuple, list[float]] = {}
        if n_val >= 2 and present.size - n_val >= 2:
            for _ in range(int(self.n_val_splits)):
                unseen = rng.choice(present, size=n_val, replace=False)
                seen = np.setdiff1d(present, unseen)
                seen_clips = np.flatnonzero(np.isin(y, seen))
                held = rng.random(seen_clips.size) < self.val_fraction
                train, test_seen = seen_clips[~held], seen_clips[held]
                test = np.concatenate([test_seen, np.flatnonzero(np.isin(y, unseen))])
                model = self._new_base().fit(X[train], np.searchsorted(seen, y[train]), E[seen])
                S = model.decision_function(X[test], E[present])
                truth = np.searchsorted(present, y[test])
                is_seen = np.isin(present, seen)
                seen_clip = np.isin(y[test], seen)
                for g in self.gammas:
                    pred = np.argmax(calibrated_stacking(S, is_seen, g), axis=1)
                    results.setdefault((float(g),), []).append(
                        harmonic_mean_accuracy(pred, truth, seen_clip))
        (self.gamma_,) = validation_table(self, results, (0.0,))
        self.base_ = self._new_base().fit(X, y, E)
        self.seen_class_embeddings_ = E[present]

    def chosen_params(self) -> dict[str, Any]:
        """The gamma chosen in ``fit``."""
        self._check_fitted()
        return {"gamma": float(self.gamma_)}

    def _decision_function(self, X: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
        """Calibrated z-scores, shape (n, C): seen candidates lowered by gamma."""
        S = self.base_.decision_function(X, class_embeddings)
        seen = match_rows(class_embeddings, self.seen_class_embeddings_) >= 0
        return calibrated_stacking(S, seen, self.gamma_)
