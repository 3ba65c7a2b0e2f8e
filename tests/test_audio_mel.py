"""Front-end tests: shapes, the mel matrix, batching, and YAMNet's TFLite log-mel as reference."""

from __future__ import annotations

import numpy as np
import pytest

from zsaudio.assets import find_asset
from zsaudio.audio import mel, params
from zsaudio.audio.io import load_audio


def test_frame_and_patch_shapes():
    assert mel.frame(np.arange(10), 4, 3).tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert mel.frame(np.arange(3), 4, 3).shape == (0, 4)
    lm = mel.log_mel_spectrogram(np.zeros(80000, np.float32))
    assert lm.shape == (498, 64) and lm.dtype == np.float32
    assert np.allclose(lm, np.log(params.LOG_OFFSET))
    assert mel.frame_patches(lm).shape == (5, 96, 64)  # VGGish: partial patch dropped
    assert mel.frame_patches(lm, hop_frames=48).shape == (9, 96, 64)
    patches = mel.frame_patches(np.arange(498 * 64).reshape(498, 64))
    assert np.array_equal(patches[1], np.arange(498 * 64).reshape(498, 64)[96:192])


def test_pad_waveform_rules():
    assert mel.pad_waveform(np.ones(10)).shape == (params.YAMNET_INPUT_SAMPLES,)
    padded = mel.pad_waveform(np.ones(10))
    assert padded[:10].sum() == 10 and not padded[10:].any()  # zeros appended at the end
    assert mel.pad_waveform(np.ones(80000)).shape == (80000,)
    # YAMNet: 5 s -> first patch + ceil((80000 - 15600) / 7680) = 9 hops -> 10 patches.
    assert mel.pad_waveform(np.ones(80000), hop_samples=7680).shape == (15600 + 9 * 7680,)


def test_batch_equals_loop():
    rng = np.random.default_rng(0)
    batch = (rng.standard_normal((3, 20000)) * 0.1).astype(np.float32)
    together = mel.log_mel_spectrogram(batch)
    one_by_one = np.stack([mel.log_mel_spectrogram(b) for b in batch])
    np.testing.assert_allclose(together, one_by_one, atol=1e-6)
    assert mel.frame_patches(together).shape == (3, 1, 96, 64)


