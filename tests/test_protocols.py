"""The paper's Settings 1–4 as splits: sizes, disjointness, seeding, restricted classes."""

import numpy as np
import pytest

from zsaudio.experiments.protocols import all_class_split, gzsl_splits, make_splits

TARGETS = np.repeat(np.arange(50), 40)
FOLDS = np.tile(np.repeat(np.arange(1, 6), 8), 50)


def _check_disjoint(split):
    assert not set(split.train_idx) & set(split.test_idx)
    assert set(TARGETS[split.train_idx]) <= set(split.train_classes)
    assert set(TARGETS[split.test_idx]) <= set(split.test_classes)


def test_setting1_five_folds_of_two_per_category():
    splits = make_splits(1, TARGETS, seed=3)
    assert len(splits) == 25
    for cat in {s.eval_category for s in splits}:
        mine = [s for s in splits if s.eval_category == cat]
        tested = sorted(c for s in mine for c in s.test_classes)
        assert len(mine) == 5 and len(set(tested)) == 10  # every class tested exactly once
        for s in mine:
            _check_disjoint(s)
            assert len(s.train_classes) == 8 and len(s.test_classes) == 2
            assert len(s.train_idx) == 320 and len(s.test_idx) == 80 and s.chance == 0.5
            assert {c // 10 for c in s.train_classes + s.test_classes} == {s.train_classes[0] // 10}


def test_setting1_seed_changes_folds_reproducibly():
    a = [s.test_classes for s in make_splits(1, TARGETS, seed=0)]
    b = [s.test_classes for s in make_splits(1, TARGETS, seed=0)]
    c = [s.test_classes for s in make_splits(1, TARGETS, seed=1)]
    assert a == b and a != c


def test_setting2_all_ordered_pairs():
    splits = make_splits(2, TARGETS)
    assert len(splits) == 20
    for s in splits:
        _check_disjoint(s)
        assert s.train_category != s.eval_category
        assert len(s.train_idx) == 400 and len(s.test_idx) == 400 and s.chance == 0.1


def test_setting3_and_4():
    s3 = make_splits(3, TARGETS)
    assert len(s3) == 5 and all(len(s.train_idx) == 1600 and len(s.test_idx) == 400 for s in s3)
    s4 = make_splits(4, TARGETS, seed=2)
    assert len(s4) == 40
    for s in s4:
        _check_disjoint(s)
        assert len(s.train_classes) == 50 and len(s.test_classes) == 10
        assert len(s.train_idx) == 1650 and len(s.test_idx) == 350
        shots = np.bincount(TARGETS[s.train_idx], minlength=50)[list(s.test_classes)]
        assert shots.tolist() == [5] * 10
    # the 8 folds of one category use every test clip as a shot exactly once
    animals = [s for s in s4 if s.eval_category == "animals"]
    shot_clips = np.concatenate([np.setdiff1d(s.train_idx, np.flatnonzero(TARGETS >= 10))
                                 for s in animals])
    assert np.sort(shot_clips).tolist() == list(range(400))


def test_restricted_classes():
    available = [0, 1, 2, 3, 4, 10, 11, 12, 20, 21]
    s1 = make_splits(1, TARGETS, available=available)
    assert {s.eval_category for s in s1} == {"animals"}  # only one category has >= 4 classes
    assert len(s1) == 2 and sorted(len(s.test_classes) for s in s1) == [2, 3]
    s3 = make_splits(3, TARGETS, available=available)
    assert [s.eval_category for s in s3] == ["animals", "natural", "human"]
    assert all(set(s.train_classes) | set(s.test_classes) <= set(available) for s in s3)


def test_gzsl_and_50way():
    splits = gzsl_splits(TARGETS, FOLDS, seed=1)  # seed 1 holds out official fold 2
    assert len(splits) == 5
    for s in splits:
        assert not set(s.train_idx) & set(s.test_idx)
        assert len(s.test_classes) == 50 and len(s.train_classes) == 40
        assert len(s.train_idx) == 40 * 32 and set(FOLDS[s.train_idx]) == {1, 3, 4, 5}
        seen_test = s.test_idx[np.isin(TARGETS[s.test_idx], s.train_classes)]
        assert len(seen_test) == 40 * 8 and set(FOLDS[seen_test]) == {2}
        assert len(s.test_idx) - len(seen_test) == 400
    split = all_class_split(TARGETS)
    assert len(split.test_idx) == 2000 and len(split.train_classes) == 0 and split.chance == 0.02


def test_bad_setting():
    with pytest.raises(ValueError, match="setting must be one of"):
        make_splits(5, TARGETS)


def test_setting4_with_fewer_clips_uses_five_shots_and_says_so():
    from zsaudio.experiments.protocols import setting4_note

    keep = np.ones(len(TARGETS), bool)
    keep[np.flatnonzero(TARGETS == 3)[12:]] = False  # class 3 keeps 12 of its 40 clips
    keep[np.flatnonzero(TARGETS == 7)[3:]] = False  # class 7 keeps 3
    targets = TARGETS[keep]
    for s in make_splits(4, targets, seed=0):
        if s.eval_category != "animals":
            continue
        shots = np.bincount(targets[s.train_idx], minlength=50)
        assert shots[3] == 5 and shots[7] == 2 and shots[0] == 5
        assert np.bincount(targets[s.test_idx], minlength=50)[[0, 3, 7]].tolist() == [35, 7, 1]
        assert not set(s.train_idx) & set(s.test_idx)
    note = setting4_note(targets)
    assert note is not None and "[3, 7]" in note
    assert setting4_note(TARGETS) is None
