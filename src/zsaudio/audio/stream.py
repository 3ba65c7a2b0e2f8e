"""Decoding a file of any length in blocks: bounded memory, seamless resampling, damaged tails.

:func:`stream_audio` yields consecutive blocks of float32 mono 16 kHz samples. Each block is
read with ``soundfile.SoundFile.read`` (any format libsndfile reads), mixed to mono and
resampled with soxr's streaming resampler (``soxr.ResampleStream``, same "HQ" preset as
:func:`zsaudio.audio.io.resample`): the resampler keeps its filter state across blocks, so the
concatenated blocks equal a whole-file decode up to float rounding (tested), not a signal
with a filter transient at every join.

A file damaged after good audio (a FLAC cut mid-frame, NaN/Inf samples in a float WAV) does
not lose what came before: the blocks up to the damage are yielded, then
:class:`StreamDecodeError` is raised with the time (seconds from the start) where decoding
stopped. The block that failed is re-read in small pieces, so at most a few milliseconds
before the damage are lost.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from zsaudio.audio import params
from zsaudio.audio.io import AudioDecodeError, existing_audio_file, to_mono

# Seconds of input read per block: memory per block is this times rate times channels.
DEFAULT_BLOCK_SECONDS = 10.0
# After a failed block read, the block is read again in pieces of this many input frames
# (about 23 ms at 44.1 kHz): the audio lost before the damage is at most one piece.
RECOVERY_FRAMES = 1024


class StreamDecodeError(AudioDecodeError):
    """Decoding stopped part-way through a file; ``time`` is where (seconds from the start).

    Everything before ``time`` was yielded by :func:`stream_audio` before this was raised.
    """

    def __init__(self, message: str, time: float):
        super().__init__(message)
        self.time = float(time)


@dataclass(frozen=True)
class StreamInfo:
    """What the file header says, read before decoding.

    Attributes
    ----------
    path : str
    input_rate : int
        The file's sample rate, Hz.
    channels : int
    frames : int
        Input frames the header declares (may be more than decodable for a damaged file).
    duration : float
        ``frames / input_rate``, seconds.
    format : str
        libsndfile's format name, e.g. ``"FLAC"``.
    """

    path: str
    input_rate: int
    channels: int
    frames: int
    duration: float
    format: str


def stream_info(path: str | os.PathLike) -> StreamInfo:
    """Read the header of an audio file.

    Raises
    ------
    AudioDecodeError
        Missing, empty or undecodable file, or an implausible sample rate.

    Example
    -------
    >>> stream_info(find_asset("esc50/audio/1-100032-A-0.ogg")).duration  # doctest: +SKIP
    5.0
    """
    path = existing_audio_file(path)
    try:
        with sf.SoundFile(str(path)) as f:
            info = StreamInfo(str(path), int(f.samplerate), int(f.channels), int(f.frames),
                              f.frames / f.samplerate if f.samplerate else 0.0, str(f.format))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioDecodeError(f"not decodable as audio: {err}") from err
    if not params.MIN_INPUT_SAMPLE_RATE <= info.input_rate <= params.MAX_INPUT_SAMPLE_RATE:
        raise AudioDecodeError(f"implausible sample rate {info.input_rate} Hz (expected "
                               f"{params.MIN_INPUT_SAMPLE_RATE}-{params.MAX_INPUT_SAMPLE_RATE} Hz)")
    return info


def _read_block(f: sf.SoundFile, frames: int) -> tuple[np.ndarray, str | None]:
    """Up to ``frames`` frames ``(n, channels)``; on a decoder error, what could be read before
    it (re-read in :data:`RECOVERY_FRAMES` pieces) and the error's message."""
    start = f.tell()
    try:
        return f.read(frames, dtype="float32", always_2d=True), None
    except (sf.LibsndfileError, RuntimeError) as err:
        message = str(err)
    pieces = []
    try:
        f.seek(start)
        done = 0
        while done < frames:
            piece = f.read(min(RECOVERY_FRAMES, frames - done), dtype="float32", always_2d=True)
            if not len(piece):
                break
            pieces.append(piece)
            done += len(piece)
    except (sf.LibsndfileError, RuntimeError):
        pass
    data = np.concatenate(pieces) if pieces else np.zeros((0, f.channels), np.float32)
    return data, message


def stream_audio(
    path: str | os.PathLike,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
    sample_rate: int = params.SAMPLE_RATE,
) -> Iterator[np.ndarray]:
    """Decode a file block by block into float32 mono samples in [-1, 1] at ``sample_rate``.

    Memory is bounded by one block whatever the file's length. Concatenating the blocks gives
    :func:`zsaudio.audio.io.load_audio`'s output to within 1e-5 (float rounding of the
    streaming resampler; identical when no resampling is needed).

    Parameters
    ----------
    path : str or path-like
        Any format libsndfile reads (WAV, FLAC, Ogg Vorbis, MP3, AIFF, ...).
    block_seconds : float, default 10.0
        Input seconds decoded per block (output blocks hold about ``block_seconds *
        sample_rate`` samples; the resampler's delay makes the first shorter, the last longer).
    sample_rate : int, default 16000
        Output rate in Hz.

    Yields
    ------
    np.ndarray, shape (n,), float32
        Consecutive blocks (an empty block is never yielded).

    Raises
    ------
    AudioDecodeError
        The file cannot be opened, has no samples, or is shorter than one STFT window (25 ms);
        raised before anything is yielded.
    StreamDecodeError
        Decoding failed part-way (damaged data, NaN/Inf samples): raised after the good blocks
        before the damage were yielded; ``err.time`` says where, in seconds.

    Example
    -------
    >>> blocks = stream_audio("field_recording.flac", block_seconds=30)   # doctest: +SKIP
    >>> total = sum(len(b) for b in blocks) / 16000                        # doctest: +SKIP
    """
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be > 0, got {block_seconds}")
    info = stream_info(path)
    rate = info.input_rate
    if info.frames == 0:
        raise AudioDecodeError("no audio samples in file")
    if info.frames < params.MIN_DURATION_SECONDS * rate:
        raise AudioDecodeError(f"too short: {info.frames} sample(s) at {rate} Hz "
                               f"(< {params.MIN_DURATION_SECONDS * 1000:g} ms, one STFT window)")
    block_frames = max(1, int(round(block_seconds * rate)))
    resampler = None if rate == sample_rate else soxr.ResampleStream(
        rate, sample_rate, 1, dtype="float32", quality=params.RESAMPLE_QUALITY)
    decoded = 0  # input frames decoded so far
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioDecodeError(f"not decodable as audio: {err}") from err
    with f:
        while True:
            data, failure = _read_block(f, block_frames)
            if len(data) and not np.isfinite(data).all():
                first_bad = int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
                data = data[:first_bad]
                failure = "NaN/Inf samples"
            last = failure is not None or len(data) < block_frames
            mono = np.ascontiguousarray(to_mono(data), dtype=np.float32)
            out = mono if resampler is None else resampler.resample_chunk(mono, last=last)
            decoded += len(data)
            if len(out):
                yield np.clip(out, -1.0, 1.0, out=out)
            if failure is not None:
                raise StreamDecodeError(
                    f"decoding stopped at {decoded / rate:.2f} s of {info.duration:.2f} s: {failure}",
                    decoded / rate)
            if last:
                break
