"""The shared-work fits equal their slow definitions.

Each fast path (AnchoredConSE's lam search, FewShotConSE's episodes, ESZSL fitted along a grid,
ConSE-mix's ESZSL grid, model selection of training-free and grid-fitted methods) is checked
against a literal transcription of the per-value loop it replaces: same validation tables,
same choices, same maps.
"""

import itertools

import numpy as np
import pytest

from zsaudio.model.base import l2_normalize_rows as l2n
from zsaudio.model.baselines import ESZSL
from zsaudio.model.conse import ConSE
from zsaudio.model.features import AudioFeatures, SourceLabelSpace
from zsaudio.model.fewshot import FewShotConSE
from zsaudio.model.hybrid import AnchoredConSE, ConSEMix, _class_splits, zscore_rows
from zsaudio.model.selection import select_hyperparameters
from zsaudio.model.softmap import SoftMap
from zsaudio.model.splits import topk_accuracy as _accuracy
from zsaudio.model.splits import validation_splits

space = SourceLabelSpace.from_vectors

D_LABEL, K_SOURCE, D_AUDIO = 10, 40, 16


def _world(seed, n_classes=16, n_per=12, ties=False):
    """Label vectors phi (C, d), source label vectors S (K, d), labels y, sigmoid class scores
    (n, K) favouring the source classes near each clip's class, and audio embeddings (n, D).
    ``ties``: scores rounded to one decimal, so that top-T choices tie."""
    rng = np.random.default_rng(seed)
    phi = l2n(rng.normal(size=(n_classes, D_LABEL)))
    S = l2n(rng.normal(size=(K_SOURCE, D_LABEL)))
    y = np.repeat(np.arange(n_classes), n_per)
    logits = 8 * (0.5 * phi[y] @ S.T + 0.5 * rng.normal(size=(y.size, K_SOURCE)))
    scores = 1 / (1 + np.exp(-logits + 4))
    if ties:
        scores = np.round(scores, 1)
    emb = phi[y] @ rng.normal(size=(D_LABEL, D_AUDIO)) + 2 * rng.normal(size=(y.size, D_AUDIO))
    return phi, S, y, scores, emb


# ---------------------------------------------------------------------------------------------
# AnchoredConSE: lam search through thin solves == a full map V per lam


def _anchored_reference(model, X, y, E, S):
    """AnchoredConSE.fit as a loop over lams, each solving for the full map V."""
    conse = ConSE(top_t=model.top_t, score_transform=model.score_transform,
                  temperature=model.temperature).fit(source=space(S))
    F = l2n(conse.semantic_vectors(X))
    En = l2n(E)
    T = En[y]
    results = {}
    for _, val_cls, tr, va, _, y_val in _class_splits(y, model.val_fraction, model.n_val_splits,
                                                      model.seed):
        for lam in model.lams:
            V = AnchoredConSE.solve_map(F[tr], T[tr], lam)
            acc = _accuracy(l2n(F[va] @ V) @ En[val_cls].T, y_val)
            results.setdefault((float(lam),), []).append(acc)
    keys = list(results)
    accuracy = np.array([np.mean(results[k]) for k in keys])
    (lam,) = keys[int(np.argmax(accuracy))]
    return np.array(keys), accuracy, lam, AnchoredConSE.solve_map(F, T, lam)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_anchored_lam_search_equals_full_solves(seed):
    phi, S, y, scores, _ = _world(seed, ties=seed == 2)
    lams = (float("inf"), 100.0, 10.0, 1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-6)
    model = AnchoredConSE(lams=lams, n_val_splits=4, seed=seed).fit(scores, y, phi, source=space(S))
    grid, accuracy, lam, V = _anchored_reference(model, scores, y, phi, S)
    # Exact equality holds for these worlds (their ties are exact in both paths); two scores
    # within rounding of each other could flip a clip, since the two paths round differently.
    np.testing.assert_array_equal(model.validation_grid_, grid)
    np.testing.assert_array_equal(model.validation_accuracy_, accuracy)
    assert model.lam_ == lam
    np.testing.assert_array_equal(model.V_, V)


