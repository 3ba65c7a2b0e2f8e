"""Ray Data jobs: embed or classify many files with a pool of actors, results as Parquet shards.

Pipeline (Ray Data's batch-inference pattern): ``ray.data.from_items`` of the files still to do
-> ``map_batches`` with an actor class (:class:`EmbedWorker` / :class:`ClassifyWorker`) whose
``__init__`` loads the audio encoder (and the classifier) once per actor -> each batch decodes
with :func:`zsaudio.audio.io.load_audio` and embeds with the encoder's ``embed_waveform`` (the
per-file code of :func:`zsaudio.embeddings.extract.embed_files`), and writes its own shard.

Output folder ``OUT`` (a local path or a URI such as ``s3://bucket/run1``)::

    OUT/_job.json                      what the job computes (encoder config; model, labels)
    OUT/results/part-<hash>.parquet    one per batch: embed -> path, embedding, scores (YAMNet's
                                       521); classify -> path, labels, scores, probabilities
                                       (top_k, best first); pandas.read_parquet("OUT/results")
    OUT/_failures/part-<hash>.parquet  path, error of the batch's failed files
    OUT/failures.parquet               path, error of every input of the last run not in results

Exactly once: ``<hash>`` is a hash of the batch's input paths and shards are written
atomically (temporary file + rename locally; one object upload on object stores). A worker
killed mid-batch is restarted by Ray and the batch retried (``max_task_retries``); the retry
rewrites the same shard, so no row is lost or written twice. A batch that fails more often
than that is not fatal: its files are listed in ``failures.parquet`` ("not processed") and the
next run retries them. A rerun lists the paths already in shards and skips them; files that
failed are retried. :func:`read_results` reads the shards back with one row per path.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import socket
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from tqdm import tqdm

from zsaudio.audio.io import AudioDecodeError
from zsaudio.cluster.inputs import list_inputs, load_audio_from, resolve
from zsaudio.embeddings import ClipEmbedding, get_audio_encoder
from zsaudio.fileio import atomic_write_bytes

JOB_FILE = "_job.json"
RESULT_SHARDS = "results"
FAILURE_SHARDS = "_failures"
FAILURES_FILE = "failures.parquet"
SHARD_PREFIX = "part-"
DEFAULT_BATCH_SIZE = 16
"""Files per batch (and per shard): small enough that a retry redoes little, large enough that
shards stay few (2 million files -> 125 000 shards of ~70 KB of YAMNet results each)."""
DEFAULT_TASK_RETRIES = 3
"""Times a batch is retried after its worker process died (Ray restarts the actor)."""
NOT_PROCESSED = "not processed: its batch failed on the cluster ({retries} retries; a worker died " \
                "or was lost each time); a rerun retries it"


class ClusterJobError(RuntimeError):
    """A job that cannot run: Ray missing, no cluster at the address, an output folder of another
    job. The message says what to do."""


def require_ray():
    """Import and return ``ray`` (with ``ray.data``), or explain how to install it.

    Raises
    ------
    ClusterJobError
        Ray is not installed: ``pip install "zsaudio[cluster]"``.

    Example
    -------
    >>> ray = require_ray()  # doctest: +SKIP
    """
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as err:
        raise ClusterJobError('running on a Ray cluster needs Ray: install zsaudio[cluster] '
                              '(pip install "zsaudio[cluster]")') from err
    return ray


def connect(address: str | None = None):
    """Connect this process to a Ray cluster (once; later calls reuse the connection).

    Parameters
    ----------
    address : str, optional
        ``"auto"`` (the cluster started on this machine with ``ray start``), ``HOST:PORT`` of the
        head's GCS, or ``ray://HOST:10001`` (Ray Client). Default: ``$RAY_ADDRESS``, else ``"auto"``.

    Returns
    -------
    module
        ``ray``.

    Raises
    ------
    ClusterJobError
        Ray missing or no cluster reachable at the address.

    Example
    -------
    >>> connect("auto")  # doctest: +SKIP
    """
    ray = require_ray()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or "auto"
    if address == "local":  # ray.init would start a Ray instance listening on this host's address
        raise ClusterJobError("--ray needs a running cluster: start one with `ray start --head` "
                              "(or Ray's cluster launcher / KubeRay) and give its address, or 'auto'")
    _check_reachable(address)
    try:
        ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as err:
        raise ClusterJobError(f"cannot connect to a Ray cluster at {address!r}: {err} (start one with "
                              "`ray start --head`, or give its address with --ray / RAY_ADDRESS)") from err
    return ray


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """One TCP connect to ``HOST:PORT`` / ``ray://HOST:PORT``: ``ray.init`` would otherwise retry
    an address where nothing listens for minutes. ("auto" is checked by Ray itself.)"""
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if address in ("auto", "local") or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as err:
        raise ClusterJobError(f"no Ray cluster answers at {address} ({err}); check the head's "
                              "address and port (ray start --head prints them)") from err


def _canonical(obj) -> object:
    """JSON types only (tuples -> lists, numpy scalars -> str), for comparing configs."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _reason(err: BaseException) -> str:
    """The failure text of a file, as ``embed_files`` words it."""
    return str(err) if isinstance(err, AudioDecodeError) else f"{type(err).__name__}: {err}"


