"""Finding, downloading and verifying the data files the project needs (weights, vectors, data).

One search path is used everywhere, in this order:

1. the folder named by the environment variable ``$ZSAUDIO_ASSETS``;
2. ``../shared/assets`` beside the source checkout (where CI and developers keep them);
3. the per-user cache folder (``$XDG_CACHE_HOME/zsaudio`` or ``~/.cache/zsaudio``), which is
   also where :func:`fetch_asset` downloads to.

Files are named by their path relative to an assets root, e.g. ``"yamnet/yamnet.tflite"``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from zsaudio.fileio import atomic_write

ENV_VAR = "ZSAUDIO_ASSETS"


@dataclass(frozen=True)
class AssetInfo:
    """Where a known asset officially comes from, and its sha256 (hex)."""

    relpath: str
    sha256: str | None
    url: str | None
    description: str


# The files the project knows by name. URLs are the official download addresses (used only
# where the network is there); sha256 sums are those of the published files.
KNOWN_ASSETS: dict[str, AssetInfo] = {
    a.relpath: a
    for a in [
        AssetInfo(
            "yamnet/yamnet.tflite",
            "469be6a3421cbc52cf97e9f2f966cba984198e8e7af9854d68b3e3ebb1e04194",
            "https://tfhub.dev/google/lite-model/yamnet/classification/tflite/1?lite-format=tflite",
            "YAMNet TFLite model (Google, AudioSet, Apache-2.0)",
        ),
        AssetInfo(
            "yamnet/yamnet_class_map.csv",
            "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2",
            "https://raw.githubusercontent.com/tensorflow/models/master/research/audioset/yamnet/yamnet_class_map.csv",
            "YAMNet class map (index, mid, display_name)",
        ),
        AssetInfo(
            "vggish/vggish_model.ckpt",
            "0962b1914e3e053922d957c45bc84a78c985765641dc6bceeeb3a7d8dfecfdf6",
            "https://storage.googleapis.com/audioset/vggish_model.ckpt",
            "VGGish TensorFlow checkpoint (Google, 291 MB)",
        ),
        AssetInfo(
            "vggish/vggish_pca_params.npz",
            "4d878af3e306defbfb37095365aa7e5a6cecb86bad13e859e626151c4e6a8b9d",
            "https://storage.googleapis.com/audioset/vggish_pca_params.npz",
            "VGGish PCA parameters (Google)",
        ),
        AssetInfo(
            "vggish/vggish-10086976.pth",
            None,  # torchvggish names its files by sha256 prefix: checked by prefix below
            "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
            "VGGish weights, PyTorch port (torchvggish)",
        ),
        AssetInfo(
            "vggish/vggish_pca_params-970ea276.pth",
            None,
            "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish_pca_params-970ea276.pth",
            "VGGish PCA parameters, PyTorch port (torchvggish)",
        ),
        AssetInfo(
            "word_vectors/GoogleNews-vectors-negative300.bin.gz",
            None,
            "https://code.google.com/archive/p/word2vec/ (GoogleNews-vectors-negative300.bin.gz)",
            "Google News Word2Vec, 3 M words x 300 d (1.6 GB compressed)",
        ),
        AssetInfo(
            "word_vectors/googlenews_subset.bin",
            "cfac20574beec8de9e1274e9c20b17af2c2ae3f601d6af0b1beee34e22cff778",
            None,
            "376 Google News Word2Vec vectors (see ../shared/assets/README.md)",
        ),
        AssetInfo(
            "word_vectors/googlenews_audioset527_label_embeddings.npz",
            "7deb09a5095471592bfb0b2a1618c2d06834de88600aa32532eee05f6c728e3b",
            "https://github.com/xieh97test/zsl_example (data/WLE.npz)",
            "Google News label embeddings of the 527 AudioSet classes (Xie)",
        ),
        AssetInfo(
            "word_vectors/audioset_class_labels_indices.csv",
            "156bdda27a7ef1797c977834c24d3e93e1df6d7e5c21b53ca52d56ea1cb05ac9",
            None,
            "AudioSet 527 class labels (index, mid, display_name)",
        ),
        AssetInfo(
            "audioset/ontology.json",
            "9c685f4403eecc3ca9be37fd7285cf212feaaea6ff7229d3e7ca89e0d1f2d15d",
            "https://raw.githubusercontent.com/audioset/ontology/master/ontology.json",
            "AudioSet ontology (632 classes, CC BY-SA 4.0)",
        ),
        AssetInfo(
            "esc50/meta/esc50.csv",
            "ca660da60191a97de289983a05821c9382d852a38a2ba8428980816b68cf6246",
            "https://github.com/karolpiczak/ESC-50",
            "ESC-50 metadata (the audio/ folder beside it holds the clips)",
        ),
    ]
}


class AssetNotFoundError(FileNotFoundError):
    """A data file is on none of the search path's folders."""


class ChecksumError(ValueError):
    """A file's sha256 differs from the published one."""


