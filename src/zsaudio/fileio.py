"""File helpers shared by every layer: atomic writes and JSON for numpy values.

Every file zsaudio writes (caches, model files, checkpoints, reports) goes through
:func:`atomic_write`: the content is written to a temporary file in the destination folder and
moved into place with ``os.replace``, so a reader (or a crash) never sees half a file.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_text(d / "a" / "x.json", json_dumps({"n": np.int64(3)}))
PosixPath('...x.json')
>>> (d / "a" / "x.json").read_text()
'{\\n  "n": 3\\n}'
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "json_default", "json_dumps"]


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any], suffix: str = ".tmp") -> Path:
    """Create or replace ``path`` atomically: ``write(f)`` fills a temporary binary file in
    the same folder, which then replaces ``path`` (``os.replace``). Parent folders are created.
    On any error the temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : path
        Destination file.
    write : callable taking an open binary file
        Writes the content (e.g. ``lambda f: np.savez(f, **arrays)``).
    suffix : str, default ".tmp"
        Suffix of the temporary file (e.g. ``".npz"`` for writers that insist on one).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars and arrays and paths.

    >>> json.dumps({"a": np.float32(0.5), "p": Path("x")}, default=json_default)
    '{"a": 0.5, "p": "x"}'
    """
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def json_dumps(obj: Any, indent: int | None = 2) -> str:
    """``json.dumps`` that also writes numpy values and paths (:func:`json_default`)."""
    return json.dumps(obj, indent=indent, default=json_default)
