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

Input: :class:`~zsaudio.model.features.AudioFeatures` with ``scores`` and ``gated`` (``uses =
("scores", "gated")``; the mean-pooling ablation reads ``embeddings`` instead of ``gated``),
and ``fit(..., source=SourceLabelSpace)`` with the source texts as rows (``needs_source_rows``).

Example
-------
>>> import numpy as np
>>> from zsaudio.model.features import AudioFeatures, SourceLabelSpace
>>> rng = np.random.default_rng(0)
>>> K, D, d = 12, 6, 4
>>> S = SourceLabelSpace.from_vectors(rng.normal(size=(K, d)))  # one text per source class
>>> E = rng.normal(size=(8, d))                          # 8 training classes
>>> y = np.repeat(np.arange(8), 10)
>>> G = rng.normal(size=(8, D))[y] + 0.1 * rng.normal(size=(80, D))
>>> X = AudioFeatures(scores=rng.uniform(size=(80, K)), gated=G)
>>> est = SoftMapFewShot(n_episodes=2).fit(X, y, E, source=S)
>>> est.decision_function(X[:3], E[:4]).shape
(3, 4)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zsaudio.model.base import ZeroShotEstimator, l2_normalize_rows
from zsaudio.model.features import AudioFeatures, SourceLabelSpace
from zsaudio.model.fewshot import match_rows, simulated_episodes
from zsaudio.model.grid import search_grid
from zsaudio.model.hybrid import validation_table, zscore_rows
from zsaudio.model.softmap import DEFAULT_SOURCE_TEXT, DEFAULT_TAU, SOURCE_TEXT_CHOICES, SoftMap
from zsaudio.model.splits import topk_accuracy

__all__ = ["MeanPooledSoftMapFewShot", "SoftMapFewShot", "class_prototypes", "mix_zscores"]

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
    softmap_ : SoftMap
        The zero-shot part with ``tau_`` and ``source_text_`` on the stored source label space
        (training-free, so derived: ``rebuilt_on_load``).
    source_* : the encoder's label space and its text rows (base class).
    """

    method_name = "softmap-fewshot"
    uses = ("scores", "gated")
    needs_source = True
    needs_source_rows = True
    rebuilt_on_load = ("softmap_",)
    #: The AudioFeatures field the prototypes are built from.
    prototype_field = "gated"

    def __init__(
        self,
        taus: tuple = DEFAULT_TAUS,
        source_texts: tuple = tuple(SOURCE_TEXT_CHOICES),
        weights: tuple = DEFAULT_WEIGHTS,
        n_shots: int = 5,
        n_episodes: int = 5,
        val_fraction: float = 0.25,
        seed: int = 0,
    ) -> None:
        self.taus = taus
        self.source_texts = source_texts
        self.weights = weights
        self.n_shots = n_shots
        self.n_episodes = n_episodes
        self.val_fraction = val_fraction
        self.seed = seed

    def _check_params(self) -> None:
        if len(self.weights) == 0 or any(not 0 <= w <= 1 for w in self.weights):
            raise ValueError(f"weights must be in [0, 1], got {self.weights!r}")
        if len(self.taus) == 0 or len(self.source_texts) == 0:
            raise ValueError("taus and source_texts must not be empty")
        bad = [t for t in self.source_texts if t not in SOURCE_TEXT_CHOICES]
        if bad:
            raise ValueError(f"source_texts must be in {sorted(SOURCE_TEXT_CHOICES)}, got {bad}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction!r}")

    def _rebuild(self) -> None:
        self._fit_softmap(self._source())

    def _fit_softmap(self, source: SourceLabelSpace) -> None:
        self.softmap_ = SoftMap(tau=self.tau_, source_text=self.source_text_).fit(source=source)

    def _fit(self, X: AudioFeatures, y: np.ndarray, E: np.ndarray) -> None:
        """The soft map's settings zero-shot on validation classes of the many-clip classes,
        then the weight w by simulated 5-shot episodes, then every class's prototype."""
        proto_features, scores = getattr(X, self.prototype_field), X.scores
        present, counts = np.unique(y, return_counts=True)
        many = present[counts > self.n_shots]
        self.tau_, self.source_text_ = DEFAULT_TAU, DEFAULT_SOURCE_TEXT
        source = self._source()  # one label space for the search and the soft map: checked once
        if many.size >= 8:  # 25 % of them (>= 2) as validation classes
            on = np.isin(y, many)
            sel = search_grid(
                SoftMap, {"tau": list(self.taus), "source_text": list(self.source_texts)},
                scores[on], np.searchsorted(many, y[on]), E[many], n_val_classes=self.val_fraction,
                n_splits=min(2, int(self.n_episodes)), seed=self.seed, source=source)
            self.tau_ = float(sel.best_params["tau"])
            self.source_text_ = str(sel.best_params["source_text"])
        self._fit_softmap(source)
        # The weight w, by simulated episodes (the soft map needs no refit: training-free).
        results: dict[tuple, list[float]] = {}
        for val, shots, query in simulated_episodes(y, self.n_shots, self.val_fraction,
                                                    self.n_episodes, self.seed):
            z_soft = self.softmap_.decision_function(scores[query], E[val])
            proto = class_prototypes(proto_features[shots], y[shots], val)
            cos = l2_normalize_rows(proto_features[query]) @ proto.T
            y_query = np.searchsorted(val, y[query])
            z_zero, z_few = zscore_rows(z_soft), zscore_rows(cos)  # the same for every w
            for w in self.weights:
                mixed = w * z_zero + (1 - w) * z_few  # mix_zscores(z_soft, cos, w)
                results.setdefault((float(w),), []).append(topk_accuracy(mixed, y_query))
        (self.weight_,) = validation_table(self, results, (1.0,))
        with_clips = np.unique(y)
        self.prototypes_ = class_prototypes(proto_features, y, with_clips)
        self.prototype_class_embeddings_ = E[with_clips]

    def chosen_params(self) -> dict[str, Any]:
        """The soft map's tau and source texts and the weight w, chosen in ``fit``."""
        self._check_fitted()
        return {"tau": float(self.tau_), "source_text": str(self.source_text_),
                "weight": float(self.weight_)}

    def _decision_function(self, X: AudioFeatures, class_embeddings: np.ndarray) -> np.ndarray:
        """Mixed z-scores when every candidate has a prototype, else the soft map's scores."""
        zero_shot = self.softmap_.decision_function(X.scores, class_embeddings)
        match = match_rows(class_embeddings, self.prototype_class_embeddings_)
        if self.weight_ == 1.0 or np.any(match < 0):
            return zero_shot
        cos = l2_normalize_rows(getattr(X, self.prototype_field)) @ self.prototypes_[match].T
        return mix_zscores(zero_shot, cos, self.weight_)


class MeanPooledSoftMapFewShot(SoftMapFewShot):
    """:class:`SoftMapFewShot` with prototypes of the plain-mean clip embeddings (``uses =
    ("embeddings", "scores")``): the ablation of the silence-gated pooling."""

    method_name = "softmap-fewshot-mean"
    uses = ("embeddings", "scores")
    prototype_field = "embeddings"
