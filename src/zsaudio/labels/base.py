"""The label-encoder interface, the paper's word-splitting rule, the registry and the cache.

A label encoder maps class-label strings to the class embeddings φ(y) of the paper: a list of
``n`` labels in, an ``(n, d)`` float32 array out. Every encoder:

- is created by name through :func:`get_label_encoder` (one file per encoder family registers
  its names with :func:`register_label_encoder`, so adding an encoder touches one file);
- loads its vectors or model lazily, on the first :meth:`LabelEncoder.encode`;
- keeps an in-memory cache label -> vector, so a label is computed once per encoder;
- reports in :meth:`LabelEncoder.config` everything that changes its outputs (stored in model
  files, so a model is never scored against label embeddings made another way);
- raises :class:`UnknownLabelError` naming *all* the labels it cannot embed at once.
"""

from __future__ import annotations

import abc
import hashlib
import inspect
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zsaudio.assets import cache_subdir, sha256_of
from zsaudio.fileio import atomic_write_text

# Version tag of the word rule below; stored in config() so a change of rule shows in models.
WORD_RULE = "lower-nfc-split-ws-underscore-punct-keep-intraword-hyphen-apostrophe/v1"

# A word: letters/digits (any script), possibly joined by intra-word hyphens or apostrophes
# ("bow-wow", "hi-hat", "dentist's"). The underscore is a separator (ESC-50's "sea_waves"), so
# it is replaced by a space before matching (``\w`` would keep it).
_WORD_RE = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*")
# Typographic apostrophes and dashes written into labels are the ASCII ones for lookup.
_CHAR_MAP = str.maketrans({"\u2019": "'", "\u2018": "'", "\u2010": "-", "\u2011": "-"})


def _split(label: str, lower: bool) -> list[str]:
    text = unicodedata.normalize("NFC", label).translate(_CHAR_MAP).replace("_", " ")
    if lower:
        text = text.lower()
    return _WORD_RE.findall(text)


def label_words(label: str) -> list[str]:
    """Split a class label into lower-case words: the paper's rule.

    The label is Unicode-normalised (NFC) and lower-cased; whitespace, ESC-50's ``_`` and all
    punctuation separate words, except a hyphen or apostrophe *inside* a word, which is kept
    ("Hi-hat" -> ``["hi-hat"]``): Google News and GloVe both hold such tokens, and keeping them is
    what reproduces the paper author's AudioSet label embeddings (see ``tests/test_labels.py``).

    Parameters
    ----------
    label : str
        A class label as written by the data set, e.g. ``"sea_waves"`` or
        ``"Male speech, man speaking"``.

    Returns
    -------
    list of str
        The words, in order; empty when the label holds no letter or digit.

    Examples
    --------
    >>> label_words("sea_waves")
    ['sea', 'waves']
    >>> label_words("Fire engine, fire truck (siren)")
    ['fire', 'engine', 'fire', 'truck', 'siren']
    >>> label_words("Bow-wow")
    ['bow-wow']
    >>> label_words("  ?! ")
    []
    """
    if not isinstance(label, str):
        raise TypeError(f"a label must be a str, got {type(label).__name__}: {label!r}")
    return _split(label, lower=True)


def label_text(label: str) -> str:
    """The label as a phrase for sentence encoders: ``_`` -> space, whitespace collapsed.

    Casing and punctuation are kept (they carry meaning for a sentence model).

    Examples
    --------
    >>> label_text("sea_waves")
    'sea waves'
    >>> label_text("  Male speech,  man speaking ")
    'Male speech, man speaking'
    """
    if not isinstance(label, str):
        raise TypeError(f"a label must be a str, got {type(label).__name__}: {label!r}")
    text = unicodedata.normalize("NFC", label).replace("_", " ")
    return " ".join(text.split())


