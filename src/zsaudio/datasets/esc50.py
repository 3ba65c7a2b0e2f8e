"""The ESC-50 data set (Piczak, 2015): metadata, clip files and the paper's five categories.

The official layout is ``ROOT/meta/esc50.csv`` and ``ROOT/audio/*.wav``. Each csv row is
resolved by file *stem* with any extension soundfile reads, so the official WAVs, FLAC or the
original Ogg Vorbis release all load the same way; rows with no file are counted as missing
and the experiments run on the clips present.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zsaudio.assets import find_asset
from zsaudio.audio.files import AUDIO_EXTENSIONS

N_CLASSES = 50
CLASSES_PER_CATEGORY = 10
# The paper's Table 1: category k holds the targets 10k … 10k+9.
CATEGORIES = ["animals", "natural", "human", "interior", "exterior"]



@dataclass
class Esc50:
    """The ESC-50 clips found on disk, in csv order.

    Attributes
    ----------
    root : Path
        Data set folder (holding ``meta/`` and ``audio/``).
    paths : list[Path]
        One audio file per present clip.
    targets, folds : np.ndarray, shape (n,)
        Class index 0–49 and official fold 1–5 of each present clip.
    class_names : list[str]
        The 50 class names indexed by target, as in the csv (``"sea_waves"``).
    n_listed : int
        Rows in the csv (2000 for the official data set).
    missing : list[str]
        csv file names with no audio file present.
    """

    root: Path
    paths: list[Path]
    targets: np.ndarray
    folds: np.ndarray
    class_names: list[str]
    n_listed: int
    missing: list[str] = field(default_factory=list)

    @property
    def categories(self) -> np.ndarray:
        """Category index 0–4 of each present clip (``target // 10``)."""
        return self.targets // CLASSES_PER_CATEGORY

    def summary(self) -> str:
        return f"ESC-50 at {self.root}: {len(self.paths)} of {self.n_listed} clips present"


def default_root() -> Path:
    """The ESC-50 folder on the asset search path (``esc50/`` with ``meta/esc50.csv``)."""
    return find_asset("esc50/meta/esc50.csv").parent.parent


def class_category(target: int) -> str:
    """Name of the paper's category of an ESC-50 target (0–49)."""
    return CATEGORIES[int(target) // CLASSES_PER_CATEGORY]


def load_esc50(root: str | Path | None = None) -> Esc50:
    """Read ``meta/esc50.csv`` and resolve every row to a present audio file.

    Parameters
    ----------
    root : path, optional
        ESC-50 folder; default :func:`default_root` (asset search path).

    Raises
    ------
    FileNotFoundError
        If the csv is missing, or no clip at all is present.

    Examples
    --------
    >>> data = load_esc50()  # doctest: +SKIP
    >>> data.summary()  # doctest: +SKIP
    'ESC-50 at ../shared/assets/esc50: 2000 of 2000 clips present'
    """
    root = Path(root) if root is not None else default_root()
    meta = root / "meta" / "esc50.csv"
    if not meta.is_file():
        raise FileNotFoundError(f"ESC-50 metadata not found: {meta} (expected ROOT/meta/esc50.csv)")
    audio_dir = root / "audio"
    by_stem: dict[str, Path] = {}
    if audio_dir.is_dir():
        rank = {ext: i for i, ext in enumerate(AUDIO_EXTENSIONS)}
        for f in audio_dir.iterdir():
            ext = f.suffix.lower()
            if ext in rank and (f.stem not in by_stem or rank[ext] < rank[by_stem[f.stem].suffix.lower()]):
                by_stem[f.stem] = f
    paths, targets, folds, missing = [], [], [], []
    names: dict[int, str] = {}
    with open(meta, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        target = int(row["target"])
        names[target] = row["category"]
        found = by_stem.get(Path(row["filename"]).stem)
        if found is None:
            missing.append(row["filename"])
            continue
        paths.append(found)
        targets.append(target)
        folds.append(int(row["fold"]))
    if not paths:
        raise FileNotFoundError(f"no ESC-50 clip of {meta} found under {audio_dir}")
    class_names = [names.get(t, f"class_{t}") for t in range(N_CLASSES)]
    return Esc50(root, paths, np.array(targets), np.array(folds), class_names, len(rows), missing)
