"""Few-shot-aware hybrid: anchored ConSE plus class prototypes for candidates with audio.

Zero-shot models rank classes from their label embeddings alone. When a few labelled clips of
a candidate class *are* available (ESC-50's Setting 4: 5 clips of each test class among the
training data), the mean of their audio features, a class *prototype*, is strong evidence of
its own. :class:`FewShotConSE` mixes the two:

    s(x, c) = w * z(anchored ConSE cosine(x, c)) + (1 - w) * z(cosine(g(x), p_c)),

z = per-clip standardisation over the candidates (the two parts live on different scales),
g(x) a feature map of the clip and p_c the L2-normalised mean of g over the training clips of
class c. The zero-shot part is :class:`zsaudio.model.hybrid.AnchoredConSE`, fitted on all
training clips (those of the few-shot classes included), so w = 1 is exactly conse-anchored.

Choosing w and g inside ``fit``, never on test classes: simulated few-shot episodes on the
training classes. Each episode holds out ``val_fraction`` of the training classes that have
at least ``n_shots + 1`` clips (the "many-clip" classes) as validation classes, keeps
``n_shots`` random clips of each (the "shots"), fits the zero-shot part (with the shrinkage
lam that the zero-shot part fitted on all training clips chose) and the feature statistics on
every other training clip plus those shots (as at test time, when the few-shot classes' shots
are part of the training data), builds the validation classes' prototypes from their shots
and scores every (feature space, w) on the validation classes' other clips, ranked among the
validation classes only. The grid point with the best mean accuracy over
``n_val_splits`` seeded episodes wins (ties: the earlier one in grid order, feature spaces
first then weights, so within a feature space the more zero-shot one).

Rules
-----
- Which candidates have a prototype: every training class with at least one clip gets one,
  the mean of its clips' normalised features, however few clips it has (one clip: that clip).
  A candidate row of ``class_embeddings`` at predict time *is* training class c when their
  cosine is >= 1 - 1e-6 (the same label text through the same label encoder gives the same
  row; a zero row matches nothing). Should several training classes match, the most similar
  (then the first) is used.
- The prototype term is used only when EVERY candidate has a prototype (and w < 1). Otherwise
  the scores are the zero-shot part's alone, unchanged: zero-shot settings, generalized
  zero-shot (seen and unseen candidates together) and any candidate set with a class without
  audio rank exactly as ``conse-anchored`` does. Mixing prototype scores for some candidates
  only would favour the candidates with audio.
- Too few many-clip classes to hold out >= 2 (with >= 2 other training classes left): no
  episode can be simulated; w = 1 (the zero-shot part alone), validation accuracy NaN.

Inputs: :class:`~zsaudio.model.features.AudioFeatures` with the audio embeddings (n, D) and
the encoder's K class scores (n, K), and in ``fit`` the encoder's label space ``source``.
Feature spaces g:

- ``"embedding"``: the audio embedding, standardised with the training clips' statistics and
  L2-normalised (:class:`zsaudio.model.base.FeatureStandardizer`);
- ``"scores"``: the K class scores, standardised and L2-normalised the same way;
- ``"semantic"``: the zero-shot part's refined ConSE vector f(x) V, L2-normalised.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> from zsaudio.model.features import SourceLabelSpace
>>> S = SourceLabelSpace([f"source {k}" for k in range(30)], rng.normal(size=(30, 8)))
>>> E = rng.normal(size=(12, 8))                                 # 12 training classes
>>> scores, emb, y = rng.uniform(size=(120, 30)), rng.normal(size=(120, 16)), np.arange(120) % 12
>>> X = AudioFeatures(embeddings=emb, scores=scores)
>>> model = FewShotConSE(n_val_splits=2).fit(X, y, E, source=S)
>>> model.decision_function(X[:5], E[:4]).shape  # 4 candidates with audio
(5, 4)
>>> bool(model.has_prototypes(E[:4]).all()), bool(model.has_prototypes(-E[:4]).any())
(True, False)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zsaudio.model.base import (
    FeatureStandardizer,
    ZeroShotEstimator,
    check_matrix,
    l2_normalize_rows,
)
from zsaudio.model.features import AudioFeatures
from zsaudio.model.hybrid import (
    AnchoredConSE,
    validation_table,
    zscore_rows,
)
from zsaudio.model.splits import topk_accuracy

__all__ = ["FEATURE_SPACES", "FewShotConSE", "match_rows", "simulated_episodes"]

FEATURE_SPACES = ("embedding", "scores", "semantic")
# A candidate row is a training class's row when their cosine is at least 1 - MATCH_TOL.
MATCH_TOL = 1e-6


def simulated_episodes(y: np.ndarray, n_shots: int, val_fraction: float, n_episodes: int,
                       seed: int):
    """Simulated few-shot episodes on training classes: per episode, ``(val_classes,
    shot_clips, query_clips)`` (class values of ``y`` and clip indices, sorted).

    ``round(val_fraction * m)`` of the m classes with more than ``n_shots`` clips are held out;
    ``n_shots`` random clips of each are the shots, their other clips the queries. Nothing is
    yielded when fewer than 2 classes could be held out or fewer than 2 would remain.

    Parameters
    ----------
    y : np.ndarray of int, shape (n,)
    n_shots, n_episodes, seed : int
    val_fraction : float in (0, 1)

    Example
    -------
    >>> y = np.repeat(np.arange(8), 10)
    >>> [len(v) for v, _, _ in simulated_episodes(y, 5, 0.25, 3, 0)]
    [2, 2, 2]
    """
    present, counts = np.unique(y, return_counts=True)
    many = present[counts > n_shots]
    n_val = int(round(val_fraction * many.size))
    if n_val < 2 or present.size - n_val < 2:
        return
    rng = np.random.default_rng(seed)
    for _ in range(int(n_episodes)):
        val = np.sort(rng.choice(many, size=n_val, replace=False))
        shots = np.concatenate([rng.choice(np.flatnonzero(y == c), size=n_shots, replace=False)
                                for c in val])
        query = np.flatnonzero(np.isin(y, val))
        yield val, np.sort(shots), np.setdiff1d(query, shots)


def match_rows(class_embeddings: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Row of ``known`` (P, d) that each candidate (C, d) is, -1 where none: the best cosine,
    if at least 1 - MATCH_TOL. Shape (C,), int."""
    cos = l2_normalize_rows(class_embeddings) @ l2_normalize_rows(known).T
    best = np.argmax(cos, axis=1)
    return np.where(cos[np.arange(cos.shape[0]), best] >= 1 - MATCH_TOL, best, -1)