@dataclass(frozen=True)
class LabelCoverage:
    """How much of a label an encoder knows.

    Attributes
    ----------
    label : str
        The label as given.
    words : list of str
        ``label_words(label)``.
    known : list of str
        The vocabulary entries the encoder used (a word, or with ``phrases=True`` a cased
        variant or a phrase token such as ``"sea_waves"``).
    missing : list of str
        The words of ``words`` the encoder does not know (skipped when embedding).
    """

    label: str
    words: list[str]
    known: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def encodable(self) -> bool:
        """True when at least one word is known (the label gets a vector)."""
        return bool(self.known)

    @property
    def complete(self) -> bool:
        """True when every word is known."""
        return bool(self.known) and not self.missing


class UnknownLabelError(ValueError):
    """Labels an encoder cannot embed (no known word, or no word at all).

    Attributes
    ----------
    labels : list of str
        Every offending label of the call, in input order.
    """

    def __init__(self, encoder: str, coverages: Sequence[LabelCoverage]):
        self.labels = [c.label for c in coverages]
        parts = []
        for c in coverages:
            if not c.words:
                parts.append(f"{c.label!r} (no words: empty, blank or punctuation only)")
            else:
                parts.append(f"{c.label!r} (unknown words: {', '.join(c.missing)})")
        super().__init__(
            f"{encoder}: {len(parts)} label(s) have no known word and cannot be embedded: "
            + "; ".join(parts)
        )


def _check_labels(labels: Sequence[str]) -> list[str]:
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"labels must be a sequence of str, not a single string: {labels!r}")
    out = list(labels)
    bad = [x for x in out if not isinstance(x, str)]
    if bad:
        raise TypeError(f"labels must be str; got {', '.join(repr(b) for b in bad[:5])}")
    return out


class LabelEncoder(abc.ABC):
    """Base class: label strings -> ``(n, dim)`` float32 class embeddings.

    Sub-classes implement :meth:`_load` (lazy), :meth:`_encode_new` (labels not yet cached) and
    :meth:`_coverage_one`, set :attr:`name`, and extend :meth:`config`.
    """

    name: str = "?"

    def __init__(self) -> None:
        self._cache: dict[str, np.ndarray] = {}

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Embedding dimension ``d`` (loads the vectors or model)."""

    def config(self) -> dict[str, Any]:
        """Everything that changes the outputs, as a JSON-serialisable dict."""
        return {"name": self.name, "dim": self.dim}

    def identity(self) -> dict[str, Any]:
        """What identifies the outputs, as cheaply as it can be known (the key of the label
        embedding cache, :mod:`zsaudio.labels.cache`); by default :meth:`config`."""
        return self.config()

    def source_encoder(self) -> LabelEncoder:
        """The encoder for *source* label texts (an audio encoder's own class names): this one
        without any candidate-side text rule such as a prompt template. Templates belong to the
        candidate labels only; by default (no template) the encoder itself.

        >>> enc = get_label_encoder("glove")  # doctest: +SKIP
        >>> enc.source_encoder() is enc  # doctest: +SKIP
        True
        """
        return self

    @abc.abstractmethod
    def _coverage_one(self, label: str) -> LabelCoverage:
        """Coverage of one label."""

    @abc.abstractmethod
    def _encode_new(self, labels: list[str]) -> np.ndarray:
        """Embed labels that are all encodable (checked before); ``(n, dim)`` float32."""

    def coverage(self, labels: Sequence[str]) -> list[LabelCoverage]:
        """Which words of each label the encoder knows.

        Parameters
        ----------
        labels : sequence of str

        Returns
        -------
        list of LabelCoverage
            One per label, in order.

        Examples
        --------
        >>> from zsaudio.labels import get_label_encoder
        >>> enc = get_label_encoder("glove")
        >>> enc.coverage(["sea_waves", "qxzvbnq barking"])[1].missing
        ['qxzvbnq']
        """
        return [self._coverage_one(x) for x in _check_labels(labels)]

    def encode(self, labels: Sequence[str]) -> np.ndarray:
        """Embed labels.

        Parameters
        ----------
        labels : sequence of str
            ``n`` class labels (duplicates allowed).

        Returns
        -------
        np.ndarray, shape (n, dim), float32
            Row ``i`` embeds ``labels[i]``; the same label always gives the same row.

        Raises
        ------
        UnknownLabelError
            Naming every label with no known word (or no word at all).

        Examples
        --------
        >>> from zsaudio.labels import get_label_encoder
        >>> get_label_encoder("glove").encode(["dog", "sea_waves"]).shape
        (2, 50)
        """
        labels = _check_labels(labels)
        new = [x for x in dict.fromkeys(labels) if x not in self._cache]
        if new:
            bad = [c for c in (self._coverage_one(x) for x in new) if not c.encodable]
            if bad:
                raise UnknownLabelError(self.name, bad)
            vectors = np.asarray(self._encode_new(new), dtype=np.float32)
            for label, vec in zip(new, vectors, strict=True):
                vec = vec.copy()
                vec.flags.writeable = False
                self._cache[label] = vec
        if not labels:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[x] for x in labels]).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Callable[..., LabelEncoder]] = {}


def register_label_encoder(name: str) -> Callable[[Callable[..., LabelEncoder]], Callable]:
    """Decorator: make ``factory(**options)`` available as ``get_label_encoder(name)``."""

    def decorate(factory: Callable[..., LabelEncoder]) -> Callable[..., LabelEncoder]:
        _REGISTRY[name] = factory
        return factory

    return decorate


def available_label_encoders() -> list[str]:
    """Names accepted by :func:`get_label_encoder`, sorted."""
    return sorted(_REGISTRY)


def _factory(name: str) -> Any:
    """The registered factory of label encoder ``name``; ValueError naming the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown label encoder {name!r}; available: {', '.join(available_label_encoders())}"
        ) from None


