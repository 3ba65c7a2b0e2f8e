"""The AudioSet ontology as a label space: class names, descriptions and hierarchy.

Audio encoders trained on AudioSet (YAMNet: 521 outputs) name their outputs by AudioSet
``mid`` (e.g. ``"/m/0bt9lr"`` = "Dog"). This module maps an encoder's outputs to the
ontology entries (``audioset/ontology.json``, 632 classes), turns them into label texts for a
label encoder (the *source* labels of ConSE), embeds them while tolerating encoders that do
not know every word, and lists which target labels (e.g. ESC-50's) have a near-identical
AudioSet class.

Example
-------
>>> from zsaudio.labels import audioset
>>> classes = audioset.audioset_classes(audioset.yamnet_class_ids())
>>> classes[0].name, len(classes)
('Speech', 521)
>>> audioset.source_label_texts(classes[:2], mode="name")
['Speech', 'Child speech, kid speaking']
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zsaudio.assets import find_asset
from zsaudio.embeddings.yamnet import load_class_map
from zsaudio.labels.base import UnknownLabelError

ONTOLOGY_ASSET = "audioset/ontology.json"

# Ways to turn an AudioSet class into the text a label encoder embeds.
TEXT_MODES = ("name", "description", "name+description", "name+parent")


@dataclass(frozen=True)
class AudioSetClass:
    """One AudioSet ontology class.

    Attributes
    ----------
    mid : str
        The ontology id (Freebase mid), e.g. ``"/m/0bt9lr"``.
    name : str
        Display name, e.g. ``"Dog"``; synonyms are separated by ``", "`` (``"Waves, surf"``).
    description : str
        One or two sentences from the ontology.
    parents : tuple of str
        mids of the classes that list this one among their children (0, 1 or more).
    children : tuple of str
        mids of its direct children.
    restrictions : tuple of str
        ``"abstract"`` and/or ``"blacklist"`` as in the ontology.
    """

    mid: str
    name: str
    description: str
    parents: tuple[str, ...]
    children: tuple[str, ...]
    restrictions: tuple[str, ...] = ()


@functools.lru_cache(maxsize=4)
def _load_ontology_cached(path: str) -> dict[str, AudioSetClass]:
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)
    parents: dict[str, list[str]] = {e["id"]: [] for e in entries}
    for e in entries:
        for child in e.get("child_ids", []):
            if child in parents:
                parents[child].append(e["id"])
    return {
        e["id"]: AudioSetClass(
            mid=e["id"],
            name=e["name"],
            description=e.get("description", "").strip(),
            parents=tuple(parents[e["id"]]),
            children=tuple(e.get("child_ids", [])),
            restrictions=tuple(e.get("restrictions", [])),
        )
        for e in entries
    }


def load_ontology(path: str | Path | None = None) -> dict[str, AudioSetClass]:
    """Load the AudioSet ontology.

    Parameters
    ----------
    path : str or Path, optional
        An ``ontology.json``; default: the asset ``audioset/ontology.json``.

    Returns
    -------
    dict of str to AudioSetClass
        All classes (632 in the published file) by mid, in file order.

    Example
    -------
    >>> load_ontology()["/m/0bt9lr"].name
    'Dog'
    """
    path = find_asset(ONTOLOGY_ASSET) if path is None else Path(path)
    return dict(_load_ontology_cached(str(path)))


def yamnet_class_ids(path: str | Path | None = None) -> list[str]:
    """YAMNet's output mids in output order (521), e.g. ``['/m/09x0r', ...]``
    (read by :func:`zsaudio.embeddings.yamnet.load_class_map`)."""
    return load_class_map(path)[0]


def audioset_classes(
    encoder_class_ids: Sequence[str], ontology: dict[str, AudioSetClass] | None = None
) -> list[AudioSetClass]:
    """The ontology entries of an encoder's outputs, in the encoder's output order.

    Parameters
    ----------
    encoder_class_ids : sequence of str, length K
        The mid of each encoder output (e.g. :func:`yamnet_class_ids`).
    ontology : dict, optional
        From :func:`load_ontology`; default: the shared asset.

    Returns
    -------
    list of AudioSetClass, length K

    Raises
    ------
    ValueError
        If a mid is not in the ontology (all of them are named).
    """
    ontology = load_ontology() if ontology is None else ontology
    missing = [m for m in encoder_class_ids if m not in ontology]
    if missing:
        raise ValueError(f"{len(missing)} encoder class id(s) not in the AudioSet ontology: "
                         f"{missing[:10]}")
    return [ontology[m] for m in encoder_class_ids]


def source_label_texts(
    classes: Sequence[AudioSetClass],
    mode: str = "name",
    ontology: dict[str, AudioSetClass] | None = None,
) -> list[str]:
    """The text a label encoder embeds for each AudioSet class.

    Parameters
    ----------
    classes : sequence of AudioSetClass
    mode : {"name", "description", "name+description", "name+parent"}
        ``"name"``: the display name (``"Waves, surf"``). ``"description"``: the ontology
        description. ``"name+description"``: ``"Waves, surf. Sounds caused by ..."``.
        ``"name+parent"``: the name followed by the first parent's name in parentheses,
        ``"Bark (Dog)"``; top-level classes keep their bare name.
    ontology : dict, optional
        Needed for ``"name+parent"`` (default: the shared asset).

    Returns
    -------
    list of str, one per class.

    Example
    -------
    >>> dog = load_ontology()["/m/0bt9lr"]
    >>> source_label_texts([dog], mode="name+description")[0][:30]
    'Dog. Any sounds coming from th'
    """
    if mode not in TEXT_MODES:
        raise ValueError(f"mode must be one of {TEXT_MODES}, got {mode!r}")
    if mode == "name":
        return [c.name for c in classes]
    if mode == "description":
        # A handful of ontology entries could have an empty description: fall back to the name.
        return [c.description or c.name for c in classes]
    if mode == "name+description":
        return [f"{c.name}. {c.description}" if c.description else c.name for c in classes]
    ontology = load_ontology() if ontology is None else ontology
    out = []
    for c in classes:
        parent = ontology.get(c.parents[0]) if c.parents else None
        out.append(f"{c.name} ({parent.name})" if parent is not None else c.name)
    return out


def embed_source_texts(label_encoder, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Embed source-class texts, zeroing those the label encoder cannot embed.

    A word-vector encoder raises :class:`zsaudio.labels.UnknownLabelError` for a label with no
    known word (e.g. GloVe and ``"Yodeling"``-style rarities); such classes are kept as zero
    rows and marked ``False`` in the mask, so the rows stay aligned with the audio encoder's
    outputs. Estimators that take source embeddings (ConSE) ignore masked classes.

    Parameters
    ----------
    label_encoder : object with ``encode(list[str]) -> (n, d) array``
        E.g. ``zsaudio.labels.get_label_encoder("glove")``.
    texts : sequence of str, length K

    Returns
    -------
    embeddings : np.ndarray, shape (K, d), float32
        Zero rows where ``mask`` is False.
    mask : np.ndarray, shape (K,), bool
        True where the text was embedded.

    Raises
    ------
    ValueError
        If no text at all can be embedded.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("embed_source_texts: no texts given")
    try:
        emb = np.asarray(label_encoder.encode(texts), dtype=np.float32)
        return emb, np.ones(len(texts), dtype=bool)
    except UnknownLabelError as err:
        # The error names every offending label; encoders that do not fill ``labels`` are
        # probed one text at a time instead.
        bad = set(getattr(err, "labels", None) or []) or {
            t for t in texts if not _encodable(label_encoder, t, UnknownLabelError)}
    mask = np.array([t not in bad for t in texts])
    if not mask.any():
        raise ValueError("embed_source_texts: the label encoder knows none of the texts")
    known = np.asarray(label_encoder.encode([t for t, ok in zip(texts, mask, strict=True) if ok]),
                       dtype=np.float32)
    emb = np.zeros((len(texts), known.shape[1]), dtype=np.float32)
    emb[mask] = known
    return emb, mask


def encoder_source_embeddings(label_encoder, class_ids: Sequence[str],
                              mode: str = "name") -> tuple[np.ndarray, np.ndarray]:
    """Label embeddings of an audio encoder's own classes (K AudioSet mids, output order).

    The classes' texts (:func:`source_label_texts` with ``mode``) embedded by
    :func:`embed_source_texts`: returns ``(embeddings (K, d) float32, mask (K,) bool)``.

    Example
    -------
    >>> from zsaudio.labels import get_label_encoder
    >>> S, mask = encoder_source_embeddings(get_label_encoder("glove"), yamnet_class_ids())
    >>> S.shape, int(mask.sum())
    ((521, 50), 517)
    """
    return embed_source_texts(label_encoder.source_encoder(),
                              source_label_texts(audioset_classes(class_ids), mode))


#: The kinds of source text rows (:func:`source_text_rows`), by code: the AudioSet display name,
#: one of its comma-separated synonyms, and "name. description".
SOURCE_TEXT_KINDS = ("name", "synonym", "name+description")


def source_text_rows(classes: Sequence[AudioSetClass]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Every text of every source class, as rows: THE rule for source label texts of methods
    that match a candidate against each source class's best text (the soft map).

    Per class k, in order: its display name (kind 0, ``"Waves, surf"``); each comma-separated
    synonym of the name (kind 1, ``"Waves"``, ``"surf"``; a name without commas gives one
    synonym equal to the name); its name and ontology description (kind 2, the text of
    :func:`source_label_texts` mode ``"name+description"``). No template: source texts are
    embedded as written (:meth:`zsaudio.labels.LabelEncoder.source_encoder`).

    Parameters
    ----------
    classes : sequence of AudioSetClass, length K

    Returns
    -------
    texts : list of str, length M
    owner : np.ndarray, shape (M,), int64
        The class (0..K-1) of each text.
    kind : np.ndarray, shape (M,), int64
        Index into :data:`SOURCE_TEXT_KINDS`.

    Example
    -------
    >>> surf = [c for c in load_ontology().values() if c.name == "Waves, surf"]
    >>> source_text_rows(surf)[0][:3], source_text_rows(surf)[2].tolist()
    (['Waves, surf', 'Waves', 'surf'], [0, 1, 1, 2])
    """
    texts: list[str] = []
    owner: list[int] = []
    kind: list[int] = []
    described = source_label_texts(classes, "name+description")
    for k, (c, with_description) in enumerate(zip(classes, described, strict=True)):
        synonyms = [part.strip() for part in c.name.split(",") if part.strip()] or [c.name]
        for code, text in [(0, c.name), *((1, syn) for syn in synonyms), (2, with_description)]:
            texts.append(text)
            owner.append(k)
            kind.append(code)
    return texts, np.array(owner, dtype=np.int64), np.array(kind, dtype=np.int64)