def test_anchored_validation_accuracies_per_lam():
    """The thin solve ranks each validation clip as the full map does, for every lam."""
    rng = np.random.default_rng(3)
    F, T = l2n(rng.normal(size=(80, 9))), l2n(rng.normal(size=(80, 9)))
    F_val, E_val = l2n(rng.normal(size=(30, 9))), l2n(rng.normal(size=(5, 9)))
    y_val = rng.integers(0, 5, size=30)
    lams = (float("inf"), 3.0, 0.3, 1e-5)
    fast = AnchoredConSE._validation_accuracies(F, T, F_val, E_val, y_val, lams)
    for lam, acc in zip(lams, fast, strict=True):
        V = AnchoredConSE.solve_map(F, T, lam)
        assert acc == _accuracy(l2n(F_val @ V) @ E_val.T, y_val)


# ---------------------------------------------------------------------------------------------
# FewShotConSE: ConSE vectors once, episodes without a validation split


def _fewshot_reference(model, X, y, E, S):
    """FewShotConSE.fit as before the shared ConSE vectors: each episode fits an AnchoredConSE
    with the single lam and recomputes every feature space on all clips."""
    emb, scores = X.embeddings, X.scores
    zeroshot = model._new_zeroshot().fit(scores, y, E, source=space(S))
    episode_zs = model._new_zeroshot().set_params(lams=(zeroshot.lam_,), n_val_splits=1)

    def raw_features(feature_space, zs):
        if feature_space == "embedding":
            return emb
        if feature_space == "scores":
            return scores
        return l2n(zs.conse_.semantic_vectors(scores)) @ zs.V_

    results = {}
    for val, shots, query in model._episodes(y):
        train = np.setdiff1d(np.arange(y.size), query)
        zs = episode_zs.fit(scores[train], y[train], E, source=space(S))
        z_zs = zscore_rows(zs.decision_function(scores[query], E[val]))
        y_query = np.searchsorted(val, y[query])
        for i, feature_space in enumerate(model.feature_spaces):
            raw = raw_features(feature_space, zs)
            stats = model._statistics(feature_space, raw[train])
            P = model._prototypes(stats.transform(raw[shots]), y[shots], val)
            z_proto = zscore_rows(stats.transform(raw[query]) @ P.T)
            for w in model.weights:
                acc = _accuracy(w * z_zs + (1 - w) * z_proto, y_query)
                results.setdefault((float(i), float(w)), []).append(acc)
    keys = list(results)
    accuracy = np.array([np.mean(results[k]) for k in keys])
    best_space, weight = keys[int(np.argmax(accuracy))]
    feature_space = model.feature_spaces[int(best_space)]
    raw = raw_features(feature_space, zeroshot)
    stats = model._statistics(feature_space, raw)
    prototypes = model._prototypes(stats.transform(raw), y, np.unique(y))
    return np.array(keys), accuracy, weight, feature_space, prototypes


@pytest.mark.parametrize("seed", [0, 1])
def test_fewshot_episodes_equal_the_per_episode_fits(seed):
    phi, S, y, scores, emb = _world(seed, n_classes=20)
    X = AudioFeatures(emb, scores)
    model = FewShotConSE(n_val_splits=3, seed=seed).fit(X, y, phi, source=space(S))
    grid, accuracy, weight, feature_space, prototypes = _fewshot_reference(model, X, y, phi, S)
    np.testing.assert_array_equal(model.validation_grid_, grid)
    np.testing.assert_array_equal(model.validation_accuracy_, accuracy)
    assert (model.weight_, model.feature_space_) == (weight, feature_space)
    np.testing.assert_allclose(model.prototypes_, prototypes, rtol=1e-12, atol=1e-14)
    reference_zs = model._new_zeroshot().fit(scores, y, phi, source=space(S))
    np.testing.assert_array_equal(model.zeroshot_.V_, reference_zs.V_)
    np.testing.assert_array_equal(model.zeroshot_.validation_accuracy_,
                                  reference_zs.validation_accuracy_)


# ---------------------------------------------------------------------------------------------
# ESZSL along alpha / over a grid == separate fits


@pytest.mark.parametrize("n_per", [3, 12])  # n < D (push-through side) and n >= D
@pytest.mark.parametrize("normalize", [True, False])
def test_eszsl_fit_grid_along_alpha_equals_separate_fits(n_per, normalize):
    rng = np.random.default_rng(n_per)
    E = rng.normal(size=(6, 5))
    y = np.repeat(np.arange(6), n_per)
    X = E[y] @ rng.normal(size=(5, 24)) + rng.normal(size=(y.size, 24))
    alphas = [10.0, 0.1, 1.0, 0.1]
    path = ESZSL(gamma=0.3, normalize=normalize)._fit_grid(X, y, E, [{"alpha": a} for a in alphas])
    for alpha, est in zip(alphas, path, strict=True):
        ref = ESZSL(alpha=alpha, gamma=0.3, normalize=normalize).fit(X, y, E)
        assert est.get_params() == ref.get_params()
        assert est._state_arrays().keys() == ref._state_arrays().keys()
        for key, value in ref._state_arrays().items():
            np.testing.assert_allclose(est._state_arrays()[key], value, rtol=1e-10, atol=0)
        np.testing.assert_allclose(est.decision_function(X[:7], E), ref.decision_function(X[:7], E),
                                   rtol=1e-10)


