"""Hybrid zero-shot models: ConSE (training-free, through the encoder's label space) plus what
can be learned from labelled audio of the training classes.

Two hybrids, each with its hyper-parameters chosen on *validation classes* held out from the
training classes inside ``fit`` (never on the test classes), and each able to fall back on
plain ConSE when the validation classes say learning does not help:

- :class:`ConSEMix` (reads the embeddings and the scores): a convex mix of ConSE's cosine scores and an
  ESZSL bilinear model's scores on the audio embedding, each z-scored per clip over the
  candidates; the mixing weight (1 = pure ConSE) and ESZSL's two regularisers are chosen on
  validation classes.
- :class:`AnchoredConSE` (reads the scores): the ConSE semantic vector f(x) is mapped
  by a linear map V learned by ridge regression onto the true class's label embedding, shrunk
  towards the identity, V = argmin ||F V - Phi_y||^2 / n + lam ||V - I||^2; ``lam = inf`` is
  plain ConSE, and lam is chosen on validation classes.

Inputs: :class:`~zsaudio.model.features.AudioFeatures` (the encoder's embeddings (n, D) and
class scores (n, K)) and, in ``fit``, the encoder's label space ``source`` (K names and their
label embeddings, :class:`~zsaudio.model.features.SourceLabelSpace`).

Example
-------
>>> import numpy as np
>>> from zsaudio.model.features import SourceLabelSpace
>>> rng = np.random.default_rng(0)
>>> S = SourceLabelSpace([f"source {k}" for k in range(30)], rng.normal(size=(30, 8)))
>>> E = rng.normal(size=(8, 8))                                 # 8 training classes
>>> scores, emb, y = rng.uniform(size=(80, 30)), rng.normal(size=(80, 16)), np.arange(80) % 8
>>> X = AudioFeatures(embeddings=emb, scores=scores)
>>> mix = ConSEMix(n_val_splits=2).fit(X, y, E, source=S)
>>> mix.decision_function(X, E).shape
(80, 8)
>>> anchored = AnchoredConSE(n_val_splits=2).fit(X, y, E, source=S)
>>> anchored.predict_topk(scores[:3], E, k=2).shape
(3, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zsaudio.model.base import (
    ZeroShotEstimator,
    l2_normalize_rows,
)
from zsaudio.model.baselines import ESZSL
from zsaudio.model.conse import ConSE
from zsaudio.model.features import AudioFeatures
from zsaudio.model.splits import split_sides, topk_accuracy, validation_splits

# ---------------------------------------------------------------------------------------------
# Shared pieces


def zscore_rows(S: np.ndarray) -> np.ndarray:
    """Each row standardised over its entries (the candidates); constant rows become 0."""
    mu = S.mean(axis=1, keepdims=True)
    sd = S.std(axis=1, keepdims=True)
    return np.divide(S - mu, sd, out=np.zeros_like(S), where=sd > 0)


def validation_table(model: ZeroShotEstimator, results: dict[tuple, list[float]],
                     fallback: tuple) -> tuple:
    """Set ``model.validation_grid_`` (m, len(point)) and ``validation_accuracy_`` (m,) (saved
    with the model) from the accuracies of each grid point, and return the best point.

    Ties keep the first point in grid order (callers list the zero-shot-heavy points first).
    With no validation at all (too few training classes to hold any out) the table is
    ``fallback`` alone, with accuracy NaN, and ``fallback`` is returned.
    """
    if not results:
        results = {fallback: [np.nan]}
    keys = list(results)
    model.validation_grid_ = np.array(keys, dtype=np.float64)
    model.validation_accuracy_ = np.array([np.mean(results[k]) for k in keys])
    return keys[int(np.argmax(model.validation_accuracy_))]


def _class_splits(y: np.ndarray, val_fraction: float, n_splits: int, seed: int):
    """(fit_classes, val_classes, fit_clips, val_clips, y_fit, y_val) per split, over the
    classes with clips; labels re-indexed into each side's class list
    (:func:`zsaudio.model.splits.split_sides`)."""
    present = np.unique(y)
    try:
        splits = list(validation_splits(y, float(val_fraction), n_splits, seed))
    except ValueError:
        return  # too few classes to hold any out: the caller falls back on plain ConSE
    for val in splits:
        is_val, fit_cls, y_fit, y_val = split_sides(y, val, present)
        yield fit_cls, val, ~is_val, is_val, y_fit, y_val


class _ConSEHybrid(ZeroShotEstimator):
    """What the hybrids share: the ConSE part (``conse_``, fitted on the source label space)."""

    needs_source = True
    rebuilt_on_load = ("conse_",)

    def _rebuild(self) -> None:
        self.conse_ = ConSE(top_t=self.top_t, score_transform=self.score_transform,
                            temperature=self.temperature).fit(source=self._source())


# ---------------------------------------------------------------------------------------------
# ConSE + ESZSL mix


class ConSEMix(_ConSEHybrid):
    """Convex mix of ConSE and ESZSL scores, the weight chosen on validation classes.

    Scores: ``weight * z(ConSE cosines) + (1 - weight) * z(ESZSL scores on the embedding)``,
    z = per-clip standardisation over the candidates (the two parts live on different scales).
    ESZSL is :class:`zsaudio.model.baselines.ESZSL` with ``normalize=True``.

    Parameters
    ----------
    top_t, score_transform, temperature : see :class:`ConSE` (fixed, not searched).
    weights : sequence of float, default (1.0, 0.9, ..., 0.0)
        Candidate mixing weights of ConSE (1.0 = ConSE alone, 0.0 = ESZSL alone).
    alphas, gammas : sequence of float, default (0.1, 1, 10) each
        Candidate ESZSL regularisers (audio side, label side).
    n_val_splits : int, default 5
        Random splits of the training classes into fit / validation classes.
    val_fraction : float, default 0.25
        Fraction of the training classes held out per split (>= 2 classes).
    seed : int, default 0

    Attributes
    ----------
    weight_, alpha_, gamma_ : float
        The chosen hyper-parameters (ties go to the earlier grid point: ConSE-heavy first).
    validation_grid_ : np.ndarray, shape (m, 3)
        Every (weight, alpha, gamma) tried; ``validation_accuracy_`` (m,) its mean accuracy.
    source_names_, source_embeddings_, source_mask_ : see :class:`ConSE`.
    conse_ : ConSE
        The ConSE part (rebuilt from the source label space when loaded).
    eszsl_ : ESZSL
        The ESZSL part refitted on all training classes with the chosen alpha, gamma (saved
        with the model).
    """

    method_name = "conse-mix"
    uses = ("embeddings", "scores")
    sub_estimators = {"eszsl_": ESZSL}

    def __init__(
        self,
        top_t: int = 5,
        score_transform: str = "raw",
        temperature: float = 1.0,
        weights: tuple = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0),
        alphas: tuple = (0.1, 1.0, 10.0),
        gammas: tuple = (0.1, 1.0, 10.0),
        n_val_splits: int = 5,
        val_fraction: float = 0.25,
        seed: int = 0,
    ) -> None:
        self.top_t = top_t
        self.score_transform = score_transform
        self.temperature = temperature
        self.weights = weights
        self.alphas = alphas
        self.gammas = gammas
        self.n_val_splits = n_val_splits
        self.val_fraction = val_fraction
        self.seed = seed

    def _check_params(self) -> None:
        if any(not 0 <= w <= 1 for w in self.weights) or len(self.weights) == 0:
            raise ValueError(f"weights must be in [0, 1], got {self.weights!r}")

    def _fit(self, X: AudioFeatures, y: np.ndarray, E: np.ndarray) -> None:
        """Choose the mixing weight and ESZSL's regularisers on validation classes held out of
        the training classes (>= 4 needed; else plain ConSE), then fit ESZSL on all clips."""
        self._rebuild()
        emb, scores = X.embeddings, X.scores
        conse_all = self.conse_.decision_function(scores, E)  # training-free: computed once
        results: dict[tuple, list[float]] = {}
        for fit_cls, val_cls, tr, va, y_fit, y_val in _class_splits(
                y, self.val_fraction, self.n_val_splits, self.seed):
            zc = zscore_rows(conse_all[np.ix_(va, val_cls)])
            # The alpha x gamma ESZSL models of a split share one standardisation and Gram
            # matrix (each equal to its own fit, see ESZSL._fit_grid).
            grid = [{"alpha": alpha, "gamma": gamma} for alpha in self.alphas for gamma in self.gammas]
            for point, eszsl in zip(grid, ESZSL()._fit_grid(emb[tr], y_fit, E[fit_cls], grid),
                                    strict=True):
                zb = zscore_rows(eszsl.decision_function(emb[va], E[val_cls]))
                for w in self.weights:
                    acc = topk_accuracy(w * zc + (1 - w) * zb, y_val)
                    results.setdefault((w, point["alpha"], point["gamma"]), []).append(acc)
        self.weight_, self.alpha_, self.gamma_ = map(
            float, validation_table(self, results, (1.0, self.alphas[0], self.gammas[0])))
        self.eszsl_ = ESZSL(alpha=self.alpha_, gamma=self.gamma_).fit(emb, y, E)

    def chosen_params(self) -> dict[str, Any]:
        """The mixing weight and ESZSL's regularisers chosen in ``fit``."""
        self._check_fitted()
        return {"weight": self.weight_, "alpha": self.alpha_, "gamma": self.gamma_}

    def _decision_function(self, X: AudioFeatures, class_embeddings: np.ndarray) -> np.ndarray:
        """Mixed z-scores, shape (n, C)."""
        zc = zscore_rows(self.conse_.decision_function(X.scores, class_embeddings))
        if self.weight_ == 1.0:
            return zc
        zb = zscore_rows(self.eszsl_.decision_function(X.embeddings, class_embeddings))
        return self.weight_ * zc + (1 - self.weight_) * zb


