"""Decoding: formats, channels, rates, range, and every kind of bad file."""

from __future__ import annotations

import numpy as np
import pytest
from audio_cases import tone, write_bad_cases, write_good_cases

from zsaudio.assets import find_asset
from zsaudio.audio import io, params


def test_good_cases(tmp_path):
    cases = write_good_cases(tmp_path)
    expected_len = {
        "pcm8": 16000,
        "pcm24": 16000,
        "stereo48k": 19200,
        "float": 8000,
        "flac": 32000,
        "ogg": 32000,
    }
    for name, path in cases.items():
        wave = io.load_audio(path)
        assert wave.dtype == np.float32 and wave.ndim == 1, name
        assert abs(len(wave) - expected_len[name]) <= 1, (name, len(wave))
        assert np.abs(wave).max() <= 1.0
        # A 0.5-amplitude tone stays ~0.5 after decoding/resampling (stereo: two tones mixed).
        peak = np.abs(wave[2000:-2000]).max()
        assert 0.3 < peak < 0.55, (name, peak)


def test_stereo_is_channel_mean():
    data = np.stack([np.ones(100, np.float32), np.zeros(100, np.float32)], 1)
    assert np.allclose(io.to_mono(data), 0.5)


def test_resample_preserves_tone():
    wave = io.resample(tone(1.0, 44100, 1000.0), 44100)
    assert len(wave) == 16000
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(spectrum.argmax() - 1000) <= 1  # 1 Hz bins


@pytest.mark.parametrize(
    "case", ["empty", "non_audio", "corrupt", "nan_inf", "zero_rate", "absurd_rate", "one_sample", "missing"]
)
def test_bad_cases_raise_with_reason(tmp_path, case):
    path, reason = write_bad_cases(tmp_path)[case]
    with pytest.raises(io.AudioDecodeError, match=reason) as info:
        io.load_audio(path)
    assert str(info.value)
    assert isinstance(info.value, ValueError)


def test_esc50_stereo_48k_ogg_and_flac():
    # Ogg read as float: no wrapped samples; every ESC-50 clip is 5 s -> ~80 000 samples.
    for rel in ["esc50/audio/4-180337-A-28.flac", "esc50/audio/1-100038-A-14.ogg"]:
        wave = io.load_audio(find_asset(rel))
        assert abs(len(wave) - 5 * params.SAMPLE_RATE) < 200 and np.abs(wave).max() <= 1
