"""Algorithm 1: the vectorised implementation against a literal loop (the oracle).

``literal_algorithm1`` and ``literal_risk`` are also used by ``benchmarks/bench_fit.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from zsaudio.device import resolve_device
from zsaudio.model import BilinearTorch, BilinearZSL
from zsaudio.model.base import FeatureStandardizer, l2_normalize_rows
from zsaudio.model.ranking_sgd import harmonic_numbers, ranking_sgd


def literal_algorithm1(X, y, Phi, learning_rate, epochs, seed):
    """Algorithm 1 written out: one rank-one update per positive loss, in rank order.

    Returns W (D, d) and the risk of eq. (4) after each epoch.
    """
    n, D = X.shape
    C, d = Phi.shape
    W = np.zeros((D, d))
    beta = [0.0]
    for j in range(1, C + 1):
        beta.append(beta[-1] + 1.0 / j)
    rng = np.random.default_rng(seed)
    risks = []
    for _ in range(epochs):
        for i in rng.permutation(n):
            x, yn = X[i], int(y[i])
            xW = x @ W
            F = [float(xW @ Phi[c]) for c in range(C)]
            losses = [(0.0 if c == yn else 1.0) + F[c] - F[yn] for c in range(C)]
            order = sorted(range(C), key=lambda c: -losses[c])  # stable: ties by class index
            for r, c in enumerate(order, start=1):
                if losses[c] > 0:
                    W = W - learning_rate * beta[(C - 1) // r] * np.outer(x, Phi[c] - Phi[yn])
        risks.append(literal_risk(X, y, Phi, W, beta))
    return W, np.array(risks)


def literal_risk(X, y, Phi, W, beta):
    """Eq. (4): mean over samples of (β_r / r) Σ_y max(0, ℓ(y)), with 0/0 = 0."""
    total = 0.0
    for x, yn in zip(X, y, strict=True):
        F = x @ W @ Phi.T
        losses = [(0.0 if c == yn else 1.0) + F[c] - F[yn] for c in range(len(Phi))]
        r = sum(1 for v in losses if v > 0)
        if r > 0:
            total += beta[r] / r * sum(max(0.0, v) for v in losses)
    return total / len(X)


def _random_problem(seed, n=60, D=9, C=7, d=5, absent=()):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D)) * rng.uniform(0.5, 3.0, size=D) + rng.normal(size=D)
    Phi = rng.normal(size=(C, d))
    present = [c for c in range(C) if c not in absent]
    y = rng.choice(present, size=n)
    return X, y, Phi


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_equals_literal_loop_raw_inputs(seed):
    X, y, Phi = _random_problem(seed)
    lr, epochs = [0.05, 0.01, 0.2][seed], 4
    model = BilinearZSL(learning_rate=lr, epochs=epochs, seed=seed, normalize=False)
    model.fit(X, y, Phi)
    W, risks = literal_algorithm1(X, y, Phi, lr, epochs, seed)
    assert np.abs(W).max() > 0.1  # the oracle really trained
    np.testing.assert_allclose(model.W_, W, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.risk_history_, risks, rtol=0, atol=1e-10)


def test_vectorised_equals_literal_loop_normalised_inputs_and_block_boundaries():
    # n = 75 spans several blocks plus a partial one; classes 2 and 5 have no samples.
    X, y, Phi = _random_problem(7, n=75, D=11, C=8, d=6, absent=(2, 5))
    model = BilinearZSL(learning_rate=0.3, epochs=3, seed=11, normalize=True).fit(X, y, Phi)
    Xn = FeatureStandardizer.fit(X).transform(X)
    W, risks = literal_algorithm1(Xn, y, l2_normalize_rows(Phi), 0.3, 3, 11)
    np.testing.assert_allclose(model.W_, W, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.risk_history_, risks, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(Xn, axis=1), 1.0)


def test_vectorised_equals_literal_loop_when_few_samples_violate():
    # Separable data, later epochs: few violators per block (the loop's sparse path).
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 120))
    y = np.arange(90) % 6
    Phi = rng.normal(size=(6, 4))
    model = BilinearZSL(learning_rate=0.5, epochs=12, seed=2).fit(X, y, Phi)
    Xn = FeatureStandardizer.fit(X).transform(X)
    W, risks = literal_algorithm1(Xn, y, l2_normalize_rows(Phi), 0.5, 12, 2)
    assert 0 < risks[-3] < 0.1 * risks[0]  # a late epoch still had (few) updates
    np.testing.assert_allclose(model.W_, W, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.risk_history_, risks, rtol=0, atol=1e-10)


def test_ties_broken_by_class_index_like_the_oracle():
    # Duplicate and all-zero class embeddings give exactly tied losses at every step.
    X, y, Phi = _random_problem(3, C=6)
    Phi[4] = Phi[1]
    Phi[5] = 0.0
    model = BilinearZSL(learning_rate=0.1, epochs=3, seed=0, normalize=False).fit(X, y, Phi)
    W, _ = literal_algorithm1(X, y, Phi, 0.1, 3, 0)
    np.testing.assert_allclose(model.W_, W, rtol=0, atol=1e-10)


def test_first_update_uses_rank_weights():
    # One sample, W = 0: every wrong class has loss 1, ranked by index; known closed form.
    X = np.array([[1.0, 2.0], [0.5, -1.0]])
    y = np.array([0, 1])
    Phi = np.eye(4)
    model = BilinearZSL(learning_rate=1.0, epochs=1, seed=0, normalize=False)
    Ws, _ = ranking_sgd(X[:1], y[:1], Phi, learning_rate=1.0, epochs=1, seed=0)
    # C = 4: ranks 1, 2, 3 get β_3, β_1, β_1 = 11/6, 1, 1; the true class gets −Σ.
    expected_c = np.array([-(11 / 6 + 2), 11 / 6, 1.0, 1.0])
    np.testing.assert_allclose(Ws[0], -np.outer(X[0], expected_c))
    assert model.get_params()["learning_rate"] == 1.0


def test_risk_decreases_on_separable_data():
    rng = np.random.default_rng(0)
    Phi = rng.normal(size=(8, 6))
    y = np.repeat(np.arange(8), 15)
    X = Phi[y] @ rng.normal(size=(6, 20)) + 0.05 * rng.normal(size=(120, 20))
    model = BilinearZSL(learning_rate=0.01, epochs=15, seed=0).fit(X, y, Phi)
    risks = model.risk_history_
    assert risks.shape == (15,)
    assert np.all(np.diff(risks) < 0)
    assert risks[-1] < 0.5 * risks[0]
    assert risks[0] < 0.5 * harmonic_numbers(7)[-1]  # well below R(W=0) = β_7
    assert model.score(X, y, Phi) > 0.95


def test_risk_reaches_zero_when_margins_are_attainable():
    # More dimensions than samples: every margin can be met, so eq. (4) goes to exactly 0.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 200))
    y = np.arange(60) % 6
    model = BilinearZSL(learning_rate=0.5, epochs=30, seed=0).fit(X, y, rng.normal(size=(6, 4)))
    assert model.risk_history_[0] > 0
    assert model.risk_history_[-1] == 0.0


def test_fit_path_equals_separate_fits():
    X, y, Phi = _random_problem(5, n=50)
    path = BilinearZSL(learning_rate=0.1, seed=4)._fit_path(X, y, Phi, [3, 1, 5])
    for est, m in zip(path, [3, 1, 5], strict=True):
        ref = BilinearZSL(learning_rate=0.1, epochs=m, seed=4).fit(X, y, Phi)
        assert est.epochs == m
        np.testing.assert_array_equal(est.W_, ref.W_)
        np.testing.assert_array_equal(est.risk_history_, ref.risk_history_)
        np.testing.assert_array_equal(est.decision_function(X, Phi), ref.decision_function(X, Phi))


def test_seed_changes_order_and_is_reproducible():
    X, y, Phi = _random_problem(6)
    a = BilinearZSL(epochs=2, seed=1).fit(X, y, Phi).W_
    b = BilinearZSL(epochs=2, seed=1).fit(X, y, Phi).W_
    c = BilinearZSL(epochs=2, seed=2).fit(X, y, Phi).W_
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_torch_batch_size_one_equals_algorithm1():
    X, y, Phi = _random_problem(8, n=40, absent=(3,))
    ref = BilinearZSL(learning_rate=0.2, epochs=3, seed=5).fit(X, y, Phi)
    tor = BilinearTorch(
        learning_rate=0.2, epochs=3, seed=5, batch_size=1, dtype="float64", device="cpu"
    ).fit(X, y, Phi)
    np.testing.assert_allclose(tor.W_, ref.W_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(tor.risk_history_, ref.risk_history_, rtol=0, atol=1e-10)


def test_torch_minibatch_float32_close_to_float64_and_auto_device():
    X, y, Phi = _random_problem(9, n=80)
    a = BilinearTorch(epochs=3, batch_size=16, dtype="float32", device="auto").fit(X, y, Phi)
    b = BilinearTorch(epochs=3, batch_size=16, dtype="float64").fit(X, y, Phi)
    np.testing.assert_allclose(a.W_, b.W_, atol=1e-4)
    assert a.W_.dtype == np.float64
    assert resolve_device("cpu") == "cpu"


def test_torch_bad_device_and_params():
    import torch

    X, y, Phi = _random_problem(1)
    with pytest.raises(ValueError, match="unknown device"):
        BilinearTorch(device="tpu-ish").fit(X, y, Phi)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            BilinearTorch(device="cuda").fit(X, y, Phi)
    with pytest.raises(ValueError, match="batch_size"):
        BilinearTorch(batch_size=0).fit(X, y, Phi)
    with pytest.raises(ValueError, match="dtype"):
        BilinearTorch(dtype="float16").fit(X, y, Phi)


def literal_sje_devise(X, y, Phi, learning_rate, epochs, seed, weighting, margin):
    """SJE (``"max"``: the most violating class, first on ties) and DeViSE (``"all"``: every
    violating class, weight 1) written out, losses computed once per sample."""
    n, D = X.shape
    C = Phi.shape[0]
    W = np.zeros((D, Phi.shape[1]))
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for i in rng.permutation(n):
            x, yn = X[i], int(y[i])
            F = x @ W @ Phi.T
            losses = [0.0 if c == yn else margin + F[c] - F[yn] for c in range(C)]
            if weighting == "max":
                c = int(np.argmax(losses))
                if losses[c] > 0:
                    W = W - learning_rate * np.outer(x, Phi[c] - Phi[yn])
            else:
                for c in range(C):
                    if losses[c] > 0:
                        W = W - learning_rate * np.outer(x, Phi[c] - Phi[yn])
    return W


@pytest.mark.parametrize(("method", "weighting", "margin"), [("sje", "max", 1.0), ("devise", "all", 0.3)])
def test_sje_and_devise_equal_their_literal_loops(method, weighting, margin):
    from zsaudio.model import make_estimator

    X, y, Phi = _random_problem(5, n=75, D=10, C=8, d=6, absent=(3,))
    Phi[6] = Phi[1]  # tied losses throughout
    params = {"margin": margin} if method == "devise" else {}
    model = make_estimator(method, learning_rate=0.2, epochs=3, seed=4, normalize=False,
                           **params).fit(X, y, Phi)
    W = literal_sje_devise(X, y, Phi, 0.2, 3, 4, weighting, margin)
    assert np.abs(W).max() > 0.1
    np.testing.assert_allclose(model.W_, W, rtol=0, atol=1e-10)


def test_scores_are_the_same_in_either_product_order():
    """decision_function picks the cheaper of X (W Eᵀ) and (X W) Eᵀ by shape; both give F."""
    rng = np.random.default_rng(4)
    X, y, E = rng.normal(size=(30, 6)), np.arange(30) % 5, rng.normal(size=(5, 3))
    model = BilinearZSL(epochs=2).fit(X, y, E)
    Xn, En = model._transform(X, E)
    for n, C in ((30, 2), (1, 40)):  # few candidates: W Eᵀ first; one clip, many: X W first
        cand = rng.normal(size=(C, 3))
        expected = np.einsum("nd,de,ce->nc", Xn[:n], model.W_, l2_normalize_rows(cand))
        np.testing.assert_allclose(model.decision_function(X[:n], cand), expected, rtol=1e-10)


@pytest.mark.parametrize("method", ["bilinear", "sje", "devise"])
def test_float32_loop_follows_the_float64_oracle(method):
    """The float32 SGD loop takes the same steps as the float64 one up to rounding: W within
    float32 precision of the literal float64 oracle, the same rankings."""
    from zsaudio.model import make_estimator

    X, y, Phi = _random_problem(3, n=75, D=11, C=8, d=6)
    f64 = make_estimator(method, learning_rate=0.1, epochs=3, seed=5).fit(X, y, Phi)
    f32 = make_estimator(method, learning_rate=0.1, epochs=3, seed=5, dtype="float32").fit(X, y, Phi)
    assert f32.W_.dtype == np.float64 and np.abs(f64.W_).max() > 0.01
    np.testing.assert_allclose(f32.W_, f64.W_, rtol=0, atol=1e-5 * np.abs(f64.W_).max())
    np.testing.assert_allclose(f32.risk_history_, f64.risk_history_, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(f32.predict_topk(X, Phi, 3), f64.predict_topk(X, Phi, 3))
    with pytest.raises(ValueError, match="dtype"):
        make_estimator(method, dtype="float16").fit(X, y, Phi)


@pytest.mark.parametrize("seed", [0, 1])
def test_fewer_samples_than_dimensions_trains_in_the_samples_span(seed):
    """With n <= D / 2 the loop runs on the samples' coordinates in their span (n, n); the
    oracle, which never changes coordinates, still agrees to 1e-10."""
    from zsaudio.model.ranking_sgd import _sample_coordinates

    X, y, Phi = _random_problem(seed, n=24, D=60, C=6, d=5)
    Z = _sample_coordinates(X)
    assert Z.shape == (24, 24)
    np.testing.assert_allclose(Z @ Z.T, X @ X.T, rtol=0, atol=1e-10 * np.abs(X @ X.T).max())
    assert _sample_coordinates(X[:, :40]).shape == (24, 40)  # n > D / 2: left as it is
    model = BilinearZSL(learning_rate=0.2, epochs=5, seed=seed, normalize=False).fit(X, y, Phi)
    W, risks = literal_algorithm1(X, y, Phi, 0.2, 5, seed)
    assert np.abs(W).max() > 0.1
    np.testing.assert_allclose(model.W_, W, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.risk_history_, risks, rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", ["bilinear", "sje", "devise", "bilinear-torch"])
@pytest.mark.parametrize("n", [75, 20])
def test_untracked_risk_changes_no_weight(method, n):
    from zsaudio.model import make_estimator

    X, y, Phi = _random_problem(2, n=n, D=50, C=6, d=5)
    tracked = make_estimator(method, learning_rate=0.1, epochs=4, seed=1).fit(X, y, Phi)
    untracked = make_estimator(method, learning_rate=0.1, epochs=4, seed=1, track_risk=False).fit(X, y, Phi)
    assert tracked.risk_history_.shape == (4,) and untracked.risk_history_.shape == (0,)
    np.testing.assert_array_equal(untracked.W_, tracked.W_)
    if method == "bilinear-torch":
        return  # no one-run epoch path
    path = untracked._fit_path(X, y, Phi, [2, 4])
    np.testing.assert_array_equal(path[1].W_, tracked.W_)
    assert path[0].risk_history_.shape == (0,)