class FewShotConSE(ZeroShotEstimator):
    """Anchored ConSE mixed with nearest-prototype scores when every candidate has audio.

    Parameters
    ----------
    top_t, score_transform, temperature, lams : see :class:`AnchoredConSE` (its ConSE
        settings are fixed; its shrinkage lam is chosen inside its own fit).
    feature_spaces : sequence of str, default ("embedding", "scores", "semantic")
        Candidate feature spaces g of the prototypes (see the module docstring).
    weights : sequence of float in [0, 1], default (1.0, 0.9, ..., 0.0)
        Candidate weights w of the zero-shot part (1.0 = conse-anchored alone, 0.0 =
        prototypes alone).
    n_shots : int, default 5
        Shots per validation class in the simulated episodes: set it to the number of clips
        the few-shot classes have (ESC-50 Setting 4: 5).
    n_val_splits : int, default 5
        Simulated episodes (and the zero-shot part's validation splits).
    val_fraction : float, default 0.25
        Fraction of the many-clip training classes held out per episode (>= 2 classes); also
        the zero-shot part's.
    seed : int, default 0
        Seeds the episodes' classes and shots (and the zero-shot part's splits).

    Attributes
    ----------
    feature_space_ : str
        The chosen feature space g.
    weight_ : float
        The chosen weight w of the zero-shot part.
    validation_grid_ : np.ndarray, shape (m, 2)
        Every (index into ``feature_spaces``, w) tried; ``validation_accuracy_`` (m,) its
        mean episode accuracy (NaN: no episode could be simulated).
    prototypes_ : np.ndarray, shape (P, D_g)
        The L2-normalised prototype of each training class with clips, in g's space.
    prototype_class_embeddings_ : np.ndarray, shape (P, d)
        The label embeddings of those P classes (the rows candidates are matched against).
    feature_mean_, feature_scale_ : np.ndarray, shape (D_g,)
        Training statistics of g ("embedding" / "scores"; zeros / ones for "semantic").
    zeroshot_ : AnchoredConSE
        The zero-shot part, fitted on every training clip.
    n_features_in_, embedding_dim_, n_classes_ : int
        D + K, d and C of ``fit``.
    The zero-shot part (an :class:`AnchoredConSE` fitted on all training clips) is saved with
    the model (``zeroshot.*`` state arrays).
    """

    method_name = "conse-fewshot"
    uses = ("embeddings", "scores")
    needs_source = True
    sub_estimators = {"zeroshot_": AnchoredConSE}

    def __init__(
        self,
        top_t: int = 5,
        score_transform: str = "raw",
        temperature: float = 1.0,
        lams: tuple = (float("inf"), 10.0, 1.0, 0.1, 0.01, 0.001, 0.0001),
        feature_spaces: tuple = FEATURE_SPACES,
        weights: tuple = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0),
        n_shots: int = 5,
        n_val_splits: int = 5,
        val_fraction: float = 0.25,
        seed: int = 0,
    ) -> None:
        self.top_t = top_t
        self.score_transform = score_transform
        self.temperature = temperature
        self.lams = lams
        self.feature_spaces = feature_spaces
        self.weights = weights
        self.n_shots = n_shots
        self.n_val_splits = n_val_splits
        self.val_fraction = val_fraction
        self.seed = seed

    # -- pieces --------------------------------------------------------------------------
    def _check_params(self) -> None:
        if len(self.weights) == 0 or any(not 0 <= w <= 1 for w in self.weights):
            raise ValueError(f"weights must be in [0, 1], got {self.weights!r}")
        bad = [s for s in self.feature_spaces if s not in FEATURE_SPACES]
        if len(self.feature_spaces) == 0 or bad:
            raise ValueError(f"feature_spaces must be a non-empty subset of {FEATURE_SPACES}, "
                             f"got {self.feature_spaces!r}")
        if isinstance(self.n_shots, bool) or not isinstance(self.n_shots, (int, np.integer)) \
                or self.n_shots < 1:
            raise ValueError(f"n_shots must be an int >= 1, got {self.n_shots!r}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction!r}")
        if self.n_val_splits < 1:
            raise ValueError(f"n_val_splits must be >= 1, got {self.n_val_splits!r}")

    def _new_zeroshot(self) -> AnchoredConSE:
        return AnchoredConSE(top_t=self.top_t, score_transform=self.score_transform,
                             temperature=self.temperature, lams=self.lams,
                             n_val_splits=self.n_val_splits, val_fraction=self.val_fraction,
                             seed=self.seed)

    def _raw_features(self, space: str, emb: np.ndarray, scores: np.ndarray, V: np.ndarray,
                      F: np.ndarray | None = None) -> np.ndarray:
        """g(x) before standardisation: the embedding (n, D), the scores (n, K) or f(x) V (n, d).

        F (n, d): the clips' L2-normalised ConSE vectors when already at hand (else computed
        from the scores by the fitted zero-shot part's ConSE); V (d, d): the map to apply.
        """
        if space == "embedding":
            return emb
        if space == "scores":
            return scores
        if F is None:
            F = self.zeroshot_.semantic_vectors(scores)
        return F @ V

    @staticmethod
    def _statistics(space: str, raw: np.ndarray) -> FeatureStandardizer:
        # The semantic vector already lives in the (cosine) label space: no per-dimension
        # rescaling, which would weight rarely used label dimensions up.
        if space == "semantic":
            return FeatureStandardizer(np.zeros(raw.shape[1]), np.ones(raw.shape[1]))
        return FeatureStandardizer.fit(raw)

    @staticmethod
    def _prototypes(G: np.ndarray, y: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """L2-normalised mean of the (normalised) features of each class in ``classes``."""
        return l2_normalize_rows(np.stack([G[y == c].mean(axis=0) for c in classes]))

    def _episodes(self, y: np.ndarray):
        return simulated_episodes(y, self.n_shots, self.val_fraction, self.n_val_splits, self.seed)

    # -- fit / predict ---------------------------------------------------------------------
    def _fit(self, X: AudioFeatures, y: np.ndarray, E: np.ndarray) -> None:
        """The zero-shot part on every clip, then the prototypes' feature space and weight
        chosen by simulated few-shot episodes on the training classes (episodes need >= 2
        classes with more than ``n_shots`` clips and 2 more classes; else weight 1)."""
        emb, scores = X.embeddings, X.scores
        self.zeroshot_ = self._new_zeroshot().fit(scores, y, E, source=self._source())
        # The ConSE vectors of every clip, computed once: each episode's zero-shot part and the
        # "semantic" features use rows of them (a row depends on its clip's scores only).
        F = self.zeroshot_.semantic_vectors(scores)
        # The episodes' zero-shot parts reuse its shrinkage lam (a single scalar, chosen
        # zero-shot on these training classes) rather than each searching their own: one ridge
        # solve per episode, the V_ of an AnchoredConSE with lams=(lam,) fitted on the
        # episode's clips (whose validation split, unable to change a one-value choice and
        # never kept, is skipped).
        lam = self.zeroshot_.lam_
        En = l2_normalize_rows(E)
        spaces = list(self.feature_spaces)
        results: dict[tuple, list[float]] = {}
        for val, shots, query in self._episodes(y):
            # The episode's training data: every clip but the validation classes' non-shots,
            # as the real training data holds the few-shot classes' shots.
            train = np.setdiff1d(np.arange(y.size), query)
            V = AnchoredConSE.solve_map(F[train], En[y[train]], lam)
            g_query_semantic = l2_normalize_rows(F[query] @ V)  # the queries' f(x) V, normalised
            z_zs = zscore_rows(g_query_semantic @ En[val].T)  # the episode's zero-shot cosines
            y_query = np.searchsorted(val, y[query])
            for i, space in enumerate(spaces):
                if space == "semantic":
                    # No statistics to fit (see _statistics): only shots and queries are needed.
                    g_shots, g_query = l2_normalize_rows(F[shots] @ V), g_query_semantic
                else:
                    raw = self._raw_features(space, emb, scores, V, F)
                    stats = self._statistics(space, raw[train])
                    g_shots, g_query = stats.transform(raw[shots]), stats.transform(raw[query])
                P = self._prototypes(g_shots, y[shots], val)
                z_proto = zscore_rows(g_query @ P.T)
                for w in self.weights:
                    acc = topk_accuracy(w * z_zs + (1 - w) * z_proto, y_query)
                    results.setdefault((float(i), float(w)), []).append(acc)
        # No episode: the zero-shot part alone (weight 1).
        best_space, self.weight_ = validation_table(self, results, (0.0, 1.0))
        self.feature_space_ = spaces[int(best_space)]

        raw = self._raw_features(self.feature_space_, emb, scores, self.zeroshot_.V_, F)
        stats = self._statistics(self.feature_space_, raw)
        self.feature_mean_, self.feature_scale_ = stats.mean, stats.scale
        with_clips = np.unique(y)
        self.prototypes_ = self._prototypes(stats.transform(raw), y, with_clips)
        self.prototype_class_embeddings_ = E[with_clips]

    def chosen_params(self) -> dict[str, Any]:
        """The zero-shot part's lam, the weight of its ranking (1: prototypes unused) and the
        prototypes' feature space, chosen in ``fit``."""
        self._check_fitted()
        return {"lam": float(self.zeroshot_.lam_), "weight": float(self.weight_),
                "feature_space": str(self.feature_space_)}

    def _match(self, class_embeddings: np.ndarray) -> np.ndarray:
        return match_rows(class_embeddings, self.prototype_class_embeddings_)

    def has_prototypes(self, class_embeddings: Any) -> np.ndarray:
        """Whether each candidate is a training class with clips (has a prototype).

        Parameters
        ----------
        class_embeddings : array, shape (C', d)

        Returns
        -------
        np.ndarray of bool, shape (C',)
        """
        self._check_fitted()
        E = check_matrix(class_embeddings, "class_embeddings", self.embedding_dim_)
        return self._match(E) >= 0

    def _decision_function(self, X: AudioFeatures, class_embeddings: np.ndarray) -> np.ndarray:
        """Mixed z-scores when every candidate has a prototype, else the zero-shot part's
        cosines; shape (n, C')."""
        emb, scores = X.embeddings, X.scores
        zero_shot = self.zeroshot_.decision_function(scores, class_embeddings)
        match = self._match(class_embeddings)
        if self.weight_ == 1.0 or np.any(match < 0):
            return zero_shot
        raw = self._raw_features(self.feature_space_, emb, scores, self.zeroshot_.V_)
        G = FeatureStandardizer(self.feature_mean_, self.feature_scale_).transform(raw)
        z_proto = zscore_rows(G @ self.prototypes_[match].T)
        return self.weight_ * zscore_rows(zero_shot) + (1 - self.weight_) * z_proto
