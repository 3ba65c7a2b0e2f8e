"""Batch extraction: many files -> clip embeddings, parallel and cached.

Decoding, resampling and the front end run in worker processes; a model that batches
(VGGish) runs in the main process on batches of patches gathered across files, while one that
cannot (YAMNet's TFLite) runs inside each worker. Each clip's result is stored in an
:class:`~zsaudio.embeddings.cache.EmbeddingCache` as soon as it is computed, so an interrupted
run resumes where it stopped and a rerun reads everything back from disk.

Packs (many clips in one file) are for bulk runs only: a run of at least
:data:`PACK_MIN_CLIPS` files opens the packs and, when it ends normally, packs the clips it used
that no pack holds yet; a smaller run (``classify`` of a few clips) reads and writes per-clip
entries only, so it does not leave a new pack (a duplicate of clips packed before) per call.
Its clips are packed by the next bulk run that uses them.

The flow of :func:`embed_files`: :func:`_cached_clips` answers what the cache holds; the rest
goes to :class:`_Worker` (in this process, or one per worker process), whose results
(:class:`_Outcome`) are gathered by :func:`_collect`, with :class:`_PatchBatcher` running a
batching model on patches from several files; :func:`_assemble` builds the result.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from zsaudio import assets
from zsaudio.assets import sha256_of
from zsaudio.audio.io import AudioDecodeError, load_audio
from zsaudio.embeddings.base import AudioEncoder, ClipEmbedding, get_audio_encoder
from zsaudio.embeddings.cache import EmbeddingCache, file_key
from zsaudio.embeddings.pooling import (
    DEFAULT_SILENCE_GAMMA,
    POOLINGS,
    silence_class_index,
    silence_gated_pool,
)


@dataclass
class ExtractionResult:
    """Embeddings of a list of files, in input order.

    Attributes
    ----------
    paths : list of str
    embeddings : np.ndarray, shape (n, d), float32
        Clip embeddings (mean over patches); NaN rows where a file failed.
    scores : np.ndarray, shape (n, k), float32, or None
        Mean class scores for encoders with a classifier (YAMNet); NaN rows for failures.
    ok : np.ndarray, shape (n,), bool
    failures : dict of str to str
        Failed path -> human-readable reason.
    encoder_config : dict
    class_names : list of str or None
    """

    paths: list[str]
    embeddings: np.ndarray
    scores: np.ndarray | None
    ok: np.ndarray
    failures: dict[str, str]
    encoder_config: dict = field(default_factory=dict)
    class_names: list[str] | None = None


def default_cache_dir() -> Path:
    """``zsaudio.assets.cache_subdir("embeddings")`` (``embeddings`` in the cache)."""
    return assets.cache_subdir("embeddings")


def _reason(err: BaseException) -> str:
    if isinstance(err, AudioDecodeError):
        return str(err)
    return f"{type(err).__name__}: {err}"


PACK_MIN_CLIPS = 32
"""From this many files on, ``embed_files`` opens the cache's packs and packs the clips it used
that no pack holds; smaller runs use per-clip entries only (no new pack per ``classify``)."""


@dataclass
class _Outcome:
    """What a worker made of one file: a clip, or patches for the model, or an error."""

    index: int
    sha: str | None = None
    clip: ClipEmbedding | None = None
    patches: np.ndarray | None = None
    error: str | None = None


class _Worker:
    """Turns one file into an :class:`_Outcome`: hash, cache lookup, decode, front end, and the
    model too when the encoder runs in workers (``inference_in_workers``)."""

    def __init__(self, encoder: AudioEncoder, cache: EmbeddingCache):
        self.encoder, self.cache = encoder, cache

    def process(self, task: tuple[int, str]) -> _Outcome:
        index, path = task
        try:
            sha = sha256_of(path)
        except FileNotFoundError:
            return _Outcome(index, error="no such file")
        except OSError as err:
            return _Outcome(index, error=f"cannot read file: {err.strerror or err}")
        try:
            clip = self.cache.get(sha)  # maybe written by another run, or another path, same bytes
            if clip is not None:
                return _Outcome(index, sha, clip=clip)
            patches = self.encoder.prepare(load_audio(path))
            if not self.encoder.inference_in_workers:
                return _Outcome(index, sha, patches=patches)
            clip = ClipEmbedding.from_patches(*self.encoder.embed_patches(patches))
            self.cache.put(sha, clip)
            return _Outcome(index, sha, clip=clip)
        except Exception as err:  # one bad file must never stop the batch
            return _Outcome(index, sha, error=_reason(err))


# The worker of a worker *process*, set by the pool's initializer (a pool can only hand its
# processes state this way); the main process never uses it.
_PROCESS_WORKER: _Worker | None = None


def _start_process_worker(name: str, options: dict, cache_root: str, config: dict) -> None:
    global _PROCESS_WORKER
    encoder = get_audio_encoder(name, device="cpu", **options)
    # config given, not recomputed: a worker never hashes the model file again
    _PROCESS_WORKER = _Worker(encoder, EmbeddingCache(cache_root, name, config, staging=False))


def _process_in_worker(task: tuple[int, str]) -> _Outcome:
    assert _PROCESS_WORKER is not None, "called outside a pool started by _outcomes"
    return _PROCESS_WORKER.process(task)


class _PatchBatcher:
    """Runs a batching model (VGGish) on patches gathered across files, ``batch_size`` patches
    at a time; each file's clip is stored in the cache when its patches are done."""

    def __init__(self, encoder: AudioEncoder, cache: EmbeddingCache):
        self.encoder, self.cache = encoder, cache
        self.batch_size = getattr(encoder, "batch_size", 64)
        self.pending: list[tuple[int, str, np.ndarray]] = []

    def add(self, index: int, sha: str, patches: np.ndarray) -> list[tuple[int, ClipEmbedding]]:
        """Queue one file's patches; returns the ``(index, clip)`` of the files now done."""
        self.pending.append((index, sha, patches))
        return self._run(force=False)

    def flush(self) -> list[tuple[int, ClipEmbedding]]:
        """Run the model on everything still queued."""
        return self._run(force=True)

    def _run(self, force: bool) -> list[tuple[int, ClipEmbedding]]:
        done = []
        while self.pending and (force or sum(len(p) for _, _, p in self.pending) >= self.batch_size):
            take, total = [], 0
            while self.pending and total < self.batch_size:
                take.append(self.pending.pop(0))
                total += len(take[-1][2])
            emb, scores = self.encoder.embed_patches(np.concatenate([p for _, _, p in take]))
            start = 0
            for index, sha, patches in take:
                stop = start + len(patches)
                clip = ClipEmbedding.from_patches(
                    emb[start:stop], None if scores is None else scores[start:stop]
                )
                self.cache.put(sha, clip)
                done.append((index, clip))
                start = stop
        return done


