"""Hybrids of ConSE and learned models, on synthetic data where the right choice is known."""

import numpy as np
import pytest

from zsaudio.model import register_method
from zsaudio.model.base import NotFittedError
from zsaudio.model.base import l2_normalize_rows as l2_normalize
from zsaudio.model.baselines import ESZSL
from zsaudio.model.conse import ConSE
from zsaudio.model.features import AudioFeatures, SourceLabelSpace
from zsaudio.model.hybrid import AnchoredConSE, ConSEMix, zscore_rows
from zsaudio.model.io import load_model, save_model

space = SourceLabelSpace.from_vectors

D_LABEL, K_SOURCE, D_AUDIO = 12, 60, 20


def _world(seed, conse_quality, audio_quality, distortion=None, n_classes=24, n_per=15):
    """Classes with label vectors phi; an encoder head whose K source classes have label
    vectors S; clips whose scores favour the source classes nearest to (phi_y A) and whose
    audio embedding is W^T phi_y + noise. ``conse_quality`` / ``audio_quality`` in [0, 1] scale
    the signal against the noise of each input."""
    rng = np.random.default_rng(seed)
    phi = l2_normalize(rng.normal(size=(n_classes, D_LABEL)))
    S = l2_normalize(rng.normal(size=(K_SOURCE, D_LABEL)))
    A = np.eye(D_LABEL) if distortion is None else distortion
    W = rng.normal(size=(D_LABEL, D_AUDIO))
    y = np.repeat(np.arange(n_classes), n_per)
    sim = l2_normalize(phi[y] @ A) @ S.T                    # (n, K)
    logits = 8 * (conse_quality * sim + (1 - conse_quality) * rng.normal(size=sim.shape))
    scores = 1 / (1 + np.exp(-logits + 4))                  # sigmoid scores in (0, 1)
    emb = audio_quality * phi[y] @ W + (1 - audio_quality) * 3 * rng.normal(
        size=(y.size, D_AUDIO))
    return phi, S, y, scores, emb


def _split(y, phi, n_train):
    tr = y < n_train
    return tr, ~tr, phi[:n_train], phi[n_train:], y[tr], y[~tr] - n_train


