"""Reading labelled training audio: ESC-50 subsets, csv tables and labelled folders."""

from __future__ import annotations

import shutil

import pytest

from zsaudio.datasets.esc50 import load_esc50
from zsaudio.datasets.labelled import (
    from_esc50,
    from_folder,
    from_table,
    load_labelled_audio,
    resolve_esc50_classes,
)


@pytest.fixture(scope="module")
def esc50():
    return load_esc50()


def test_from_esc50_classes_categories_and_exclusions(esc50):
    assert resolve_esc50_classes(["Sea waves", "dog", "dog"], esc50.class_names) == [11, 0]
    assert resolve_esc50_classes(["animals"], esc50.class_names) == list(range(10))
    with pytest.raises(ValueError, match="unknown ESC-50 class.*'dgo'"):
        resolve_esc50_classes(["dgo"], esc50.class_names)
    data = from_esc50(esc50.root, classes=["animals", "rain"], exclude_classes=["dog"], max_per_class=2)
    assert sorted(data.classes) == sorted(["rooster", "pig", "cow", "frog", "cat", "hen", "insects",
                                           "sheep", "crow", "rain"])
    assert all(data.labels.count(c) == 2 for c in data.classes)
    assert from_esc50(esc50.root, classes=["sea_waves"]).classes == ["sea waves"]
    with pytest.raises(ValueError, match="no ESC-50 class left"):
        from_esc50(esc50.root, classes=["dog"], exclude_classes=["animals"])


def test_from_table_and_folder(esc50, tmp_path):
    clips = esc50.paths[:3]
    sub = tmp_path / "audio"
    sub.mkdir()
    for c in clips:
        shutil.copy(c, sub / c.name)
    table = tmp_path / "train.csv"
    table.write_text("path,label\n"
                     f"audio/{clips[0].name},dog barking\n"
                     "# a comment\n\n"
                     f"{sub / clips[1].name},rain\n"
                     "audio/gone.wav,rain\n")
    data = from_table(table)
    assert [p.name for p in data.paths] == [clips[0].name, clips[1].name]
    assert data.labels == ["dog barking", "rain"] and data.missing == [str(tmp_path / "audio/gone.wav")]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"audio/{clips[0].name},dog\naudio/{clips[1].name},\n")
    with pytest.raises(ValueError, match="line 2"):
        from_table(bad)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_labelled_audio(tmp_path / "nothing.csv")
    # a folder of label sub-folders
    root = tmp_path / "byfolder"
    for label, clip in (("dog_bark", clips[0]), ("rain", clips[1]), ("rain", clips[2])):
        (root / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, root / label / clip.name)
    data = from_folder(root)
    assert data.labels == ["dog bark", "rain", "rain"]
    # a folder with labels.csv uses it
    shutil.copy(table, root / "labels.csv")
    shutil.copytree(sub, root / "audio")
    assert load_labelled_audio(root).labels == ["dog barking", "rain"]
    with pytest.raises(FileNotFoundError, match="no labelled audio"):
        from_folder(sub)
