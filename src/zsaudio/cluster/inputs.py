"""Inputs of a cluster job: folders, globs and manifests of local paths or URIs.

Everything goes through pyarrow's file systems (``pyarrow.fs.FileSystem.from_uri``), so the
same code lists a local folder, ``s3://bucket/sounds/`` or ``gs://bucket/**/*.flac`` for users
whose pyarrow has those file systems (pyarrow's wheels include S3 and GCS; credentials come
from the usual environment variables / config files of each cloud). Local paths are made
absolute, because Ray workers do not share the driver's working directory.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from zsaudio.audio.files import AUDIO_EXTENSIONS
from zsaudio.audio.io import AudioDecodeError, load_audio

MANIFEST_SUFFIXES = (".csv", ".parquet", ".pq")
# Columns of a manifest that may hold the files, in the order they are looked for.
MANIFEST_COLUMNS = ("path", "uri", "filename", "file")
_GLOB_CHARS = "*?["


class InputError(ValueError):
    """A job input that cannot be listed (glob matching nothing, bad manifest, empty folder)."""


def is_uri(path: str) -> bool:
    """True for ``scheme://...`` (``s3://``, ``gs://``, ``file://``, ...), False for a local path.

    >>> is_uri("s3://bucket/a.wav"), is_uri("/data/a.wav"), is_uri("C:/a.wav")
    (True, False, False)
    """
    return "://" in str(path)


def resolve(path_or_uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow file system of a path or URI and the path inside it.

    Parameters
    ----------
    path_or_uri : str
        A local path (made absolute) or a URI that ``pyarrow.fs.FileSystem.from_uri`` knows.

    Returns
    -------
    (pyarrow.fs.FileSystem, str)

    Raises
    ------
    InputError
        A URI scheme pyarrow cannot open (the message names it).

    Example
    -------
    >>> fs, p = resolve("/tmp/x.wav"); fs.type_name, p
    ('local', '/tmp/x.wav')
    """
    path_or_uri = str(path_or_uri)
    if not is_uri(path_or_uri):
        return pafs.LocalFileSystem(), os.path.abspath(path_or_uri)
    try:
        return pafs.FileSystem.from_uri(path_or_uri)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as err:
        raise InputError(f"cannot open {path_or_uri}: {err}") from err


def _display(original: str, fs: pafs.FileSystem, inner: str) -> str:
    """How a listed file is named in results: a local path, or a URI of the original scheme."""
    if isinstance(fs, pafs.LocalFileSystem):
        return inner
    return f"{urlparse(original).scheme}://{inner}"


