"""Hybrid zero-shot models: ConSE (training-free, through the encoder's label space) plus what
can be learned from labelled audio of the training classes.

Two hybrids, each with its hyper-parameters chosen on *validation classes* held out from the
training classes inside ``fit`` (never on the test classes), and each able to fall back on
plain ConSE when the validation classes say learning does not help:

- :class:`ConSEMix` (``input_kind = "both"``): a convex mix of ConSE's cosine scores and an
  ESZSL bilinear model's scores on the audio embedding, each z-scored per clip over the
  candidates; the mixing weight (1 = pure ConSE) and ESZSL's two regularisers are chosen on
  validation classes.
- :class:`AnchoredConSE` (``input_kind = "scores"``): the ConSE semantic vector f(x) is mapped
  by a linear map V learned by ridge regression onto the true class's label embedding, shrunk
  towards the identity, V = argmin ||F V - Phi_y||^2 / n + lam ||V - I||^2; ``lam = inf`` is
  plain ConSE, and lam is chosen on validation classes.

Inputs. ``input_kind`` tells the caller what X holds: ``"scores"``: the encoder's class scores
(n, K); ``"both"``: ``np.hstack([embeddings, scores])``, shape (n, D + K), the audio embedding
(e.g. YAMNet's 1024-d clip mean) first and the K class scores last, K given by the
constructor's ``n_scores``.

Example
-------
>>> model = ConSEMix(n_scores=521)                       # doctest: +SKIP
>>> model.fit(np.hstack([emb, scores]), y, phi_train, source_embeddings=S)  # doctest: +SKIP
>>> model.weight_                                        # doctest: +SKIP
0.7
"""

from __future__ import annotations

import inspect

import numpy as np

from zsaudio.model.conse import ConSE, _as_2d_finite, l2_normalize, stable_topk

# ---------------------------------------------------------------------------------------------
# Shared pieces


