"""ConSE on synthetic encoder heads: ranking, corner-case rules, input validation."""

import numpy as np
import pytest

from zsaudio.model import register_method
from zsaudio.model.base import NotFittedError
from zsaudio.model.base import l2_normalize_rows as l2_normalize
from zsaudio.model.conse import SCORE_TRANSFORMS, ConSE, stable_topk
from zsaudio.model.features import SourceLabelSpace
from zsaudio.model.io import load_model, save_model

space = SourceLabelSpace.from_vectors


def _synthetic_head(seed=0, n_source=30, n_unseen=6, d=16, n_per=20, noise=0.05):
    """Source classes with random unit label vectors; each unseen class is the normalised mean
    of 3 source classes' vectors (an 'unseen' concept close to known ones). A clip of an
    unseen class scores its 3 source classes high (plus noise)."""
    rng = np.random.default_rng(seed)
    S = l2_normalize(rng.normal(size=(n_source, d)))
    parts = [rng.choice(n_source, size=3, replace=False) for _ in range(n_unseen)]
    E = l2_normalize(np.stack([S[p].mean(axis=0) for p in parts]))
    X, y = [], []
    for c, p in enumerate(parts):
        s = rng.uniform(0, noise, size=(n_per, n_source))
        s[:, p] += rng.uniform(0.5, 1.0, size=(n_per, 3))
        X.append(s)
        y += [c] * n_per
    return np.vstack(X), np.array(y), S, E


def test_synthetic_head_ranks_the_right_unseen_label_first():
    X, y, S, E = _synthetic_head()
    model = ConSE(top_t=3).fit(source=space(S))
    assert model.score(X, y, E) == 1.0
    # Top-1 only sees one of the three parts: worse but still far above chance (1/6).
    acc1 = ConSE(top_t=1).fit(source=space(S)).score(X, y, E)
    assert 0.4 < acc1 < 1.0


def test_semantic_vector_is_weighted_mean_of_top_t():
    S = np.array([[1.0, 0, 0], [0, 2.0, 0], [0, 0, 1.0], [1.0, 1.0, 1.0]])
    x = np.array([[0.6, 0.3, 0.1, 0.0]])
    f = ConSE(top_t=2).fit(source=space(S)).semantic_vectors(x)
    np.testing.assert_allclose(f, [[0.6 / 0.9, 0.3 / 0.9, 0.0]])
    f_raw = ConSE(top_t=2, normalize_source=False).fit(source=space(S)).semantic_vectors(x)
    np.testing.assert_allclose(f_raw, [[0.6 / 0.9, 0.6 / 0.9, 0.0]])
    f_uni = ConSE(top_t=2, score_transform="uniform").fit(source=space(S)).semantic_vectors(x)
    np.testing.assert_allclose(f_uni, [[0.5, 0.5, 0.0]])


def test_score_transforms():
    S = np.eye(3)
    x = np.array([[0.5, 0.25, 0.25]])
    W = ConSE(top_t=3, score_transform="power", temperature=0.5).fit(
        source=space(S)).source_weights(x)
    np.testing.assert_allclose(W, [[0.25, 0.0625, 0.0625]])
    W = ConSE(top_t=3, score_transform="softmax", temperature=0.1).fit(
        source=space(S)).source_weights(x)
    e = np.exp(np.array([5.0, 2.5, 2.5]) - 5.0)
    np.testing.assert_allclose(W, [e / e.sum()])
    # softmax accepts logits; raw does not.
    logits = np.array([[2.0, -1.0, -3.0]])
    assert ConSE(top_t=2, score_transform="softmax").fit(source=space(S)).predict(
        logits, S).tolist() == [0]
    with pytest.raises(ValueError, match=">= 0"):
        ConSE(score_transform="raw").fit(source=space(S)).predict(logits, S)


def test_top_t_larger_than_k_uses_all_sources():
    X, _, S, E = _synthetic_head(n_source=8)
    big = ConSE(top_t=100).fit(source=space(S))
    full = ConSE(top_t=8).fit(source=space(S))
    np.testing.assert_array_equal(big.decision_function(X, E), full.decision_function(X, E))
    assert (big.source_weights(X) > 0).sum(axis=1).max() == 8


def test_ties_are_broken_by_index():
    S = np.eye(4)
    x = np.array([[0.5, 0.5, 0.5, 0.1]])
    W = ConSE(top_t=2).fit(source=space(S)).source_weights(x)
    np.testing.assert_array_equal(W, [[0.5, 0.5, 0.0, 0.0]])  # sources 0 and 1, not 2
    # Candidate ties: identical candidates -> the lower index wins, order is stable.
    E = np.array([[0, 0, 1.0, 0], [1.0, 1.0, 0, 0], [1.0, 1.0, 0, 0]])
    model = ConSE(top_t=2).fit(source=space(S))
    assert model.predict(x, E).tolist() == [1]
    assert model.predict_topk(x, E, 3).tolist() == [[1, 2, 0]]
    np.testing.assert_array_equal(stable_topk(np.array([[1.0, 3, 3, 1]]), 4), [[1, 2, 0, 3]])