def cache_dir() -> Path:
    """The per-user cache folder (``$XDG_CACHE_HOME/zsaudio``, else ``~/.cache/zsaudio``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zsaudio"


#: The sub-folders of the cache, by kind of content (relative to :func:`cache_dir`).
CACHE_SUBDIRS: dict[str, str] = {
    "embeddings": "embeddings",  # audio clip embeddings (zsaudio.embeddings.cache)
    "label-embeddings": "labels/embeddings",  # label vectors (zsaudio.labels.cache)
    "file-hashes": "labels/sha256",  # sha256 of large vector files, by path, size and mtime
    "word-vectors": "word_vectors",  # word vectors converted to gensim's memory-mapped format
    "models": "models",  # models trained by `zsaudio demo`
}


def cache_subdir(kind: str, root: str | os.PathLike | None = None) -> Path:
    """The cache folder for one kind of content: ``root / CACHE_SUBDIRS[kind]``.

    Parameters
    ----------
    kind : str
        A key of :data:`CACHE_SUBDIRS`.
    root : path, optional
        The cache root; default :func:`cache_dir`.

    Examples
    --------
    >>> cache_subdir("label-embeddings", root="/tmp/c")
    PosixPath('/tmp/c/labels/embeddings')
    """
    try:
        sub = CACHE_SUBDIRS[kind]
    except KeyError:
        raise ValueError(f"unknown cache kind {kind!r}; known: {', '.join(CACHE_SUBDIRS)}") from None
    return (Path(root) if root is not None else cache_dir()) / sub


def search_path() -> list[Path]:
    """The folders searched for assets, in order (see the module docstring)."""
    roots: list[Path] = []
    if os.environ.get(ENV_VAR):
        roots.append(Path(os.environ[ENV_VAR]).expanduser())
    # src/zsaudio/assets.py -> checkout root is parents[2]; ../shared/assets sits beside it.
    checkout = Path(__file__).resolve().parents[2]
    roots.append(checkout.parent / "shared" / "assets")
    roots.append(cache_dir())
    return roots


def _missing_message(relpath: str, roots: list[Path]) -> str:
    info = KNOWN_ASSETS.get(relpath)
    lines = [f"asset '{relpath}' not found; looked in:"]
    lines += [f"  {r / relpath}" for r in roots]
    if info is not None:
        lines.append(f"it is: {info.description}")
        if info.url:
            lines.append(f"download it from: {info.url}")
        if info.sha256:
            lines.append(f"expected sha256: {info.sha256}")
    lines.append(f"put it under ${ENV_VAR}/{relpath} (or any folder above)")
    return "\n".join(lines)


def find_asset(relpath: str) -> Path:
    """Return the first existing ``root / relpath`` on the search path.

    Parameters
    ----------
    relpath : str
        Path relative to an assets root, e.g. ``"yamnet/yamnet.tflite"``.

    Raises
    ------
    AssetNotFoundError
        Naming the file, every place looked, its download address and sha256 when known.

    Examples
    --------
    >>> find_asset("yamnet/yamnet.tflite")
    PosixPath('.../yamnet/yamnet.tflite')
    """
    roots = search_path()
    for root in roots:
        candidate = root / relpath
        if candidate.exists():
            return candidate
    raise AssetNotFoundError(_missing_message(relpath, roots))


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (works on multi-GB files)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: str | Path, expected: str) -> None:
    """Raise :class:`ChecksumError` unless the file's sha256 starts with ``expected``.

    A prefix is accepted because torchvggish names its files by an 8-hex-digit sha256 prefix.
    """
    actual = sha256_of(path)
    if not actual.startswith(expected.lower()):
        raise ChecksumError(f"{path}: sha256 {actual} does not match the expected {expected}")


def _expected_sha(relpath: str) -> str | None:
    info = KNOWN_ASSETS.get(relpath)
    if info is not None and info.sha256:
        return info.sha256
    stem = Path(relpath).stem  # "vggish-10086976" -> prefix "10086976"
    if "-" in stem:
        prefix = stem.rsplit("-", 1)[1]
        if len(prefix) == 8 and all(c in "0123456789abcdef" for c in prefix):
            return prefix
    return None


Downloader = Callable[[str, IO[bytes]], None]
"""``download(url, file)``: write the content at ``url`` into the open binary ``file``."""


class _HashingWriter:
    """A binary file wrapper that hashes (sha256) what is written through it."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.sha256 = out, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return self.out.write(data)


def _urllib_download(url: str, out: IO[bytes]) -> None:
    with urllib.request.urlopen(url, timeout=60) as response:
        shutil.copyfileobj(response, out, 1 << 20)


def fetch_asset(
    relpath: str,
    url: str | None = None,
    sha256: str | None = None,
    download: Downloader | None = None,
) -> Path:
    """Find an asset, or download it into the user cache and verify its sha256.

    The download goes to a temporary file in the cache folder, is verified, and only then
    moved into place (:func:`zsaudio.fileio.atomic_write`), so an interrupted or corrupt
    download never looks present.

    Parameters
    ----------
    relpath : str
        Path relative to an assets root.
    url, sha256 : str, optional
        Override the address and checksum of :data:`KNOWN_ASSETS`.
    download : callable(url, file), optional
        How to fetch into an open binary file (default: urllib); tests pass a function that
        writes bytes it holds.
    """
    try:
        return find_asset(relpath)
    except AssetNotFoundError as missing:
        info = KNOWN_ASSETS.get(relpath)
        url = url or (info.url if info else None)
        if not url or not url.startswith(("http://", "https://")):
            raise missing
        expected = sha256 or _expected_sha(relpath)
        dest = cache_dir() / relpath
        not_found = str(missing)

        def download_and_verify(out: IO[bytes]) -> None:
            hashing = _HashingWriter(out)
            try:
                (download or _urllib_download)(url, hashing)  # type: ignore[arg-type]
            except OSError as err:
                raise AssetNotFoundError(f"{not_found}\ndownload failed: {err}") from err
            if expected and not hashing.sha256.hexdigest().startswith(expected.lower()):
                raise ChecksumError(f"{url}: sha256 {hashing.sha256.hexdigest()} does not match "
                                    f"the expected {expected}")

        # verified before it is moved into place: a bad or partial download never looks present
        return atomic_write(dest, download_and_verify, suffix=".part")
