"""On-disk cache of clip embeddings, keyed by file content hash + encoder configuration.

Layout under the cache folder::

    paths.json                       (path, size, mtime_ns) -> content sha256 (fast path)
    <encoder>-<config hash>/config.json
    <encoder>-<config hash>/<sha[:2]>/<sha>.npz   patch_embeddings, patch_scores (optional)

Every write goes to a temporary file in the target folder, then ``os.replace``: a reader
sees either nothing or a whole entry, so killing a run loses nothing already written, and
concurrent runs on one cache at worst write the same entry twice. The ``paths.json`` index is
only a shortcut: losing an update (two runs replacing it at once) only costs re-hashing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from zsaudio.assets import sha256_of
from zsaudio.embeddings.base import ClipEmbedding


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def config_hash(config: dict) -> str:
    """Stable short hash of an encoder configuration (sorted-key JSON)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def file_key(path: str | os.PathLike) -> str:
    """The fast-path key of a file: absolute path, size and modification time (ns)."""
    st = os.stat(path)
    return f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"


class EmbeddingCache:
    """Per-clip cache for one encoder configuration.

    Parameters
    ----------
    root : path
        Cache folder (shared by all encoders).
    encoder_name : str
    config : dict
        The encoder's :meth:`~zsaudio.embeddings.base.AudioEncoder.config`.

    Examples
    --------
    >>> cache = EmbeddingCache(tmp, "yamnet", enc.config())  # doctest: +SKIP
    >>> cache.put(sha, clip); cache.get(sha).embedding.shape  # doctest: +SKIP
    (1024,)
    """

    def __init__(self, root: str | os.PathLike, encoder_name: str, config: dict):
        self.root = Path(root)
        self.folder = self.root / f"{encoder_name}-{config_hash(config)}"
        self.folder.mkdir(parents=True, exist_ok=True)
        config_file = self.folder / "config.json"
        if not config_file.exists():
            atomic_write_bytes(config_file, json.dumps(config, indent=1, sort_keys=True).encode())
        self._index_file = self.root / "paths.json"
        self._index = self._read_index()
        self._new_keys: dict[str, str] = {}

    def _read_index(self) -> dict[str, str]:
        try:
            return json.loads(self._index_file.read_text())
        except (OSError, ValueError):
            return {}  # missing or (never half-written, but foreign) unreadable: rebuild

    def entry_path(self, sha: str) -> Path:
        return self.folder / sha[:2] / f"{sha}.npz"

    def known_hash(self, path: str | os.PathLike) -> str | None:
        """Content hash from the fast-path index, if the file is unchanged since."""
        try:
            return self._index.get(file_key(path))
        except OSError:
            return None

    def content_hash(self, path: str | os.PathLike) -> str:
        """sha256 of the file (from the index when size and mtime are unchanged)."""
        key = file_key(path)
        sha = self._index.get(key)
        if sha is None:
            sha = sha256_of(path)
            self.remember(key, sha)
        return sha

    def remember(self, key: str, sha: str) -> None:
        self._index[key] = sha
        self._new_keys[key] = sha

    def flush_index(self) -> None:
        """Merge new fast-path entries into ``paths.json`` (atomic replace)."""
        if not self._new_keys:
            return
        merged = self._read_index()
        merged.update(self._new_keys)
        atomic_write_bytes(self._index_file, json.dumps(merged).encode())
        self._index.update(merged)
        self._new_keys.clear()

    def get(self, sha: str) -> ClipEmbedding | None:
        """The cached clip, or None (missing or unreadable entries count as missing)."""
        path = self.entry_path(sha)
        try:
            with np.load(path) as f:
                patch_scores = f["patch_scores"] if "patch_scores" in f.files else None
                return ClipEmbedding.from_patches(f["patch_embeddings"], patch_scores)
        except (OSError, ValueError, KeyError, EOFError):
            return None

    def put(self, sha: str, clip: ClipEmbedding) -> None:
        """Store a clip's patch outputs atomically."""
        import io

        buffer = io.BytesIO()
        arrays = {"patch_embeddings": clip.patch_embeddings}
        if clip.patch_scores is not None:
            arrays["patch_scores"] = clip.patch_scores
        np.savez(buffer, **arrays)
        atomic_write_bytes(self.entry_path(sha), buffer.getvalue())