def test_sine_peaks_in_right_band():
    t = np.arange(16000) / 16000
    lm = mel.log_mel_spectrogram(np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    centers = mel.spectrogram_to_mel_matrix().argmax(axis=0) * 8000 / 256  # band peak bin (Hz)
    assert abs(centers[lm.mean(0).argmax()] - 1000) < 60


def test_mel_matrix_properties():
    m = mel.spectrogram_to_mel_matrix()
    assert m.shape == (257, 64)
    assert not m[0].any()  # DC row zeroed
    freqs = np.linspace(0, 8000, 257)
    assert not m[freqs < params.MEL_MIN_HZ].any() and not m[freqs > params.MEL_MAX_HZ].any()
    with pytest.raises(ValueError, match="Nyquist"):
        mel.spectrogram_to_mel_matrix(upper_edge_hertz=9000)


def test_periodic_hann():
    np.testing.assert_allclose(mel.periodic_hann(4), [0, 0.5, 1, 0.5], atol=1e-12)


# --- external reference: YAMNet's TFLite front end ------------------------------------------
# The TFLite graph computes its log-mel with FULLY_CONNECTED ops whose weights (real and
# imaginary DFT matrices, mel matrix) are stored as int8, and XNNPACK runs them "hybrid": each
# input row is quantised to 8 bits (asymmetric, per row) on the fly. Our float front end
# therefore differs from its output by that quantisation noise (large in log terms only for
# bands far below a frame's loudest one, which 8 bits round to ~0). Emulating exactly those
# 8-bit steps on top of OUR framing, window, DFT size and mel matrix reproduces the model's
# patch to float rounding, which verifies every step of the front end.

ESC50_CLIPS = [
    "esc50/audio/1-100038-A-14.ogg",
    "esc50/audio/1-208757-B-2.ogg",
    "esc50/audio/2-118624-A-30.ogg",
    "esc50/audio/3-170383-A-38.ogg",
    "esc50/audio/4-180337-A-28.flac",
    "esc50/audio/5-212454-A-0.ogg",
]


def _qd8_fully_connected(x: np.ndarray, w_int8: np.ndarray, w_scale: float) -> np.ndarray:
    """XNNPACK's dynamically quantised FC: per-row asymmetric int8 inputs x int8 weights."""
    lo = np.minimum(x.min(axis=1, keepdims=True), 0)
    hi = np.maximum(x.max(axis=1, keepdims=True), 0)
    scale = (hi - lo) / 255
    scale[scale == 0] = 1
    zero_point = np.round(-128 - lo / scale)
    q = np.clip(np.round(x / scale + zero_point), -128, 127)
    return ((q - zero_point) @ w_int8.T) * scale * w_scale


@pytest.fixture(scope="module")
def yamnet_interpreter():
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    interp = lite.Interpreter(str(find_asset("yamnet/yamnet.tflite")), num_threads=1)
    interp.allocate_tensors()
    tensors = {t["name"]: t for t in interp.get_tensor_details()}
    return interp, tensors


def test_yamnet_tflite_logmel_match(yamnet_interpreter):
    interp, tensors = yamnet_interpreter
    dft_re = tensors["yamnet_frames/tf_op_layer_MatMul/MatMul"]
    dft_im = tensors["yamnet_frames/tf_op_layer_MatMul_1/MatMul_1"]
    mel_w = tensors["yamnet_frames/tf_op_layer_MatMul_2/MatMul_2"]
    out_index = next(o["index"] for o in interp.get_output_details() if list(o["shape"]) == [96, 64])
    # Our DFT and mel matrices, quantised with the model's scales, ARE the model's int8 weights.
    n_fft = 512
    k, n = np.arange(n_fft // 2 + 1)[:, None], np.arange(n_fft)[None]
    ours = {
        "re": (np.cos(2 * np.pi * k * n / n_fft), dft_re),
        "im": (-np.sin(2 * np.pi * k * n / n_fft), dft_im),
        "mel": (mel.spectrogram_to_mel_matrix().T, mel_w),
    }
    quantised = {}
    for key, (matrix, t) in ours.items():
        scale = t["quantization"][0]
        q = np.clip(np.round(matrix / scale), -127, 127)
        model_q = interp.get_tensor(t["index"]).astype(np.float64)
        if key == "im" and np.abs(q + model_q).max() < np.abs(q - model_q).max():
            q = -q  # sign convention of the imaginary part does not change magnitudes
        assert np.array_equal(q, model_q), key  # measured: all 3 matrices identical
        quantised[key] = (q, scale)

    window = mel.periodic_hann(400).astype(np.float32)
    stats_float, stats_emulated = [], []
    for rel in ESC50_CLIPS:
        wave = load_audio(find_asset(rel))
        for start in (0, 32000):
            x = wave[start : start + params.YAMNET_INPUT_SAMPLES]
            interp.set_tensor(interp.get_input_details()[0]["index"], x[None])
            interp.invoke()
            reference = interp.get_tensor(out_index).astype(np.float64)

            float_ours = mel.log_mel_spectrogram(x, log_offset=params.YAMNET_LOG_OFFSET)
            stats_float.append(np.abs(float_ours - reference))

            frames = (mel.frame(x, 400, 160) * window).astype(np.float64)
            frames = np.pad(frames, ((0, 0), (56, 56)))  # centred in the FFT buffer, as TF does
            re = _qd8_fully_connected(frames, *quantised["re"])
            im = _qd8_fully_connected(frames, *quantised["im"])
            mel_e = _qd8_fully_connected(np.sqrt(re * re + im * im), *quantised["mel"])
            emulated = np.log(np.maximum(mel_e + params.YAMNET_LOG_OFFSET, 1e-30))
            stats_emulated.append(np.abs(emulated - reference))

    emulated_diff = np.concatenate([s.ravel() for s in stats_emulated])
    float_diff = np.concatenate([s.ravel() for s in stats_float])
    # Measured on these 12 patches (73 728 cells): emulated median 9e-8, mean 5e-6, max 0.21
    # in 4 cells: an input exactly half-way between two 8-bit steps rounds the other way, and
    # log(mel + 0.001) magnifies that where mel ~ 0.
    # Float front end: median 0.014, mean 0.2, max 5.6.
    print(
        f"emulated: max {emulated_diff.max():.3g} mean {emulated_diff.mean():.3g}; "
        f"float: max {float_diff.max():.3g} mean {float_diff.mean():.3g} "
        f"median {np.median(float_diff):.3g}"
    )
    assert np.median(emulated_diff) < 1e-6
    assert (emulated_diff > 1e-4).mean() < 1e-3  # all but rounding ties agree to 1e-4
    assert emulated_diff.mean() < 1e-4
    assert np.median(float_diff) < 0.03 and float_diff.mean() < 0.3