def test_all_zero_scores_give_a_zero_vector_and_candidate_zero():
    X, _, S, E = _synthetic_head()
    zeros = np.zeros((2, S.shape[0]))
    model = ConSE(top_t=5).fit(source=space(S))
    np.testing.assert_array_equal(model.semantic_vectors(zeros), 0.0)
    np.testing.assert_array_equal(model.decision_function(zeros, E), 0.0)
    assert model.predict(zeros, E).tolist() == [0, 0]
    assert model.predict_topk(zeros, E, 3).tolist() == [[0, 1, 2]] * 2
    # Uniform/softmax weights are never all zero: they fall back on the first T sources.
    f = ConSE(top_t=2, score_transform="uniform").fit(source=space(S)).semantic_vectors(zeros)
    np.testing.assert_allclose(f[0], (S[0] + S[1]) / 2, rtol=1e-6)


def test_masked_sources_are_never_selected():
    S = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    x = np.array([[0.9, 0.5, 0.1]])
    E = np.eye(3)
    m = ConSE(top_t=1).fit(source=space(S, [False, True, True]))
    assert m.predict(x, E).tolist() == [1]
    # All-zero embedding rows (what embed_source_texts gives for unknown texts) are masked
    # by default.
    S0 = S.copy()
    S0[0] = 0
    m0 = ConSE(top_t=1).fit(source=space(S0))
    assert m0.source_mask_.tolist() == [False, True, True]
    assert m0.predict(x, E).tolist() == [1]
    # top_t beyond the usable classes: clipped to the 2 usable ones.
    W = ConSE(top_t=3).fit(source=space(S0)).source_weights(x)
    np.testing.assert_allclose(W, [[0.0, 0.5, 0.1]])


def test_fit_signature_variants_agree():
    X, y, S, E = _synthetic_head()
    a = ConSE(top_t=3).fit(X, y, E, source=space(S))
    b = ConSE.from_source(space(S), top_t=3)
    np.testing.assert_array_equal(a.decision_function(X, E), b.decision_function(X, E))
    assert b.get_params() == {"top_t": 3, "score_transform": "raw", "temperature": 1.0,
                              "normalize_source": True}
    assert ConSE.uses == ("scores",)
    assert ConSE.needs_source and ConSE.training_free


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"top_t": 0}, "top_t"),
        ({"top_t": 2.5}, "top_t"),
        ({"score_transform": "exp"}, "score_transform"),
        ({"temperature": 0.0}, "temperature"),
    ],
)
def test_bad_hyper_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConSE(**kwargs).fit(source=space(np.eye(3)))


def test_invalid_inputs_raise_clear_errors():
    S = np.eye(3)
    model = ConSE().fit(source=space(S))
    with pytest.raises(NotFittedError, match="not fitted"):
        ConSE().predict(np.ones((1, 3)), S)
    with pytest.raises(ValueError, match="fitted with 3"):
        model.predict(np.ones((2, 4)), S)
    with pytest.raises(ValueError, match="columns"):
        model.predict(np.ones((2, 3)), np.ones((2, 5)))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.array([[np.nan, 0, 0]]), S)
    with pytest.raises(ValueError, match="empty"):
        model.predict(np.ones((0, 3)), S)
    with pytest.raises(ValueError, match="no usable source"):
        ConSE().fit(source=space(np.zeros((3, 2))))
    with pytest.raises(ValueError, match=r"mask must have shape \(3,\)"):
        ConSE().fit(source=space(S, [True]))
    with pytest.raises(ValueError, match=r"vectors must have shape \(2, d\)"):
        SourceLabelSpace(["a", "b"], S)
    with pytest.raises(ValueError, match="SourceLabelSpace"):
        ConSE().fit(source=S)  # a bare array is not a label space
    with pytest.raises(ValueError, match="SourceLabelSpace"):
        ConSE().fit(np.ones((2, 3)), [0, 1], np.eye(2, 3))  # no source at all
    # Scores width != number of source classes (K comes from the source space).
    with pytest.raises(ValueError, match="4 class scores per clip but the source label space has 3"):
        ConSE().fit(np.ones((2, 4)), [0, 1], np.eye(2, 3), source=space(S))
    with pytest.raises(ValueError, match="same label encoder"):
        ConSE().fit(np.ones((2, 3)), [0, 1], np.eye(2, 4), source=space(S))
    with pytest.raises(ValueError, match="together"):
        ConSE().fit(np.ones((2, 3)), source=space(S))
    with pytest.raises(ValueError, match=r"k must be"):
        model.predict_topk(np.ones((1, 3)), S, 4)
    with pytest.raises(ValueError, match="labels but X"):
        model.score(np.ones((2, 3)), [0], S)


