"""Inputs of cluster jobs (folders, globs, manifests, URIs) and the parts that need no Ray."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zsaudio.assets import find_asset
from zsaudio.audio.io import AudioDecodeError, load_audio
from zsaudio.cluster.inputs import InputError, list_inputs, load_audio_from
from zsaudio.cluster.jobs import ClusterJobError, connect, read_failures, read_results, require_ray


@pytest.fixture(scope="module")
def clips():
    return sorted(find_asset("esc50/audio").iterdir())[:3]


@pytest.fixture
def tree(tmp_path, clips):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".hidden").mkdir()
    shutil.copy(clips[0], tmp_path / "a" / "one.ogg")
    shutil.copy(clips[1], tmp_path / "a" / "b" / "two.ogg")
    shutil.copy(clips[2], tmp_path / "a" / ".hidden" / "three.ogg")
    (tmp_path / "a" / "notes.txt").write_text("not audio")
    return tmp_path


def test_folder_glob_and_file_inputs(tree, monkeypatch):
    a = tree / "a"
    expected = [str(a / "b" / "two.ogg"), str(a / "one.ogg")]
    assert list_inputs(a) == expected  # recursive, sorted, audio only, hidden skipped
    assert list_inputs(f"file://{a}") == expected  # the same through pyarrow's URI file system
    assert list_inputs(str(a / "**" / "*.ogg")) == [str(a / "b" / "two.ogg"), str(a / "one.ogg")]
    monkeypatch.chdir(tree)
    # relative paths become absolute (workers do not share the driver's directory), once each
    assert list_inputs(["a/one.ogg", str(a / "one.ogg"), "missing.wav"]) == [
        str(a / "one.ogg"), str(tree / "missing.wav")]


def test_manifests_csv_and_parquet(tree):
    a = tree / "a"
    (a / "list.csv").write_text("path,label\none.ogg,x\n" + f"{a / 'b' / 'two.ogg'},y\n")
    assert list_inputs(a / "list.csv") == [str(a / "one.ogg"), str(a / "b" / "two.ogg")]
    pq.write_table(pa.table({"uri": ["b/two.ogg", "s3://bucket/x.wav"]}), a / "list.parquet")
    assert list_inputs(a / "list.parquet") == [str(a / "b" / "two.ogg"), "s3://bucket/x.wav"]


def test_bad_inputs_are_one_line_errors(tree):
    (tree / "empty").mkdir()
    (tree / "bad.csv").write_text("name\nx.wav\n")
    for source, words in ((tree / "empty", "no audio file"), (str(tree / "*.flac"), "no file matches"),
                          (tree / "bad.csv", "no column named path")):
        with pytest.raises(InputError, match=words):
            list_inputs(source)


def test_uri_audio_decodes_like_the_local_file(clips, tmp_path):
    assert np.array_equal(load_audio_from(f"file://{clips[0]}"), load_audio(clips[0]))
    with pytest.raises(AudioDecodeError, match="no such file"):
        load_audio_from(f"file://{tmp_path}/missing.wav")


def test_without_ray_installed_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ClusterJobError, match=r"zsaudio\[cluster\]"):
        require_ray()


def test_reading_back_dedups_by_path(tmp_path):
    (tmp_path / "results").mkdir()
    pq.write_table(pa.table({"path": ["b", "a"], "x": [1, 2]}), tmp_path / "results" / "part-1.parquet")
    pq.write_table(pa.table({"path": ["b"], "x": [1]}), tmp_path / "results" / "part-2.parquet")
    table = read_results(tmp_path)
    assert table.column("path").to_pylist() == ["a", "b"] and table.column("x").to_pylist() == [2, 1]
    assert read_failures(tmp_path) == {}


def test_an_address_where_nothing_listens_fails_at_once(capsys):
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(ClusterJobError, match="no Ray cluster answers"):
            connect(address)
    with pytest.raises(ClusterJobError, match="needs a running cluster"):
        connect("local")  # never starts a Ray instance of its own
