"""Streamed block decoding (zsaudio.audio.stream): equal to a whole-file decode, any soundfile
format, and damaged tails reported with their time while the audio before them is kept."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from audio_cases import tone

from zsaudio.audio.io import AudioDecodeError, load_audio
from zsaudio.audio.stream import StreamDecodeError, stream_audio, stream_info

# Streamed vs whole-file decode: the streaming resampler keeps its state across blocks, so the
# two agree to float rounding; we allow 1e-5 of full scale (measured: 0, bit-identical).
TOLERANCE = 1e-5


def noise(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((int(seconds * rate), channels)) * 0.1
    return x.astype(np.float32)[:, 0] if channels == 1 else x.astype(np.float32)


@pytest.mark.parametrize("ext, rate, channels", [
    ("wav", 44100, 1), ("flac", 44100, 2), ("ogg", 48000, 1), ("wav", 16000, 1), ("flac", 22050, 1),
])
@pytest.mark.parametrize("block_seconds", [0.05, 0.37, 10.0])
def test_streamed_equals_whole_file_decode(tmp_path, ext, rate, channels, block_seconds):
    path = tmp_path / f"x.{ext}"
    sf.write(path, noise(3.3, rate, channels), rate)
    whole = load_audio(path)
    blocks = list(stream_audio(path, block_seconds=block_seconds))
    assert all(b.dtype == np.float32 and b.ndim == 1 and len(b) for b in blocks)
    streamed = np.concatenate(blocks)
    assert streamed.shape == whole.shape
    assert np.abs(streamed - whole).max() <= TOLERANCE
    if block_seconds < 1:
        assert len(blocks) > 3  # really decoded in blocks


def test_stream_info(tmp_path):
    path = tmp_path / "x.flac"
    sf.write(path, noise(2.5, 44100, 2), 44100)
    info = stream_info(path)
    assert (info.input_rate, info.channels, info.frames, info.format) == (44100, 2, 110250, "FLAC")
    assert info.duration == pytest.approx(2.5)


def test_truncated_flac_reports_time_and_keeps_audio_before(tmp_path):
    good = tmp_path / "good.flac"
    sf.write(good, noise(6.0, 44100), 44100)
    data = good.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) // 2])  # mid-frame: the decoder loses sync at about 3 s
    whole = load_audio(good)
    got = []
    with pytest.raises(StreamDecodeError) as info:
        for block in stream_audio(cut, block_seconds=1.0):
            got.append(block)
    kept = np.concatenate(got)
    err = info.value
    assert 2.0 < err.time < 3.5
    assert f"{err.time:.2f} s" in str(err) and "of 6.00 s" in str(err)
    # the block that failed was re-read in small pieces: at most ~50 ms lost before the damage
    assert len(kept) / 16000 > err.time - 0.05
    # the kept audio is the file's audio (the resampler's flush only changes the last few ms)
    n = len(kept) - 800
    assert np.abs(kept[:n] - whole[:n]).max() <= TOLERANCE


def test_nan_samples_stop_the_stream_at_their_time(tmp_path):
    x = noise(4.0, 16000)
    x[int(2.5 * 16000):] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    got = []
    with pytest.raises(StreamDecodeError, match="NaN/Inf") as info:
        for block in stream_audio(path, block_seconds=1.0):
            got.append(block)
    assert info.value.time == pytest.approx(2.5)
    assert np.array_equal(np.concatenate(got), x[: int(2.5 * 16000)])


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_bytes(b"not audio at all" * 10), "not decodable"),
    (lambda p: sf.write(p, tone(0.01), 16000), "too short"),
])
def test_unreadable_files_fail_before_any_block(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioDecodeError, match=message):
        next(stream_audio(path))
    with pytest.raises(AudioDecodeError, match="no such file"):
        next(stream_audio(tmp_path / "missing.wav"))


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_garbage_appended_after_a_valid_file_is_ignored(tmp_path, ext):
    """The header says where the audio ends: bytes after it are not decoded as audio."""
    clean = tmp_path / f"clean.{ext}"
    sf.write(clean, noise(3.0, 44100), 44100)
    dirty = tmp_path / f"dirty.{ext}"
    dirty.write_bytes(clean.read_bytes() + np.random.default_rng(1).bytes(40000))
    decoded = [np.concatenate(list(stream_audio(p))) for p in (dirty, clean)]
    assert np.array_equal(*decoded)
