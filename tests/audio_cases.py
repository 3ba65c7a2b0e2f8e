"""Test helpers: write good and deliberately bad audio files (used by the audio and
embedding tests)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import soundfile as sf


def tone(seconds: float = 1.0, rate: int = 16000, freq: float = 440.0, amp: float = 0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _patch_wav_rate(path: Path, rate: int) -> None:
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"fmt "
    channels, bits = struct.unpack_from("<H", data, 22)[0], struct.unpack_from("<H", data, 34)[0]
    struct.pack_into("<I", data, 24, rate)
    struct.pack_into("<I", data, 28, rate * channels * bits // 8)
    path.write_bytes(bytes(data))


def write_good_cases(folder: Path) -> dict[str, Path]:
    """Files that must decode: 8-bit, 24-bit, stereo 48 kHz, float, FLAC, Ogg."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    out["pcm8"] = folder / "pcm8.wav"
    sf.write(out["pcm8"], tone(1.0, 22050), 22050, subtype="PCM_U8")
    out["pcm24"] = folder / "pcm24.wav"
    sf.write(out["pcm24"], tone(1.0, 44100), 44100, subtype="PCM_24")
    out["stereo48k"] = folder / "stereo48k.wav"
    sf.write(out["stereo48k"], np.stack([tone(1.2, 48000), tone(1.2, 48000, 880)], 1), 48000)
    out["float"] = folder / "float.wav"
    sf.write(out["float"], tone(0.5), 16000, subtype="FLOAT")
    out["flac"] = folder / "clip.flac"
    sf.write(out["flac"], tone(2.0, 44100), 44100)
    out["ogg"] = folder / "clip.ogg"
    sf.write(out["ogg"], tone(2.0, 44100), 44100, format="OGG", subtype="VORBIS")
    return out


def write_bad_cases(folder: Path) -> dict[str, tuple[Path, str]]:
    """Files that must be rejected, each with a fragment of the expected reason."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, str]] = {}
    p = folder / "empty.wav"
    p.write_bytes(b"")
    out["empty"] = (p, "empty")
    p = folder / "text.wav"
    p.write_text("this is not audio\n" * 20)
    out["non_audio"] = (p, "not decodable")
    p = folder / "corrupt.flac"
    good = folder / "_tmp_good.flac"
    sf.write(good, tone(1.0), 16000)
    raw = bytearray(good.read_bytes())
    good.unlink()
    raw[4:200] = bytes(np.random.default_rng(0).integers(0, 256, 196, dtype=np.uint8))
    p.write_bytes(bytes(raw[:300]))
    out["corrupt"] = (p, "not decodable|too short|no audio")
    p = folder / "nan.wav"
    data = tone(0.5)
    data[100] = np.nan
    data[200] = np.inf
    sf.write(p, data, 16000, subtype="FLOAT")
    out["nan_inf"] = (p, "NaN/Inf")
    p = folder / "zero_rate.wav"
    sf.write(p, tone(0.5), 16000)
    _patch_wav_rate(p, 0)
    out["zero_rate"] = (p, "sample rate|not decodable")
    p = folder / "absurd_rate.wav"
    sf.write(p, tone(0.5), 16000)
    _patch_wav_rate(p, 5)
    out["absurd_rate"] = (p, "sample rate")
    p = folder / "one_sample.wav"
    sf.write(p, np.array([0.1], np.float32), 16000)
    out["one_sample"] = (p, "too short")
    p = folder / "missing.wav"
    out["missing"] = (p, "no such file")
    return out
