"""Silence-gated pooling, the soft-map few-shot method and calibrated stacking."""

from __future__ import annotations

import numpy as np
import pytest

from zsaudio.embeddings.pooling import silence_class_index, silence_gated_pool
from zsaudio.model import (
    METHODS,
    AudioFeatures,
    CalibratedStacking,
    MeanPooledSoftMapFewShot,
    SoftMapFewShot,
    SourceLabelSpace,
)
from zsaudio.model.base import l2_normalize_rows
from zsaudio.model.calibrated import calibrated_stacking, harmonic_mean_accuracy
from zsaudio.model.fewshot import simulated_episodes
from zsaudio.model.io import load_model, save_model
from zsaudio.model.softmap_fewshot import class_prototypes, mix_zscores
from zsaudio.model.splits import topk_accuracy


def test_silence_gate_ignores_silent_patches_and_power_normalises():
    sound = np.array([[4.0, 1.0, 0.0]])
    silent = np.array([[0.0, 0.0, 9.0]])
    emb = np.vstack([sound, silent, silent, silent])
    scores = np.array([[0.0], [1.0], [1.0], [1.0]])
    gated = silence_gated_pool(emb, scores, 0, gamma=1.0)
    expected = np.sqrt(sound[0]) / np.linalg.norm(np.sqrt(sound[0]))
    np.testing.assert_allclose(gated, expected, rtol=1e-6)
    plain = silence_gated_pool(emb, scores, 0, gamma=0.0)  # gamma 0: the plain mean
    mean = emb.mean(axis=0)
    np.testing.assert_allclose(plain, np.sqrt(mean) / np.linalg.norm(np.sqrt(mean)), rtol=1e-6)
    # all silence: the plain mean, not a division by zero
    assert np.isfinite(silence_gated_pool(silent, np.ones((1, 1)), 0)).all()
    assert silence_class_index(["Speech", "Silence"]) == 1 and silence_class_index(["a"]) is None
    with pytest.raises(ValueError, match="gamma"):
        silence_gated_pool(emb, scores, 0, gamma=-1)


def test_prototypes_and_mix():
    F = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 1.0]])
    P = class_prototypes(F, np.array([0, 1, 1]), np.array([1, 0]))
    np.testing.assert_allclose(P, [[0.0, 1.0], [1.0, 0.0]])
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([[3.0, 2.0, 1.0]])
    np.testing.assert_allclose(mix_zscores(a, b, 1.0)[0, 2], mix_zscores(a, a, 0.3)[0, 2])
    np.testing.assert_allclose(mix_zscores(a, b, 0.5), 0.0, atol=1e-12)


def _few_shot_data(seed=0):
    rng = np.random.default_rng(seed)
    K, D, d, C = 16, 8, 6, 12
    S = rng.normal(size=(K, d))
    E = rng.normal(size=(C, d))
    y = np.repeat(np.arange(C), 12)
    G = rng.normal(size=(C, D))[y] + 0.3 * rng.normal(size=(y.size, D))
    scores = rng.uniform(size=(y.size, K)) * 0.2
    return SourceLabelSpace.from_vectors(S), E, y, AudioFeatures(scores=scores, gated=G), K


def test_fewshot_uses_prototypes_only_when_every_candidate_has_clips():
    S, E, y, X, K = _few_shot_data()
    est = SoftMapFewShot(n_episodes=3).fit(X, y, E, source=S)
    assert METHODS["softmap-fewshot"] is SoftMapFewShot
    assert SoftMapFewShot.uses == ("scores", "gated")
    assert MeanPooledSoftMapFewShot.uses == ("embeddings", "scores")
    assert est.weight_ < 1.0  # the clusters are clean: the episodes use the prototypes
    assert est.score(X, y, E) > 0.9
    unseen = np.vstack([E[:3], np.random.default_rng(1).normal(size=(1, E.shape[1]))])
    soft = est.softmap_.decision_function(X.scores, unseen)
    np.testing.assert_allclose(est.decision_function(X, unseen), soft)
    assert set(est.chosen_params()) == {"tau", "source_text", "weight"}
    with pytest.raises(ValueError, match="gated"):
        est.decision_function(AudioFeatures(scores=X.scores), E)


def test_fewshot_weight_table_equals_the_literal_episodes():
    """The weight w's validation accuracies: the z-scores computed once per episode give the
    same numbers as mix_zscores per w."""
    S, E, y, X, K = _few_shot_data(2)
    est = SoftMapFewShot(n_episodes=3, seed=4).fit(X, y, E, source=S)
    results = {}
    for val, shots, query in simulated_episodes(y, est.n_shots, est.val_fraction, 3, 4):
        soft = est.softmap_.decision_function(X.scores[query], E[val])
        cos = l2_normalize_rows(X.gated[query]) @ class_prototypes(X.gated[shots], y[shots], val).T
        for w in est.weights:
            results.setdefault(w, []).append(
                topk_accuracy(mix_zscores(soft, cos, w), np.searchsorted(val, y[query])))
    np.testing.assert_array_equal(est.validation_grid_[:, 0], list(results))
    np.testing.assert_array_equal(est.validation_accuracy_, [np.mean(v) for v in results.values()])


def test_fewshot_round_trips_through_a_model_file(tmp_path):
    S, E, y, X, K = _few_shot_data()
    est = SoftMapFewShot(n_episodes=2).fit(X, y, E, source=S)
    save_model(tmp_path / "m.npz", est, {})
    loaded, _ = load_model(tmp_path / "m.npz")
    np.testing.assert_allclose(loaded.decision_function(X, E), est.decision_function(X, E))


def test_calibrated_stacking_lowers_seen_classes_and_chooses_gamma_on_training_classes(tmp_path):
    np.testing.assert_allclose(calibrated_stacking(np.array([[1.0, 3.0]]), np.array([False, True]),
                                                   1.5), [[-1.0, -0.5]])
    assert harmonic_mean_accuracy(np.array([0, 0]), np.array([0, 1]),
                                  np.array([True, False])) == 0.0
    rng = np.random.default_rng(0)
    C, d, D = 16, 10, 20
    E = rng.normal(size=(C, d))
    y = np.repeat(np.arange(C), 15)
    X = E[y] @ rng.normal(size=(d, D)) + 0.5 * rng.normal(size=(y.size, D))
    train = y < 12
    est = CalibratedStacking(base="eszsl", seed=0).fit(X[train], y[train], E[:12])
    assert est.gamma_ > 0
    test = ~train | (rng.random(y.size) < 0.2)
    truth = y[test]
    pred_cs = est.predict(X[test], E)
    pred_raw = est.base_.predict(X[test], E)
    seen_clip = truth < 12
    assert harmonic_mean_accuracy(pred_cs, truth, seen_clip) > harmonic_mean_accuracy(
        pred_raw, truth, seen_clip)
    save_model(tmp_path / "cs.npz", est, {})
    loaded, _ = load_model(tmp_path / "cs.npz")
    np.testing.assert_allclose(loaded.decision_function(X, E), est.decision_function(X, E))
    with pytest.raises(ValueError, match="base"):
        CalibratedStacking(base="conse").fit(X[train], y[train], E[:12])
