"""``zsaudio labels``: coverage and nearest labels."""

from __future__ import annotations

import pytest

from zsaudio.assets import AssetNotFoundError, find_asset
from zsaudio.classifier import DEFAULT_LABEL_ENCODER
from zsaudio.cli.main import build_parser, main
from zsaudio.labels import available_label_encoders


def _run(argv: list[str]) -> int:
    return main(["labels", *argv])


def test_glove_coverage_and_neighbours(capsys):
    rc = _run(["--encoder", "glove", "dog", "cat", "chainsaw", "sea_waves", "--top", "1"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "encoder glove (50-d)" in out
    assert "sea_waves" in out and "known: sea waves" in out
    lines = out.splitlines()
    start = lines.index("nearest labels by cosine (top 1):")
    near = {ln.split()[0]: ln.split()[1] for ln in lines[start + 1 :]}
    assert near["dog"] == "cat" and near["cat"] == "dog"


def test_subset_reports_missing_and_unknown(capsys):
    try:
        find_asset("word_vectors/googlenews_subset.bin")
    except AssetNotFoundError as err:
        pytest.skip(str(err))
    rc = _run(["--encoder", "googlenews-subset", "dog", "crying_baby", "sea_waves", "?!"])
    cap = capsys.readouterr()
    assert rc == 1  # some labels cannot be embedded
    assert "1/2 words" in cap.out and "missing: crying" in cap.out
    assert "UNKNOWN" in cap.out and "NO WORDS" in cap.out
    assert "'sea_waves'" in cap.err and "'?!'" in cap.err


def test_option_errors(capsys, tmp_path):
    assert _run(["--encoder", "glove", "--template", "the sound of {label}", "dog"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zsaudio labels: error: --template") and err.count("\n") == 1
    assert _run(["--encoder", "word2vec", "--vectors", str(tmp_path / "none.bin"), "dog"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zsaudio labels: error: ") and "none.bin" in err
    assert _run(["--encoder", "googlenews-subset", "--vectors", "x.bin", "dog"]) == 2
    assert "--vectors" in capsys.readouterr().err


def test_default_encoder_works_on_a_fresh_install(capsys, monkeypatch, tmp_path):
    # a fresh install: no assets folder, an empty user cache; the default must still work
    monkeypatch.setenv("ZSAUDIO_ASSETS", str(tmp_path / "assets"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("zsaudio.assets.search_path", lambda: [tmp_path / "assets", tmp_path / "cache"])
    assert DEFAULT_LABEL_ENCODER in ("minilm", "glove")  # shipped as packages, not assets
    assert _run(["dog", "cat", "sea_waves", "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"encoder {DEFAULT_LABEL_ENCODER} (")


def test_encoder_choices_come_from_the_registry(capsys):
    action = next(a for a in build_parser()._subparsers._group_actions[0].choices["labels"]._actions
                  if a.dest == "encoder")
    assert action.choices == available_label_encoders() and action.default == DEFAULT_LABEL_ENCODER
    with pytest.raises(SystemExit) as info:
        _run(["--encoder", "nope", "dog"])
    assert info.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
