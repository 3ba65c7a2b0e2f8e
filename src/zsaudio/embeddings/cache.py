"""On-disk cache of clip embeddings, keyed by file content hash + encoder configuration.

Layout under the cache folder::

    paths.json                       (path, size, mtime_ns) -> content sha256 (fast path)
    <encoder>-<config hash>/config.json
    <encoder>-<config hash>/<sha[:2]>/<sha>.npz   patch_embeddings, patch_scores (optional)
    <encoder>-<config hash>/packs/<id>.pack       many clips in one file (read accelerator)

Every write goes through :func:`zsaudio.fileio.atomic_write` (a temporary file in the target
folder, then ``os.replace``): a reader sees either nothing or a whole entry, so killing a run
loses nothing already written, and
concurrent runs on one cache at worst write the same entry twice. The ``paths.json`` index is
only a shortcut: losing an update (two runs replacing it at once) only costs re-hashing.

Per-clip entries are the ground truth, written as soon as a clip is computed. Reading
thousands of small files back costs about a millisecond per clip, so at the end of a run the
clips it used that are not packed yet are also written, together, as one immutable *pack*
(an uncompressed npz: clip hashes, patch offsets, stacked patch outputs and clip means) that
the next run memory-maps (:func:`map_npz`), reading only the rows of the clips it uses.
Packs are only ever added, never edited: a run that adds clips writes a new pack of just
those; when there are more than :data:`MAX_PACKS`, one run merges them all into a single new
pack and only then deletes the ones it merged. Two runs merging at once therefore at worst
leave duplicate clips in two packs; a pack that disappears or is unreadable while being
opened is skipped, and its clips are read from their per-clip entries.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import uuid
import zipfile
from pathlib import Path

import numpy as np

from zsaudio.assets import sha256_of
from zsaudio.embeddings.base import ClipEmbedding
from zsaudio.fileio import atomic_write, atomic_write_text

PACK_FORMAT = 1
"""Version written into each pack; packs of another version are ignored."""
MAX_PACKS = 8
"""More packs than this in one encoder folder are merged into one by :meth:`consolidate`."""


def config_hash(config: dict) -> str:
    """Stable short hash of an encoder configuration (sorted-key JSON)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def file_key(path: str | os.PathLike) -> str:
    """The fast-path key of a file: absolute path, size and modification time (ns)."""
    st = os.stat(path)
    return f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"


