"""Every registered estimator follows the same protocol: scikit-learn's ``clone`` and parameter
round trips, the class attributes that callers branch on, and a save/load round trip of a
fitted instance that scores exactly as the original."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from zsaudio.model import METHODS, AudioFeatures, HeldOutClassSearch, SourceLabelSpace, make_estimator
from zsaudio.model.base import NotFittedError, ZeroShotEstimator
from zsaudio.model.features import FEATURE_FIELDS
from zsaudio.model.io import load_model, save_model

N_CLASSES, N_PER, D_AUDIO, K_SOURCE, D_LABEL = 12, 10, 8, 15, 6

# Small, quick, non-default settings per method (non-defaults so that a parameter lost on the
# way would show).
PARAMS = {
    "bilinear": {"learning_rate": 0.02, "epochs": 2, "seed": 3},
    "eszsl": {"alpha": 0.5, "gamma": 2.0},
    "sje": {"learning_rate": 0.02, "epochs": 2, "seed": 3},
    "devise": {"learning_rate": 0.02, "epochs": 2, "seed": 3, "margin": 0.2},
    "bilinear-torch": {"learning_rate": 0.02, "epochs": 2, "seed": 3, "batch_size": 8},
    "conse": {"top_t": 3, "score_transform": "power", "temperature": 0.5},
    "conse-mix": {"top_t": 3, "weights": (1.0, 0.5, 0.0), "alphas": (0.1, 1.0), "gammas": (1.0,),
                  "n_val_splits": 2, "seed": 1},
    "conse-anchored": {"top_t": 3, "lams": (float("inf"), 1.0, 0.01), "n_val_splits": 2, "seed": 1},
    "conse-fewshot": {"top_t": 3, "lams": (float("inf"), 1.0), "weights": (1.0, 0.5, 0.0),
                      "n_shots": 3, "n_val_splits": 2, "seed": 1},
    "softmap": {"tau": 0.05, "source_text": "synonyms"},
    "softmap-fewshot": {"taus": (0.02, 0.1), "source_texts": ("name", "synonyms"),
                        "weights": (1.0, 0.5, 0.0), "n_shots": 3, "n_episodes": 2, "seed": 1},
    "softmap-fewshot-mean": {"taus": (0.05,), "weights": (0.5, 0.0), "n_shots": 3,
                             "n_episodes": 2, "seed": 2},
    "calibrated-stacking": {"base": "sje", "base_params": {"epochs": 2}, "gammas": (0.0, 1.0),
                            "n_val_splits": 2, "seed": 1},
}


def test_every_registered_method_is_covered():
    assert set(PARAMS) == set(METHODS)


def _world(seed=0):
    """AudioFeatures with both fields (every method reads what it uses), labels, training
    class embeddings, candidate embeddings and the encoder's label space (one masked class)."""
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(N_CLASSES + 4, D_LABEL))
    S = rng.normal(size=(K_SOURCE, D_LABEL))
    S[4] = 0  # a class the label encoder could not embed: masked
    y = np.repeat(np.arange(N_CLASSES), N_PER)
    logits = 4 * (phi[y] @ S.T) / np.sqrt(D_LABEL) + rng.normal(size=(y.size, K_SOURCE))
    scores = 1 / (1 + np.exp(-logits))
    emb = phi[y] @ rng.normal(size=(D_LABEL, D_AUDIO)) + rng.normal(size=(y.size, D_AUDIO))
    gated = emb + 0.5 * rng.normal(size=emb.shape)
    X = AudioFeatures(emb, scores, gated)
    # Source texts as rows (name, synonym, description per class) for the soft map.
    rows = np.vstack([S, S + 0.3 * rng.normal(size=S.shape), S + 0.3 * rng.normal(size=S.shape)])
    source = SourceLabelSpace([f"class {k}" for k in range(K_SOURCE)], S,
                              rows=rows, row_owner=np.tile(np.arange(K_SOURCE), 3),
                              row_kind=np.repeat([0, 1, 2], K_SOURCE))
    return X, y, phi[:N_CLASSES], phi, source


