"""Estimator interface: validation messages, prediction helpers, registry, save/load, selection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zsaudio.model import (
    METHODS,
    AudioFeatures,
    BilinearZSL,
    ZeroShotEstimator,
    make_estimator,
    register_method,
)
from zsaudio.model.base import NotFittedError
from zsaudio.model.features import SourceLabelSpace
from zsaudio.model.io import load_model, save_model
from zsaudio.model.selection import select_hyperparameters
from zsaudio.model.splits import validation_splits

space = SourceLabelSpace.from_vectors


def _data(seed=0, n=40, D=6, C=5, d=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, D)), np.arange(n) % C, rng.normal(size=(C, d))


# The embedding-input methods of this stage (ConSE and hybrids have their own tests).
EMBEDDING_METHODS = ["bilinear", "bilinear-torch", "devise", "eszsl", "sje"]

FAST = {
    "bilinear": {"epochs": 2},
    "sje": {"epochs": 2},
    "devise": {"epochs": 2},
    "eszsl": {},
    "bilinear-torch": {"epochs": 2, "batch_size": 8},
}


@pytest.mark.parametrize("method", EMBEDDING_METHODS)
@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda X, y, E: (X[:, :, None], y, E), "X must be 2-D"),
        (lambda X, y, E: (X[:0], y[:0], E), "X is empty"),
        (lambda X, y, E: (X, y, E[:0]), "class_embeddings is empty"),
        (lambda X, y, E: (X, y[:-1], E), "has 39 labels but X has 40 rows"),
        (lambda X, y, E: (X, np.zeros_like(y), E), "at least 2 classes"),
        (lambda X, y, E: (X, y + 10, E), r"0 <= y < 5"),
        (lambda X, y, E: (X, y - 1, E), r"0 <= y < 5"),
        (lambda X, y, E: (X, y + 0.5, E), "integer class indices"),
        (lambda X, y, E: (np.where(X > 1.5, np.nan, X), y, E), "X contains NaN or Inf"),
        (lambda X, y, E: (X, y, np.where(E > 1, np.inf, E)), "class_embeddings contains NaN"),
        (lambda X, y, E: (X.astype(str), y, E), "X must be a numeric array"),
    ],
)
def test_fit_rejects_invalid_inputs(method, mutate, message):
    X, y, E = _data()
    with pytest.raises(ValueError, match=message):
        make_estimator(method, **FAST[method]).fit(*mutate(X, y, E))


@pytest.mark.parametrize("method", EMBEDDING_METHODS)
def test_prediction_interface(method):
    X, y, E = _data()
    est = make_estimator(method, **FAST[method])
    with pytest.raises(NotFittedError, match="not fitted"):
        est.predict(X, E)
    assert est.fit(X, y, E) is est
    assert est.uses == ("embeddings",) and not est.needs_source and not est.training_free
    rng = np.random.default_rng(1)
    cand = rng.normal(size=(7, 3))
    S = est.decision_function(X, cand)
    assert S.shape == (40, 7)
    # The whole AudioFeatures is accepted: the method reads its embeddings, ignores the scores.
    clip_scores = rng.uniform(size=(40, 9))
    np.testing.assert_array_equal(est.decision_function(AudioFeatures(X, clip_scores), cand), S)
    np.testing.assert_array_equal(est.decision_function(AudioFeatures(embeddings=X), cand), S)
    with pytest.raises(ValueError, match="embeddings, which these features lack"):
        est.decision_function(AudioFeatures(scores=clip_scores), cand)
    top = est.predict_topk(X, cand, k=3)
    assert top.shape == (40, 3)
    np.testing.assert_array_equal(top[:, 0], est.predict(X, cand))
    rows = np.arange(40)[:, None]
    assert np.all(np.diff(S[rows, top], axis=1) <= 0)  # best first
    # score = top-k accuracy, by definition on the predictions
    yc = rng.integers(0, 7, size=40)
    assert est.score(X, yc, cand, k=3) == pytest.approx(np.mean((top == yc[:, None]).any(1)))
    assert est.score(X, yc, cand, k=7) == 1.0
    with pytest.raises(ValueError, match="k must be an integer in"):
        est.predict_topk(X, cand, k=8)
    with pytest.raises(ValueError, match="X has 5 columns but the estimator was fitted with 6"):
        est.predict(X[:, :5], cand)
    with pytest.raises(ValueError, match="X has 5 columns but the estimator was fitted with 6"):
        est.predict(AudioFeatures(X[:, :5], clip_scores), cand)
    with pytest.raises(ValueError, match="class_embeddings has 4 columns"):
        est.predict(X, rng.normal(size=(7, 4)))


@pytest.mark.parametrize("method", EMBEDDING_METHODS)
def test_source_is_accepted_and_ignored_by_embedding_methods(method):
    X, y, E = _data()
    plain = make_estimator(method, **FAST[method]).fit(X, y, E)
    with_source = make_estimator(method, **FAST[method]).fit(
        AudioFeatures(X, np.ones((40, 2))), y, E, source=space(np.eye(2, 3)))
    assert not hasattr(with_source, "source_embeddings_")
    np.testing.assert_array_equal(with_source.decision_function(X, E), plain.decision_function(X, E))
    with pytest.raises(ValueError, match="learns from labelled clips"):
        make_estimator(method, **FAST[method]).fit(source=space(np.eye(2, 3)))


def test_classes_without_samples_are_allowed():
    X, y, E = _data(C=5)
    est = BilinearZSL(epochs=2).fit(X, np.where(y == 4, 0, y), E)  # class 4 has no sample
    assert est.n_classes_ == 5


def test_hyperparameter_validation():
    X, y, E = _data()
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        BilinearZSL(epochs=0).fit(X, y, E)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        BilinearZSL(learning_rate=-1).fit(X, y, E)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        make_estimator("eszsl", alpha=0).fit(X, y, E)
    with pytest.raises(ValueError, match="margin must be > 0"):
        make_estimator("devise", margin=0).fit(X, y, E)


def test_registry_and_make_estimator():
    assert set(EMBEDDING_METHODS) | {"conse", "conse-mix", "conse-anchored"} <= set(METHODS)
    for name, cls in METHODS.items():
        assert cls.method_name == name and issubclass(cls, ZeroShotEstimator)
    est = make_estimator("bilinear", learning_rate=0.1, epochs=3)
    assert est.get_params() == {"learning_rate": 0.1, "epochs": 3, "seed": 0, "normalize": True,
                                "dtype": "float64", "track_risk": True}
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        make_estimator("nope")
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        make_estimator("eszsl", epochs=3)
    with pytest.raises(ValueError, match="already registered"):

        class Other(BilinearZSL):
            method_name = "bilinear"

        register_method(Other)


@pytest.mark.parametrize("method", EMBEDDING_METHODS)
def test_save_load_round_trip(tmp_path, method):
    X, y, E = _data()
    est = make_estimator(method, **FAST[method]).fit(X, y, E)
    meta_in = {"audio_encoder": {"name": "yamnet"}, "train_classes": [f"c{i}" for i in range(5)]}
    path = tmp_path / "sub" / "model.npz"
    save_model(path, est, meta_in)
    loaded, meta = load_model(path, expected_method=method)
    assert type(loaded) is type(est) and loaded.get_params() == est.get_params()
    assert meta["user"] == meta_in and meta["method"] == method
    assert meta["dims"] == {"n_features_in": 6, "embedding_dim": 3, "n_train_classes": 5}
    assert meta["zsaudio_version"]
    cand = np.random.default_rng(2).normal(size=(4, 3))
    np.testing.assert_array_equal(loaded.decision_function(X, cand), est.decision_function(X, cand))
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary file left


def test_load_refuses_wrong_method_and_foreign_files(tmp_path):
    X, y, E = _data()
    path = tmp_path / "m.npz"
    save_model(path, make_estimator("eszsl").fit(X, y, E), {})
    with pytest.raises(ValueError, match="holds a 'eszsl' model, but a 'bilinear' model"):
        load_model(path, expected_method="bilinear")
    other = tmp_path / "other.npz"
    np.savez(other, W=np.zeros(3))
    with pytest.raises(ValueError, match="not a zsaudio model file"):
        load_model(other)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read model file|not a zsaudio model"):
        load_model(bad)
    with pytest.raises(ValueError, match="not fitted"):
        save_model(tmp_path / "x.npz", BilinearZSL(), {})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        save_model(tmp_path / "y.npz", make_estimator("eszsl").fit(X, y, E), {"a": object()})
    # The metadata is plain JSON inside the archive (readable without zsaudio).
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["meta.json"]))["params"]["alpha"] == 1.0


def _separable(seed=0, C=12, per_class=10):
    rng = np.random.default_rng(seed)
    E = rng.normal(size=(C, 6))
    y = np.repeat(np.arange(C), per_class)
    X = E[y] @ rng.normal(size=(6, 15)) + 0.3 * rng.normal(size=(y.size, 15))
    return X, y, E


def test_validation_splits_hold_out_training_classes_only():
    y = np.repeat([0, 1, 2, 3, 5, 6, 7, 8], 3)  # class 4 has no sample
    splits = validation_splits(y, 0.25, n_splits=4, seed=1)
    assert len(splits) == 4
    for val in splits:
        assert len(val) == 2 and 4 not in val and set(val) <= set(y)
    assert validation_splits(y, 3, 1)[0].size == 3
    with pytest.raises(ValueError, match=">= 2 validation"):
        validation_splits(y, 1, 1)
    with pytest.raises(ValueError, match=">= 2 remaining"):
        validation_splits(y, 7, 1)


def test_select_hyperparameters_picks_the_best_grid_point():
    X, y, E = _separable()
    grid = {"learning_rate": [1e-6, 0.02], "epochs": [1, 4]}
    res = select_hyperparameters("bilinear", grid, X, y, E, n_val_classes=4, n_splits=2)
    assert len(res.table) == 4 and len(res.splits) == 2
    means = [row["mean_score"] for row in res.table]
    best_row = res.table[int(np.argmax(means))]
    assert res.best_params == {k: best_row[k] for k in grid}
    assert res.best_params["learning_rate"] == 0.02  # a step of 1e-6 learns nothing useful
    # The one-run epoch path gives the same scores as refitting each grid point.
    for row in res.table:
        scores = []
        for val in res.splits:
            keep = ~np.isin(y, val)
            tr = np.setdiff1d(np.arange(len(E)), val)
            remap = {c: i for i, c in enumerate(tr)}
            est = BilinearZSL(learning_rate=row["learning_rate"], epochs=row["epochs"]).fit(
                X[keep], [remap[c] for c in y[keep]], E[tr]
            )
            vmap = {c: i for i, c in enumerate(val)}
            scores.append(est.score(X[~keep], [vmap[c] for c in y[~keep]], E[val]))
        assert row["split_scores"] == pytest.approx(scores)


def test_select_hyperparameters_other_methods_and_errors():
    X, y, E = _separable(1)
    res = select_hyperparameters(
        "eszsl", {"alpha": [0.1, 10.0]}, X, y, E, n_val_classes=0.3, fixed_params={"gamma": 0.5}
    )
    assert set(res.best_params) == {"alpha"} and res.table[0]["mean_score"] > 0.4
    with pytest.raises(ValueError, match="has no hyper-parameter 'epochs'"):
        select_hyperparameters("eszsl", {"epochs": [1]}, X, y, E, n_val_classes=3)
    with pytest.raises(ValueError, match="non-empty list"):
        select_hyperparameters("bilinear", {"epochs": []}, X, y, E, n_val_classes=3)
    with pytest.raises(ValueError, match="unknown method"):
        select_hyperparameters("zzz", {}, X, y, E, n_val_classes=3)


def test_select_hyperparameters_passes_source():
    # ConSE (uses ("scores",)) needs the encoder's label space at fit time.
    rng = np.random.default_rng(0)
    S = rng.normal(size=(10, 6))
    y = np.repeat(np.arange(10), 6)
    X = np.eye(10)[y] + 0.05 * rng.random(size=(60, 10))  # class scores peaked on the truth
    res = select_hyperparameters(
        "conse", {"top_t": [1, 3]}, X, y, S, n_val_classes=4, n_splits=2,
        source=space(S),
    )
    assert res.best_params["top_t"] in (1, 3)
    assert max(row["mean_score"] for row in res.table) > 0.9
    with pytest.raises(ValueError, match=r"give source=SourceLabelSpace"):
        select_hyperparameters("conse", {"top_t": [1]}, X, y, S, n_val_classes=4)
    # The scores' width must be the number of source classes.
    with pytest.raises(ValueError, match="10 class scores per clip but the source label space has 9"):
        select_hyperparameters("conse", {"top_t": [1]}, X, y, S, n_val_classes=4,
                               source=space(S[:9]))


def test_damaged_model_files_are_refused_with_a_message(tmp_path):
    """A truncated zip, a non-zip and JSON metadata of another shape: one ValueError each, no
    zipfile or JSON traceback."""
    from zsaudio.model.io import load_model, save_model

    rng = np.random.default_rng(0)
    est = make_estimator("eszsl").fit(rng.normal(size=(20, 4)), np.arange(20) % 3, rng.normal(size=(3, 2)))
    good = tmp_path / "good.npz"
    save_model(good, est, {})
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    for path in (truncated, garbage):
        with pytest.raises(ValueError, match="cannot read model file"):
            load_model(path)
    assert load_model(good)[0].get_params() == est.get_params()
