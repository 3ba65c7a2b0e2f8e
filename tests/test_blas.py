"""The in-place BLAS products of the SGD loop against numpy, in both precisions."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from zsaudio.model.blas import gram_lower_into, matmul_into


@numba.njit
def _matmul(A, B, C, alpha, beta, transpose_a):
    matmul_into(A, B, C, alpha, beta, transpose_a)


@numba.njit
def _gram(A, C, alpha):
    gram_lower_into(A, C, alpha)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_equal_numpy(dtype):
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(5, 7)).astype(dtype), rng.normal(size=(7, 3)).astype(dtype)
    C0 = rng.normal(size=(5, 3)).astype(dtype)
    C = C0.copy()
    _matmul(A, B, C, 0.5, 2.0, False)
    tol = {"rtol": 1e-5 if dtype == np.float32 else 1e-12}
    np.testing.assert_allclose(C, 0.5 * A @ B + 2.0 * C0, **tol)
    At = rng.normal(size=(7, 5)).astype(dtype)  # op(A) = Atᵀ (5, 7)
    C = C0.copy()
    _matmul(At, B, C, -1.0, 1.0, True)
    np.testing.assert_allclose(C, C0 - At.T @ B, **tol)

    G = np.full((6, 6), np.nan, dtype)  # wider than the 4 rows: its row stride is 6
    _gram(A[:4], G, -0.25)
    lower = np.tril_indices(4)
    np.testing.assert_allclose(G[:4, :4][lower], (-0.25 * A[:4] @ A[:4].T)[lower], **tol)
    assert np.isnan(G[:4, :4][np.triu_indices(4, 1)]).all() and np.isnan(G[4:]).all()


def test_python_calls_say_where_they_work():
    with pytest.raises(TypeError, match="numba-compiled code only"):
        matmul_into(np.eye(2), np.eye(2), np.eye(2), 1.0, 0.0, False)


def test_blas_arguments_outlive_the_call_under_numba_debug_allocator(tmp_path):
    """With NUMBA_DEBUG_NRT numba fills freed memory with a pattern: had a BLAS argument array
    been freed before the call read it (its address alone does not keep it alive), BLAS would
    reject a dimension or compute garbage. Fresh cache, so this module's code is compiled."""
    import os
    import subprocess
    import sys

    script = """
import numpy as np, numba
from zsaudio.model.blas import gram_lower_into, matmul_into
from zsaudio.model.ranking_sgd import ranking_sgd
@numba.njit
def run(A, B, C, G):
    matmul_into(A, B, C, 1.0, 0.0, False)
    gram_lower_into(A, G, 1.0)
rng = np.random.default_rng(0)
A, B = rng.normal(size=(5, 7)), rng.normal(size=(7, 3))
C, G = np.zeros((5, 3)), np.zeros((5, 5))
run(A, B, C, G)
assert np.allclose(C, A @ B) and np.allclose(np.tril(G), np.tril(A @ A.T)), (C, G)
X = rng.normal(size=(40, 6)); y = np.arange(40) % 4; E = rng.normal(size=(4, 3))
Ws, _ = ranking_sgd(X, y, E, learning_rate=0.1, epochs=2, seed=0, dtype="float32")
assert np.abs(Ws[0]).max() > 0.01, Ws
print("ok")
"""
    env = {**os.environ, "NUMBA_DEBUG_NRT": "1", "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr
    assert "illegal value" not in out.stdout + out.stderr


def test_wrong_types_are_refused_when_compiling():
    from numba.core.errors import TypingError

    with pytest.raises(TypingError, match="one dtype"):
        _matmul(np.eye(2, dtype=np.float32), np.eye(2), np.eye(2), 1.0, 0.0, False)
    with pytest.raises(TypingError, match="C-contiguous"):
        _gram(np.eye(3)[:, :2], np.eye(3), 1.0)
    with pytest.raises(ValueError, match="do not chain"):
        _matmul(np.eye(2), np.eye(3), np.eye(2), 1.0, 0.0, False)
