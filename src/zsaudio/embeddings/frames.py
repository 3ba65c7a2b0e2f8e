"""Frame-level encoder outputs of a waveform that arrives in blocks (streaming).

An encoder cuts a clip into patches (YAMNet: 0.975 s every 0.48 s; VGGish: 0.975 s every
0.96 s) and outputs one embedding (and, with a classifier head, one row of class scores) per
patch. :class:`PatchStream` produces exactly those per-patch outputs from consecutive blocks of
a waveform, carrying the overlap between patches across block boundaries: the patches equal
the ones :meth:`AudioEncoder.prepare` cuts from the whole waveform (same starts, same samples,
same end padding), so the outputs equal a whole-file ``embed_waveform`` (tested), while only
one block plus one patch of audio is ever held.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from zsaudio.audio import params
from zsaudio.embeddings.base import AudioEncoder, get_audio_encoder


@dataclass
class PatchOutputs:
    """Encoder outputs of consecutive patches.

    Attributes
    ----------
    starts : np.ndarray, shape (p,), float64
        Start of each patch, seconds from the start of the waveform.
    duration : float
        Length of every patch, seconds (0.975 for YAMNet and VGGish).
    embeddings : np.ndarray, shape (p, d), float32
    scores : np.ndarray, shape (p, k), float32, or None
        Class scores for encoders with a classifier head (YAMNet's 521 AudioSet classes).
    """

    starts: np.ndarray
    duration: float
    embeddings: np.ndarray
    scores: np.ndarray | None

    @property
    def centres(self) -> np.ndarray:
        """Centre of each patch, seconds, shape (p,)."""
        return self.starts + self.duration / 2


def patch_layout(encoder: AudioEncoder) -> tuple[int, int, bool]:
    """``(patch_samples, hop_samples, pads_tail)`` of an encoder at 16 kHz.

    ``pads_tail``: the audio after the last whole patch becomes one more, zero-padded patch
    (YAMNet's rule) rather than being dropped (VGGish's rule; see ``zsaudio.audio.mel.pad_waveform``).

    Example
    -------
    >>> patch_layout(get_audio_encoder("yamnet"))  # doctest: +SKIP
    (15600, 7680, True)
    """
    if encoder.name == "yamnet":
        return params.YAMNET_INPUT_SAMPLES, int(encoder.hop_samples), True
    if encoder.name == "vggish":
        hop_frames = int(round(params.EXAMPLE_HOP_SECONDS / params.STFT_HOP_LENGTH_SECONDS))
        hop_samples = int(round(hop_frames * params.STFT_HOP_LENGTH_SECONDS * params.SAMPLE_RATE))
        return params.YAMNET_INPUT_SAMPLES, hop_samples, False
    raise ValueError(f"no patch layout known for audio encoder {encoder.name!r}")


class PatchStream:
    """Feed waveform blocks, get the encoder's per-patch outputs as soon as patches are whole.

    Parameters
    ----------
    encoder : AudioEncoder
        ``zsaudio.embeddings.get_audio_encoder(name)``; its ``prepare`` and
        ``embed_patches`` are used, so the outputs are the encoder's own.
    threads : int, default 1
        For an encoder that runs one patch per call (``inference_in_workers``: YAMNet's TFLite
        interpreter, which releases the GIL while it runs), the patches of each block are split
        over this many copies of the encoder in threads. Other encoders batch (and thread)
        on their own and ignore it.

    Example
    -------
    >>> stream = PatchStream(get_audio_encoder("yamnet"))            # doctest: +SKIP
    >>> outs = [stream.push(block) for block in stream_audio("long.flac")]  # doctest: +SKIP
    >>> outs.append(stream.finish())                                 # doctest: +SKIP
    """

    def __init__(self, encoder: AudioEncoder, threads: int = 1):
        self.encoder = encoder
        self.threads = max(1, int(threads)) if encoder.inference_in_workers else 1
        self._copies = [encoder] + [get_audio_encoder(encoder.name, device=encoder.device, **encoder.options)
                                    for _ in range(self.threads - 1)]
        self._pool = ThreadPoolExecutor(self.threads, "zsaudio-embed") if self.threads > 1 else None
        self.patch_samples, self.hop_samples, self.pads_tail = patch_layout(encoder)
        self._buffer = np.zeros(0, np.float32)
        self._buffer_start = 0  # sample index of _buffer[0] = start of the next patch
        self._emitted = 0  # patches produced so far

    def _outputs(self, patches: np.ndarray, first: int) -> PatchOutputs:
        if len(patches) == 0:
            k = len(self.encoder.class_ids or [])
            return PatchOutputs(np.zeros(0), self.patch_samples / params.SAMPLE_RATE,
                                np.zeros((0, self.encoder.dim), np.float32),
                                np.zeros((0, k), np.float32) if k else None)
        if self._pool is None or len(patches) < 2 * self.threads:
            emb, scores = self.encoder.embed_patches(patches)
        else:  # contiguous chunks keep the patch order
            chunks = np.array_split(patches, self.threads)
            jobs = zip(self._copies, chunks, strict=True)
            outs = list(self._pool.map(lambda job: job[0].embed_patches(job[1]), jobs))
            emb = np.concatenate([o[0] for o in outs])
            scores = None if outs[0][1] is None else np.concatenate([o[1] for o in outs])
        starts = (first + np.arange(len(patches))) * self.hop_samples / params.SAMPLE_RATE
        return PatchOutputs(starts, self.patch_samples / params.SAMPLE_RATE,
                            np.asarray(emb, np.float32), None if scores is None else np.asarray(scores))

    def push(self, block: np.ndarray) -> PatchOutputs:
        """Add the next samples (float32, 16 kHz, shape (n,)); outputs of the patches now whole
        (possibly none)."""
        self._buffer = np.concatenate([self._buffer, np.asarray(block, np.float32)])
        whole = 0 if len(self._buffer) < self.patch_samples else \
            1 + (len(self._buffer) - self.patch_samples) // self.hop_samples
        if whole == 0:
            return self._outputs(self._buffer[:0], self._emitted)
        used = self.patch_samples + (whole - 1) * self.hop_samples
        # Exactly `whole` patches: the encoder's own padding rule adds nothing to this length.
        patches = self.encoder.prepare(self._buffer[:used])
        out = self._outputs(patches, self._emitted)
        self._emitted += len(patches)
        self._buffer = self._buffer[whole * self.hop_samples:]
        self._buffer_start += whole * self.hop_samples
        return out

    def finish(self) -> PatchOutputs:
        """Outputs of the end of the waveform by the encoder's own rule (YAMNet: one zero-padded
        patch for samples after the last whole patch; a waveform shorter than one patch gives one
        padded patch for every encoder)."""
        covered = self.patch_samples - self.hop_samples  # of the buffer, by emitted patches
        tail = self._buffer
        if len(tail) == 0 or (self._emitted and (not self.pads_tail or len(tail) <= covered)):
            patches = tail[:0]
        else:
            patches = self.encoder.prepare(tail)
        out = self._outputs(patches, self._emitted)
        self._emitted += len(patches)
        self._buffer = np.zeros(0, np.float32)
        return out

    def close(self) -> None:
        """Stop the embedding threads (also done by :func:`stream_patch_outputs`)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def stream_patch_outputs(encoder: AudioEncoder, blocks: Iterable[np.ndarray],
                         threads: int = 1) -> Iterator[PatchOutputs]:
    """Per-patch outputs of a waveform given as blocks, in order (one item per block, then the
    tail); an exception raised by ``blocks`` propagates after the outputs before it.
    ``threads``: see :class:`PatchStream`.

    Example
    -------
    >>> enc = get_audio_encoder("yamnet")                                    # doctest: +SKIP
    >>> n = sum(len(o.starts) for o in stream_patch_outputs(enc, stream_audio("a.wav")))  # doctest: +SKIP
    """
    stream = PatchStream(encoder, threads)
    try:
        for block in blocks:
            out = stream.push(block)
            if len(out.starts):
                yield out
        out = stream.finish()
        if len(out.starts):
            yield out
    finally:
        stream.close()
