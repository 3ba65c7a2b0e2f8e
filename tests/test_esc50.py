"""ESC-50 loader: the shared data set (mixed formats) and a made official-layout folder."""

import numpy as np
import pytest
import soundfile as sf

from zsaudio.datasets.esc50 import CATEGORIES, class_category, load_esc50


def test_shared_esc50_all_clips_resolved():
    data = load_esc50()
    assert data.n_listed == 2000
    assert len(data.paths) == 2000 and not data.missing
    assert {p.suffix for p in data.paths} == {".flac", ".ogg"}
    assert np.bincount(data.targets).tolist() == [40] * 50
    assert data.class_names[11] == "sea_waves" and class_category(11) == "natural"
    assert np.bincount(data.categories).tolist() == [400] * 5
    assert len(CATEGORIES) == 5


def _write_layout(root, rows, present):
    (root / "meta").mkdir(parents=True)
    (root / "audio").mkdir()
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for name, fold, target, cat in rows:
        lines.append(f"{name},{fold},{target},{cat},False,1,A")
        stem = name[:-4]
        if stem in present:
            sf.write(root / "audio" / f"{stem}{present[stem]}", np.zeros(1600), 16000)
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")


def test_official_layout_wav_preferred_and_missing_counted(tmp_path):
    rows = [("1-1-A-0.wav", 1, 0, "dog"), ("2-2-A-11.wav", 2, 11, "sea_waves"),
            ("3-3-A-49.wav", 3, 49, "hand_saw")]
    _write_layout(tmp_path, rows, {"1-1-A-0": ".wav", "2-2-A-11": ".flac"})
    sf.write(tmp_path / "audio" / "1-1-A-0.flac", np.zeros(16), 16000)  # duplicate stem
    (tmp_path / "audio" / "notes.txt").write_text("not audio")
    data = load_esc50(tmp_path)
    assert [p.name for p in data.paths] == ["1-1-A-0.wav", "2-2-A-11.flac"]
    assert data.targets.tolist() == [0, 11] and data.folds.tolist() == [1, 2]
    assert data.missing == ["3-3-A-49.wav"]
    assert data.n_listed == 3 and "2 of 3 clips" in data.summary()
    assert data.class_names[49] == "hand_saw"


def test_missing_csv_and_no_clips_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="esc50.csv"):
        load_esc50(tmp_path)
    _write_layout(tmp_path / "d", [("1-1-A-0.wav", 1, 0, "dog")], {})
    with pytest.raises(FileNotFoundError, match="no ESC-50 clip"):
        load_esc50(tmp_path / "d")
