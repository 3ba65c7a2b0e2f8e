"""Calibrated probabilities: the softmax temperature fitted on validation classes.

Compatibility scores of different methods live on different scales (ConSE: cosines in
[-1, 1]; the bilinear model: unbounded). The classifier reports ``softmax(scores / T)`` over
the candidates of a call, with T minimising the negative log-likelihood of the true class on
*validation classes*: the training classes are split into (at most) :data:`TEMPERATURE_GROUPS`
groups; for each group the method (with its chosen hyper-parameters) is fitted on the other
groups' clips and scores the group's clips zero-shot against the group's classes only; T
minimises the NLL pooled over all groups (a 1-D bounded search over log T). So T is
calibrated for labels the model never heard, which is how ``classify`` is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zsaudio.model.features import SourceLabelSpace
from zsaudio.model.search import fit_method

__all__ = ["FALLBACK_TEMPERATURE", "fit_nll", "fit_temperature", "validation_temperature"]

# Temperature when too few training classes exist to fit one on validation classes.
FALLBACK_TEMPERATURE = 1.0
# Bounds of the temperature search (scores of every method here are O(0.01) to O(100)).
TEMPERATURE_BOUNDS = (1e-4, 1e4)
# At most this many validation groups of training classes for fitting the temperature.
TEMPERATURE_GROUPS = 4


def fit_temperature(scores: Sequence[np.ndarray], truth: Sequence[np.ndarray]) -> tuple[float, float]:
    """The temperature minimising the mean NLL of the true candidates.

    Parameters
    ----------
    scores : sequence of np.ndarray, each shape (n_i, C_i)
        Compatibility scores of validation clips against each group's candidates (groups
        may have different numbers of candidates).
    truth : sequence of np.ndarray, each shape (n_i,)
        Index of each clip's true candidate.

    Returns
    -------
    temperature : float
        In :data:`TEMPERATURE_BOUNDS`.
    nll : float
        Mean NLL (nats per clip) at that temperature.

    Example
    -------
    >>> s = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    >>> t, nll = fit_temperature([s], [np.array([0, 0, 0, 1])])  # 3 of 4 right
    >>> round(1 / t, 2)  # softmax(s / T) gives the true class 3/4: 1/T = log 3
    1.1
    """
    pairs = [(np.asarray(s, np.float64), np.asarray(t, int)) for s, t in zip(scores, truth, strict=True)
             if len(t)]
    if not pairs:
        raise ValueError("no validation clips to fit a temperature on")
    kept_scores, kept_truth = [s for s, _ in pairs], [t for _, t in pairs]

    def nll(log_t: float) -> float:
        return fit_nll(kept_scores, kept_truth, float(np.exp(log_t)))

    # Imported here: scipy.optimize is 0.4 s of every command's start-up, and only fitting a
    # classifier calibrates.
    from scipy.optimize import minimize_scalar

    lo, hi = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    res = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x)), float(res.fun)


def fit_nll(scores: Sequence[np.ndarray], truth: Sequence[np.ndarray], temperature: float) -> float:
    """Mean NLL (nats per clip) of the true candidates under ``softmax(scores / temperature)``,
    computed with log-sum-exp (no underflow for confident wrong answers)."""
    total, n = 0.0, 0
    for s, t in zip(scores, truth, strict=True):
        z = np.asarray(s, np.float64) / temperature
        z = z - z.max(axis=1, keepdims=True)
        t = np.asarray(t, int)
        total += float(np.sum(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(t)), t]))
        n += len(t)
    return total / max(n, 1)


def validation_temperature(method: str, params: dict[str, Any], X: Any, y: np.ndarray,
                           class_embeddings: np.ndarray, source: SourceLabelSpace | None,
                           seed: int) -> tuple[float, dict[str, Any]]:
    """Fit T on validation-class groups of the training classes (module docstring).

    Parameters
    ----------
    method, params : the method and the hyper-parameters it was fitted with
    X : AudioFeatures, n rows
    y : np.ndarray of int, shape (n,)
        Row of ``class_embeddings`` (C, d) of each clip's class.
    source : SourceLabelSpace or None
    seed : int
        Seeds the grouping of the classes.

    Returns
    -------
    (temperature, record)
        ``record`` says whether T was fitted and how (saved in the model file).
    """
    n_classes = len(class_embeddings)
    if n_classes < 4:
        return FALLBACK_TEMPERATURE, {"fitted": False, "reason": f"only {n_classes} training classes"}
    rng = np.random.default_rng(seed)
    groups = np.array_split(rng.permutation(n_classes), min(TEMPERATURE_GROUPS, n_classes // 2))
    all_scores, all_truth, skipped = [], [], []
    for group in groups:
        val = np.sort(group)
        train = np.setdiff1d(np.arange(n_classes), val)
        fit_rows = np.flatnonzero(np.isin(y, train))
        try:
            est = fit_method(method, params, X[fit_rows], np.searchsorted(train, y[fit_rows]),
                             class_embeddings[train], source)
        except ValueError as err:  # e.g. a hybrid needing more training classes
            skipped.append(str(err))
            continue
        val_rows = np.flatnonzero(np.isin(y, val))
        all_scores.append(est.decision_function(X[val_rows], class_embeddings[val]))
        all_truth.append(np.searchsorted(val, y[val_rows]))
    if not all_scores:
        return FALLBACK_TEMPERATURE, {"fitted": False, "reason": "; ".join(skipped)}
    t, nll = fit_temperature(all_scores, all_truth)
    n_val = int(sum(len(t_) for t_ in all_truth))
    return t, {"fitted": True, "nll": nll, "nll_at_1": fit_nll(all_scores, all_truth, 1.0),
               "groups": len(all_scores), "validation_clips": n_val, "skipped_groups": skipped,
               "rule": "argmin_T mean NLL of softmax(scores/T) on validation-class groups, "
                       "each scored zero-shot by a model fitted on the other training classes"}