def _batch_name(paths: Sequence[str]) -> str:
    return SHARD_PREFIX + hashlib.sha256("\n".join(paths).encode()).hexdigest()[:24] + ".parquet"


class _Output:
    """The job's output folder on a pyarrow file system (local path or URI)."""

    def __init__(self, out: str) -> None:
        self.uri = str(out)
        self.fs, self.root = resolve(self.uri)
        self.local = isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def write(self, rel: str, data: bytes) -> None:
        if self.local:
            atomic_write_bytes(Path(self.path(rel)), data)
        else:  # an object store makes an object visible only once its upload completes
            self.fs.create_dir(self.path(*rel.split("/")[:-1]), recursive=True)
            with self.fs.open_output_stream(self.path(rel)) as f:
                f.write(data)

    def read(self, rel: str) -> bytes | None:
        try:
            with self.fs.open_input_stream(self.path(rel)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def shards(self, sub: str = RESULT_SHARDS) -> list[str]:
        """Paths (inside the fs) of the ``part-*.parquet`` files in OUT/sub, sorted."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.path(sub), recursive=False,
                                                        allow_not_found=True))
        return sorted(i.path for i in infos if i.type == pafs.FileType.File
                      and i.base_name.startswith(SHARD_PREFIX) and i.base_name.endswith(".parquet"))


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _float_lists(rows: list[np.ndarray], dtype) -> pa.Array:
    """Equal-length rows as a fixed-size list array (one Parquet column, no per-row offsets)."""
    arr = np.ascontiguousarray(np.stack(rows), dtype=dtype)
    return pa.FixedSizeListArray.from_arrays(pa.array(arr.ravel()), arr.shape[1])


class _ClipWorker:
    """Per-actor state shared by both jobs: the audio encoder (built once) and the output."""

    def __init__(self, encoder: str, options: dict, expected_config: dict, out: str) -> None:
        self.encoder = get_audio_encoder(encoder, device="cpu", **options)
        self.out = _Output(out)
        config = _canonical(self.encoder.config())
        # A node with other weights or front end would silently give other numbers: its files
        # are failures that say so (raising here would only make Ray recreate the actor).
        self.mismatch = None
        if config != expected_config:
            diff = sorted(k for k in set(config) | set(expected_config)
                          if config.get(k) != expected_config.get(k))
            self.mismatch = (f"the {encoder} encoder on node {socket.gethostname()} differs from the "
                             f"driver's ({', '.join(diff)}): install the same zsaudio and assets there")

    def embed(self, paths: list[str]) -> tuple[list[str], list[ClipEmbedding], dict[str, str]]:
        """(paths embedded, their clips, failed path -> reason); one bad file never stops a batch."""
        done, clips, failures = [], [], {}
        for path in paths:
            if self.mismatch:
                failures[path] = self.mismatch
                continue
            try:
                clip = self.encoder.embed_waveform(load_audio_from(path))
            except Exception as err:  # noqa: BLE001 -- recorded per file, as embed_files does
                failures[path] = _reason(err)
                continue
            done.append(path)
            clips.append(clip)
        return done, clips, failures

    def finish(self, paths: list[str], table: pa.Table | None, failures: dict[str, str]) -> dict:
        """Write the batch's shards; the summary rows the driver counts."""
        name = _batch_name(paths)
        if failures:
            failed = pa.table({"path": pa.array(list(failures), pa.string()),
                               "error": pa.array(list(failures.values()), pa.string())})
            self.out.write(f"{FAILURE_SHARDS}/{name}", _parquet_bytes(failed))
        if table is not None and table.num_rows:
            self.out.write(f"{RESULT_SHARDS}/{name}", _parquet_bytes(table))
        return {"path": np.array(paths, dtype=object),
                "ok": np.array([p not in failures for p in paths]),
                "shard": np.array([name] * len(paths), dtype=object),
                "worker_pid": np.full(len(paths), os.getpid())}


class EmbedWorker(_ClipWorker):
    """Ray Data actor: a batch ``{"path": [...]}`` -> one shard of path, embedding, scores.

    Parameters
    ----------
    encoder : str
        Audio encoder name (``get_audio_encoder``), built once in ``__init__``.
    options : dict
        Encoder options.
    expected_config : dict
        The driver's ``encoder.config()``; a node whose encoder differs fails its files.
    out : str
        Output folder (path or URI).
    """

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [str(p) for p in batch["path"]]
        done, clips, failures = self.embed(paths)
        table = None
        if done:
            columns = {"path": pa.array(done, pa.string()),
                       "embedding": _float_lists([c.embedding for c in clips], np.float32)}
            if clips[0].scores is not None:
                columns["scores"] = _float_lists([c.scores for c in clips], np.float32)
            table = pa.table(columns)
        return self.finish(paths, table, failures)


class ClassifyWorker(_ClipWorker):
    """Ray Data actor: a batch ``{"path": [...]}`` -> one shard of ranked labels per file.

    Loads the model (sent as bytes, so nodes need no copy of the file) once, and scores with
    :meth:`zsaudio.classifier.ZeroShotClassifier.score_features`, the code ``classify`` uses.
    """

    def __init__(self, model_bytes: bytes, model_suffix: str, labels: list[str], top_k: int,
                 expected_config: dict, out: str) -> None:
        from zsaudio.classifier import ZeroShotClassifier

        with tempfile.TemporaryDirectory() as tmp:
            model_file = Path(tmp) / f"model{model_suffix}"
            model_file.write_bytes(model_bytes)
            self.clf = ZeroShotClassifier.load(model_file)
        super().__init__(self.clf.audio_encoder, self.clf.audio_options or {}, expected_config, out)
        self.labels, self.top_k = list(labels), int(top_k)
        if self.mismatch is None:
            try:
                self.clf.check_environment()
            except ValueError as err:
                self.mismatch = f"on node {socket.gethostname()}: {err}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from zsaudio.model.base import stable_topk

        paths = [str(p) for p in batch["path"]]
        done, clips, failures = self.embed(paths)
        table = None
        if done:
            emb = np.stack([c.embedding for c in clips])
            cls = None if clips[0].scores is None else np.stack([c.scores for c in clips])
            S, P = self.clf.score_features(emb, cls, self.labels)
            order = stable_topk(S, min(self.top_k, len(self.labels)))
            rows = np.arange(len(done))[:, None]
            table = pa.table({
                "path": pa.array(done, pa.string()),
                "labels": pa.array([[self.labels[c] for c in r] for r in order], pa.list_(pa.string())),
                "scores": pa.array(list(S[rows, order]), pa.list_(pa.float64())),
                "probabilities": pa.array(list(P[rows, order]), pa.list_(pa.float64())),
            })
        return self.finish(paths, table, failures)


@dataclass
class JobSummary:
    """What a cluster job did.

    Attributes
    ----------
    out : str
        The output folder.
    n_inputs : int
        Distinct input files.
    n_skipped : int
        Already in the output folder's shards (a rerun), not recomputed.
    n_written : int
        Written by this run.
    failures : dict of str to str
        Failed path -> reason (also in ``OUT/failures.parquet``).
    seconds : float
        Wall time of the run (listing, scheduling and writing included).
    workers : int
        Actors in the pool (0 when nothing was left to do).
    """

    out: str
    n_inputs: int
    n_skipped: int
    n_written: int
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    workers: int = 0

    @property
    def n_ok(self) -> int:
        return self.n_skipped + self.n_written


def _check_job_spec(output: _Output, spec: dict) -> bool:
    """Refuse a folder of another job; True when the folder has no job file yet."""
    spec = _canonical(spec)
    raw = output.read(JOB_FILE)
    if raw is None:
        return True
    stored = json.loads(raw)
    if stored != spec:
        diff = sorted(k for k in set(stored) | set(spec) if stored.get(k) != spec.get(k))
        raise ClusterJobError(f"{output.uri} holds results of another job (differs in "
                              f"{', '.join(diff)}): use another output folder")
    return False


def _written_paths(output: _Output) -> set[str]:
    done: set[str] = set()
    for shard in output.shards():
        try:
            done.update(pq.read_table(shard, columns=["path"], filesystem=output.fs).column(0).to_pylist())
        except (pa.ArrowException, OSError) as err:  # not written by this module: redo its files
            print(f"warning: skipping unreadable shard {shard}: {err}", file=sys.stderr)
    return done


def _run(kind: str, sources, out: str, spec: dict, worker: type, worker_kwargs: dict,
         address: str | None, workers: int | None, batch_size: int, cpus_per_worker: float,
         max_task_retries: int, progress: bool) -> JobSummary:
    t0 = time.perf_counter()
    paths = list_inputs(sources)
    output = _Output(out if "://" in str(out) else os.path.abspath(out))
    output.fs.create_dir(output.root, recursive=True)
    new_folder = _check_job_spec(output, spec)
    done = _written_paths(output)
    todo = [p for p in paths if p not in done]
    summary = JobSummary(output.uri, len(paths), len(paths) - len(todo), 0)
    failures: dict[str, str] = {}
    ray = connect(address) if todo else None
    if new_folder:  # claimed only once a cluster answered
        output.write(JOB_FILE, json.dumps(_canonical(spec), indent=1).encode())
    if todo:
        import ray.data as rd

        n_workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_worker))
        n_workers = min(n_workers, math.ceil(len(todo) / batch_size))
        ctx = rd.DataContext.get_current()
        saved = ctx.max_errored_blocks, ctx.enable_progress_bars
        # A batch that keeps killing its worker is reported as failures, never fatal to the job.
        # One batch in flight per actor: a batch queued behind a poisoned one on the same actor
        # would die with it and spend its retries there (Ray Data's default queues two).
        ctx.max_errored_blocks, ctx.enable_progress_bars = -1, False
        seen: dict[str, tuple[bool, str]] = {}
        bar = tqdm(total=len(todo), desc=f"{kind} on ray ({n_workers} workers)", unit="file",
                   file=sys.stderr, disable=not progress)
        try:
            ds = rd.from_items([{"path": p} for p in todo],
                               override_num_blocks=math.ceil(len(todo) / batch_size))
            with warnings.catch_warnings():
                # max_task_retries has no named parameter in map_batches (Ray 2.60), only the
                # ray_remote_args that Ray announces it will rename.
                warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
                ds = ds.map_batches(worker, fn_constructor_kwargs=dict(worker_kwargs, out=output.uri),
                                    batch_size=batch_size, batch_format="numpy",
                                    compute=rd.ActorPoolStrategy(size=n_workers,
                                                                 max_tasks_in_flight_per_actor=1),
                                    num_cpus=cpus_per_worker, max_task_retries=max_task_retries)
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for path, ok, shard in zip(batch["path"], batch["ok"], batch["shard"], strict=True):
                    seen[str(path)] = (bool(ok), str(shard))
                bar.update(len(batch["path"]))
        finally:
            bar.close()
            ctx.max_errored_blocks, ctx.enable_progress_bars = saved
        failed_shards = sorted({shard for ok, shard in seen.values() if not ok})
        for shard in failed_shards:
            table = pq.read_table(output.path(FAILURE_SHARDS, shard), filesystem=output.fs)
            for path, error in zip(*(table.column(c).to_pylist() for c in ("path", "error")), strict=True):
                if path in seen and not seen[path][0]:
                    failures[path] = error
        for path in todo:
            if path not in seen:
                failures[path] = NOT_PROCESSED.format(retries=max_task_retries)
        summary.n_written = sum(ok for ok, _ in seen.values())
        summary.workers = n_workers
    ordered = [p for p in todo if p in failures]
    output.write(FAILURES_FILE, _parquet_bytes(pa.table({
        "path": pa.array(ordered, pa.string()),
        "error": pa.array([failures[p] for p in ordered], pa.string())})))
    summary.failures = {p: failures[p] for p in ordered}
    summary.seconds = time.perf_counter() - t0
    return summary


