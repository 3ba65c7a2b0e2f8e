"""Save and load fitted estimators as one small self-describing ``.npz`` file.

The file holds the estimator's learned arrays (``state/<attribute>``) and one JSON string
(``meta.json``) with: the format name and version, the method name (registry key of
:data:`zsaudio.model.METHODS`), the class, the hyper-parameters, the dimensions, the zsaudio
version and the caller's metadata (e.g. encoder configurations, training class names).
It is read with ``allow_pickle=False``: loading never runs code from the file.

Any registered estimator can be saved: it needs ``get_params()`` (JSON-serialisable values)
and ``_state_arrays()`` / ``_set_state()`` (see :class:`zsaudio.model.base.ZeroShotEstimator`).

Example
-------
>>> import numpy as np, tempfile, os
>>> from zsaudio.model import BilinearZSL
>>> rng = np.random.default_rng(0)
>>> est = BilinearZSL(epochs=2).fit(rng.normal(size=(30, 4)), np.arange(30) % 3,
...                                 rng.normal(size=(3, 2)))
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> save_model(path, est, {"train_classes": ["dog", "cat", "rain"]})
>>> model, meta = load_model(path, expected_method="bilinear")
>>> meta["user"]["train_classes"], np.allclose(model.W_, est.W_)
(['dog', 'cat', 'rain'], True)
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

import zsaudio
from zsaudio.fileio import atomic_write
from zsaudio.model.base import ZeroShotEstimator, restore_tuples
from zsaudio.model.registry import METHODS

__all__ = ["save_model", "load_model", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "zsaudio-model"
FORMAT_VERSION = 1
_META_KEY = "meta.json"
_STATE_PREFIX = "state/"


def save_model(path: str | os.PathLike, estimator: ZeroShotEstimator, metadata: dict) -> None:
    """Write a fitted estimator and metadata to ``path`` (``.npz``), atomically.

    Parameters
    ----------
    path : str or PathLike
        Destination file (parent folders are created).
    estimator : ZeroShotEstimator
        A fitted estimator whose ``method_name`` is registered in ``METHODS``.
    metadata : dict
        JSON-serialisable caller information, stored under ``"user"``.

    Raises
    ------
    ValueError
        If the estimator is not fitted, or metadata/parameters are not JSON-serialisable.
    """
    if not estimator._is_fitted():
        raise ValueError(f"{type(estimator).__name__} is not fitted: nothing to save")
    name = estimator.method_name
    if METHODS.get(name) is not type(estimator):
        raise ValueError(
            f"{type(estimator).__name__} is not registered in zsaudio.model.METHODS "
            f"(method_name={name!r}); register it to save it"
        )
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "method": name,
        "class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "uses": list(estimator.uses),
        "params": estimator.get_params(),
        "dims": {
            "n_features_in": int(estimator.n_features_in_),
            "embedding_dim": int(estimator.embedding_dim_),
            "n_train_classes": int(estimator.n_classes_),
        },
        "zsaudio_version": zsaudio.__version__,
        "user": metadata,
    }
    try:
        meta_json = json.dumps(meta)
    except TypeError as err:
        raise ValueError(f"metadata and hyper-parameters must be JSON-serialisable: {err}") from err
    arrays = {_STATE_PREFIX + k: v for k, v in estimator._state_arrays().items()}
    arrays[_META_KEY] = np.array(meta_json)

    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_model(
    path: str | os.PathLike, expected_method: str | None = None
) -> tuple[ZeroShotEstimator, dict]:
    """Read an estimator written by :func:`save_model`.

    Parameters
    ----------
    path : str or PathLike
    expected_method : str or None
        If given, the file must hold this method (e.g. ``"bilinear"``).

    Returns
    -------
    estimator : ZeroShotEstimator
        Fitted, ready for ``predict``.
    metadata : dict
        The stored description: ``method``, ``params``, ``dims``, ``zsaudio_version``,
        ``user`` (what the caller passed to ``save_model``), ...

    Raises
    ------
    ValueError
        If the file is not a zsaudio model, holds another method than ``expected_method``,
        or names a method that is not registered.
    """
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a bare .npy array, not a zsaudio model file")
        with data:
            if _META_KEY not in data.files:
                raise ValueError(f"not a zsaudio model file (no {_META_KEY})")
            meta = json.loads(str(data[_META_KEY]))
            state = {
                k[len(_STATE_PREFIX):]: data[k] for k in data.files if k.startswith(_STATE_PREFIX)
            }
    # A damaged file fails in many ways (truncated zip, bad member, bad JSON): all say so.
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise ValueError(f"cannot read model file {path}: {err}") from err
    if not isinstance(meta, dict):
        raise ValueError(f"{path} is not a zsaudio model file (metadata is not an object)")
    if meta.get("format") != FORMAT_NAME:
        raise ValueError(f"{path} is not a zsaudio model file (format {meta.get('format')!r})")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {meta['format_version']}, newer than this zsaudio "
            f"reads ({FORMAT_VERSION}); upgrade zsaudio"
        )
    method = meta.get("method")
    if expected_method is not None and method != expected_method:
        raise ValueError(
            f"{path} holds a {method!r} model, but a {expected_method!r} model was expected"
        )
    if method not in METHODS:
        raise ValueError(f"{path} holds unknown method {method!r}; known: {sorted(METHODS)}")
    estimator = METHODS[method](**restore_tuples(METHODS[method], meta["params"]))
    estimator._set_state(state)
    return estimator, meta