def _is_audio(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in AUDIO_EXTENSIONS


def _list_folder(source: str, fs: pafs.FileSystem, inner: str) -> list[str]:
    infos = fs.get_file_info(pafs.FileSelector(inner, recursive=True))
    base = inner.rstrip("/") + "/"
    files = sorted(i.path for i in infos if i.type == pafs.FileType.File and _is_audio(i.path)
                   and not any(part.startswith(".") for part in i.path[len(base):].split("/")))
    if not files:
        raise InputError(f"{source}: folder holds no audio file ({', '.join(AUDIO_EXTENSIONS)})")
    return [_display(source, fs, f) for f in files]


def _list_glob(source: str) -> list[str]:
    if not is_uri(source):
        found = sorted(f for f in glob.glob(os.path.abspath(source), recursive=True) if os.path.isfile(f))
    else:
        # The folder above the first wildcard is listed recursively and matched with fnmatch
        # rules ('*' also crosses '/', so 'gs://b/**/*.wav' and 'gs://b/*.wav' both recurse).
        import fnmatch

        fs, inner = resolve(source)
        cut = min(inner.find(c) for c in _GLOB_CHARS if c in inner)
        base = inner[:cut].rsplit("/", 1)[0]
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        found = sorted(_display(source, fs, i.path) for i in infos
                       if i.type == pafs.FileType.File and fnmatch.fnmatch(i.path, inner))
    if not found:
        raise InputError(f"{source}: no file matches this pattern")
    return found


def _read_manifest(source: str, fs: pafs.FileSystem, inner: str) -> list[str]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if inner.lower().endswith(".csv"):
            with fs.open_input_stream(inner) as f:
                table = pacsv.read_csv(f)
        else:
            table = pq.read_table(inner, filesystem=fs)
    except (pa.ArrowException, OSError) as err:
        raise InputError(f"{source}: cannot read this manifest: {err}") from err
    column = next((c for c in MANIFEST_COLUMNS if c in table.column_names), None)
    if column is None:
        raise InputError(f"{source}: manifest has no column named {' or '.join(MANIFEST_COLUMNS)} "
                         f"(columns: {', '.join(table.column_names)})")
    parent = inner.rsplit("/", 1)[0]
    out = []
    for entry in table.column(column).to_pylist():
        if entry is None or not str(entry).strip():
            continue
        entry = str(entry).strip()
        if is_uri(entry) or entry.startswith("/"):
            out.append(entry)
        else:  # relative to the manifest's folder, as a dataset csv beside its audio
            out.append(_display(source, fs, f"{parent}/{entry}"))
    if not out:
        raise InputError(f"{source}: manifest column {column!r} lists no file")
    return out


def list_inputs(sources: Sequence[str | os.PathLike] | str | os.PathLike) -> list[str]:
    """Expand job inputs into the files to process (local paths absolute, URIs as URIs).

    Parameters
    ----------
    sources : path, URI, or a sequence of them
        Each is one of:

        - a folder (local or ``s3://bucket/prefix/``): its audio files (wav, flac, ogg, aiff,
          mp3), recursively, sorted, hidden files skipped;
        - a glob (``/data/**/*.wav``, ``gs://bucket/sounds/*.flac``);
        - a manifest ``.csv`` / ``.parquet`` with a ``path`` (or ``uri``, ``filename``,
          ``file``) column of paths or URIs; relative entries are relative to the manifest;
        - a file: kept as given (a missing one becomes a row of the failure table).

    Returns
    -------
    list of str
        In input order, each file once.

    Raises
    ------
    InputError
        A glob matching nothing, a folder without audio, a manifest without a path column.

    Example
    -------
    >>> list_inputs(["no/such.wav"])[0].endswith("no/such.wav")
    True
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    out: list[str] = []
    for source in map(str, sources):
        if any(c in source for c in _GLOB_CHARS):
            out += _list_glob(source)
            continue
        fs, inner = resolve(source)
        info = fs.get_file_info(inner)
        if info.type == pafs.FileType.Directory:
            out += _list_folder(source, fs, inner)
        elif info.type == pafs.FileType.File and inner.lower().endswith(MANIFEST_SUFFIXES):
            out += _read_manifest(source, fs, inner)
        else:
            out.append(_display(source, fs, inner))
    return list(dict.fromkeys(out))


def load_audio_from(path_or_uri: str) -> np.ndarray:
    """:func:`zsaudio.audio.io.load_audio` of a local path or a URI (bytes via pyarrow's fs).

    A URI's bytes are copied to a local temporary file with the same suffix and decoded by the
    same ``load_audio`` as local files, so both give the same samples.

    Returns
    -------
    np.ndarray, shape (n,), float32 mono at 16 kHz

    Raises
    ------
    AudioDecodeError
        Missing or unreadable file, or anything ``load_audio`` refuses.

    Example
    -------
    >>> load_audio_from("s3://bucket/dog.wav").shape  # doctest: +SKIP
    (80000,)
    """
    if not is_uri(path_or_uri):
        return load_audio(path_or_uri)
    fs, inner = resolve(path_or_uri)
    try:
        with fs.open_input_file(inner) as f:
            data = f.read()
    except FileNotFoundError as err:
        raise AudioDecodeError(f"no such file: {path_or_uri}") from err
    except OSError as err:
        raise AudioDecodeError(f"cannot read {path_or_uri}: {err}") from err
    with tempfile.NamedTemporaryFile(suffix=Path(inner).suffix) as tmp:
        tmp.write(data)
        tmp.flush()
        return load_audio(tmp.name)