def test_zscore_rows():
    z = zscore_rows(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    np.testing.assert_allclose(z[0], [-1.2247449, 0, 1.2247449], rtol=1e-6)
    np.testing.assert_array_equal(z[1], 0)


def test_mix_leans_on_the_audio_side_when_conse_is_noise():
    phi, S, y, scores, emb = _world(0, conse_quality=0.0, audio_quality=0.9)
    X = AudioFeatures(emb, scores)
    tr, te, phi_tr, phi_te, y_tr, y_te = _split(y, phi, 16)
    mix = ConSEMix().fit(X[tr], y_tr, phi_tr, source=space(S))
    conse = ConSE().fit(source=space(S))
    assert mix.weight_ <= 0.3
    assert mix.chosen_params() == {"weight": mix.weight_, "alpha": mix.alpha_, "gamma": mix.gamma_}
    acc_mix = mix.score(X[te], y_te, phi_te)
    assert acc_mix > 0.6 > 1 / 8 + 0.2 > conse.score(scores[te], y_te, phi_te)


def test_mix_keeps_conse_when_audio_is_noise():
    phi, S, y, scores, emb = _world(1, conse_quality=0.6, audio_quality=0.0)
    X = AudioFeatures(emb, scores)
    tr, te, phi_tr, phi_te, y_tr, y_te = _split(y, phi, 16)
    mix = ConSEMix().fit(X[tr], y_tr, phi_tr, source=space(S))
    conse = ConSE().fit(source=space(S))
    assert mix.weight_ >= 0.7
    acc_conse = conse.score(scores[te], y_te, phi_te)
    assert acc_conse > 0.45
    assert mix.score(X[te], y_te, phi_te) >= acc_conse - 0.05
    # weight 1 is exactly ConSE's ranking, weight 0 exactly ESZSL's.
    mix.weight_ = 1.0
    np.testing.assert_array_equal(mix.predict(X[te], phi_te), conse.predict(scores[te], phi_te))
    mix.weight_ = 0.0
    eszsl = ESZSL(alpha=mix.alpha_, gamma=mix.gamma_).fit(emb[tr], y_tr, phi_tr)
    np.testing.assert_array_equal(mix.predict(X[te], phi_te), eszsl.predict(emb[te], phi_te))


def test_mix_beats_both_parts_when_both_carry_half_the_signal():
    phi, S, y, scores, emb = _world(0, conse_quality=0.5, audio_quality=0.6, n_per=25)
    X = AudioFeatures(emb, scores)
    tr, te, phi_tr, phi_te, y_tr, y_te = _split(y, phi, 16)
    mix = ConSEMix().fit(X[tr], y_tr, phi_tr, source=space(S))
    acc_conse = ConSE().fit(source=space(S)).score(scores[te], y_te, phi_te)
    audio_only = ConSEMix(weights=(0.0,)).fit(
        X[tr], y_tr, phi_tr, source=space(S))
    acc_audio = audio_only.score(X[te], y_te, phi_te)
    assert 0.0 < mix.weight_ < 1.0
    assert mix.score(X[te], y_te, phi_te) > max(acc_conse, acc_audio) + 0.05


def test_anchored_conse_undoes_a_distortion_and_falls_back_without_one():
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(D_LABEL, D_LABEL)))
    A = 0.4 * np.eye(D_LABEL) + 0.6 * Q                    # source space is a distorted one
    phi, S, y, scores, _ = _world(3, conse_quality=0.9, audio_quality=0.0, distortion=A,
                                  n_classes=30)
    tr, te, phi_tr, phi_te, y_tr, y_te = _split(y, phi, 22)
    anchored = AnchoredConSE().fit(scores[tr], y_tr, phi_tr, source=space(S))
    acc_conse = ConSE().fit(source=space(S)).score(scores[te], y_te, phi_te)
    assert np.isfinite(anchored.lam_)
    assert anchored.score(scores[te], y_te, phi_te) > acc_conse + 0.1

    phi, S, y, scores, _ = _world(4, conse_quality=0.9, audio_quality=0.0, n_classes=30)
    tr, te, phi_tr, phi_te, y_tr, y_te = _split(y, phi, 22)
    anchored = AnchoredConSE().fit(scores[tr], y_tr, phi_tr, source=space(S))
    acc_conse = ConSE().fit(source=space(S)).score(scores[te], y_te, phi_te)
    assert anchored.score(scores[te], y_te, phi_te) >= acc_conse - 0.05
    inf_only = AnchoredConSE(lams=(float("inf"),)).fit(scores[tr], y_tr, phi_tr,
                                                      source=space(S))
    np.testing.assert_array_equal(inf_only.predict(scores[te], phi_te),
                                  ConSE().fit(source=space(S)).predict(scores[te], phi_te))


def test_hybrid_input_validation():
    phi, S, y, scores, emb = _world(5, 0.5, 0.5)
    X = AudioFeatures(emb, scores)
    assert ConSEMix.uses == ("embeddings", "scores") and AnchoredConSE.uses == ("scores",)
    assert ConSEMix.needs_source and AnchoredConSE.needs_source
    assert not ConSEMix.training_free and not AnchoredConSE.training_free
    # ConSEMix reads both fields: a bare array, or features without embeddings, is refused.
    with pytest.raises(ValueError, match="pass AudioFeatures"):
        ConSEMix().fit(scores, y, phi, source=space(S))
    with pytest.raises(ValueError, match="embeddings, which these features lack"):
        ConSEMix().fit(AudioFeatures(scores=scores), y, phi, source=space(S))
    with pytest.raises(ValueError, match="scores, which these features lack"):
        AnchoredConSE().fit(AudioFeatures(embeddings=emb), y, phi, source=space(S))
    # 3 training classes cannot spare validation classes: plain ConSE, not an error
    assert ConSEMix().fit(X[y < 3], y[y < 3], phi, source=space(S)).weight_ == 1
    with pytest.raises(ValueError, match="labels but X"):
        AnchoredConSE().fit(scores, y[:-1], phi, source=space(S))
    with pytest.raises(ValueError, match="lams"):
        AnchoredConSE(lams=(0.0,)).fit(scores, y, phi, source=space(S))
    # The scores' width must be the number of source classes (K comes from the source space).
    with pytest.raises(ValueError, match=f"{K_SOURCE} class scores per clip but the source "
                                         f"label space has {K_SOURCE - 1}"):
        ConSEMix().fit(X, y, phi, source=space(S[:-1]))
    with pytest.raises(ValueError, match=f"{K_SOURCE} class scores per clip but the source "
                                         f"label space has {K_SOURCE - 1}"):
        AnchoredConSE().fit(scores, y, phi, source=space(S[:-1]))
    with pytest.raises(ValueError, match="weights"):
        ConSEMix(weights=(1.5,)).fit(X, y, phi, source=space(S))
    with pytest.raises(ValueError, match="same label encoder"):
        AnchoredConSE().fit(scores, y, phi[:, :5], source=space(S))
    with pytest.raises(NotFittedError, match="not fitted"):
        ConSEMix().predict(X, phi)
    mix = ConSEMix(weights=(0.5,), alphas=(1.0,), gammas=(1.0,),
                   n_val_splits=1).fit(X, y, phi, source=space(S))
    with pytest.raises(ValueError, match="fitted with"):
        mix.predict(AudioFeatures(emb[:, :5], scores), phi)
    assert "n_scores" not in mix.get_params()
    assert mix.n_features_in_ == D_AUDIO + K_SOURCE and mix.source_embeddings_.shape[0] == K_SOURCE