def eszsl_fit(X: np.ndarray, y: np.ndarray, E: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """ESZSL closed form (Romera-Paredes & Torr, ICML 2015), rows-as-samples notation.

    V = (X^T X + gamma I)^-1 X^T Y E (E^T E + lam I)^-1, with Y in {-1, +1}^(n x C) the
    one-vs-rest targets; the compatibility of x with class c is x^T V e_c.

    Parameters
    ----------
    X : np.ndarray, shape (n, D)
    y : np.ndarray, shape (n,), ints in [0, C)
    E : np.ndarray, shape (C, d)
    gamma, lam : float > 0

    Returns
    -------
    V : np.ndarray, shape (D, d)
    """
    Y = -np.ones((X.shape[0], E.shape[0]))
    Y[np.arange(X.shape[0]), y] = 1.0
    left = np.linalg.solve(X.T @ X + gamma * np.eye(X.shape[1]), X.T @ Y @ E)
    return np.linalg.solve(E.T @ E + lam * np.eye(E.shape[1]), left.T).T


def zscore_rows(S: np.ndarray) -> np.ndarray:
    """Each row standardised over its entries (the candidates); constant rows become 0."""
    mu = S.mean(axis=1, keepdims=True)
    sd = S.std(axis=1, keepdims=True)
    return np.divide(S - mu, sd, out=np.zeros_like(S), where=sd > 0)


def validation_class_splits(
    classes: np.ndarray, n_splits: int, val_fraction: float, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random (train_classes, val_classes) splits of the given training classes.

    Each split holds out ``max(2, round(val_fraction * C))`` classes (at least 2 so that a
    zero-shot choice exists, and at least 2 are left to train on).

    Returns
    -------
    list of (np.ndarray, np.ndarray): sorted class ids.
    """
    classes = np.unique(classes)
    C = classes.size
    n_val = max(2, int(round(val_fraction * C)))
    if C - n_val < 2:
        raise ValueError(f"need at least 4 training classes to hold out validation classes, "
                         f"got {C}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_splits):
        perm = rng.permutation(classes)
        out.append((np.sort(perm[n_val:]), np.sort(perm[:n_val])))
    return out


def _accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(stable_topk(scores, 1)[:, 0] == y))


def _check_xy(X, y, class_embeddings):
    X = _as_2d_finite("X", X)
    E = _as_2d_finite("class_embeddings", class_embeddings)
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= E.shape[0]:
        raise ValueError(f"y must hold integer rows of class_embeddings, in [0, {E.shape[0]})")
    if np.unique(y).size < 4:
        raise ValueError("need labelled clips of at least 4 training classes (some are held out "
                         f"for validation), got {np.unique(y).size}")
    return X, y, E


class _HybridBase:
    """Parameter access and the prediction methods shared by the hybrids."""

    def get_params(self, deep: bool = True) -> dict:
        """Hyper-parameters as a dict (the constructor's arguments)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params):
        """Set hyper-parameters by name; returns self."""
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"unknown parameter {k!r} for {type(self).__name__}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _conse(self) -> ConSE:
        return ConSE(top_t=self.top_t, score_transform=self.score_transform,
                     temperature=self.temperature)

    def _check_fitted(self) -> None:
        if not hasattr(self, "conse_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(...) first")

    def predict(self, X, class_embeddings) -> np.ndarray:
        """Index (row of ``class_embeddings``) of the best candidate per clip, shape (n,)."""
        return self.predict_topk(X, class_embeddings, 1)[:, 0]

    def predict_topk(self, X, class_embeddings, k: int) -> np.ndarray:
        """Indices of the k best candidates per clip, best first, (n, k); ties: lower index."""
        scores = self.decision_function(X, class_embeddings)
        if not 1 <= k <= scores.shape[1]:
            raise ValueError(f"k must be in [1, {scores.shape[1]}], got {k}")
        return stable_topk(scores, k)

    def score(self, X, y, class_embeddings, k: int = 1) -> float:
        """Top-k accuracy with ``y`` the true candidate rows, shape (n,)."""
        y = np.asarray(y)
        top = self.predict_topk(X, class_embeddings, k)
        if y.shape != (top.shape[0],):
            raise ValueError(f"y must have shape ({top.shape[0]},), got {y.shape}")
        return float(np.mean(np.any(top == y[:, None], axis=1)))


# ---------------------------------------------------------------------------------------------
# ConSE + ESZSL mix


class ConSEMix(_HybridBase):
    """Convex mix of ConSE and ESZSL scores, the weight chosen on validation classes.

    Scores: ``weight * z(ConSE cosines) + (1 - weight) * z(x_emb^T V phi(y))``, z = per-clip
    standardisation over the candidates (the two parts live on different scales).

    Parameters
    ----------
    n_scores : int, default 521
        K, the number of class scores at the end of each row of X (X = [embedding, scores]).
    top_t, score_transform, temperature : see :class:`ConSE` (fixed, not searched).
    weights : tuple of float, default (1.0, 0.9, ..., 0.0)
        Candidate mixing weights of ConSE (1.0 = ConSE alone, 0.0 = ESZSL alone).
    gammas, lams : tuple of float, default (0.1, 1, 10) and (0.1, 1, 10)
        Candidate ESZSL regularisers (audio side, label side); the audio embedding is
        standardised and L2-normalised, the label embeddings L2-normalised, so these scales
        suit any encoder pair.
    n_val_splits : int, default 5
        Random splits of the training classes into fit / validation classes.
    val_fraction : float, default 0.25
        Fraction of training classes held out per split.
    seed : int, default 0

    Attributes
    ----------
    weight_, gamma_, lam_ : float
        The chosen hyper-parameters (ties go to the earlier grid entry: ConSE first).
    validation_ : dict
        ``{(weight, gamma, lam): mean validation accuracy}`` over the splits.
    V_ : np.ndarray, shape (D, d)
        ESZSL map refitted on all training classes with the chosen gamma, lam.
    mean_, scale_ : np.ndarray, shape (D,)
        Audio-embedding standardisation learned on the training clips.
    conse_ : ConSE
        The fitted ConSE part.
    """

    input_kind = "both"

    def __init__(
        self,
        n_scores: int = 521,
        top_t: int = 5,
        score_transform: str = "raw",
        temperature: float = 1.0,
        weights: tuple = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0),
        gammas: tuple = (0.1, 1.0, 10.0),
        lams: tuple = (0.1, 1.0, 10.0),
        n_val_splits: int = 5,
        val_fraction: float = 0.25,
        seed: int = 0,
    ) -> None:
        self.n_scores = n_scores
        self.top_t = top_t
        self.score_transform = score_transform
        self.temperature = temperature
        self.weights = weights
        self.gammas = gammas
        self.lams = lams
        self.n_val_splits = n_val_splits
        self.val_fraction = val_fraction
        self.seed = seed

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        K = int(self.n_scores)
        if X.shape[1] <= K:
            raise ValueError(f"X must be [embedding, {K} scores] with a non-empty embedding, "
                             f"got {X.shape[1]} columns")
        return X[:, :-K], X[:, -K:]

    def _features(self, emb: np.ndarray) -> np.ndarray:
        return l2_normalize((emb - self.mean_) / self.scale_)

    def fit(self, X, y, class_embeddings, *, source_embeddings, source_mask=None) -> ConSEMix:
        """Fit on labelled clips of the training classes.

        Parameters
        ----------
        X : array, shape (n, D + n_scores)
            ``np.hstack([embeddings, scores])``.
        y : array of int, shape (n,)
            Row of ``class_embeddings`` of each clip's class (>= 4 distinct classes).
        class_embeddings : array, shape (C, d)
            Label embeddings of the training classes.
        source_embeddings : array, shape (n_scores, d)
            Label embeddings of the encoder's classes, same label encoder (see ConSE).
        source_mask : array of bool, shape (n_scores,), optional

        Returns
        -------
        self
        """
        X, y, E = _check_xy(X, y, class_embeddings)
        emb, scores = self._split(X)
        self.conse_ = self._conse().fit(scores, y, E, source_embeddings=source_embeddings,
                                        source_mask=source_mask)
        self.mean_ = emb.mean(axis=0)
        sd = emb.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        F = self._features(emb)
        En = l2_normalize(E)
        conse_all = self.conse_.decision_function(scores, E)  # training-free: computed once
        results: dict[tuple, list[float]] = {}
        for fit_cls, val_cls in validation_class_splits(y, self.n_val_splits,
                                                        self.val_fraction, self.seed):
            tr = np.isin(y, fit_cls)
            va = np.isin(y, val_cls)
            remap = np.full(E.shape[0], -1)
            remap[fit_cls] = np.arange(fit_cls.size)
            y_val = np.searchsorted(val_cls, y[va])
            zc = zscore_rows(conse_all[np.ix_(va, val_cls)])
            for gamma in self.gammas:
                for lam in self.lams:
                    V = eszsl_fit(F[tr], remap[y[tr]], En[fit_cls], gamma, lam)
                    zb = zscore_rows(F[va] @ V @ En[val_cls].T)
                    for w in self.weights:
                        acc = _accuracy(w * zc + (1 - w) * zb, y_val)
                        results.setdefault((w, gamma, lam), []).append(acc)
        self.validation_ = {k: float(np.mean(v)) for k, v in results.items()}
        # max() keeps the first maximum: grid order (ConSE-heavy weights first) breaks ties.
        self.weight_, self.gamma_, self.lam_ = max(self.validation_, key=self.validation_.get)
        self.V_ = eszsl_fit(F, y, En, self.gamma_, self.lam_)
        return self

    def decision_function(self, X, class_embeddings) -> np.ndarray:
        """Mixed z-scores, shape (n, C) for candidates ``class_embeddings`` (C, d)."""
        self._check_fitted()
        X = _as_2d_finite("X", X)
        E = _as_2d_finite("class_embeddings", class_embeddings)
        emb, scores = self._split(X)
        if emb.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X has a {emb.shape[1]}-d embedding part, fitted on "
                             f"{self.mean_.shape[0]}-d")
        zc = zscore_rows(self.conse_.decision_function(scores, E))
        if self.weight_ == 1.0:
            return zc
        zb = zscore_rows(self._features(emb) @ self.V_ @ l2_normalize(E).T)
        return self.weight_ * zc + (1 - self.weight_) * zb


# ---------------------------------------------------------------------------------------------
# ConSE with a learned map anchored at the identity


class AnchoredConSE(_HybridBase):
    """ConSE whose semantic vector is refined by a linear map learned from labelled audio.

    V = argmin_V ||F V - T||^2 / n + lam ||V - I||^2 = (F^T F / n + lam I)^-1 (F^T T / n + lam I),
    F: the L2-normalised ConSE vectors of the training clips (n, d), T: the L2-normalised label
    embeddings of their classes. Candidates are ranked by cosine(f(x) V, phi(y)). lam = inf
    gives V = I, i.e. plain ConSE; lam is chosen on validation classes.

    Parameters
    ----------
    top_t, score_transform, temperature : see :class:`ConSE`.
    lams : tuple of float, default (inf, 10, 1, 0.1, 0.01)
        Candidate shrinkage strengths (ties: the earlier, i.e. more ConSE-like, one).
    n_val_splits, val_fraction, seed : see :class:`ConSEMix`.

    Attributes
    ----------
    lam_ : float
    V_ : np.ndarray, shape (d, d)
    validation_ : dict ``{lam: mean validation accuracy}``
    conse_ : ConSE
    """

    input_kind = "scores"

    def __init__(
        self,
        top_t: int = 5,
        score_transform: str = "raw",
        temperature: float = 1.0,
        lams: tuple = (float("inf"), 10.0, 1.0, 0.1, 0.01),
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
    def _solve(F: np.ndarray, T: np.ndarray, lam: float) -> np.ndarray:
        d = F.shape[1]
        if np.isinf(lam):
            return np.eye(d)
        n = F.shape[0]
        return np.linalg.solve(F.T @ F / n + lam * np.eye(d), F.T @ T / n + lam * np.eye(d))

    def fit(self, X, y, class_embeddings, *, source_embeddings, source_mask=None) -> AnchoredConSE:
        """Fit on labelled clips of the training classes.

        Parameters
        ----------
        X : array, shape (n, K)
            Class scores.
        y : array of int, shape (n,)
            Row of ``class_embeddings`` of each clip's class (>= 4 distinct classes).
        class_embeddings : array, shape (C, d)
        source_embeddings : array, shape (K, d)
        source_mask : array of bool, shape (K,), optional

        Returns
        -------
        self
        """
        X, y, E = _check_xy(X, y, class_embeddings)
        if any(not (lam > 0) for lam in self.lams):
            raise ValueError(f"lams must all be > 0 (inf = plain ConSE), got {self.lams}")
        self.conse_ = self._conse().fit(X, y, E, source_embeddings=source_embeddings,
                                        source_mask=source_mask)
        F = l2_normalize(self.conse_.semantic_vectors(X))
        En = l2_normalize(E)
        T = En[y]
        results: dict[float, list[float]] = {}
        for fit_cls, val_cls in validation_class_splits(y, self.n_val_splits,
                                                        self.val_fraction, self.seed):
            tr = np.isin(y, fit_cls)
            va = np.isin(y, val_cls)
            y_val = np.searchsorted(val_cls, y[va])
            for lam in self.lams:
                V = self._solve(F[tr], T[tr], lam)
                acc = _accuracy(l2_normalize(F[va] @ V) @ En[val_cls].T, y_val)
                results.setdefault(lam, []).append(acc)
        self.validation_ = {k: float(np.mean(v)) for k, v in results.items()}
        self.lam_ = max(self.validation_, key=self.validation_.get)
        self.V_ = self._solve(F, T, self.lam_)
        return self

    def decision_function(self, X, class_embeddings) -> np.ndarray:
        """Cosine of f(x) V with each candidate, shape (n, C)."""
        self._check_fitted()
        E = _as_2d_finite("class_embeddings", class_embeddings)
        F = l2_normalize(self.conse_.semantic_vectors(X))
        if E.shape[1] != self.V_.shape[1]:
            raise ValueError(f"class_embeddings have dimension {E.shape[1]}, fitted on "
                             f"{self.V_.shape[1]}")
        return l2_normalize(F @ self.V_) @ l2_normalize(E).T