def test_save_load_roundtrip_and_method_check(tmp_path):
    register_method(ConSE)  # idempotent; zsaudio.model registers it for users
    X, y, S, E = _synthetic_head()
    S = S.copy()
    S[3] = 0  # a masked source class must stay masked after loading
    model = ConSE(top_t=4, score_transform="power", temperature=0.5).fit(
        X, y, E, source=space(S))
    path = tmp_path / "conse.npz"
    save_model(path, model, {"label_encoder": "synthetic"})
    loaded, meta = load_model(path, expected_method="conse")
    assert meta["uses"] == ["scores"] and loaded.get_params() == model.get_params()
    assert "input_kind" not in meta
    assert loaded.source_mask_.dtype == bool and not loaded.source_mask_[3]
    np.testing.assert_array_equal(loaded.decision_function(X, E), model.decision_function(X, E))
    with pytest.raises(ValueError, match="'conse' model"):
        load_model(path, expected_method="bilinear")


def test_real_label_encoder_lacking_words_of_audioset_names():
    """Google News subset (376 words) cannot embed some of YAMNet's 521 names: those source
    classes get zero rows, are masked, and are never among a clip's top T."""
    from zsaudio.labels import audioset, get_label_encoder

    enc = get_label_encoder("googlenews-subset")
    classes = audioset.audioset_classes(audioset.yamnet_class_ids())
    S, mask = audioset.embed_source_texts(enc, audioset.source_label_texts(classes))
    assert (~mask).any()
    model = ConSE(top_t=5).fit(source=space(S))
    np.testing.assert_array_equal(model.source_mask_, mask)
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 0.1, size=(4, 521))
    scores[:, ~mask] = 0.9  # the unembeddable classes score highest
    W = model.source_weights(scores)
    assert np.all(W[:, ~mask] == 0) and np.all((W > 0).sum(axis=1) == 5)
    E = enc.encode(["dog", "rain"])
    assert np.all(np.isfinite(model.decision_function(scores, E)))


def test_stable_topk_partition_path_equals_a_stable_sort():
    """The few-of-many path (k < C / 4) keeps the sort's tie rule, with -inf and many ties."""
    rng = np.random.default_rng(3)
    for trial in range(200):
        n, C = int(rng.integers(1, 12)), int(rng.integers(8, 90))
        k = int(rng.integers(1, max(2, C // 4)))
        S = rng.integers(0, 3, size=(n, C)).astype(float) if trial % 2 else rng.normal(size=(n, C))
        S[rng.random((n, C)) < 0.2] = -np.inf
        np.testing.assert_array_equal(stable_topk(S, k), np.argsort(-S, axis=1, kind="stable")[:, :k])


@pytest.mark.parametrize("C", [2, 5, 40])
def test_stable_topk_best_equals_a_stable_sort(C):
    """k = 1 (argmax): ties and infinities as the sort has them."""
    rng = np.random.default_rng(C)
    for trial in range(100):
        n = int(rng.integers(1, 12))
        S = rng.integers(0, 3, size=(n, C)).astype(float) if trial % 2 else rng.normal(size=(n, C))
        S[rng.random((n, C)) < 0.2] = -np.inf
        S[rng.random((n, C)) < 0.05] = np.inf
        if trial % 3 == 0:
            S[0] = -np.inf  # a row with no finite score
        top = stable_topk(S, 1)
        assert top.shape == (n, 1) and top.dtype == np.int64
        np.testing.assert_array_equal(top, np.argsort(-S, axis=1, kind="stable")[:, :1])


@pytest.mark.parametrize("transform", SCORE_TRANSFORMS)
@pytest.mark.parametrize("normalize_source", [True, False])
def test_semantic_vectors_equal_the_dense_weighted_mean(transform, normalize_source):
    """The gathered top-T sum equals the definition: dense source weights times all K source
    embeddings, over the weights' sum (a mask, top_t above the usable count, a zero row)."""
    rng = np.random.default_rng(3)
    S = rng.normal(size=(9, 4)).astype(np.float32)
    mask = np.ones(9, bool)
    mask[[2, 5]] = False
    X = rng.uniform(size=(6, 9))
    X[0] = 0.0
    for top_t in (1, 3, 20):
        model = ConSE(top_t=top_t, score_transform=transform, temperature=0.7,
                      normalize_source=normalize_source).fit(source=space(S, mask))
        W = model.source_weights(X)
        Sn = S.astype(np.float64)
        if normalize_source:
            Sn = Sn / np.linalg.norm(Sn, axis=1, keepdims=True)
        Z = W.sum(axis=1, keepdims=True)
        dense = np.divide(W @ Sn, Z, out=np.zeros((6, 4)), where=Z > 0)
        np.testing.assert_allclose(model.semantic_vectors(X), dense, rtol=1e-12, atol=1e-15)
