"""The few-shot hybrid (conse-fewshot), on synthetic data where prototypes are known to help."""

import numpy as np
import pytest

from zsaudio.model import METHODS, make_estimator
from zsaudio.model.base import NotFittedError
from zsaudio.model.base import l2_normalize_rows as l2_normalize
from zsaudio.model.features import AudioFeatures, SourceLabelSpace
from zsaudio.model.fewshot import FewShotConSE
from zsaudio.model.hybrid import AnchoredConSE
from zsaudio.model.io import load_model, save_model

space = SourceLabelSpace.from_vectors

D_LABEL, K_SOURCE, D_AUDIO = 12, 60, 20
N_SHOTS = 5


def _world(seed, conse_quality=0.3, audio_quality=0.8, n_classes=24, n_per=20):
    """Classes with label vectors phi; an encoder head whose K source classes have label
    vectors S; clip scores that favour the source classes nearest to phi_y (weakly, for
    conse_quality < 1), and audio embeddings clustered around a random per-class centre,
    unrelated to phi (only prototypes can use them)."""
    rng = np.random.default_rng(seed)
    phi = l2_normalize(rng.normal(size=(n_classes, D_LABEL)))
    S = l2_normalize(rng.normal(size=(K_SOURCE, D_LABEL)))
    y = np.repeat(np.arange(n_classes), n_per)
    sim = phi[y] @ S.T
    logits = 8 * (conse_quality * sim + (1 - conse_quality) * rng.normal(size=sim.shape))
    scores = 1 / (1 + np.exp(-logits + 4))
    centres = rng.normal(size=(n_classes, D_AUDIO))
    emb = audio_quality * centres[y] + (1 - audio_quality) * 2 * rng.normal(size=(y.size, D_AUDIO))
    return phi, S, y, AudioFeatures(emb, scores)


def _few_shot_split(y, n_base, seed=0):
    """Setting-4-like: all clips of classes < n_base, N_SHOTS clips of each other class for
    training; the other clips of those classes for testing."""
    rng = np.random.default_rng(seed)
    shots = np.concatenate([rng.choice(np.flatnonzero(y == c), N_SHOTS, replace=False)
                            for c in np.unique(y[y >= n_base])])
    train = np.union1d(np.flatnonzero(y < n_base), shots)
    test = np.setdiff1d(np.flatnonzero(y >= n_base), shots)
    return train, test


def _anchored_twin(model):
    """The conse-anchored model that the few-shot model's zero-shot part is."""
    return AnchoredConSE(top_t=model.top_t, lams=model.lams, n_val_splits=model.n_val_splits,
                         val_fraction=model.val_fraction, seed=model.seed)


def test_prototypes_beat_the_zero_shot_part_when_the_audio_clusters():
    phi, S, y, X = _world(0)
    train, test = _few_shot_split(y, 16)
    cand, y_test = phi[16:], y[test] - 16
    model = FewShotConSE(n_val_splits=3).fit(X[train], y[train], phi, source=space(S))
    assert model.method_name in METHODS and model.uses == ("embeddings", "scores")
    assert model.needs_source and not model.training_free
    assert model.weight_ < 1.0 and model.feature_space_ in model.feature_spaces
    assert model.chosen_params() == {"lam": model.zeroshot_.lam_, "weight": model.weight_,
                                     "feature_space": model.feature_space_}
    assert model.has_prototypes(cand).all()
    zero_shot = _anchored_twin(model).fit(X[train].scores, y[train], phi,
                                          source=space(S))
    acc_zs = zero_shot.score(X[test].scores, y_test, cand)
    acc = model.score(X[test], y_test, cand)
    assert acc > acc_zs + 0.2 and acc > 0.8
    # the validation table covers every (feature space, weight) pair
    assert model.validation_grid_.shape == (len(model.feature_spaces) * len(model.weights), 2)
    assert np.isfinite(model.validation_accuracy_).all()


def test_zero_shot_part_alone_when_a_candidate_has_no_prototype():
    phi, S, y, X = _world(1)
    train, test = _few_shot_split(y, 16)
    keep = y[train] < 20  # classes 20..23: no clips at all (zero-shot candidates)
    model = FewShotConSE(n_val_splits=2).fit(
        X[train][keep], y[train][keep], phi, source=space(S))
    zero_shot = _anchored_twin(model).fit(X[train][keep].scores, y[train][keep], phi,
                                          source=space(S))
    assert model.weight_ < 1.0  # prototypes are used where every candidate has one ...
    cand = phi[16:]
    assert model.has_prototypes(cand).tolist() == [True] * 4 + [False] * 4
    # ... but not here: exactly conse-anchored's scores and ranking
    np.testing.assert_allclose(model.decision_function(X[test], cand),
                               zero_shot.decision_function(X[test].scores, cand))
    np.testing.assert_array_equal(model.predict_topk(X[test], cand, 3),
                                  zero_shot.predict_topk(X[test].scores, cand, 3))
    with_proto = model.decision_function(X[test], phi[16:20])
    assert not np.allclose(with_proto, zero_shot.decision_function(X[test].scores, phi[16:20]))


