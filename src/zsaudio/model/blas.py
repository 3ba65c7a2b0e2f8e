"""BLAS level-3 products into preallocated arrays, callable from numba-compiled code.

numba's ``@`` allocates its result on every call and has no symmetric rank-k product; the
SGD loop of :mod:`zsaudio.model.ranking_sgd` makes three small products per block of samples,
so allocation, an extra addition pass and a full Gram matrix where half is read were a fifth
of an epoch (measured on ESC-50, Setting 4). These helpers call SciPy's BLAS (the
``scipy.linalg.cython_blas`` that numba itself uses) in place. They take C-contiguous row-major
arrays and work in float32 or float64 (every array of a call in one dtype).

The BLAS routines are bound by symbol name (``llvmlite.binding.add_symbol``), so functions
using them stay cacheable by numba (``cache=True``): the name is resolved again at load time.
numba keys a cached function by its own source file, so a change here reaches a cached caller
(``ranking_sgd._sgd_epoch``) only with its cache cleared or its file changed.

>>> import numpy as np, numba
>>> @numba.njit
... def product(A, B):
...     C = np.zeros((A.shape[0], B.shape[1]), A.dtype)
...     matmul_into(A, B, C, 1.0, 0.0, False)
...     return C
>>> A = np.arange(6.0).reshape(2, 3); B = np.ones((3, 2))
>>> product(A, B).tolist()
[[3.0, 3.0], [12.0, 12.0]]
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import get_cython_function_address, intrinsic, overload

__all__ = ["gram_lower_into", "matmul_into"]


def _bind(name: str, n_args: int) -> types.ExternalFunction:
    symbol = f"zsaudio_blas_{name}"
    llvm.add_symbol(symbol, get_cython_function_address("scipy.linalg.cython_blas", name))
    return types.ExternalFunction(symbol, types.void(*([types.voidptr] * n_args)))


# Fortran calling convention: every argument by pointer.
_GEMM = {types.float32: _bind("sgemm", 13), types.float64: _bind("dgemm", 13)}
_SYRK = {types.float32: _bind("ssyrk", 10), types.float64: _bind("dsyrk", 10)}
_N, _T, _U = ord("N"), ord("T"), ord("U")


@intrinsic
def _pointer(typingctx, address):
    """``void *`` from an integer address (``array.ctypes.data``)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(types.intp), codegen


@intrinsic
def _keep_alive(typingctx, a, b, c):
    """Use three arrays, doing nothing: numba frees an array after its last use, and passing
    only its address to BLAS is not a use, so the argument arrays of a call are used here,
    after it, to keep them alive until BLAS has read them."""
    def codegen(context, builder, signature, args):
        return context.get_dummy_value()

    return types.none(a, b, c), codegen


def _check_types(name: str, *arrays) -> None:
    """At compile time: 2-D, C-contiguous, one float32/float64 dtype (BLAS reads raw memory)."""
    for a in arrays:
        if not isinstance(a, types.Array) or a.ndim != 2 or a.layout != "C":
            raise TypingError(f"{name} takes C-contiguous 2-D arrays, got {a}")
        if a.dtype != arrays[-1].dtype or a.dtype not in _GEMM:
            raise TypingError(f"{name} takes arrays of one dtype, float32 or float64, got "
                              f"{[str(x.dtype) for x in arrays]}")


def matmul_into(A: np.ndarray, B: np.ndarray, C: np.ndarray, alpha: float, beta: float,
                transpose_a: bool) -> None:  # pragma: no cover - replaced by the overload
    """C ← alpha · op(A) · B + beta · C, in place; op(A) = Aᵀ if ``transpose_a`` else A.

    Shapes: op(A) (m, k), B (k, n), C (m, n); all C-contiguous, one float dtype.
    Compiled code only (numba); a Python call raises.
    """
    raise TypeError("matmul_into is called from numba-compiled code only")


def gram_lower_into(A: np.ndarray, C: np.ndarray, alpha: float) -> None:  # pragma: no cover
    """C[j, k] ← alpha · A[j]·A[k] for k ≤ j (the lower triangle); the rest of C untouched.

    Shapes: A (b, D), C (b, b) or larger rows (its row stride is its width); C-contiguous.
    Half the work of ``A @ A.T``. Compiled code only (numba).
    """
    raise TypeError("gram_lower_into is called from numba-compiled code only")


@overload(matmul_into)
def _matmul_into(A, B, C, alpha, beta, transpose_a):
    _check_types("matmul_into", A, B, C)
    gemm = _GEMM[C.dtype]

    def impl(A, B, C, alpha, beta, transpose_a):
        # Row-major C is column-major Cᵀ: compute Cᵀ = alpha · Bᵀ · op(A)ᵀ + beta · Cᵀ.
        m, n = C.shape
        k = B.shape[0]
        a_rows, a_cols = (A.shape[1], A.shape[0]) if transpose_a else (A.shape[0], A.shape[1])
        if a_rows != m or a_cols != k or B.shape[1] != n:
            raise ValueError("matmul_into: shapes of op(A), B and C do not chain")
        dims = np.array([n, m, k, B.shape[1], A.shape[1], C.shape[1]], np.int32)
        scalars = np.array([alpha, beta], C.dtype)
        flags = np.array([_N, _T if transpose_a else _N], np.uint8)
        gemm(_pointer(flags.ctypes.data), _pointer(flags[1:].ctypes.data),
             _pointer(dims.ctypes.data), _pointer(dims[1:].ctypes.data), _pointer(dims[2:].ctypes.data),
             _pointer(scalars.ctypes.data), _pointer(B.ctypes.data), _pointer(dims[3:].ctypes.data),
             _pointer(A.ctypes.data), _pointer(dims[4:].ctypes.data), _pointer(scalars[1:].ctypes.data),
             _pointer(C.ctypes.data), _pointer(dims[5:].ctypes.data))
        _keep_alive(flags, dims, scalars)

    return impl


@overload(gram_lower_into)
def _gram_lower_into(A, C, alpha):
    _check_types("gram_lower_into", A, C)
    syrk = _SYRK[C.dtype]

    def impl(A, C, alpha):
        # Row-major A (b, D) is column-major Aᵀ; Aᵀᵀ·Aᵀ = A·Aᵀ. Row-major (j, k), k ≤ j, is the
        # column-major upper triangle.
        if C.shape[0] < A.shape[0] or C.shape[1] < A.shape[0]:
            raise ValueError("gram_lower_into: C is smaller than (b, b)")
        dims = np.array([A.shape[0], A.shape[1], A.shape[1], C.shape[1]], np.int32)
        scalars = np.array([alpha, 0.0], C.dtype)
        flags = np.array([_U, _T], np.uint8)
        syrk(_pointer(flags.ctypes.data), _pointer(flags[1:].ctypes.data),
             _pointer(dims.ctypes.data), _pointer(dims[1:].ctypes.data), _pointer(scalars.ctypes.data),
             _pointer(A.ctypes.data), _pointer(dims[2:].ctypes.data), _pointer(scalars[1:].ctypes.data),
             _pointer(C.ctypes.data), _pointer(dims[3:].ctypes.data))
        _keep_alive(flags, dims, scalars)

    return impl