def embed_on_ray(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    out: str | os.PathLike,
    encoder: str = "yamnet",
    encoder_options: dict | None = None,
    *,
    address: str | None = None,
    workers: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cpus_per_worker: float = 1.0,
    max_task_retries: int = DEFAULT_TASK_RETRIES,
    progress: bool = True,
) -> JobSummary:
    """Embed audio files on a Ray cluster; results as Parquet shards in ``out``.

    Each file gets exactly what :func:`zsaudio.embeddings.extract.embed_files` computes (the
    same ``load_audio`` and encoder code; for YAMNet bit-equal, tested), without its local
    cache: the output folder is the cache (a rerun skips files already written).

    Parameters
    ----------
    inputs : path, URI, or a sequence of them
        Folders, globs, manifests (.csv/.parquet with a ``path`` column) or files; see
        :func:`zsaudio.cluster.inputs.list_inputs`. Paths must be readable by every node
        (a shared file system) or URIs (``s3://``, ``gs://``).
    out : path or URI
        Output folder (module docstring for its layout). Must be writable by every node.
    encoder : {"yamnet", "vggish"}, default "yamnet"
    encoder_options : dict, optional
        As for ``get_audio_encoder``.
    address : str, optional
        Ray cluster (:func:`connect`); default ``$RAY_ADDRESS``, else ``"auto"``.
    workers : int, optional
        Actors (each loads the encoder once); default: cluster CPUs / ``cpus_per_worker``.
    batch_size : int, default 16
        Files per batch and per shard.
    cpus_per_worker : float, default 1.0
        CPUs Ray reserves per actor (YAMNet's TFLite runs on one thread).
    max_task_retries : int, default 3
        Retries of a batch whose worker died; after that its files are failures.
    progress : bool, default True
        Progress bar on stderr.

    Returns
    -------
    JobSummary

    Raises
    ------
    ClusterJobError
        Ray missing, no cluster, or ``out`` holds results of another job.
    zsaudio.cluster.inputs.InputError
        Inputs that cannot be listed.

    Example
    -------
    >>> s = embed_on_ray("/data/sounds", "/data/emb", address="auto")  # doctest: +SKIP
    >>> s.n_ok, len(s.failures)                                        # doctest: +SKIP
    (99997, 3)
    """
    options = dict(encoder_options or {})
    config = _canonical(get_audio_encoder(encoder, device="cpu", **options).config())
    spec = {"kind": "embed", "encoder": encoder, "options": options, "config": config}
    return _run("embed", inputs, str(out), spec, EmbedWorker,
                {"encoder": encoder, "options": options, "expected_config": config},
                address, workers, batch_size, cpus_per_worker, max_task_retries, progress)