def test_eszsl_fit_grid_mixes_normalisations_and_checks_penalties():
    rng = np.random.default_rng(5)
    E = rng.normal(size=(4, 3))
    y = np.repeat(np.arange(4), 5)
    X = rng.normal(size=(20, 7)) * 3 + 1
    points = [{"alpha": 1.0, "gamma": 0.1}, {"alpha": 1.0, "gamma": 0.1, "normalize": False},
              {"gamma": 2.0}]
    fitted = ESZSL(alpha=0.5)._fit_grid(X, y, E, points)
    for point, est in zip(points, fitted, strict=True):
        ref = ESZSL(**{"alpha": 0.5, **point}).fit(X, y, E)
        np.testing.assert_allclose(est.W_, ref.W_, rtol=1e-10)
        np.testing.assert_allclose(est.decision_function(X, E), ref.decision_function(X, E),
                                   rtol=1e-10)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        ESZSL()._fit_grid(X, y, E, [{"alpha": 0.0}])
    with pytest.raises(ValueError, match="gamma must be > 0"):
        ESZSL(gamma=np.inf)._fit_grid(X, y, E, [{"alpha": 1.0}])


def test_conse_mix_equals_separate_eszsl_fits():
    phi, S, y, scores, emb = _world(4)
    X = AudioFeatures(emb, scores)
    mix = ConSEMix(n_val_splits=3, alphas=(0.1, 1.0), gammas=(0.1, 10.0))
    mix.fit(X, y, phi, source=space(S))
    conse_all = ConSE().fit(source=space(S)).decision_function(scores, phi)
    results = {}
    for fit_cls, val_cls, tr, va, y_fit, y_val in _class_splits(y, 0.25, 3, 0):
        zc = zscore_rows(conse_all[np.ix_(va, val_cls)])
        for alpha in mix.alphas:
            for gamma in mix.gammas:
                eszsl = ESZSL(alpha=alpha, gamma=gamma).fit(emb[tr], y_fit, phi[fit_cls])
                zb = zscore_rows(eszsl.decision_function(emb[va], phi[val_cls]))
                for w in mix.weights:
                    acc = _accuracy(w * zc + (1 - w) * zb, y_val)
                    results.setdefault((w, alpha, gamma), []).append(acc)
    np.testing.assert_array_equal(mix.validation_grid_, np.array(list(results)))
    np.testing.assert_array_equal(mix.validation_accuracy_,
                                  [np.mean(v) for v in results.values()])


# ---------------------------------------------------------------------------------------------
# Model selection: shortcuts == fitting every grid point on every split


def _points(grid):
    return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]


def _selection_reference(cls, grid, X, y, E, n_val, n_splits, k, fit_params):
    """select_hyperparameters' scores as a plain loop: fit every point on every split."""
    points = _points(grid)
    scores = {i: [] for i in range(len(points))}
    for val in validation_splits(y, n_val, n_splits, 0):
        is_val = np.isin(y, val)
        train_classes = np.setdiff1d(np.arange(E.shape[0]), val)
        tr_map = np.full(E.shape[0], -1)
        tr_map[train_classes] = np.arange(train_classes.size)
        va_map = np.full(E.shape[0], -1)
        va_map[val] = np.arange(val.size)
        for i, point in enumerate(points):
            est = cls(**point).fit(X[~is_val], tr_map[y[~is_val]], E[train_classes], **fit_params)
            scores[i].append(est.score(X[is_val], va_map[y[is_val]], E[val], k=k))
    return [scores[i] for i in range(len(points))]


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_training_free_selection_equals_fitting_per_split(k, ties):
    phi, S, y, scores, _ = _world(6, ties=ties)
    phi = np.vstack([phi, phi[:2]])  # duplicate candidates: exact score ties between classes
    y = np.where(y == 3, phi.shape[0] - 1, y)  # ...one of them with clips
    grid = {"top_t": [1, 3, 5], "score_transform": ["raw", "power"], "temperature": [1.0, 0.5]}
    res = select_hyperparameters("conse", grid, scores, y, phi, n_val_classes=0.3, n_splits=3,
                                 k=k, source=space(S))
    ref = _selection_reference(ConSE, grid, scores, y, phi, 0.3, 3, k,
                               {"source": space(S)})
    assert [row["split_scores"] for row in res.table] == ref
    assert [{n: row[n] for n in grid} for row in res.table] == _points(grid)