def label_encoder_options(name: str) -> list[str]:
    """The options :func:`get_label_encoder` accepts for ``name`` (its factory's parameters).

    >>> from zsaudio.labels import label_encoder_options
    >>> label_encoder_options("glove")
    ['phrases', 'vectors']
    """
    factory = _factory(name)
    return list(inspect.signature(factory).parameters)


def get_label_encoder(name: str, **options: Any) -> LabelEncoder:
    """Create a label encoder by name.

    Parameters
    ----------
    name : str
        ``"word2vec"`` (option ``vectors=PATH``, default the Google News file on the asset
        path), ``"googlenews-subset"``, ``"glove"``, ``"minilm"`` or ``"mpnet"``.
    **options
        Word encoders: ``phrases=False``; ``vectors``, ``limit``, ``binary`` for word2vec.
        Sentence encoders: ``template=None``, ``descriptions=None``, ``device="cpu"``.

    Returns
    -------
    LabelEncoder
        Loads its vectors or model lazily, on first use.

    Examples
    --------
    >>> from zsaudio.labels import get_label_encoder
    >>> get_label_encoder("googlenews-subset").encode(["dog", "cat"]).shape
    (2, 300)
    """
    factory = _factory(name)
    try:
        return factory(**options)
    except TypeError as err:
        raise TypeError(f"label encoder {name!r}: {err}") from err


# --------------------------------------------------------------------------- file identity


def file_identity(path: str | Path) -> dict[str, Any]:
    """``{"file": name, "size": bytes, "sha256": hex}`` of a data file.

    The sha256 of a large file (Google News: 3.6 GB) is computed once and remembered in the
    user cache, keyed by absolute path, size and modification time.
    """
    path = Path(path)
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    memo = cache_subdir("file-hashes") / (hashlib.sha256(key.encode()).hexdigest() + ".json")
    digest = None
    if st.st_size > (16 << 20):
        try:
            digest = json.loads(memo.read_text())["sha256"]
        except (OSError, ValueError, KeyError):
            digest = None
    if digest is None:
        digest = sha256_of(path)
        if st.st_size > (16 << 20):
            try:
                atomic_write_text(memo, json.dumps({"key": key, "sha256": digest}))
            except OSError:
                pass  # a read-only cache only costs recomputing the hash next time
    return {"file": path.name, "size": st.st_size, "sha256": digest}