def classify_on_ray(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    model: str | os.PathLike,
    labels: Sequence[str],
    out: str | os.PathLike,
    top_k: int = 3,
    *,
    address: str | None = None,
    workers: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cpus_per_worker: float = 1.0,
    max_task_retries: int = DEFAULT_TASK_RETRIES,
    progress: bool = True,
) -> JobSummary:
    """Rank candidate labels for audio files on a Ray cluster, with a trained model file.

    Per file, the same ranking as :meth:`zsaudio.classifier.ZeroShotClassifier.classify`, with
    scores and probabilities equal to float64 round-off (BLAS sums a batch of rows in an order
    that depends on its shape; tested to 1e-12); shards hold ``path``, ``labels`` (top_k, best
    first), ``scores`` and ``probabilities`` (lists in that order).

    Parameters
    ----------
    inputs : path, URI, or a sequence of them
        As for :func:`embed_on_ray`.
    model : path
        A model file from ``zsaudio train`` / ``ZeroShotClassifier.save``; read here and sent
        to the workers, so nodes need no copy.
    labels : sequence of str
        Candidate labels (checked here before anything runs).
    out : path or URI
    top_k : int, default 3
    address, workers, batch_size, cpus_per_worker, max_task_retries, progress
        As for :func:`embed_on_ray`.

    Returns
    -------
    JobSummary

    Raises
    ------
    FileNotFoundError, zsaudio.classifier.ModelMismatchError
        No model file, or not a classifier model.
    zsaudio.classifier.LabelError, zsaudio.labels.UnknownLabelError, ValueError
        Bad labels or ``top_k``.
    ClusterJobError
        As for :func:`embed_on_ray`.

    Example
    -------
    >>> s = classify_on_ray("/data/sounds", "model.npz", ["dog", "rain"], "/data/ranked")  # doctest: +SKIP
    """
    from zsaudio.classifier import ZeroShotClassifier

    model = Path(model)
    clf = ZeroShotClassifier.load(model)
    # An empty call checks labels, top_k and the encoders here before the cluster is involved,
    # and caches the label vectors on disk for workers of this machine.
    clf.classify([], list(labels), top_k=top_k)
    model_bytes = model.read_bytes()
    options = clf.audio_options or {}
    config = _canonical(get_audio_encoder(clf.audio_encoder, device="cpu", **options).config())
    spec = {"kind": "classify", "model_sha256": hashlib.sha256(model_bytes).hexdigest(),
            "labels": list(labels), "top_k": int(top_k), "config": config}
    return _run("classify", inputs, str(out), spec, ClassifyWorker,
                {"model_bytes": model_bytes, "model_suffix": model.suffix, "labels": list(labels),
                 "top_k": int(top_k), "expected_config": config},
                address, workers, batch_size, cpus_per_worker, max_task_retries, progress)