@pytest.mark.parametrize("cls", [ConSEMix, AnchoredConSE])
def test_hybrids_save_and_load(tmp_path, cls):
    register_method(cls)  # idempotent; zsaudio.model registers it for users
    phi, S, y, scores, emb = _world(6, 0.5, 0.6)
    X = AudioFeatures(emb, scores) if len(cls.uses) == 2 else scores
    kw = {"weights": (1.0, 0.5, 0.0)} if cls is ConSEMix else {}
    S[7] = 0  # masked source class
    model = cls(n_val_splits=2, **kw).fit(X, y, phi, source=space(S))
    path = tmp_path / "model.npz"
    save_model(path, model, {})
    loaded, meta = load_model(path, expected_method=cls.method_name)
    assert meta["uses"] == list(cls.uses) and "input_kind" not in meta
    np.testing.assert_allclose(loaded.decision_function(X, phi), model.decision_function(X, phi))
    np.testing.assert_array_equal(loaded.validation_accuracy_, model.validation_accuracy_)
    # The public sub-estimators: conse_ rebuilt from the source space, eszsl_ saved.
    assert isinstance(loaded.conse_, ConSE) and not loaded.conse_.source_mask_[7]
    np.testing.assert_array_equal(loaded.conse_.source_embeddings_, model.conse_.source_embeddings_)
    if cls is ConSEMix:
        assert isinstance(loaded.eszsl_, ESZSL)
        assert loaded.eszsl_.get_params() == model.eszsl_.get_params()
        np.testing.assert_array_equal(loaded.eszsl_.W_, model.eszsl_.W_)
    with pytest.raises(ValueError, match="was expected"):
        load_model(path, expected_method="conse")


def test_hybrids_fall_back_on_conse_with_too_few_classes_to_validate():
    import numpy as np

    from zsaudio.model.conse import ConSE
    from zsaudio.model.hybrid import AnchoredConSE, ConSEMix

    rng = np.random.default_rng(1)
    S, E = rng.normal(size=(30, 8)), rng.normal(size=(4, 8))
    scores, emb, y = rng.uniform(size=(40, 30)), rng.normal(size=(40, 16)), np.arange(40) % 4
    anchored = AnchoredConSE().fit(scores, y, E, source=space(S))
    assert np.isinf(anchored.lam_) and np.isnan(anchored.validation_accuracy_).all()
    plain = ConSE().fit(source=space(S))
    np.testing.assert_allclose(anchored.decision_function(scores, E),
                               plain.decision_function(scores, E), atol=1e-6)
    mix = ConSEMix().fit(AudioFeatures(emb, scores), y, E, source=space(S))
    assert mix.weight_ == 1.0


def test_anchored_semantic_vectors_are_normalised_conse_vectors():
    phi, S, y, scores, _ = _world(7, 0.8, 0.0)
    anchored = AnchoredConSE(n_val_splits=2).fit(scores, y, phi, source=space(S))
    F = anchored.semantic_vectors(scores)
    np.testing.assert_allclose(np.linalg.norm(F, axis=1), 1.0)
    np.testing.assert_allclose(F, l2_normalize(anchored.conse_.semantic_vectors(scores)))
    # solve_map: lam = inf is the identity; the fitted map is solve_map at the chosen lam.
    T = l2_normalize(phi)[y]
    np.testing.assert_array_equal(AnchoredConSE.solve_map(F, T, float("inf")), np.eye(F.shape[1]))
    np.testing.assert_allclose(anchored.V_, AnchoredConSE.solve_map(F, T, anchored.lam_))


@pytest.mark.parametrize("cls", [ConSEMix, AnchoredConSE])
def test_chosen_params_need_a_fit(cls):
    with pytest.raises(NotFittedError, match="not fitted"):
        cls().chosen_params()
