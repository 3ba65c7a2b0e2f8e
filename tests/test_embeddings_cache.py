"""Embedding cache packs: consolidation, merging, stale and damaged packs, concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import os

import numpy as np
import pytest
import soundfile as sf
from audio_cases import tone

from zsaudio.embeddings import ClipEmbedding, extract, get_audio_encoder
from zsaudio.embeddings import cache as cache_mod
from zsaudio.embeddings.cache import EmbeddingCache

CONFIG = {"encoder": "fake", "dim": 4}


def fake_clip(seed: int, scores: bool = True) -> ClipEmbedding:
    rng = np.random.default_rng(seed)
    p = 1 + seed % 5  # different patch counts: offsets must be right
    return ClipEmbedding.from_patches(rng.normal(size=(p, 4)), rng.random((p, 3)) if scores else None)


def sha(i: int) -> str:
    return f"{i:064x}"


def assert_same(a: ClipEmbedding, b: ClipEmbedding) -> None:
    np.testing.assert_array_equal(a.patch_embeddings, b.patch_embeddings)
    np.testing.assert_array_equal(a.embedding, b.embedding)
    if b.patch_scores is None:
        assert a.patch_scores is None and a.scores is None
    else:
        np.testing.assert_array_equal(a.patch_scores, b.patch_scores)
        np.testing.assert_array_equal(a.scores, b.scores)


@pytest.mark.parametrize("scores", [True, False])
def test_consolidate_then_read_from_pack_only(tmp_path, scores):
    cache = EmbeddingCache(tmp_path, "fake", CONFIG)
    clips = {sha(i): fake_clip(i, scores) for i in range(7)}
    for s, c in clips.items():
        cache.put(s, c)
    pack = cache.consolidate()
    assert pack is not None and cache.pack_paths() == [pack]
    assert cache.consolidate() is None  # nothing new staged
    for entry in cache.folder.rglob("*.npz"):
        entry.unlink()  # the pack alone must now answer
    fresh = EmbeddingCache(tmp_path, "fake", CONFIG)
    assert fresh.get(sha(0)) is None  # packs are not read until asked for
    assert fresh.load_packs() == 7
    for s, c in clips.items():
        assert_same(fresh.get(s), c)
    assert fresh.get(sha(99)) is None
    assert fresh.consolidate() is None  # clips read from a pack are not packed again
    assert not list(tmp_path.rglob("*.tmp"))


def test_per_clip_entries_read_are_packed(tmp_path):
    """A cache written before packs existed (or by a killed run) gets packed when used."""
    writer = EmbeddingCache(tmp_path, "fake", CONFIG, staging=False)
    for i in range(3):
        writer.put(sha(i), fake_clip(i))
    assert writer.consolidate() is None  # staging off: nothing to pack
    reader = EmbeddingCache(tmp_path, "fake", CONFIG)
    reader.load_packs()
    assert_same(reader.get(sha(1)), fake_clip(1))
    reader.consolidate()
    again = EmbeddingCache(tmp_path, "fake", CONFIG)
    assert again.load_packs() == 1 and again._packs[0].rows.keys() == {sha(1)}


def test_packs_beyond_max_are_merged(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_mod, "MAX_PACKS", 3)
    for i in range(4):  # one pack per run
        cache = EmbeddingCache(tmp_path, "fake", CONFIG)
        cache.put(sha(i), fake_clip(i))
        cache.consolidate()
    assert len(EmbeddingCache(tmp_path, "fake", CONFIG).pack_paths()) == 1  # merged
    cache = EmbeddingCache(tmp_path, "fake", CONFIG)
    cache.put(sha(9), fake_clip(9))
    cache.consolidate()
    fresh = EmbeddingCache(tmp_path, "fake", CONFIG)
    assert len(fresh.pack_paths()) == 2 and fresh.load_packs() == 5
    for i in (0, 1, 2, 3, 9):
        assert_same(fresh.get(sha(i)), fake_clip(i))


def test_damaged_or_foreign_pack_is_ignored_then_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_mod, "MAX_PACKS", 2)
    cache = EmbeddingCache(tmp_path, "fake", CONFIG)
    cache.put(sha(1), fake_clip(1))
    good = cache.consolidate()
    bad = cache.pack_folder / "garbage.pack"
    bad.write_bytes(b"not a pack")
    foreign = cache.pack_folder / "future.pack"
    cache_mod.write_pack(foreign, {sha(2): fake_clip(2)})
    with np.load(foreign) as f:
        arrays = dict(f)
    arrays["format"] = np.array(cache_mod.PACK_FORMAT + 1)
    with open(foreign, "wb") as f:
        np.savez(f, **arrays)
    fresh = EmbeddingCache(tmp_path, "fake", CONFIG)
    assert fresh.load_packs() == 1  # only the good pack
    assert fresh.get(sha(2)) is None
    fresh.put(sha(3), fake_clip(3))
    merged = fresh.consolidate()  # 3 packs >= MAX_PACKS: merge, dropping the unreadable ones
    assert fresh.pack_paths() == [merged] and not bad.exists() and not good.exists()
    last = EmbeddingCache(tmp_path, "fake", CONFIG)
    assert last.load_packs() == 2


def test_pack_of_a_changed_file_is_not_used(tmp_path, monkeypatch):
    """A file rewritten after it was packed has a new content hash: its old packed clip is
    stale and must not be returned, whatever the path."""
    monkeypatch.setattr(extract, "PACK_MIN_CLIPS", 1)  # packs read even for a few files
    enc = get_audio_encoder("yamnet")
    paths = [tmp_path / f"{i}.wav" for i in range(3)]
    for i, p in enumerate(paths):
        sf.write(p, tone(1.0, freq=300 + 200 * i), 16000)
    first = extract.embed_files(paths, enc, cache_dir=tmp_path / "c", workers=0, progress=False)
    assert len(EmbeddingCache(tmp_path / "c", enc.name, enc.config()).pack_paths()) == 1
    sf.write(paths[1], tone(1.0, freq=2500), 16000)  # same size, new content
    st = os.stat(paths[0])
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # surely a new mtime
    again = extract.embed_files(paths, enc, cache_dir=tmp_path / "c", workers=0, progress=False)
    direct = enc.embed_waveform(extract.load_audio(paths[1])).embedding
    np.testing.assert_allclose(again.embeddings[1], direct, rtol=1e-4, atol=1e-5)
    assert not np.allclose(again.embeddings[1], first.embeddings[1])
    np.testing.assert_array_equal(again.embeddings[[0, 2]], first.embeddings[[0, 2]])


def test_warm_run_reads_the_pack_not_the_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(extract, "PACK_MIN_CLIPS", 1)
    enc = get_audio_encoder("yamnet")
    paths = [tmp_path / f"{i}.wav" for i in range(4)]
    for i, p in enumerate(paths):
        sf.write(p, tone(0.5 + 0.5 * i, freq=300 + 100 * i), 16000)
    first = extract.embed_files(paths, enc, cache_dir=tmp_path / "c", workers=0, progress=False)
    cache = EmbeddingCache(tmp_path / "c", enc.name, enc.config())
    for entry in cache.folder.glob("??/*.npz"):
        entry.unlink()

    def boom(*a, **k):
        raise AssertionError("not read from the pack")

    monkeypatch.setattr(extract, "load_audio", boom)
    monkeypatch.setattr(extract, "sha256_of", boom)
    again = extract.embed_files(paths, enc, cache_dir=tmp_path / "c", workers=0, progress=False)
    np.testing.assert_array_equal(again.embeddings, first.embeddings)
    assert len(cache.pack_paths()) == 1  # a run that added nothing writes no pack


def _writer(args):
    root, worker, rounds = args
    for r in range(rounds):
        cache = EmbeddingCache(root, "fake", CONFIG)
        i = 1000 * worker + r
        cache.put(sha(i), fake_clip(i))
        cache.consolidate()
    return True


def test_concurrent_writers_lose_nothing(tmp_path, monkeypatch):
    """Many runs adding and merging packs at once: every clip stays in some pack (a pack is
    deleted only by a run whose merged pack holding its clips is already in place)."""
    monkeypatch.setattr(cache_mod, "MAX_PACKS", 2)  # a merge almost every round: races
    rounds = 25
    with mp.get_context("fork").Pool(3) as pool:
        assert all(pool.map(_writer, [(str(tmp_path), w, rounds) for w in range(3)]))
    for entry in tmp_path.rglob("*.npz"):
        entry.unlink()  # only the packs count
    fresh = EmbeddingCache(tmp_path, "fake", CONFIG)
    assert fresh.load_packs() == 3 * rounds
    for w in range(3):
        for r in range(rounds):
            assert_same(fresh.get(sha(1000 * w + r)), fake_clip(1000 * w + r))
    assert not list(tmp_path.rglob("*.tmp"))


def test_interrupted_run_writes_no_pack_and_resumes(tmp_path, monkeypatch):
    """A run stopped midway keeps its per-clip entries (no pack); the resumed run packs all."""
    monkeypatch.setattr(extract, "PACK_MIN_CLIPS", 1)
    enc = get_audio_encoder("yamnet")
    paths = [tmp_path / f"{i}.wav" for i in range(3)]
    for i, p in enumerate(paths):
        sf.write(p, tone(1.0, freq=300 + 100 * i), 16000)
    real, calls = enc.embed_patches, []

    def interrupt_second(patches):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(patches)

    monkeypatch.setattr(enc, "embed_patches", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        extract.embed_files(paths, enc, cache_dir=tmp_path / "c", workers=0, progress=False)
    cache = EmbeddingCache(tmp_path / "c", enc.name, enc.config())
    assert cache.pack_paths() == [] and len(list(cache.folder.glob("??/*.npz"))) == 1
    res = extract.embed_files(paths, enc, cache_dir=tmp_path / "c", workers=0, progress=False)
    assert res.ok.all() and len(calls) == 4  # 1 kept + 2 computed on resume
    (pack,) = cache.pack_paths()
    assert EmbeddingCache(tmp_path / "c", enc.name, enc.config()).load_packs() == 3