def read_results(out: str | os.PathLike, columns: Sequence[str] | None = None) -> pa.Table:
    """All result rows of an output folder, one per path, sorted by path.

    Parameters
    ----------
    out : path or URI
    columns : sequence of str, optional
        Columns to read (``path`` is always read).

    Returns
    -------
    pyarrow.Table
        Embed jobs: ``path``, ``embedding`` (fixed-size list of float32), ``scores``; classify
        jobs: ``path``, ``labels``, ``scores``, ``probabilities``. ``np.stack(t["embedding"]
        .to_numpy(zero_copy_only=False))`` gives an (n, d) array.

    Example
    -------
    >>> t = read_results("/data/emb")                                       # doctest: +SKIP
    >>> t.num_rows, t.column("embedding").type.list_size                    # doctest: +SKIP
    (99997, 1024)
    """
    output = _Output(str(out))
    cols = None if columns is None else list(dict.fromkeys(["path", *columns]))
    tables = [pq.read_table(s, columns=cols, filesystem=output.fs) for s in output.shards()]
    if not tables:
        return pa.table({"path": pa.array([], pa.string())})
    table = pa.concat_tables(tables).sort_by("path")
    paths = table.column("path").to_pylist()
    first = [i for i, p in enumerate(paths) if i == 0 or p != paths[i - 1]]
    return table.take(first) if len(first) < len(paths) else table


def read_failures(out: str | os.PathLike) -> dict[str, str]:
    """Failed path -> reason, from ``OUT/failures.parquet`` of the last run ({} if none).

    Example
    -------
    >>> read_failures("/data/emb")  # doctest: +SKIP
    {'/data/sounds/empty.wav': 'empty file (0 bytes)'}
    """
    output = _Output(str(out))
    raw = output.read(FAILURES_FILE)
    if raw is None:
        return {}
    table = pq.read_table(pa.BufferReader(raw))
    return dict(zip(table.column("path").to_pylist(), table.column("error").to_pylist(), strict=True))