def map_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed ``.npz`` (as ``np.savez`` writes), memory-mapped read-only:
    opening costs a few small reads whatever the file's size, and only the rows used are read.

    Raises
    ------
    ValueError
        A member that is compressed, not a ``.npy``, or holds Python objects.
    zipfile.BadZipFile, OSError
        Not a zip file; unreadable.

    Examples
    --------
    >>> import io, tempfile
    >>> path = tempfile.mkdtemp() + "/a.npz"
    >>> np.savez(path, x=np.arange(6.0).reshape(3, 2), n=np.array(1))
    >>> arrays = map_npz(path)
    >>> arrays["x"][2], int(arrays["n"]), type(arrays["x"]).__name__
    (memmap([4., 5.]), 1, 'memmap')
    """
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as f:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise ValueError(f"{path}: member {info.filename} is not an uncompressed .npy")
            f.seek(info.header_offset)
            local = f.read(30)  # the local file header: its name and extra field lengths
            if local[:4] != b"PK\x03\x04":
                raise ValueError(f"{path}: damaged zip header of {info.filename}")
            name_length, extra_length = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_length + extra_length
            f.seek(start)
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"{path}: .npy format {version} of {info.filename}")
            if dtype.hasobject:
                raise ValueError(f"{path}: {info.filename} holds Python objects")
            name = info.filename[: -len(".npy")]
            if int(np.prod(shape)) == 0 or shape == ():  # nothing to map: read it
                f.seek(start)
                arrays[name] = np.lib.format.read_array(f, allow_pickle=False)
            else:
                arrays[name] = np.memmap(path, dtype=dtype, mode="r", offset=f.tell(), shape=shape,
                                         order="F" if fortran else "C")
    return arrays


class _Pack:
    """One pack file, memory-mapped: sha -> (start, stop) rows of the stacked arrays.

    Opening a pack reads its hashes and offsets only; a clip's rows are read when used (a
    ``classify`` of a few hundred clips from a cache of thousands reads those, not the rest).
    """

    def __init__(self, path: Path):
        f = map_npz(path)
        if int(f["format"]) != PACK_FORMAT:
            raise ValueError(f"{path}: pack format {int(f['format'])} != {PACK_FORMAT}")
        shas = f["shas"]
        offsets = np.asarray(f["offsets"], dtype=np.int64)
        self.patch_embeddings = f["patch_embeddings"]
        self.patch_scores = f.get("patch_scores")
        self.embeddings = f["embeddings"]
        self.scores = f["scores"] if self.patch_scores is not None else None
        n_rows = len(self.patch_embeddings)
        if (
            len(offsets) != len(shas) + 1
            or offsets[0] != 0
            or offsets[-1] != n_rows
            or np.any(np.diff(offsets) < 1)
            or len(self.embeddings) != len(shas)
            or (self.patch_scores is not None and len(self.patch_scores) != n_rows)
        ):
            raise ValueError(f"{path}: inconsistent pack")  # fmt: skip
        self.path = path
        spans = zip(shas, offsets[:-1], offsets[1:], strict=True)
        self.rows = {str(s): (i, int(a), int(b)) for i, (s, a, b) in enumerate(spans)}

    def get(self, sha: str) -> ClipEmbedding | None:
        span = self.rows.get(sha)
        if span is None:
            return None
        i, a, b = span
        # the clip means were stored too (computed by from_patches): no recomputation
        if self.patch_scores is None:
            return ClipEmbedding(self.patch_embeddings[a:b], self.embeddings[i])
        return ClipEmbedding(
            self.patch_embeddings[a:b], self.embeddings[i], self.patch_scores[a:b], self.scores[i]
        )


def write_pack(path: Path, clips: dict[str, ClipEmbedding]) -> None:
    """Write ``clips`` (sha -> clip, all with or all without scores) as one pack, atomically."""
    shas = list(clips)
    counts = [len(clips[s].patch_embeddings) for s in shas]
    arrays = {
        "format": np.array(PACK_FORMAT),
        "shas": np.array(shas, dtype="U64"),
        "offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "patch_embeddings": np.concatenate([clips[s].patch_embeddings for s in shas]),
        "embeddings": np.stack([clips[s].embedding for s in shas]),
    }
    if shas and clips[shas[0]].patch_scores is not None:
        arrays["patch_scores"] = np.concatenate([clips[s].patch_scores for s in shas])
        arrays["scores"] = np.stack([clips[s].scores for s in shas])
    atomic_write(path, lambda f: np.savez(f, **arrays))


class EmbeddingCache:
    """Per-clip cache for one encoder configuration, with packs for fast bulk reads.

    Parameters
    ----------
    root : path
        Cache folder (shared by all encoders).
    encoder_name : str
    config : dict
        The encoder's :meth:`~zsaudio.embeddings.base.AudioEncoder.config`.
    staging : bool, default True
        Remember the clips used, for :meth:`consolidate`; off in worker processes, which
        hand their clips to the process that consolidates.

    Notes
    -----
    :meth:`get` reads per-clip entries until :meth:`load_packs` is called (done by
    ``embed_files`` from :data:`~zsaudio.embeddings.extract.PACK_MIN_CLIPS` files on). Clips
    read from or written to per-clip entries are remembered and written as a new pack by
    :meth:`consolidate`.

    Examples
    --------
    >>> import tempfile
    >>> tmp, sha = tempfile.mkdtemp(), "ab" * 32
    >>> clip = ClipEmbedding.from_patches(np.ones((3, 1024), np.float32))
    >>> cache = EmbeddingCache(tmp, "yamnet", {"model_sha256": "..."})
    >>> cache.put(sha, clip); cache.get(sha).embedding.shape
    (1024,)
    >>> cache.consolidate().suffix, EmbeddingCache(tmp, "yamnet", {"model_sha256": "..."}).load_packs()
    ('.pack', 1)
    """

    def __init__(self, root: str | os.PathLike, encoder_name: str, config: dict, staging: bool = True):
        self.root = Path(root)
        self.folder = self.root / f"{encoder_name}-{config_hash(config)}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pack_folder = self.folder / "packs"
        config_file = self.folder / "config.json"
        if not config_file.exists():
            atomic_write_text(config_file, json.dumps(config, indent=1, sort_keys=True))
        self._index_file = self.root / "paths.json"
        self._index = self._read_index()
        self._new_keys: dict[str, str] = {}
        self.staging = staging
        self._packs: list[_Pack] = []
        self._unpacked: dict[str, ClipEmbedding] = {}  # used this session, in no loaded pack

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
        atomic_write_text(self._index_file, json.dumps(merged))
        self._index.update(merged)
        self._new_keys.clear()

    # --- packs ----------------------------------------------------------------------------
    def pack_paths(self) -> list[Path]:
        """The pack files present now (sorted by name)."""
        try:
            return sorted(p for p in self.pack_folder.iterdir() if p.suffix == ".pack")
        except OSError:
            return []

    @staticmethod
    def _read_packs(paths: list[Path]) -> tuple[list[_Pack], list[Path]]:
        """-> (readable packs, corrupt ones). A pack merged away meanwhile is neither."""
        packs, corrupt = [], []
        for path in paths:
            try:
                packs.append(_Pack(path))
            except OSError:
                pass  # merged away by another run: its clips are in the merged pack
            except (ValueError, KeyError, EOFError, zipfile.BadZipFile):
                corrupt.append(path)  # never half-written (atomic), so damaged or foreign
        return packs, corrupt

    def load_packs(self) -> int:
        """Open (memory-map) every pack so that :meth:`get` finds packed clips without
        touching their per-clip entries; returns the number of packed clips."""
        self._packs = self._read_packs(self.pack_paths())[0]
        return len({sha for p in self._packs for sha in p.rows})

    def _packed(self, sha: str) -> ClipEmbedding | None:
        for pack in self._packs:
            clip = pack.get(sha)
            if clip is not None:
                return clip
        return None

    def stage(self, sha: str, clip: ClipEmbedding) -> None:
        """Mark a clip already stored as a per-clip entry (maybe by another process) for the
        next :meth:`consolidate`, unless a loaded pack holds it."""
        if self.staging and all(sha not in p.rows for p in self._packs):
            self._unpacked[sha] = clip

    def consolidate(self) -> Path | None:
        """Write the clips staged this session as a new pack; merge packs beyond
        :data:`MAX_PACKS`. Returns the pack written, or None when nothing was staged."""
        if not self._unpacked:
            return None
        current = self.pack_paths()
        on_disk, corrupt = self._read_packs(current) if len(current) >= MAX_PACKS else ([], [])
        merged = [p.path for p in on_disk] + corrupt
        clips: dict[str, ClipEmbedding] = {}
        for pack in on_disk:
            for sha in pack.rows:
                clips.setdefault(sha, pack.get(sha))
        clips.update(self._unpacked)
        with_scores = {s: c for s, c in clips.items() if c.patch_scores is not None}
        if with_scores and len(with_scores) != len(clips):  # a foreign mix: keep one kind
            clips = with_scores
        # uuid names: two runs consolidating at once never write the same file
        path = self.pack_folder / f"{uuid.uuid4().hex}.pack"
        write_pack(path, clips)
        for old in merged:  # only after the merged pack is in place: nothing is ever lost
            try:
                old.unlink(missing_ok=True)
            except OSError:
                pass  # e.g. open elsewhere on Windows: a duplicate, merged again next time
        self._unpacked.clear()
        return path

    # --- entries --------------------------------------------------------------------------
    def get(self, sha: str) -> ClipEmbedding | None:
        """The cached clip, or None (missing or unreadable entries count as missing)."""
        clip = self._packed(sha)
        if clip is not None:
            return clip
        clip = self._unpacked.get(sha)
        if clip is not None:
            return clip
        path = self.entry_path(sha)
        try:
            with np.load(path) as f:
                patch_scores = f["patch_scores"] if "patch_scores" in f.files else None
                clip = ClipEmbedding.from_patches(f["patch_embeddings"], patch_scores)
        except (OSError, ValueError, KeyError, EOFError):
            return None
        self.stage(sha, clip)
        return clip

    def put(self, sha: str, clip: ClipEmbedding) -> None:
        """Store a clip's patch outputs atomically (and stage it for the next pack)."""
        arrays = {"patch_embeddings": clip.patch_embeddings}
        if clip.patch_scores is not None:
            arrays["patch_scores"] = clip.patch_scores
        atomic_write(self.entry_path(sha), lambda f: np.savez(f, **arrays))
        self.stage(sha, clip)