def _open_encoder(encoder: str | AudioEncoder, encoder_options: dict | None,
                  device: str) -> tuple[AudioEncoder, dict]:
    """The encoder instance, and the options that recreate it in a worker process."""
    if isinstance(encoder, AudioEncoder):
        return encoder, {k: v for k, v in encoder.options.items() if k != "device"}
    options = dict(encoder_options or {})
    return get_audio_encoder(encoder, device=device, **options), options


def _cached_clips(paths: list[str], cache: EmbeddingCache) -> tuple[dict[int, ClipEmbedding],
                                                                    list[tuple[int, str]]]:
    """Clips the cache answers by path (fast-path index, no hashing) -> ``(clips by input
    index, the remaining (index, path) tasks)``."""
    clips: dict[int, ClipEmbedding] = {}
    todo: list[tuple[int, str]] = []
    for i, path in enumerate(paths):
        sha = cache.known_hash(path)
        clip = cache.get(sha) if sha else None
        if clip is not None:
            clips[i] = clip
        else:
            todo.append((i, path))
    return clips, todo


def _outcomes(todo: list[tuple[int, str]], encoder: AudioEncoder, options: dict,
              cache: EmbeddingCache, config: dict, workers: int | None) -> Iterator[_Outcome]:
    """The outcome of every task, in completion order: in this process for 0 or 1 worker (or a
    single file: no process start-up cost), else from a pool of worker processes."""
    n_workers = min((os.cpu_count() or 1) if workers is None else int(workers), len(todo))
    if n_workers <= 1:
        worker = _Worker(encoder, cache)
        yield from (worker.process(task) for task in todo)
        return
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    initargs = (encoder.name, options, str(cache.root), config)
    with ctx.Pool(n_workers, _start_process_worker, initargs) as pool:
        yield from pool.imap_unordered(_process_in_worker, todo, chunksize=1)


def _collect(outcomes: Iterable[_Outcome], paths: list[str], cache: EmbeddingCache,
             batcher: _PatchBatcher, clips: dict[int, ClipEmbedding], failures: dict[str, str],
             bar: tqdm) -> None:
    """Record each outcome: its path's hash in the fast-path index, then its clip in ``clips``
    (staged for the next pack), its patches to ``batcher``, or its error in ``failures``."""
    for out in outcomes:
        if out.sha is not None:
            try:
                cache.remember(file_key(paths[out.index]), out.sha)
            except OSError:
                pass  # the file vanished since: only the fast path is lost
        if out.error is not None:
            failures[paths[out.index]] = out.error
            bar.update()
        elif out.clip is not None:
            clips[out.index] = out.clip
            cache.stage(out.sha, out.clip)  # type: ignore[arg-type]
            bar.update()
        else:
            done = batcher.add(out.index, out.sha, out.patches)  # type: ignore[arg-type]
            clips.update(done)
            bar.update(len(done))
    done = batcher.flush()
    clips.update(done)
    bar.update(len(done))


