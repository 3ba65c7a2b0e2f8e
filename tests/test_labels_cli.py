"""``zsaudio labels``: coverage and nearest labels."""

from __future__ import annotations

import argparse

import pytest

from zsaudio.assets import AssetNotFoundError, find_asset
from zsaudio.cli import labels as cli_labels


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="zsaudio")
    cli_labels.register(parser.add_subparsers())
    args = parser.parse_args(["labels", *argv])
    return args.func(args)


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
    assert "--template" in capsys.readouterr().err
    assert _run(["--encoder", "word2vec", "--vectors", str(tmp_path / "none.bin"), "dog"]) == 2
    assert "none.bin" in capsys.readouterr().err