def test_candidate_matching_rule():
    phi, S, y, X = _world(2, n_classes=12, n_per=12)
    model = FewShotConSE(n_val_splits=1).fit(X, y, phi, source=space(S))
    near = phi[:3] + 1e-5 * np.random.default_rng(0).normal(size=(3, D_LABEL))  # cos ~ 1 - 1e-10
    far = l2_normalize(phi[:3] + 0.05 * np.random.default_rng(1).normal(size=(3, D_LABEL)))
    assert model.has_prototypes(3.0 * phi[:3]).all()  # a rescaled row is the same class
    assert model.has_prototypes(near).all()
    assert not model.has_prototypes(far).any()
    assert not model.has_prototypes(np.zeros((1, D_LABEL))).any()


def test_too_few_classes_for_an_episode_is_the_zero_shot_part():
    phi, S, y, X = _world(3, n_classes=6, n_per=10)
    keep = (y < 3) | (np.arange(y.size) % 10 < 3)  # 3 many-clip classes, 3 with 3 clips
    model = FewShotConSE().fit(X[keep], y[keep], phi, source=space(S))
    assert model.weight_ == 1.0 and np.isnan(model.validation_accuracy_).all()
    zero_shot = _anchored_twin(model).fit(X[keep].scores, y[keep], phi, source=space(S))
    np.testing.assert_allclose(model.decision_function(X, phi[3:]),
                               zero_shot.decision_function(X.scores, phi[3:]))


def test_save_and_load_round_trip(tmp_path):
    phi, S, y, X = _world(4, n_classes=16, n_per=12)
    S[7] = 0  # masked source class
    model = make_estimator("conse-fewshot", n_val_splits=2,
                           weights=(1.0, 0.5, 0.0)).fit(X, y, phi, source=space(S))
    path = tmp_path / "model.npz"
    save_model(path, model, {"note": "few-shot"})
    loaded, meta = load_model(path, expected_method="conse-fewshot")
    assert meta["uses"] == ["embeddings", "scores"] and isinstance(loaded, FewShotConSE)
    assert "input_kind" not in meta
    # The zero-shot part is a public, saved sub-estimator.
    assert isinstance(loaded.zeroshot_, AnchoredConSE)
    assert loaded.zeroshot_.get_params() == model.zeroshot_.get_params()  # tuples stay tuples
    assert loaded.get_params() == model.get_params()
    assert loaded.zeroshot_.lam_ == model.zeroshot_.lam_
    np.testing.assert_array_equal(loaded.zeroshot_.V_, model.zeroshot_.V_)
    assert not loaded.zeroshot_.source_mask_[7]
    assert loaded.feature_space_ == model.feature_space_ and loaded.weight_ == model.weight_
    for cand in (phi[:5], phi[10:]):  # with prototypes and (after a foreign row) without
        np.testing.assert_allclose(loaded.decision_function(X, cand),
                                   model.decision_function(X, cand))
    foreign = np.vstack([phi[:4], -phi[0]])
    np.testing.assert_allclose(loaded.decision_function(X, foreign),
                               model.decision_function(X, foreign))
    np.testing.assert_array_equal(loaded.validation_accuracy_, model.validation_accuracy_)
    with pytest.raises(ValueError, match="was expected"):
        load_model(path, expected_method="conse-anchored")


def test_bad_inputs_give_clear_errors():
    phi, S, y, X = _world(5, n_classes=10, n_per=8)
    scores = X.scores
    fit = {"source": space(S)}
    # It reads both fields: a bare array, or features without embeddings, is refused.
    with pytest.raises(ValueError, match="pass AudioFeatures"):
        FewShotConSE().fit(scores, y, phi, **fit)
    with pytest.raises(ValueError, match="embeddings, which these features lack"):
        FewShotConSE().fit(AudioFeatures(scores=scores), y, phi, **fit)
    with pytest.raises(ValueError, match="SourceLabelSpace"):
        FewShotConSE().fit(X, y, phi)
    # The scores' width must be the number of source classes (K comes from the source space).
    with pytest.raises(ValueError, match=f"{K_SOURCE} class scores per clip but the source "
                                         f"label space has {K_SOURCE - 1}"):
        FewShotConSE().fit(X, y, phi, source=space(S[:-1]))
    with pytest.raises(ValueError, match="weights"):
        FewShotConSE(weights=(1.5,)).fit(X, y, phi, **fit)
    with pytest.raises(ValueError, match="feature_spaces"):
        FewShotConSE(feature_spaces=("mfcc",)).fit(X, y, phi, **fit)
    with pytest.raises(ValueError, match="n_shots"):
        FewShotConSE(n_shots=0).fit(X, y, phi, **fit)
    with pytest.raises(ValueError, match="val_fraction"):
        FewShotConSE(val_fraction=1.0).fit(X, y, phi, **fit)
    with pytest.raises(ValueError, match="labels but X"):
        FewShotConSE().fit(X, y[:-1], phi, **fit)
    with pytest.raises(ValueError, match="same label encoder"):
        FewShotConSE().fit(X, y, phi[:, :5], **fit)
    with pytest.raises(NotFittedError, match="not fitted"):
        FewShotConSE().predict(X, phi)
    with pytest.raises(NotFittedError, match="not fitted"):
        FewShotConSE().has_prototypes(phi)
    model = FewShotConSE(n_val_splits=1, weights=(0.5,)).fit(X, y, phi, **fit)
    with pytest.raises(ValueError, match="fitted with"):
        model.predict(AudioFeatures(X.embeddings[:, 3:], X.scores), phi)
    with pytest.raises(ValueError, match="class_embeddings has 5 columns"):
        model.has_prototypes(phi[:, :5])


def test_chosen_params_need_a_fit():
    with pytest.raises(NotFittedError, match="not fitted"):
        FewShotConSE().chosen_params()
