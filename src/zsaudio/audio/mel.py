"""Log-mel spectrogram and 96x64 patches, as in Google's VGGish ``mel_features.py``.

Pure numpy, vectorised over any leading batch axes: a batch of equal-length clips
``(batch, samples)`` is processed in one call. Computation is float32 (scipy's rfft keeps the
input precision), which is what YAMNet's TFLite front end does too.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from zsaudio.audio import params


def frame(data: np.ndarray, window_length: int, hop_length: int) -> np.ndarray:
    """Split the last axis into overlapping frames (a strided view, no copy).

    Parameters
    ----------
    data : np.ndarray, shape (..., n, *rest) when ``axis`` is the first non-batch axis
        Frames are taken along axis ``-1`` for 1-D signals; see :func:`frame_patches` for 2-D.
    window_length, hop_length : int
        In samples.

    Returns
    -------
    np.ndarray, shape (..., 1 + (n - window_length) // hop_length, window_length)
        Zero frames when ``n < window_length`` (as VGGish: partial frames are dropped).

    Examples
    --------
    >>> frame(np.arange(10), 4, 3)
    array([[0, 1, 2, 3],
           [3, 4, 5, 6],
           [6, 7, 8, 9]])
    """
    n = data.shape[-1]
    num_frames = max(0, 1 + (n - window_length) // hop_length)
    shape = data.shape[:-1] + (num_frames, window_length)
    strides = data.strides[:-1] + (data.strides[-1] * hop_length, data.strides[-1])
    return np.lib.stride_tricks.as_strided(data, shape=shape, strides=strides, writeable=False)


def periodic_hann(window_length: int) -> np.ndarray:
    """Periodic Hann window (as ``tf.signal.hann_window``): ``0.5 - 0.5 cos(2 pi k / N)``.

    Not numpy's symmetric ``np.hanning``: the periodic one is what VGGish and YAMNet use.

    Examples
    --------
    >>> periodic_hann(4)
    array([0. , 0.5, 1. , 0.5])
    """
    return 0.5 - 0.5 * np.cos(2 * np.pi / window_length * np.arange(window_length))


def stft_magnitude(signal: np.ndarray, fft_length: int, hop_length: int, window_length: int) -> np.ndarray:
    """Magnitude of the short-time Fourier transform (periodic Hann window, no padding).

    Parameters
    ----------
    signal : np.ndarray, shape (..., n)
    fft_length, hop_length, window_length : int
        In samples; frames are zero-padded from ``window_length`` to ``fft_length``.

    Returns
    -------
    np.ndarray, shape (..., num_frames, fft_length // 2 + 1), same float precision as input.
    """
    window = periodic_hann(window_length).astype(signal.dtype)
    frames = frame(signal, window_length, hop_length) * window
    return np.abs(scipy.fft.rfft(frames, n=fft_length, axis=-1))


def hertz_to_mel(frequencies_hertz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``1127 ln(1 + f / 700)``.

    Examples
    --------
    >>> float(np.round(hertz_to_mel(700.0), 3))
    781.177
    """
    return params.MEL_HIGH_FREQUENCY_Q * np.log(
        1.0 + np.asarray(frequencies_hertz, dtype=np.float64) / params.MEL_BREAK_FREQUENCY_HERTZ
    )


def spectrogram_to_mel_matrix(
    num_mel_bins: int = params.NUM_MEL_BINS,
    num_spectrogram_bins: int = 257,
    audio_sample_rate: float = params.SAMPLE_RATE,
    lower_edge_hertz: float = params.MEL_MIN_HZ,
    upper_edge_hertz: float = params.MEL_MAX_HZ,
) -> np.ndarray:
    """Matrix mapping linear spectrogram bins to triangular HTK mel bands.

    As VGGish's ``mel_features.spectrogram_to_mel_matrix`` (and ``tf.signal.
    linear_to_mel_weight_matrix``): spectrogram bins are spaced linearly from 0 Hz to Nyquist,
    triangles are linear in mel, and the DC row is zeroed (DC carries no useful energy).

    Returns
    -------
    np.ndarray, shape (num_spectrogram_bins, num_mel_bins), float64

    Raises
    ------
    ValueError
        If the edges are not ``0 <= lower < upper <= Nyquist``.
    """
    nyquist_hertz = audio_sample_rate / 2.0
    if lower_edge_hertz < 0.0:
        raise ValueError(f"lower_edge_hertz {lower_edge_hertz:.1f} must be >= 0")
    if lower_edge_hertz >= upper_edge_hertz:
        raise ValueError(f"lower edge {lower_edge_hertz:.1f} >= upper edge {upper_edge_hertz:.1f}")
    if upper_edge_hertz > nyquist_hertz:
        raise ValueError(f"upper edge {upper_edge_hertz:.1f} > Nyquist {nyquist_hertz:.1f}")
    spectrogram_bins_mel = hertz_to_mel(np.linspace(0.0, nyquist_hertz, num_spectrogram_bins))
    band_edges_mel = np.linspace(
        hertz_to_mel(lower_edge_hertz), hertz_to_mel(upper_edge_hertz), num_mel_bins + 2
    )
    lower = band_edges_mel[:-2]
    center = band_edges_mel[1:-1]
    upper = band_edges_mel[2:]
    lower_slope = (spectrogram_bins_mel[:, None] - lower) / (center - lower)
    upper_slope = (upper - spectrogram_bins_mel[:, None]) / (upper - center)
    mel_weights = np.maximum(0.0, np.minimum(lower_slope, upper_slope))
    mel_weights[0, :] = 0.0
    return mel_weights


def log_mel_spectrogram(
    waveform: np.ndarray,
    sample_rate: int = params.SAMPLE_RATE,
    log_offset: float = params.LOG_OFFSET,
    window_length_secs: float = params.STFT_WINDOW_LENGTH_SECONDS,
    hop_length_secs: float = params.STFT_HOP_LENGTH_SECONDS,
    num_mel_bins: int = params.NUM_MEL_BINS,
    lower_edge_hertz: float = params.MEL_MIN_HZ,
    upper_edge_hertz: float = params.MEL_MAX_HZ,
) -> np.ndarray:
    """``log(mel(|STFT|) + log_offset)`` of one clip or a batch of equal-length clips.

    25 ms periodic-Hann window, 10 ms hop, FFT length the next power of two (512 at 16 kHz),
    64 HTK mel bands 125-7500 Hz. Use ``log_offset=params.YAMNET_LOG_OFFSET`` (0.001) for
    YAMNet's features, the default 0.01 for VGGish's.

    Parameters
    ----------
    waveform : np.ndarray, shape (..., n)
        Samples in [-1, 1] at ``sample_rate``; float32 input is computed in float32.

    Returns
    -------
    np.ndarray, shape (..., 1 + (n - 400) // 160, num_mel_bins)

    Examples
    --------
    >>> log_mel_spectrogram(np.zeros((3, 16000), np.float32)).shape
    (3, 98, 64)
    """
    waveform = np.asarray(waveform)
    if not np.issubdtype(waveform.dtype, np.floating):
        waveform = waveform.astype(np.float32)
    window_length = int(round(sample_rate * window_length_secs))
    hop_length = int(round(sample_rate * hop_length_secs))
    fft_length = 2 ** int(np.ceil(np.log2(window_length)))
    spectrogram = stft_magnitude(waveform, fft_length, hop_length, window_length)
    mel_matrix = spectrogram_to_mel_matrix(
        num_mel_bins, spectrogram.shape[-1], sample_rate, lower_edge_hertz, upper_edge_hertz
    ).astype(spectrogram.dtype)
    return np.log(spectrogram @ mel_matrix + log_offset)


def frame_patches(
    log_mel: np.ndarray,
    patch_frames: int = params.NUM_FRAMES,
    hop_frames: int = int(round(params.EXAMPLE_HOP_SECONDS / params.STFT_HOP_LENGTH_SECONDS)),
) -> np.ndarray:
    """Cut a log-mel spectrogram into ``patch_frames x bands`` patches (a strided view).

    Parameters
    ----------
    log_mel : np.ndarray, shape (..., frames, bands)
    patch_frames : int, default 96 (0.96 s)
    hop_frames : int, default 96 (VGGish); 48 for YAMNet's 0.48 s hop

    Returns
    -------
    np.ndarray, shape (..., 1 + (frames - patch_frames) // hop_frames, patch_frames, bands)
        A trailing partial patch is dropped (as VGGish); pad the waveform first
        (:func:`pad_waveform`) to keep short clips.

    Examples
    --------
    >>> frame_patches(np.zeros((498, 64))).shape
    (5, 96, 64)
    """
    moved = np.moveaxis(log_mel, -2, -1)  # (..., bands, frames): frame the last axis
    patches = frame(moved, patch_frames, hop_frames)  # (..., bands, patches, patch_frames)
    return np.moveaxis(patches, -3, -1)


def pad_waveform(
    waveform: np.ndarray,
    min_samples: int = params.YAMNET_INPUT_SAMPLES,
    hop_samples: int | None = None,
) -> np.ndarray:
    """Zero-pad the end of a clip so that it holds at least one whole patch.

    A clip shorter than ``min_samples`` (0.975 s: the 15 600 samples that give exactly 96
    frames) gets silence appended up to that length. With ``hop_samples`` the length is also
    rounded up to a whole number of patch hops after the first patch, so the tail becomes a
    last (partly silent) patch: YAMNet's rule. Without it, longer clips are returned unchanged
    and a trailing partial patch is dropped later: VGGish's rule.

    Parameters
    ----------
    waveform : np.ndarray, shape (..., n)
    min_samples : int, default 15600
    hop_samples : int, optional

    Returns
    -------
    np.ndarray, shape (..., m) with m >= max(n, min_samples)

    Examples
    --------
    >>> pad_waveform(np.ones(100)).shape
    (15600,)
    >>> pad_waveform(np.ones(80000), hop_samples=7680).shape  # 10 YAMNet patches
    (84720,)
    """
    n = waveform.shape[-1]
    target = max(n, min_samples)
    if hop_samples:
        target = min_samples + -(-(target - min_samples) // hop_samples) * hop_samples
    if target == n:
        return waveform
    pad = [(0, 0)] * (waveform.ndim - 1) + [(0, target - n)]
    return np.pad(waveform, pad)
