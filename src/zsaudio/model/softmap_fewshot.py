"""Few-shot classification with silence-gated prototypes and a share of the soft map.

When every candidate label has a few clips (ESC-50 Setting 4: 5 per class), each candidate
gets a prototype: the L2-normalised mean of its clips' silence-gated, power-normalised
embeddings (:func:`zsaudio.embeddings.pooling.silence_gated_pool`). A clip is scored against
the candidates by

    w * z(soft map scores) + (1 - w) * z(cosine to the prototypes)

(z: per-clip standardisation over the candidates, as the two live on different scales). The
soft map's temperature and source texts are chosen on validation classes (zero-shot), and w
by simulated few-shot episodes, both on the training classes that have more clips than the
shots (never on the few-shot classes). When some candidate has no clips, the scores are the
soft map's alone (zero-shot).

Input: ``input_kind = "gated+scores"``, X = ``np.hstack([gated_embeddings, scores])``, shape
(n, D + K), K given by ``n_scores`` (:class:`zsaudio.experiments.runner.Features`).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> K, D, d = 12, 6, 4
>>> S = rng.normal(size=(K, d))                          # source texts, one per class
>>> E = rng.normal(size=(8, d))                          # 8 training classes
>>> y = np.repeat(np.arange(8), 10)
>>> G = rng.normal(size=(8, D))[y] + 0.1 * rng.normal(size=(80, D))
>>> X = np.hstack([G, rng.uniform(size=(80, K))])
>>> est = SoftMapFewShot(n_scores=K, n_episodes=2).fit(X, y, E, source_embeddings=S)
>>> est.decision_function(X[:3], E[:4]).shape
(3, 4)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zsaudio.model.base import ZeroShotEstimator, check_fit_inputs, l2_normalize_rows
from zsaudio.model.fewshot import match_rows, simulated_episodes
from zsaudio.model.hybrid import _accuracy, split_both, validation_table, zscore_rows
from zsaudio.model.selection import select_hyperparameters
from zsaudio.model.softmap import DEFAULT_SOURCE_TEXT, DEFAULT_TAU, SOURCE_TEXT_CHOICES, SoftMap

__all__ = ["SoftMapFewShot", "class_prototypes", "mix_zscores"]

DEFAULT_TAUS = (0.01, 0.02, 0.03, 0.05, 0.1)
DEFAULT_WEIGHTS = (1.0, 0.75, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.0)


def class_prototypes(features: np.ndarray, y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """L2-normalised mean of the (L2-normalised) feature rows of each class.

    Parameters
    ----------
    features : np.ndarray, shape (n, D)
    y : np.ndarray of int, shape (n,)
    classes : np.ndarray of int, shape (P,)
        Each must have at least one row in ``y``.

    Returns
    -------
    np.ndarray, shape (P, D), float64

    >>> class_prototypes(np.array([[3.0, 4.0], [1.0, 0.0]]), np.array([0, 1]), np.array([1]))
    array([[1., 0.]])
    """
    F = l2_normalize_rows(np.asarray(features, np.float64))
    return l2_normalize_rows(np.stack([F[y == c].mean(axis=0) for c in classes]))


def mix_zscores(zero_shot: np.ndarray, few_shot: np.ndarray, weight: float) -> np.ndarray:
    """``weight * z(zero_shot) + (1 - weight) * z(few_shot)``, z per row; shapes (n, C).

    >>> mix_zscores(np.array([[0.0, 2.0]]), np.array([[1.0, 0.0]]), 0.5)
    array([[0., 0.]])
    """
    return weight * zscore_rows(zero_shot) + (1 - weight) * zscore_rows(few_shot)


class SoftMapFewShot(ZeroShotEstimator):
    """Soft map plus silence-gated prototypes when every candidate has clips.

    Parameters
    ----------
    n_scores : int, default 521
        K, the class scores at the end of each row of X (X = [gated embedding, scores]).
    taus : sequence of float, default (0.01, 0.02, 0.03, 0.05, 0.1)
        Candidate temperatures of the soft map.
    source_texts : sequence of str, default all of :data:`SOURCE_TEXT_CHOICES`
        Candidate source-text choices of the soft map.
    weights : sequence of float in [0, 1], default (1.0, 0.75, 0.5, ..., 0.05, 0.0)
        Candidate weights w of the soft map (1 = soft map alone, 0 = prototypes alone).
    n_shots : int, default 5
        Shots per class in the simulated episodes (ESC-50 Setting 4: 5).
    n_episodes : int, default 5
        Simulated episodes (and validation splits of the soft map's search: 2 at most).
    val_fraction : float, default 0.25
        Fraction of the many-clip training classes held out per episode / split.
    seed : int, default 0

    Attributes
    ----------
    tau_, source_text_ : the soft map's chosen settings.
    weight_ : float
        The chosen w.
    validation_grid_ : np.ndarray, shape (m, 1); validation_accuracy_ : shape (m,)
        Every w tried and its mean episode accuracy (NaN: no episode could be simulated).
    prototypes_ : np.ndarray, shape (P, D)
        Prototype of each training class with clips.
    prototype_class_embeddings_ : np.ndarray, shape (P, d)
        Their label embeddings (the rows candidates are matched against).
    source_rows_, source_owner_ : the soft map's source texts (see :class:`SoftMap`).
    """

    method_name = "softmap-fewshot"
    input_kind = "gated+scores"
    source_rows_input = True

    def __init__(
        self,
        n_scores: int = 521,
        taus: tuple = DEFAULT_TAUS,
        source_texts: tuple = tuple(SOURCE_TEXT_CHOICES),
        weights: tuple = DEFAULT_WEIGHTS,
        n_shots: int = 5,
        n_episodes: int = 5,
        val_fraction: float = 0.25,
        seed: int = 0,
    ) -> None:
        self.n_scores = n_scores
        self.taus = taus
        self.source_texts = source_texts
        self.weights = weights
        self.n_shots = n_shots
        self.n_episodes = n_episodes
        self.val_fraction = val_fraction
        self.seed = seed

    def _soft_map(self) -> SoftMap:
        soft = SoftMap(tau=self.tau_, source_text=self.source_text_)
        # Rows already filtered by kind at fit: pass them as one text kind-less set.
        return soft.fit(source_embeddings=self.source_rows_, source_owner=self.source_owner_,
                        n_sources=int(self.n_scores))

    def fit(self, X: Any, y: Any, class_embeddings: Any, *, source_embeddings: Any,
            source_owner: Any = None, source_kind: Any = None, n_sources: int | None = None,
            source_mask: Any = None) -> SoftMapFewShot:
        """Fit on labelled clips of the training classes (few-shot classes included).

        Parameters
        ----------
        X : array, shape (n, D + n_scores)
            ``np.hstack([gated_embeddings, scores])``.
        y : array of int, shape (n,)
        class_embeddings : array, shape (C, d)
        source_embeddings, source_owner, source_kind, n_sources, source_mask
            The source texts as rows (see :meth:`SoftMap.fit`).

        Returns
        -------
        self
        """
        if len(self.weights) == 0 or any(not 0 <= w <= 1 for w in self.weights):
            raise ValueError(f"weights must be in [0, 1], got {self.weights!r}")
        X, y, E = check_fit_inputs(X, y, class_embeddings)
        gated, scores = split_both(X, self.n_scores)
        source = {"source_embeddings": source_embeddings, "source_owner": source_owner,
                  "source_kind": source_kind, "n_sources": n_sources or int(self.n_scores),
                  "source_mask": source_mask}
        # The soft map's settings, zero-shot on validation classes of the many-clip classes.
        present, counts = np.unique(y, return_counts=True)
        many = present[counts > self.n_shots]
        self.tau_, self.source_text_ = DEFAULT_TAU, DEFAULT_SOURCE_TEXT
        if many.size >= 8:  # 25 % of them (>= 2) as validation classes
            on = np.isin(y, many)
            sel = select_hyperparameters(
                "softmap", {"tau": list(self.taus), "source_text": list(self.source_texts)},
                scores[on], np.searchsorted(many, y[on]), E[many], n_val_classes=self.val_fraction,
                n_splits=min(2, int(self.n_episodes)), seed=self.seed, fit_params=source)
            self.tau_ = float(sel.best_params["tau"])
            self.source_text_ = str(sel.best_params["source_text"])
        soft = SoftMap(tau=self.tau_, source_text=self.source_text_).fit(**source)
        self.source_rows_, self.source_owner_ = soft.source_rows_, soft.source_owner_
        # The weight w, by simulated episodes (the soft map needs no refit: training-free).
        results: dict[tuple, list[float]] = {}
        for val, shots, query in simulated_episodes(y, self.n_shots, self.val_fraction,
                                                    self.n_episodes, self.seed):
            z_soft = soft.decision_function(scores[query], E[val])
            proto = class_prototypes(gated[shots], y[shots], val)
            cos = l2_normalize_rows(gated[query]) @ proto.T
            y_query = np.searchsorted(val, y[query])
            for w in self.weights:
                results.setdefault((float(w),), []).append(
                    _accuracy(mix_zscores(z_soft, cos, w), y_query))
        (self.weight_,) = validation_table(self, results, (1.0,))
        with_clips = np.unique(y)
        self.prototypes_ = class_prototypes(gated, y, with_clips)
        self.prototype_class_embeddings_ = E[with_clips]
        self.n_features_in_ = X.shape[1]
        self.embedding_dim_ = E.shape[1]
        self.n_classes_ = E.shape[0]
        return self

    def chosen_params(self) -> dict[str, Any]:
        """The soft map's tau and source texts and the weight w, chosen in ``fit``."""
        self._check_fitted()
        return {"tau": float(self.tau_), "source_text": str(self.source_text_),
                "weight": float(self.weight_)}

    def _decision_function(self, X: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
        """Mixed z-scores when every candidate has a prototype, else the soft map's scores."""
        gated, scores = split_both(X, self.n_scores)
        zero_shot = self._soft_map().decision_function(scores, class_embeddings)
        match = match_rows(class_embeddings, self.prototype_class_embeddings_)
        if self.weight_ == 1.0 or np.any(match < 0):
            return zero_shot
        cos = l2_normalize_rows(gated) @ self.prototypes_[match].T
        return mix_zscores(zero_shot, cos, self.weight_)


class MeanPooledSoftMapFewShot(SoftMapFewShot):
    """:class:`SoftMapFewShot` on plain-mean clip embeddings (``input_kind = "both"``, X =
    [mean embedding, scores]): the ablation of the silence-gated pooling."""

    method_name = "softmap-fewshot-mean"
    input_kind = "both"
