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
