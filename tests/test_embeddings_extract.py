"""Batch extraction: bad inputs, cache reuse, crash safety, concurrency, the embed CLI."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest
import soundfile as sf
from audio_cases import tone, write_bad_cases, write_good_cases

from zsaudio.cli.main import main as zsaudio_main
from zsaudio.embeddings import extract, get_audio_encoder
from zsaudio.embeddings.cache import EmbeddingCache


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    good = write_good_cases(folder / "good")
    bad = write_bad_cases(folder / "bad")
    return folder, good, bad


def test_bad_inputs_never_crash_the_batch(files, tmp_path):
    _, good, bad = files
    paths = [good["pcm8"], bad["empty"][0], good["stereo48k"], bad["nan_inf"][0],
             good["pcm24"], bad["non_audio"][0], bad["corrupt"][0], bad["zero_rate"][0],
             bad["absurd_rate"][0], bad["one_sample"][0], bad["missing"][0], good["ogg"]]  # fmt: skip
    res = extract.embed_files(paths, "yamnet", cache_dir=tmp_path, workers=2, progress=False)
    assert res.paths == [str(p) for p in paths]
    expected_ok = [str(p) in {str(g) for g in good.values()} for p in paths]
    assert res.ok.tolist() == expected_ok
    assert set(res.failures) == {str(p) for p, ok in zip(paths, expected_ok, strict=True) if not ok}
    for name, (path, reason) in bad.items():
        msg = res.failures[str(path)]
        assert msg and (not reason or any(r in msg for r in reason.split("|"))), (name, msg)
    assert np.isnan(res.embeddings[~res.ok]).all() and np.isfinite(res.embeddings[res.ok]).all()
    assert res.embeddings.shape == (12, 1024) and res.scores.shape == (12, 521)


def test_cache_reuse_and_equality(files, tmp_path, monkeypatch):
    _, good, _ = files
    paths = list(good.values())
    enc = get_audio_encoder("vggish", weights="random")
    first = extract.embed_files(paths, enc, cache_dir=tmp_path, workers=2, progress=False)
    direct = np.stack([enc.embed_waveform(extract.load_audio(p)).embedding for p in paths])
    np.testing.assert_allclose(first.embeddings, direct, rtol=1e-4, atol=1e-5)

    def boom(*a, **k):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(extract, "load_audio", boom)
    monkeypatch.setattr(extract, "sha256_of", boom)  # fast path: (path, size, mtime) index
    again = extract.embed_files(paths, enc, cache_dir=tmp_path, workers=0, progress=False)
    np.testing.assert_array_equal(again.embeddings, first.embeddings)
    assert not list(tmp_path.rglob("*.tmp"))


def test_copied_file_hits_cache_by_content(files, tmp_path, monkeypatch):
    _, good, _ = files
    extract.embed_files([good["flac"]], "yamnet", cache_dir=tmp_path / "c", progress=False)
    copy = tmp_path / "renamed.flac"
    copy.write_bytes(good["flac"].read_bytes())
    monkeypatch.setattr(extract, "load_audio", lambda p: pytest.fail("not from cache"))
    res = extract.embed_files([copy], "yamnet", cache_dir=tmp_path / "c", progress=False)
    assert res.ok.all()


def test_different_config_different_cache(files, tmp_path):
    _, good, _ = files
    a = extract.embed_files([good["flac"]], "yamnet", cache_dir=tmp_path, progress=False)
    b = extract.embed_files([good["flac"]], "yamnet", {"patch_hop_seconds": 0.96},
                            cache_dir=tmp_path, progress=False)  # fmt: skip
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2
    assert not np.array_equal(a.embeddings, b.embeddings)


def cli_main(argv: list[str]) -> int:
    """``zsaudio embed ...`` as the ``zsaudio`` command runs it."""
    return zsaudio_main(argv)


class _Interrupting:
    """Wraps an encoder; raises KeyboardInterrupt on the n-th model call (a killed run)."""

    def __init__(self, encoder, after):
        self.encoder, self.after, self.calls = encoder, after, 0

    def __call__(self, patches):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return self.real(patches)


def test_interrupted_run_resumes(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    paths = []
    for i in range(6):
        paths.append(folder / f"{i}.wav")
        sf.write(paths[-1], tone(1.0, freq=200 + 100 * i), 16000)
    enc = get_audio_encoder("vggish", weights="random", batch_size=1)
    hook = _Interrupting(enc, after=3)
    hook.real = enc.embed_patches
    enc.embed_patches = hook
    with pytest.raises(KeyboardInterrupt):
        extract.embed_files(paths, enc, cache_dir=tmp_path / "c", workers=0, progress=False)
    cache = EmbeddingCache(tmp_path / "c", enc.name, enc.config())
    assert len(list(cache.folder.rglob("*.npz"))) == 3  # everything finished was kept
    hook.after, hook.calls = 100, 0
    res = extract.embed_files(paths, enc, cache_dir=tmp_path / "c", workers=0, progress=False)
    assert res.ok.all() and hook.calls == 3  # only the 3 missing clips were computed


def test_corrupt_cache_entry_is_recomputed(files, tmp_path):
    _, good, _ = files
    res = extract.embed_files([good["ogg"]], "yamnet", cache_dir=tmp_path, progress=False)
    (entry,) = tmp_path.rglob("*.npz")
    entry.write_bytes(b"garbage")
    again = extract.embed_files([good["ogg"]], "yamnet", cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(again.embeddings, res.embeddings)


def _run_concurrently(args):
    paths, cache = args
    res = extract.embed_files(paths, "yamnet", cache_dir=cache, workers=1, progress=False)
    return res.embeddings


def test_concurrent_runs_share_a_cache(files, tmp_path):
    _, good, _ = files
    paths = [str(p) for p in good.values()]
    with mp.get_context("fork").Pool(2) as pool:
        a, b = pool.map(_run_concurrently, [(paths, str(tmp_path)), (paths[::-1], str(tmp_path))])
    np.testing.assert_array_equal(a, b[::-1])
    clean = extract.embed_files(paths, "yamnet", cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(clean.embeddings, a)
    assert not list(tmp_path.rglob("*.tmp"))


def test_embed_cli(files, tmp_path, capsys):
    folder, good, bad = files
    out = tmp_path / "out"
    status = cli_main(["embed", str(folder / "good"), "--encoder", "yamnet", "--out", str(out),
                       "--cache", str(tmp_path / "c"), "--no-progress"])  # fmt: skip
    assert status == 0
    with np.load(out / "embeddings.npz") as f:
        assert f["embeddings"].shape == (len(good), 1024) and f["ok"].all()
        assert len(f["class_names"]) == 521
    status = cli_main(["embed", str(folder / "bad"), str(good["flac"]), "--encoder", "yamnet",
                       "--out", str(out), "--cache", str(tmp_path / "c"), "--no-progress"])  # fmt: skip
    assert status == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "empty" in err and "NaN/Inf" in err


def test_embed_cli_dataset_csv(files, tmp_path):
    _, good, _ = files
    meta = tmp_path / "meta"
    audio = tmp_path / "audio"
    meta.mkdir()
    audio.mkdir()
    (audio / "a.flac").write_bytes(good["flac"].read_bytes())  # csv says a.wav: found by stem
    (meta / "data.csv").write_text("filename,target\na.wav,0\nmissing.wav,1\n")
    status = cli_main(["embed", str(meta / "data.csv"), "--encoder", "vggish",
                       "--vggish-weights", "random", "--out", str(tmp_path / "o"),
                       "--cache", str(tmp_path / "c"), "--no-progress", "--workers", "0"])  # fmt: skip
    assert status == 1
    with np.load(tmp_path / "o" / "embeddings.npz") as f:
        assert f["ok"].tolist() == [True, False] and f["paths"][0].endswith("a.flac")


def test_embed_cli_reports_a_folder_without_audio_and_embeds_the_rest(files, tmp_path, capsys):
    _, good, _ = files
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no audio here")
    out = tmp_path / "o"
    status = cli_main(["embed", str(empty), str(good["flac"]), "--out", str(out),
                       "--cache", str(tmp_path / "c"), "--no-progress", "--workers", "0"])
    err = capsys.readouterr().err
    assert status == 1
    assert f"FAILED {empty}: folder holds no audio file" in err
    with np.load(out / "embeddings.npz") as f:
        assert f["ok"].tolist() == [True]
    assert str(empty) in (out / "failures.tsv").read_text()


def test_embed_cli_nothing_to_embed_is_a_one_line_user_error(tmp_path, capsys):
    status = cli_main(["embed", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("zsaudio embed: error: no audio file to embed") and err.count("\n") == 1