# ---------------------------------------------------------------------------------------------
# ConSE with a learned map anchored at the identity


class AnchoredConSE(_ConSEHybrid):
    """ConSE whose semantic vector is refined by a linear map learned from labelled audio.

    V = argmin_V ||F V - T||^2 / n + lam ||V - I||^2 = (F^T F / n + lam I)^-1 (F^T T / n + lam I),
    F: the L2-normalised ConSE vectors of the training clips (n, d), T: the L2-normalised label
    embeddings of their classes. Candidates are ranked by cosine(f(x) V, phi(y)). lam = inf
    gives V = I, i.e. plain ConSE; lam is chosen on validation classes.

    Parameters
    ----------
    top_t, score_transform, temperature : see :class:`ConSE`.
    lams : sequence of float, default (inf, 10, 1, 0.1, 0.01, 0.001, 0.0001)
        Candidate shrinkage strengths (ties: the earlier, i.e. more ConSE-like, one).
    n_val_splits, val_fraction, seed : see :class:`ConSEMix`.

    Attributes
    ----------
    lam_ : float
    V_ : np.ndarray, shape (d, d)
    validation_grid_ : np.ndarray, shape (m, 1); validation_accuracy_ : shape (m,)
    source_embeddings_, source_mask_ : see :class:`ConSE`.
    """

    method_name = "conse-anchored"
    uses = ("scores",)

    def __init__(
        self,
        top_t: int = 5,
        score_transform: str = "raw",
        temperature: float = 1.0,
        lams: tuple = (float("inf"), 10.0, 1.0, 0.1, 0.01, 0.001, 0.0001),
        n_val_splits: int = 5,
        val_fraction: float = 0.25,
        seed: int = 0,
    ) -> None:
        self.top_t = top_t
        self.score_transform = score_transform
        self.temperature = temperature
        self.lams = lams
        self.n_val_splits = n_val_splits
        self.val_fraction = val_fraction
        self.seed = seed

    @staticmethod
    def solve_map(F: np.ndarray, T: np.ndarray, lam: float) -> np.ndarray:
        """V (d, d) for one lam from the clips' ConSE vectors F (n, d) and targets T (n, d)."""
        d = F.shape[1]
        if np.isinf(lam):
            return np.eye(d)
        n = F.shape[0]
        return np.linalg.solve(F.T @ F / n + lam * np.eye(d), F.T @ T / n + lam * np.eye(d))

    @staticmethod
    def _validation_accuracies(F: np.ndarray, T: np.ndarray, F_val: np.ndarray, E_val: np.ndarray,
                               y_val: np.ndarray, lams: tuple) -> list[float]:
        """Top-1 accuracy on validation clips of the map V fitted for each lam, in lams order.

        F (n, d), T (n, d): fit clips' L2-normalised ConSE vectors and class embeddings;
        F_val (m, d): the validation clips'; E_val (c, d): the L2-normalised validation
        classes; y_val (m,): rows of E_val. Equal (up to rounding) to ranking
        ``l2_normalize_rows(F_val @ solve_map(F, T, lam)) @ E_val.T``, but cheaper: the ranking of a
        clip ignores the positive scale of its row, so F_val V E_val^T is all that is needed,
        and V E_val^T = (G + lam I)^-1 (B E_val^T + lam E_val^T) is a solve with c right-hand
        sides instead of d, with G = F^T F / n and B E_val^T = F^T (T E_val^T) / n computed once
        for every lam. (One eigendecomposition of G shared by all lams measured no faster at
        d = 384 with 6 finite lams, and breaks down for a lam below G's rounding error.)
        """
        n, d = F.shape
        G = F.T @ F / n
        BE = F.T @ (T @ E_val.T) / n  # (d, c)
        accs = []
        for lam in lams:
            if np.isinf(lam):  # V = I: plain ConSE
                S = F_val @ E_val.T
            else:
                S = F_val @ np.linalg.solve(G + lam * np.eye(d), BE + lam * E_val.T)
            accs.append(topk_accuracy(S, y_val))
        return accs

    def _check_params(self) -> None:
        if len(self.lams) == 0 or any(not (lam > 0) for lam in self.lams):
            raise ValueError(f"lams must all be > 0 (inf = plain ConSE), got {self.lams}")

    def semantic_vectors(self, X: Any) -> np.ndarray:
        """The clips' L2-normalised ConSE vectors f(x) (n, d) from their class scores (n, K),
        before the learned map."""
        self._check_fitted()
        return l2_normalize_rows(self.conse_.semantic_vectors(X))

    def _fit(self, X: np.ndarray, y: np.ndarray, E: np.ndarray) -> None:
        """The lam search on validation classes of the training classes (>= 4 needed; else
        plain ConSE, lam = inf), then the map V_ from every clip."""
        self._rebuild()
        F = self.semantic_vectors(X)
        En = l2_normalize_rows(E)
        T = En[y]
        results: dict[tuple, list[float]] = {}
        for _, val_cls, tr, va, _, y_val in _class_splits(
                y, self.val_fraction, self.n_val_splits, self.seed):
            accs = self._validation_accuracies(F[tr], T[tr], F[va], En[val_cls], y_val, self.lams)
            for lam, acc in zip(self.lams, accs, strict=True):
                results.setdefault((float(lam),), []).append(acc)
        (self.lam_,) = validation_table(self, results, (float("inf"),))  # inf: plain ConSE
        self.V_ = self.solve_map(F, T, self.lam_)

    def chosen_params(self) -> dict[str, Any]:
        """The shrinkage lam chosen in ``fit`` (inf: plain ConSE)."""
        self._check_fitted()
        return {"lam": float(self.lam_)}

    def _decision_function(self, X: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
        """Cosine of f(x) V with each candidate, shape (n, C)."""
        return l2_normalize_rows(self.semantic_vectors(X) @ self.V_) @ l2_normalize_rows(class_embeddings).T
