"""Batch extraction: many files -> clip embeddings, parallel and cached.

Decoding, resampling and the front end run in worker processes; a model that batches
(VGGish) runs in the main process on batches of patches gathered across files, while one that
cannot (YAMNet's TFLite) runs inside each worker. Each clip's result is stored in an
:class:`~zsaudio.embeddings.cache.EmbeddingCache` as soon as it is computed, so an interrupted
run resumes where it stopped and a rerun reads everything back from disk; a run that ends
normally also packs the clips it used into one file, which the next run reads at once.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Iterable
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
    """``zsaudio.assets.cache_dir() / "embeddings"``."""
    return assets.cache_dir() / "embeddings"


def _reason(err: BaseException) -> str:
    if isinstance(err, AudioDecodeError):
        return str(err)
    return f"{type(err).__name__}: {err}"


PACK_MIN_CLIPS = 32
"""From this many files on, ``embed_files`` reads the cache's packs (each is read whole)."""


# --- worker side --------------------------------------------------------------------------
_STATE: dict = {}


def _init_worker(name: str, options: dict, cache_root: str, config: dict) -> None:
    encoder = get_audio_encoder(name, device="cpu", **options)
    _STATE["encoder"] = encoder
    _STATE["cache"] = EmbeddingCache(cache_root, name, config, staging=False)


def _process(task: tuple[int, str]) -> tuple[int, str, str | None, object]:
    """-> (index, status, sha, payload); status in {"clip", "patches", "failed"}."""
    index, path = task
    encoder: AudioEncoder = _STATE["encoder"]
    cache: EmbeddingCache = _STATE["cache"]
    try:
        sha = sha256_of(path)
    except FileNotFoundError:
        return index, "failed", None, "no such file"
    except OSError as err:
        return index, "failed", None, f"cannot read file: {err.strerror or err}"
    try:
        clip = cache.get(sha)  # maybe written by another run or another path with same bytes
        if clip is not None:
            return index, "clip", sha, clip
        patches = encoder.prepare(load_audio(path))
        if not encoder.inference_in_workers:
            return index, "patches", sha, patches
        emb, scores = encoder.embed_patches(patches)
        clip = ClipEmbedding.from_patches(emb, scores)
        cache.put(sha, clip)
        return index, "clip", sha, clip
    except Exception as err:  # one bad file must never stop the batch
        return index, "failed", sha, _reason(err)


# --- main side ----------------------------------------------------------------------------
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
    encoder : {"yamnet", "vggish"} or AudioEncoder, default "yamnet"
    encoder_options : dict, optional
        Passed to :func:`~zsaudio.embeddings.get_audio_encoder` (e.g. ``{"weights": "random"}``).
    cache_dir : path, optional
        Default ``zsaudio.assets.cache_dir() / "embeddings"``.
    workers : int, optional
        Decoding processes; default ``os.cpu_count()``; 0 runs everything in this process.
    progress : bool, default True
        tqdm progress bar on stderr.
    device : {"cpu", "cuda"}, default "cpu"
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
    >>> res = embed_files(sorted(find_asset("esc50/audio").iterdir()))  # doctest: +SKIP
    >>> res.embeddings.shape, res.ok.all()  # doctest: +SKIP
    ((2000, 1024), True)
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    paths = [str(p) for p in paths]
    options = dict(encoder_options or {})
    if isinstance(encoder, AudioEncoder):
        enc = encoder
        options = {k: v for k, v in enc.options.items() if k != "device"}
    else:
        enc = get_audio_encoder(encoder, device=device, **options)
    config = enc.config()
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache = EmbeddingCache(cache_root, enc.name, config)
    if len(paths) >= PACK_MIN_CLIPS:
        cache.load_packs()

    n = len(paths)
    clips: list[ClipEmbedding | None] = [None] * n
    failures: dict[str, str] = {}
    todo: list[tuple[int, str]] = []
    bar = tqdm(total=n, desc=f"embed ({enc.name})", file=sys.stderr, disable=not progress,
               unit="file")  # fmt: skip
    for i, path in enumerate(paths):
        sha = cache.known_hash(path)
        clip = cache.get(sha) if sha else None
        if clip is not None:
            clips[i] = clip
            bar.update()
        else:
            todo.append((i, path))

    pending: list[tuple[int, str, np.ndarray]] = []  # VGGish-style: patches awaiting the model
    batch_size = getattr(enc, "batch_size", 64)

    def run_model(force: bool) -> None:
        while pending and (force or sum(len(p) for _, _, p in pending) >= batch_size):
            take, total = [], 0
            while pending and total < batch_size:
                take.append(pending.pop(0))
                total += len(take[-1][2])
            emb, scores = enc.embed_patches(np.concatenate([p for _, _, p in take]))
            start = 0
            for i, sha, p in take:
                stop = start + len(p)
                clip = ClipEmbedding.from_patches(
                    emb[start:stop], None if scores is None else scores[start:stop]
                )
                cache.put(sha, clip)
                clips[i] = clip
                start = stop
                bar.update()

    def handle(result: tuple[int, str, str | None, object]) -> None:
        i, status, sha, payload = result
        if sha is not None:
            try:
                cache.remember(file_key(paths[i]), sha)
            except OSError:
                pass
        if status == "failed":
            failures[paths[i]] = str(payload)
            bar.update()
        elif status == "clip":
            clips[i] = payload  # type: ignore[assignment]
            cache.stage(sha, payload)  # type: ignore[arg-type]
            bar.update()
        else:
            pending.append((i, sha, payload))  # type: ignore[arg-type]
            run_model(force=False)

    n_workers = (os.cpu_count() or 1) if workers is None else int(workers)
    n_workers = min(n_workers, len(todo))
    try:
        if n_workers <= 1:  # 0 or 1 worker, or a single file: no process start-up cost
            _STATE["encoder"], _STATE["cache"] = enc, cache
            for task in todo:
                handle(_process(task))
        elif todo:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            with ctx.Pool(n_workers, _init_worker, (enc.name, options, str(cache_root), config)) as pool:
                for result in pool.imap_unordered(_process, todo, chunksize=1):
                    handle(result)
        run_model(force=True)
        cache.consolidate()  # next time: one pack read instead of one file per clip
    finally:
        cache.flush_index()
        bar.close()

    dim = enc.dim
    embeddings = np.full((n, dim), np.nan, np.float32)
    k = len(enc.class_names) if enc.class_names else None
    scores = np.full((n, k), np.nan, np.float32) if k else None
    ok = np.zeros(n, bool)
    silence = silence_class_index(enc.class_names)
    for i, clip in enumerate(clips):
        if clip is None:
            failures.setdefault(paths[i], "not processed")
            continue
        embeddings[i] = clip.embedding if pooling == "mean" else silence_gated_pool(
            clip.patch_embeddings, clip.patch_scores, silence, silence_gamma)
        if scores is not None and clip.scores is not None:
            scores[i] = clip.scores
        ok[i] = True
    if pooling != "mean":  # the mean's config stays as it was (cache keys, saved models)
        config = {**config, "pooling": {"name": pooling, "silence_gamma": float(silence_gamma),
                                        "silence_index": silence, "power": "signed sqrt + L2"}}
    return ExtractionResult(paths, embeddings, scores, ok, failures, config, enc.class_names)
