"""The paper's four ESC-50 evaluation settings as seeded lists of train/test splits.

Every split names its training classes, its test (candidate) classes and the clip indices of
each side. A seed fixes the random fold assignments (Settings 1 and 4); the training order is
seeded separately by the model. ``available`` restricts a protocol to the classes a label
encoder can embed (e.g. the Google News subset): categories then hold fewer classes, and
Setting 1 cuts each category's classes into ``n // 2`` folds of 2–3 test classes.

| setting | train | test (candidates) | folds |
|---|---|---|---|
| 1 | 8 classes of a category | the other 2 of that category | 5 random folds of 2 classes |
| 2 | the 10 classes of category a | the 10 classes of category b ≠ a | one per ordered pair (20) |
| 3 | the 40 classes of four categories | the 10 of the fifth | one per category |
| 4 | Setting 3 + 5 clips per test class | the other clips of the test classes | 8 random folds per class |
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from zsaudio.datasets.esc50 import CATEGORIES, CLASSES_PER_CATEGORY, N_CLASSES

SETTINGS = (1, 2, 3, 4)
SETTING4_FOLDS = 8
SETTING4_SHOTS = 5


@dataclass(frozen=True)
class SplitInfo:
    """What names a split, without its clips (also the key of its results).

    ``train_classes`` are the class targets the model is fitted on and ``test_classes`` the
    candidates at test time.
    """

    setting: int | str
    train_category: str | None
    eval_category: str
    fold: int
    seed: int
    train_classes: tuple[int, ...]
    test_classes: tuple[int, ...]

    @property
    def chance(self) -> float:
        """Top-1 chance level: one over the number of candidate classes."""
        return 1.0 / len(self.test_classes)


@dataclass(frozen=True)
class Split(SplitInfo):
    """One train/test split of a setting: its :class:`SplitInfo` and the clips of each side.

    ``train_idx`` / ``test_idx`` index the data set's present clips.
    """

    train_idx: np.ndarray
    test_idx: np.ndarray
    # Classes whose training clips may serve hyper-parameter selection (zero-shot on held-out
    # ones). Default: all training classes; Setting 4 excludes its few-shot test classes, so
    # its 8 folds share one selection, made on the same 40 classes as Setting 3.
    select_classes: tuple[int, ...] | None = None

    @property
    def selection_classes(self) -> tuple[int, ...]:
        return self.train_classes if self.select_classes is None else self.select_classes

    def selection_idx(self, targets: np.ndarray) -> np.ndarray:
        """Training clips of the selection classes."""
        return self.train_idx[np.isin(targets[self.train_idx], self.selection_classes)]

    def info(self) -> SplitInfo:
        """The split without its clips."""
        return SplitInfo(**{f.name: getattr(self, f.name) for f in fields(SplitInfo)})


def _category_classes(available: Sequence[int]) -> dict[str, list[int]]:
    return {
        name: [t for t in available if t // CLASSES_PER_CATEGORY == k]
        for k, name in enumerate(CATEGORIES)
    }


def _clips_of(targets: np.ndarray, classes: Iterable[int]) -> np.ndarray:
    return np.flatnonzero(np.isin(targets, list(classes)))


def setting4_shots(clips: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """The few-shot training clips of one test class in each of Setting 4's 8 folds.

    With the full 40 clips: a random partition into 8 folds of 5 (every clip is a shot once).
    With fewer clips present (say n): each fold draws its own random 5 clips (at most n − 1,
    so one clip is left to test), and folds may then share shots; the tested clips are the
    rest, as the paper's 5-shot protocol asks. :func:`setting4_note` reports such classes.
    """
    clips = rng.permutation(clips)
    if len(clips) >= SETTING4_FOLDS * SETTING4_SHOTS:
        return np.array_split(clips[: SETTING4_FOLDS * SETTING4_SHOTS], SETTING4_FOLDS)
    k = max(min(SETTING4_SHOTS, len(clips) - 1), 0)
    return [rng.choice(clips, k, replace=False) for _ in range(SETTING4_FOLDS)]


def setting4_note(targets: np.ndarray, available: Sequence[int] | None = None) -> str | None:
    """A sentence naming the classes with fewer than 40 clips (Setting 4 then draws 5 shots per
    fold and tests the rest), or None when every class is complete."""
    counts = np.bincount(np.asarray(targets), minlength=N_CLASSES)
    classes = range(N_CLASSES) if available is None else available
    short = [int(c) for c in classes if counts[c] < SETTING4_FOLDS * SETTING4_SHOTS]
    if not short:
        return None
    return (f"Setting 4: {len(short)} class(es) have fewer than "
            f"{SETTING4_FOLDS * SETTING4_SHOTS} clips ({short}); each fold trains on "
            f"{SETTING4_SHOTS} random clips of such a class and tests the rest.")


def make_splits(
    setting: int, targets: np.ndarray, seed: int = 0, available: Sequence[int] | None = None
) -> list[Split]:
    """All splits of one setting.

    Parameters
    ----------
    setting : {1, 2, 3, 4}
    targets : np.ndarray, shape (n,)
        Class target (0–49) of each present clip.
    seed : int
        Seeds the fold assignments of Settings 1 and 4 (Settings 2 and 3 have none).
    available : sequence of int, optional
        Class targets to use (default all 50); the others are dropped everywhere.

    Examples
    --------
    >>> targets = np.repeat(np.arange(50), 40)
    >>> [len(make_splits(s, targets)) for s in (1, 2, 3, 4)]
    [25, 20, 5, 40]
    """
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
    targets = np.asarray(targets)
    available = sorted(set(range(N_CLASSES)) if available is None else set(available))
    by_cat = _category_classes(available)
    rng = np.random.default_rng(seed)
    splits: list[Split] = []

    def add(train_cat, eval_cat, fold, train_cls, test_cls, train_idx=None, test_idx=None,
            select_cls=None):
        train_cls, test_cls = tuple(sorted(train_cls)), tuple(sorted(test_cls))
        splits.append(Split(
            setting, train_cat, eval_cat, fold, seed, train_cls, test_cls,
            _clips_of(targets, train_cls) if train_idx is None else np.sort(train_idx),
            _clips_of(targets, test_cls) if test_idx is None else np.sort(test_idx),
            None if select_cls is None else tuple(sorted(select_cls)),
        ))

    if setting == 1:
        for cat, classes in by_cat.items():
            if len(classes) < 4:  # needs ≥ 2 training and ≥ 2 candidate classes
                continue
            order = rng.permutation(classes)
            for fold, test in enumerate(np.array_split(order, len(classes) // 2)):
                add(cat, cat, fold, set(classes) - set(test.tolist()), test.tolist())
    elif setting == 2:
        for train_cat, train in by_cat.items():
            for eval_cat, test in by_cat.items():
                if eval_cat != train_cat and len(train) >= 2 and len(test) >= 2:
                    add(train_cat, eval_cat, 0, train, test)
    else:
        for cat, test in by_cat.items():
            train = [t for t in available if t not in test]
            if len(test) < 2 or len(train) < 2:
                continue
            if setting == 3:
                add(None, cat, 0, train, test)
                continue
            # Setting 4: each test class's clips in 8 random folds of 5; fold k's clips are the
            # few shots trained on, the rest are tested.
            base = _clips_of(targets, train)
            shots_of = [setting4_shots(_clips_of(targets, [t]), rng) for t in test]
            for fold in range(SETTING4_FOLDS):
                shots = np.concatenate([s[fold] for s in shots_of])
                rest = np.setdiff1d(_clips_of(targets, test), shots)
                add(None, cat, fold, list(train) + list(test), test,
                    np.concatenate([base, shots]), rest, select_cls=train)
    return splits


def gzsl_splits(targets: np.ndarray, folds: np.ndarray, seed: int = 0,
                available: Sequence[int] | None = None) -> list[Split]:
    """Generalized zero-shot splits of Setting 3 (setting ``"gzsl"``).

    For each evaluation category, the training classes' clips of one official ESC-50 fold
    (``1 + seed % 5``) are held out of training; the test side holds them *and* the unseen
    category's clips, and every available class is a candidate. Seen accuracy s is measured on
    the held-out clips, unseen accuracy u on the unseen ones, H = 2su / (s + u).
    """
    held_fold = 1 + seed % 5
    out = []
    for split in make_splits(3, targets, seed, available):
        train_mask = np.zeros(len(targets), bool)
        train_mask[split.train_idx] = True
        held = train_mask & (np.asarray(folds) == held_fold)
        test_idx = np.concatenate([np.flatnonzero(held), split.test_idx])
        out.append(Split("gzsl", None, split.eval_category, 0, seed, split.train_classes,
                         tuple(sorted(split.train_classes + split.test_classes)),
                         np.flatnonzero(train_mask & ~held), np.sort(test_idx)))
    return out


def all_class_split(targets: np.ndarray, available: Sequence[int] | None = None) -> Split:
    """The 50-way protocol of CLAP papers (setting ``"50-way"``): no ESC-50 training at all;
    every clip is tested against every available class."""
    available = tuple(sorted(set(range(N_CLASSES)) if available is None else set(available)))
    return Split("50-way", None, "all", 0, 0, (), available, np.array([], int),
                 _clips_of(targets, available))
