"""Labelled training audio for ``zsaudio train``: ESC-50, or any csv / folder of ``path,label``.

Three sources give the same :class:`LabelledAudio` (one label text per clip):

- ESC-50 through :func:`zsaudio.datasets.esc50.load_esc50`, optionally restricted to some
  classes or categories (``classes``) or with some left out (``exclude_classes``); class names
  become label text by ``_`` -> space (``"sea_waves"`` -> ``"sea waves"``);
- a csv file of ``path,label`` rows (a header row ``path,label`` is optional; relative paths
  are relative to the csv's folder);
- a folder: its ``labels.csv`` if it has one, else one sub-folder per label holding the clips
  (``DIR/dog barking/*.wav``).

Problems are reported all at once with what was wrong and where (a missing file, a row with
no label, a class name that ESC-50 does not have), never as a bare ``KeyError``.

Example
-------
>>> data = from_esc50(classes=["dog", "rain"])  # doctest: +SKIP
>>> data.classes, len(data.paths)  # doctest: +SKIP
(['dog', 'rain'], 80)
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zsaudio.audio.files import AUDIO_EXTENSIONS, audio_files_in
from zsaudio.datasets.esc50 import CATEGORIES, CLASSES_PER_CATEGORY, load_esc50

# The file a labelled folder may hold instead of one sub-folder per label.
FOLDER_TABLE = "labels.csv"


@dataclass
class LabelledAudio:
    """Audio clips with one class label each.

    Attributes
    ----------
    paths : list of Path
        One audio file per clip (existing files; missing ones are in ``missing``).
    labels : list of str
        The label text of each clip (``"sea waves"``), what the label encoder embeds.
    source : str
        Where the clips came from (for messages and the model file).
    missing : list of str
        Listed files that were not found (skipped).
    """

    paths: list[Path]
    labels: list[str]
    source: str
    missing: list[str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        """The distinct labels, in order of first appearance."""
        return list(dict.fromkeys(self.labels))

    def summary(self) -> str:
        text = f"{self.source}: {len(self.paths)} clips of {len(self.classes)} classes"
        return text + (f" ({len(self.missing)} listed files missing)" if self.missing else "")


def esc50_label(class_name: str) -> str:
    """ESC-50 class name as label text: ``"sea_waves"`` -> ``"sea waves"``."""
    return class_name.replace("_", " ")


def _norm(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("-", " ").lower().split())


def resolve_esc50_classes(names: Sequence[str], class_names: Sequence[str]) -> list[int]:
    """ESC-50 targets named by class (``"sea_waves"`` or ``"sea waves"``) or category.

    Parameters
    ----------
    names : sequence of str
        Class names, in any case, with ``_``, ``-`` or spaces; or the paper's category names
        (``"animals"``, ``"natural"``, ``"human"``, ``"interior"``, ``"exterior"``), which stand
        for their ten classes.
    class_names : sequence of str, length 50
        ``Esc50.class_names``.

    Returns
    -------
    list of int
        Distinct targets (0–49), in order of mention.

    Raises
    ------
    ValueError
        Naming every unknown name and listing the valid ones.

    Example
    -------
    >>> names = load_esc50().class_names  # doctest: +SKIP
    >>> resolve_esc50_classes(["Sea waves", "dog"], names)  # doctest: +SKIP
    [11, 0]
    """
    by_name = {_norm(c): t for t, c in enumerate(class_names)}
    out: list[int] = []
    unknown = []
    for name in names:
        key = _norm(name)
        if key in by_name:
            out.append(by_name[key])
        elif key in CATEGORIES:
            k = CATEGORIES.index(key)
            out += range(k * CLASSES_PER_CATEGORY, (k + 1) * CLASSES_PER_CATEGORY)
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(
            f"unknown ESC-50 class(es) {unknown}; use a category ({', '.join(CATEGORIES)}) or a "
            f"class: {', '.join(sorted(class_names))}"
        )
    return list(dict.fromkeys(out))


def from_esc50(
    root: str | Path | None = None,
    classes: Sequence[str] | None = None,
    exclude_classes: Sequence[str] | None = None,
    max_per_class: int | None = None,
) -> LabelledAudio:
    """The present ESC-50 clips as labelled audio.

    Parameters
    ----------
    root : path, optional
        ESC-50 folder (``meta/esc50.csv`` + ``audio/``); default: the asset search path.
    classes : sequence of str, optional
        Keep only these classes or categories (see :func:`resolve_esc50_classes`); default all.
    exclude_classes : sequence of str, optional
        Then drop these classes or categories (the held-out classes of a zero-shot test).
    max_per_class : int, optional
        Keep at most this many clips per class (the first in csv order), for quick runs.

    Returns
    -------
    LabelledAudio
        Clips in csv order; labels are class names with ``_`` -> space.

    Raises
    ------
    FileNotFoundError
        If the ESC-50 csv or every clip is missing.
    ValueError
        For an unknown class name, or when no class is left.

    Example
    -------
    >>> data = from_esc50(exclude_classes=["animals"])  # doctest: +SKIP
    >>> len(data.classes)  # doctest: +SKIP
    40
    """
    data = load_esc50(root)
    keep = set(range(len(data.class_names)))
    if classes:
        keep = set(resolve_esc50_classes(classes, data.class_names))
    if exclude_classes:
        keep -= set(resolve_esc50_classes(exclude_classes, data.class_names))
    if not keep:
        raise ValueError("no ESC-50 class left after --classes / --exclude-classes")
    if max_per_class is not None and max_per_class < 1:
        raise ValueError(f"max_per_class must be >= 1, got {max_per_class}")
    paths, labels = [], []
    counts: dict[int, int] = {}
    for path, target in zip(data.paths, data.targets, strict=True):
        t = int(target)
        if t not in keep or (max_per_class is not None and counts.get(t, 0) >= max_per_class):
            continue
        counts[t] = counts.get(t, 0) + 1
        paths.append(Path(path))
        labels.append(esc50_label(data.class_names[t]))
    if not paths:
        raise FileNotFoundError(f"no clip of the chosen ESC-50 classes is present under {data.root}")
    return LabelledAudio(paths, labels, f"ESC-50 at {data.root}", list(data.missing))


def from_table(path: str | Path) -> LabelledAudio:
    """Labelled audio from a csv of ``path,label`` rows.

    The first row is a header if it reads ``path,label`` (any case); otherwise it is data.
    Empty lines and lines starting with ``#`` are skipped. Relative paths are resolved against
    the csv's folder. Listed files that do not exist are collected in ``missing``.

    Parameters
    ----------
    path : path
        The csv file.

    Returns
    -------
    LabelledAudio

    Raises
    ------
    FileNotFoundError
        If the csv does not exist or none of its files exists.
    ValueError
        If a row has no label or not exactly two columns (all such rows are listed).

    Example
    -------
    >>> data = from_table("train.csv")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labelled-audio csv not found: {path}")
    base = path.parent
    paths, labels, missing, bad = [], [], [], []
    with open(path, newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            cells = [c.strip() for c in row]
            if lineno == 1 and [c.lower() for c in cells] == ["path", "label"]:
                continue
            if len(cells) != 2 or not cells[0] or not cells[1]:
                bad.append(f"line {lineno}: {row!r}")
                continue
            file = Path(cells[0]).expanduser()
            file = file if file.is_absolute() else base / file
            if file.is_file():
                paths.append(file)
                labels.append(cells[1])
            else:
                missing.append(str(file))
    if bad:
        raise ValueError(f"{path}: {len(bad)} row(s) are not 'path,label' with both filled in: "
                         + "; ".join(bad[:10]) + (" ..." if len(bad) > 10 else ""))
    if not paths:
        detail = f" ({len(missing)} listed, none found, e.g. {missing[0]})" if missing else ""
        raise FileNotFoundError(f"{path}: no audio file listed{detail}")
    return LabelledAudio(paths, labels, str(path), missing)


def from_folder(folder: str | Path) -> LabelledAudio:
    """Labelled audio from a folder: its ``labels.csv``, else one sub-folder per label.

    With sub-folders, the label is the sub-folder's name with ``_`` -> space, and its clips
    are the audio files (by extension: wav, flac, ogg, aiff, mp3) anywhere below it.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist or holds no labelled audio.

    Example
    -------
    >>> data = from_folder("my_sounds")  # doctest: +SKIP
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"labelled-audio folder not found: {folder}")
    if (folder / FOLDER_TABLE).is_file():
        return from_table(folder / FOLDER_TABLE)
    paths, labels = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = audio_files_in(sub)
        paths += files
        labels += [esc50_label(sub.name)] * len(files)
    if not paths:
        raise FileNotFoundError(
            f"{folder}: no labelled audio (expected {FOLDER_TABLE} with path,label rows, or one "
            f"sub-folder per label holding {'/'.join(e[1:] for e in AUDIO_EXTENSIONS)} files)")
    return LabelledAudio(paths, labels, str(folder))


def load_labelled_audio(data: str | Path) -> LabelledAudio:
    """A csv file (:func:`from_table`) or a folder (:func:`from_folder`)."""
    data = Path(data)
    if data.is_dir():
        return from_folder(data)
    if data.is_file():
        return from_table(data)
    raise FileNotFoundError(f"training data not found: {data} (a csv of path,label rows or a folder)")


def concat(parts: Sequence[LabelledAudio]) -> LabelledAudio:
    """Several sources as one (e.g. ESC-50 plus the user's own clips)."""
    if not parts:
        raise ValueError("no labelled audio given")
    if len(parts) == 1:
        return parts[0]
    return LabelledAudio([p for d in parts for p in d.paths], [lab for d in parts for lab in d.labels],
                         " + ".join(d.source for d in parts), [m for d in parts for m in d.missing])


def class_counts(data: LabelledAudio) -> dict[str, int]:
    """Clips per label, in order of first appearance."""
    labels, counts = np.unique(np.array(data.labels, dtype=object), return_counts=True)
    count = dict(zip(labels.tolist(), counts.tolist(), strict=True))
    return {c: count[c] for c in data.classes}