def _fitted(method, X, y, E, source):
    return make_estimator(method, **PARAMS[method]).fit(X, y, E, source=source)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_class_attributes(method):
    cls = METHODS[method]
    assert issubclass(cls, ZeroShotEstimator) and cls.method_name == method
    assert cls.uses and set(cls.uses) <= set(FEATURE_FIELDS)
    assert list(cls.uses) == [f for f in FEATURE_FIELDS if f in cls.uses]  # in field order
    assert not hasattr(cls, "input_kind") and "n_scores" not in cls._param_names()
    assert not cls.training_free or cls.needs_source  # training-free methods need the source
    for attr, subs in cls.sub_estimators.items():
        assert attr.endswith("_") and not attr.startswith("_")
        for sub in subs if isinstance(subs, tuple) else (subs,):
            assert METHODS[sub.method_name] is sub
    assert all(a.endswith("_") for a in cls.rebuilt_on_load)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_get_params_round_trips(method):
    est = make_estimator(method, **PARAMS[method])
    params = est.get_params(deep=True)
    assert params == est.get_params(deep=False)  # no estimator takes a nested estimator
    assert {k: params[k] for k in PARAMS[method]} == PARAMS[method]
    assert set(params) == set(type(est)._param_names())
    rebuilt = type(est)(**params)
    assert rebuilt.get_params(deep=True) == params
    assert repr(rebuilt) == repr(est)
    fresh = make_estimator(method)
    assert fresh.set_params(**params) is fresh and fresh.get_params(deep=True) == params
    with pytest.raises(ValueError, match="has no hyper-parameter 'nope'"):
        fresh.set_params(nope=1)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_sklearn_clone(method):
    X, y, E, cand, source = _world()
    est = make_estimator(method, **PARAMS[method])
    copy = clone(est)
    assert type(copy) is type(est) and copy is not est
    assert copy.get_params(deep=True) == est.get_params(deep=True)
    # A clone of a fitted estimator is unfitted, and refits to the same scores.
    fitted = _fitted(method, X, y, E, source)
    unfitted = clone(fitted)
    assert not unfitted._is_fitted()
    with pytest.raises(NotFittedError, match="not fitted"):
        unfitted.decision_function(X, cand)
    refitted = unfitted.fit(X, y, E, source=source)
    np.testing.assert_array_equal(refitted.decision_function(X, cand),
                                  fitted.decision_function(X, cand))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_save_load_round_trip_scores_identically(tmp_path, method):
    X, y, E, cand, source = _world()
    est = _fitted(method, X, y, E, source)
    path = tmp_path / f"{method}.npz"
    save_model(path, est, {"note": method})
    loaded, meta = load_model(path, expected_method=method)
    assert type(loaded) is type(est) and loaded._is_fitted()
    assert loaded.get_params() == est.get_params()  # tuples come back as tuples
    assert meta["uses"] == list(est.uses) and "input_kind" not in meta
    assert meta["user"] == {"note": method}
    assert meta["dims"] == {"n_features_in": int(est.n_features_in_),
                            "embedding_dim": D_LABEL, "n_train_classes": N_CLASSES}
    for attr in type(est).sub_estimators:
        assert type(getattr(loaded, attr)) is type(getattr(est, attr))
    for attr in type(est).rebuilt_on_load:
        assert hasattr(loaded, attr)
    # Candidates: the training classes, unseen ones, and a mix.
    for C in (E, cand[N_CLASSES:], cand):
        np.testing.assert_array_equal(loaded.decision_function(X, C), est.decision_function(X, C))
    np.testing.assert_array_equal(loaded.predict_topk(X[:7], cand, 3), est.predict_topk(X[:7], cand, 3))
    # A method reading one field also takes that array bare, before and after loading.
    if len(est.uses) == 1:
        bare = getattr(X, est.uses[0])
        np.testing.assert_array_equal(loaded.decision_function(bare, cand),
                                      est.decision_function(X, cand))


@pytest.mark.parametrize("method", sorted(m for m, cls in METHODS.items() if cls.training_free))
def test_training_free_methods_fit_on_the_source_alone(tmp_path, method):
    X, y, E, cand, source = _world()
    est = make_estimator(method, **PARAMS[method]).fit(source=source)
    assert est.n_classes_ == 0 and est.n_features_in_ == K_SOURCE
    with_clips = _fitted(method, X, y, E, source)
    np.testing.assert_array_equal(est.decision_function(X, cand), with_clips.decision_function(X, cand))
    save_model(tmp_path / "m.npz", est, {})
    loaded, meta = load_model(tmp_path / "m.npz", expected_method=method)
    assert meta["dims"]["n_train_classes"] == 0
    np.testing.assert_array_equal(loaded.decision_function(X, cand), est.decision_function(X, cand))


@pytest.mark.parametrize("method", sorted(m for m, cls in METHODS.items() if cls.needs_source))
def test_methods_needing_the_source_refuse_to_fit_without(method):
    X, y, E, _, _ = _world()
    with pytest.raises(ValueError, match="source=SourceLabelSpace"):
        make_estimator(method, **PARAMS[method]).fit(X, y, E)


def test_held_out_class_search_clones():
    search = HeldOutClassSearch("eszsl", params={"gamma": 0.5}, grid={"alpha": [0.1, 1.0]}, seed=2)
    copy = clone(search)
    assert copy is not search and copy.get_params(deep=True) == search.get_params(deep=True)