def encoder_source_text_rows(label_encoder, class_ids: Sequence[str]
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label embeddings of every source text (:func:`source_text_rows`) of an audio encoder's
    classes, by the label encoder's :meth:`source_encoder` (no template).

    Texts the label encoder cannot embed (a word-vector encoder and a rare word) are dropped.

    Returns
    -------
    embeddings : np.ndarray, shape (M', d), float32
    owner : np.ndarray, shape (M',), int64
        Output index (0..K-1) of the audio-encoder class of each row.
    kind : np.ndarray, shape (M',), int64
        Index into :data:`SOURCE_TEXT_KINDS`.

    Example
    -------
    >>> from zsaudio.labels import get_label_encoder                     # doctest: +SKIP
    >>> E, owner, kind = encoder_source_text_rows(get_label_encoder("minilm"),
    ...                                           yamnet_class_ids())  # doctest: +SKIP
    """
    texts, owner, kind = source_text_rows(audioset_classes(class_ids))
    emb, mask = embed_source_texts(label_encoder.source_encoder(), texts)
    return emb[mask], owner[mask], kind[mask]


def _encodable(label_encoder, text: str, error: type[Exception]) -> bool:
    try:
        label_encoder.encode([text])
    except error:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Target label -> nearest AudioSet class, by words.


def _stem(word: str) -> str:
    """A deliberately tiny suffix stripper (no external stemmer), applied to both sides alike.

    ``crying -> cry``, ``waves -> wav``/``wave -> wav``, ``bells -> bell``, ``sneezing ->
    sneez``/``sneeze -> sneez``. Words of 3 letters or fewer are left alone (``cow``, ``dog``).
    """
    if len(word) <= 3:
        return word
    for suffix, repl in (("ies", "y"), ("ing", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: len(word) - len(suffix)] + repl
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def match_words(label: str) -> frozenset[str]:
    """The set of stemmed words by which :func:`nearest_audioset_classes` compares labels.

    Not :func:`zsaudio.labels.label_words` (the paper's rule, the words a label encoder
    embeds, in order, hyphenated tokens kept): here the words are lower-cased, split on ``_``,
    ``-``, space and punctuation and stemmed by :func:`_stem`, so that "Sea_waves" and
    "waves, sea" match.

    >>> sorted(match_words("Sea_waves"))
    ['sea', 'wav']
    """
    return frozenset(_stem(w) for w in re.split(r"[^a-z0-9]+", label.lower()) if w)


def _raw_words(label: str) -> frozenset[str]:
    return frozenset(w for w in re.split(r"[^a-z0-9]+", label.lower()) if w)


@dataclass(frozen=True)
class LabelMatch:
    """The AudioSet class nearest to one target label by words.

    Attributes
    ----------
    target : str
        The target label as given.
    mid, name : str or None
        The matched AudioSet class (None when no word is shared).
    synonym : str or None
        The comma-separated part of the AudioSet name that matched (``"surf"`` of
        ``"Waves, surf"``).
    kind : {"identical", "contains", "contained", "overlap", "none"}
        ``"identical"``: same word set. ``"contains"``: the target's words include all of the
        synonym's (``door_wood_knock`` vs ``Knock``). ``"contained"``: the synonym's words
        strictly include the target's (``laughing`` vs ``Belly laugh``).
        ``"overlap"``: some shared words. ``"none"``: nothing shared.
    jaccard : float
        |shared words| / |all words| of target and synonym, in [0, 1].
    """

    target: str
    mid: str | None
    name: str | None
    synonym: str | None
    kind: str
    jaccard: float

    @property
    def near_identical(self) -> bool:
        """True for ``"identical"`` matches: the rule used for the report's list."""
        return self.kind == "identical"


_KIND_RANK = {"identical": 0, "contains": 1, "contained": 2, "overlap": 3, "none": 4}


def nearest_audioset_classes(
    targets: Sequence[str], classes: Sequence[AudioSetClass] | None = None
) -> list[LabelMatch]:
    """For each target label, the AudioSet class whose name matches it best by words.

    The rule, meant to be explainable in a report: each AudioSet name is split at commas into
    synonyms (``"Vehicle horn, car horn, honking"`` -> three); target and synonyms are reduced
    to word sets by :func:`match_words`. A synonym matches ``"identical"`` if the word sets are
    equal, ``"contains"`` if the target's set strictly includes it, ``"contained"`` if it
    strictly includes the target's, ``"overlap"`` if they only share words. The best match is
    the one with the best kind, then the highest Jaccard index, then one containing the
    target's last (head) word (``hand_saw``: "Sawing" before "Hands"), then the most shared
    unstemmed words (``crow``: "Crow" before "Crowing"), then the lowest position in
    ``classes`` (deterministic).

    Parameters
    ----------
    targets : sequence of str
        E.g. ESC-50 categories ``["dog", "sea_waves", "door_wood_knock"]``.
    classes : sequence of AudioSetClass, optional
        Candidates; default: YAMNet's 521 classes.

    Returns
    -------
    list of LabelMatch, one per target.

    Example
    -------
    >>> m = nearest_audioset_classes(["sea_waves", "dog"])
    >>> [(x.name, x.kind) for x in m]
    [('Waves, surf', 'contains'), ('Dog', 'identical')]
    """
    if classes is None:
        classes = audioset_classes(yamnet_class_ids())
    synonyms = [
        (i, c, syn.strip(), match_words(syn))
        for i, c in enumerate(classes)
        for syn in c.name.split(",")
        if syn.strip()
    ]
    out = []
    for target in targets:
        tw = match_words(target)
        tw_raw = _raw_words(target)
        words = re.split(r"[^a-z0-9]+", target.lower().strip("_- "))
        head_word = _stem(words[-1]) if words and words[-1] else None
        best = None
        for i, c, syn, sw in synonyms:
            shared = tw & sw
            if not shared or not sw:
                continue
            if tw == sw:
                kind = "identical"
            elif sw < tw:
                kind = "contains"
            elif tw < sw:
                kind = "contained"
            else:
                kind = "overlap"
            jac = len(shared) / len(tw | sw)
            head = head_word in sw  # English compounds put the head last: hand_saw -> saw
            surface = len(tw_raw & _raw_words(syn))  # Crow beats Crowing for "crow"
            key = (_KIND_RANK[kind], -jac, not head, -surface, i)
            if best is None or key < best[0]:
                best = (key, LabelMatch(target, c.mid, c.name, syn, kind, jac))
        out.append(best[1] if best else LabelMatch(target, None, None, None, "none", 0.0))
    return out