def _assemble(paths: list[str], clips: dict[int, ClipEmbedding], failures: dict[str, str],
              encoder: AudioEncoder, config: dict, pooling: str = "mean",
              silence_gamma: float = DEFAULT_SILENCE_GAMMA) -> ExtractionResult:
    """Stack the clips in input order (NaN rows for failures) into an :class:`ExtractionResult`,
    each clip's embedding pooled by ``pooling`` from its patches."""
    n = len(paths)
    silence = silence_class_index(encoder.class_names)
    embeddings = np.full((n, encoder.dim), np.nan, np.float32)
    k = len(encoder.class_names) if encoder.class_names else None
    scores = np.full((n, k), np.nan, np.float32) if k else None
    ok = np.zeros(n, bool)
    for i, path in enumerate(paths):
        clip = clips.get(i)
        if clip is None:
            failures.setdefault(path, "not processed")
            continue
        embeddings[i] = clip.embedding if pooling == "mean" else silence_gated_pool(
            clip.patch_embeddings, clip.patch_scores, silence, silence_gamma)
        if scores is not None and clip.scores is not None:
            scores[i] = clip.scores
        ok[i] = True
    if pooling != "mean":  # the mean's config stays as it was (cache keys, saved models)
        config = {**config, "pooling": {"name": pooling, "silence_gamma": float(silence_gamma),
                                        "silence_index": silence, "power": "signed sqrt + L2"}}
    return ExtractionResult(paths, embeddings, scores, ok, failures, config, encoder.class_names)


def embed_files(
    paths: Iterable[str | os.PathLike],
    encoder: str | AudioEncoder = "yamnet",
    encoder_options: dict | None = None,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
    device: str = "cpu",
    pooling: str = "mean",
    silence_gamma: float = DEFAULT_SILENCE_GAMMA,
) -> ExtractionResult:
    """Embed audio files with a pretrained encoder, in parallel, through an on-disk cache.

    Parameters
    ----------
    paths : iterable of path
        Audio files (any format soundfile reads). Order is kept in the result.
    encoder : str or AudioEncoder, default "yamnet"
        A name of :func:`~zsaudio.embeddings.available_encoders`, or an encoder instance: it
        is used as is (not created again, its model file not hashed again: a caller that
        keeps one instance pays for that once).
    encoder_options : dict, optional
        With a name: passed to :func:`~zsaudio.embeddings.get_audio_encoder` (e.g.
        ``{"weights": "random"}``).
    cache_dir : path, optional
        Default ``zsaudio.assets.cache_subdir("embeddings")``.
    workers : int, optional
        Decoding processes; default ``os.cpu_count()``; 0 runs everything in this process.
    progress : bool, default True
        tqdm progress bar on stderr.
    device : str, default "cpu"
        With a name: where a torch encoder runs (:func:`zsaudio.device.resolve_device`).
    pooling : {"mean", "silence-gated"}, default "mean"
        How patch embeddings become the clip embedding: the mean (the paper's rule), or
        :func:`zsaudio.embeddings.pooling.silence_gated_pool` (for few-shot prototypes). Both
        are computed from the same cached patch outputs; ``encoder_config`` of a non-mean
        pooling records it (``"pooling"``), so models and reports never mix the two. Class
        scores are always the plain mean.
    silence_gamma : float, default 1.0
        The gate's exponent (``pooling="silence-gated"`` only).

    Returns
    -------
    ExtractionResult
        Never raises for a bad file: it is listed in ``failures`` with its reason.

    Examples
    --------
    >>> from zsaudio.assets import find_asset
    >>> clips = sorted(find_asset("esc50/audio").iterdir())[:2]
    >>> res = embed_files(clips, progress=False, workers=0)
    >>> res.embeddings.shape, res.scores.shape, bool(res.ok.all())
    ((2, 1024), (2, 521), True)
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    paths = [str(p) for p in paths]
    enc, options = _open_encoder(encoder, encoder_options, device)
    config = enc.config()
    use_packs = len(paths) >= PACK_MIN_CLIPS
    cache = EmbeddingCache(cache_dir if cache_dir is not None else default_cache_dir(), enc.name,
                           config, staging=use_packs)
    if use_packs:
        cache.load_packs()
    bar = tqdm(total=len(paths), desc=f"embed ({enc.name})", file=sys.stderr, disable=not progress,
               unit="file")
    failures: dict[str, str] = {}
    try:
        clips, todo = _cached_clips(paths, cache)
        bar.update(len(clips))
        outcomes = _outcomes(todo, enc, options, cache, config, workers)
        try:
            _collect(outcomes, paths, cache, _PatchBatcher(enc, cache), clips, failures, bar)
        finally:
            outcomes.close()  # on an error or Ctrl-C: stop the worker pool now
        if use_packs:
            cache.consolidate()  # next time: one pack read instead of one file per clip
    finally:
        cache.flush_index()
        bar.close()
    return _assemble(paths, clips, failures, enc, config, pooling, silence_gamma)