def test_softmap_selection_equals_fitting_per_split():
    phi, S, y, scores, _ = _world(10)
    source = SourceLabelSpace([str(k) for k in range(K_SOURCE)], S, rows=np.vstack([S, -S]),
                              row_owner=np.tile(np.arange(K_SOURCE), 2),
                              row_kind=np.repeat([0, 1], K_SOURCE))
    grid = {"tau": [0.01, 0.05, 0.2], "source_text": ["name", "synonyms", "synonyms+description"]}
    res = select_hyperparameters("softmap", grid, scores.astype(np.float32), y, phi,
                                 n_val_classes=0.3, n_splits=2, source=source)
    ref = _selection_reference(SoftMap, grid, scores.astype(np.float32), y, phi, 0.3, 2, 1,
                               {"source": source})
    assert [row["split_scores"] for row in res.table] == ref


def test_training_free_selection_checks_k():
    phi, S, y, scores, _ = _world(7)
    with pytest.raises(ValueError, match="k must be an integer"):
        select_hyperparameters("conse", {"top_t": [1, 2]}, scores, y, phi, n_val_classes=3,
                               n_splits=2, k=4, source=space(S))


def test_eszsl_selection_equals_fitting_per_split():
    phi, _, y, _, emb = _world(8)
    grid = {"alpha": [0.1, 1.0, 10.0], "gamma": [0.1, 10.0]}
    res = select_hyperparameters("eszsl", grid, emb, y, phi, n_val_classes=4, n_splits=3)
    ref = _selection_reference(ESZSL, grid, emb, y, phi, 4, 3, 1, {})
    assert [row["split_scores"] for row in res.table] == ref
    assert [{n: row[n] for n in grid} for row in res.table] == _points(grid)


@pytest.mark.parametrize("ties", [False, True])
def test_grid_decision_functions_equal_each_decision_function(ties):
    """ConSE and the soft map share work between the estimators of a grid (ranking per T,
    normalised embeddings, similarities per source text, duplicate points): the same numbers
    as each estimator's decision function, in any order of the points."""
    phi, S, y, scores, _ = _world(8, ties=ties)
    mask = np.ones(K_SOURCE, bool)
    mask[[3, 17]] = False  # masked sources are never ranked
    conse_grid = {"top_t": [1, 3, 50, 5], "score_transform": ["raw", "power", "softmax", "uniform"],
                  "temperature": [1.0, 0.5], "normalize_source": [True, False]}
    rows = np.vstack([S, 0.5 * S[::2] + 0.1])
    owner = np.concatenate([np.arange(K_SOURCE), np.arange(0, K_SOURCE, 2)])
    kind = np.concatenate([np.zeros(K_SOURCE, int), np.ones(K_SOURCE // 2, int)])
    rows_space = SourceLabelSpace([str(k) for k in range(K_SOURCE)], S, rows=rows,
                                  row_owner=owner, row_kind=kind)
    softmap_grid = {"tau": [0.02, 0.1], "source_text": ["name", "synonyms", "synonyms+description"]}
    for cls, grid, source in ((ConSE, conse_grid, SourceLabelSpace.from_vectors(S, mask)),
                              (SoftMap, softmap_grid, rows_space)):
        points = _points(grid)
        for order in (points, points[::-1]):
            shared = {}
            for point in order:
                est = cls(**point).fit(source=source)
                got = est._grid_decision_function(scores[:60], phi, shared)
                np.testing.assert_array_equal(got, est.decision_function(scores[:60], phi))
                assert not got.flags.writeable or cls is SoftMap


def test_conse_grid_decision_raises_as_the_decision_function():
    phi, S, y, scores, _ = _world(9)
    shared = {}
    ConSE(score_transform="uniform").fit(source=space(S))._grid_decision_function(
        -scores, phi, shared)
    with pytest.raises(ValueError, match="needs scores >= 0"):
        ConSE().fit(source=space(S))._grid_decision_function(-scores, phi, shared)
