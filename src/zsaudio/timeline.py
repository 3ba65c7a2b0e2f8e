"""Where in a long recording each label sounds: windows, per-window probabilities, events.

A recording is decoded and embedded in blocks (:mod:`zsaudio.audio.stream`,
:mod:`zsaudio.embeddings.frames`), so memory stays bounded however long it is. The encoder's
per-patch outputs (YAMNet: one 0.975 s patch every 0.48 s) are pooled into analysis windows
(default 2 s every 0.5 s) by the clip rule: the mean of the embeddings (and of the class
scores) of the patches whose centre lies in the window. Each window is then ranked by the
classifier's own :meth:`~zsaudio.classifier.ZeroShotClassifier.score_features`, so its
probabilities are calibrated exactly as whole-clip ``classify``'s.

Events follow the usual sound-event-detection post-processing: each window speaks for the
``hop`` seconds around its centre; a label is active where its probability is at least
``threshold`` and the window is louder than ``min_level_db`` (digital silence gets no label:
a softmax over candidates always picks one); runs of active windows of one label, with gaps
shorter than ``max_gap`` filled, become (onset, offset, label, score) events; their edges are
moved in to the first and last 10 ms frame louder than ``min_level_db`` (so an event does not
start in the silence its first window half covers), and events shorter than ``min_duration``
are dropped. The event table is written in the DCASE / sed_eval
convention (``onset<TAB>offset<TAB>event_label``, seconds).

Everything here but :func:`classify_segments` is a pure function or small class on arrays.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zsaudio.audio import mel, params
from zsaudio.audio.stream import DEFAULT_BLOCK_SECONDS, StreamDecodeError, stream_audio, stream_info
from zsaudio.embeddings.frames import stream_patch_outputs
from zsaudio.labels.candidates import check_candidate_labels

DEFAULT_WINDOW = 2.0  # seconds
DEFAULT_HOP = 0.5  # seconds
DEFAULT_THRESHOLD = 0.5  # probability; with >= 2 labels at most one label is active per window
DEFAULT_MIN_DURATION = 1.0  # seconds
DEFAULT_MAX_GAP = 0.5  # seconds: one hop of inactive windows inside an event is filled
DEFAULT_MIN_LEVEL_DB = -60.0  # dBFS (RMS): quieter windows get no events
# Columns kept of the log-mel spectrogram for the picture (max-pooled over time to about this).
SPECTROGRAM_COLUMNS = 2400
# Windows scored per call of score_features (bounds the pooled features held at once).
SCORE_CHUNK = 512
FRAME_SECONDS = params.STFT_HOP_LENGTH_SECONDS  # level and spectrogram frames: 10 ms


@dataclass(frozen=True)
class Event:
    """One label sounding from ``onset`` to ``offset`` (seconds); ``score`` is its mean
    probability over the event's windows."""

    onset: float
    offset: float
    label: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"onset": self.onset, "offset": self.offset, "label": self.label, "score": self.score}


@dataclass
class SegmentResult:
    """Per-window rankings and events of one recording.

    Attributes
    ----------
    path : str
    labels : list of str, length C
    duration : float
        Seconds of audio decoded (up to the damage, for a damaged file).
    window, hop : float
        Seconds.
    starts, ends : np.ndarray, shape (n,)
        Each window's span, seconds (the last ends at ``duration``).
    scores, probabilities : np.ndarray, shape (n, C), float64
        The classifier's scores and calibrated probabilities per window.
    level_db : np.ndarray, shape (n,)
        RMS level of each window, dBFS (-inf for digital silence).
    events : list of Event
        In onset order.
    top_k : int
        Labels listed per window by :meth:`to_dict`.
    error : str or None
        Why decoding stopped early (with the time); the windows before it are kept.
    spectrogram : np.ndarray, shape (bands, columns), or None
        Log-mel spectrogram max-pooled over time, when asked for (for :mod:`zsaudio.timeline_plot`).
    spectrogram_seconds : float
        Seconds per spectrogram column.
    settings : dict
        Threshold, minimum duration, gap and level used for the events.
    """

    path: str
    labels: list[str]
    duration: float
    window: float
    hop: float
    starts: np.ndarray
    ends: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    level_db: np.ndarray
    events: list[Event]
    top_k: int = 3
    error: str | None = None
    spectrogram: np.ndarray | None = None
    spectrogram_seconds: float = FRAME_SECONDS
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"path", "duration", "window", "hop", "labels", "settings", "error",
        "events": [{"onset", "offset", "label", "score"}], "windows": [{"start", "end",
        "level_db", "ranking": [{"label", "score", "probability"}] (top_k)}]}``."""
        k = min(self.top_k, len(self.labels))
        order = np.argsort(-self.probabilities, axis=1, kind="stable")[:, :k]
        windows = [{"start": round(float(s), 4), "end": round(float(e), 4),
                    "level_db": None if not np.isfinite(lv) else round(float(lv), 2),
                    "ranking": [{"label": self.labels[c], "score": float(self.scores[i, c]),
                                 "probability": float(self.probabilities[i, c])} for c in order[i]]}
                   for i, (s, e, lv) in enumerate(zip(self.starts, self.ends, self.level_db, strict=True))]
        return {"path": self.path, "duration": self.duration, "window": self.window, "hop": self.hop,
                "labels": list(self.labels), "error": self.error,
                "settings": {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                             for k, v in self.settings.items()},
                "events": [e.to_dict() for e in self.events], "windows": windows}


# ---------------------------------------------------------------------------- windows
def count_windows(duration: float, window: float, hop: float) -> int:
    """Windows covering ``duration`` seconds: one if it is shorter than a window, else enough that
    the last reaches the end.

    >>> count_windows(10.0, 2.0, 0.5), count_windows(1.2, 2.0, 0.5), count_windows(10.1, 2.0, 0.5)
    (17, 1, 18)
    """
    if duration <= window:
        return 1
    return 1 + math.ceil((duration - window) / hop - 1e-9)


def pool_windows(centres: np.ndarray, values: np.ndarray, starts: np.ndarray, window: float) -> np.ndarray:
    """Mean of the rows of ``values`` whose centre lies in each window ``[start, start + window)``.

    A window that holds no centre (a window shorter than the patch hop) takes the row whose
    centre is nearest to its middle.

    Parameters
    ----------
    centres : np.ndarray, shape (p,), increasing
        Patch centres, seconds.
    values : np.ndarray, shape (p, F)
    starts : np.ndarray, shape (n,)
        Window starts, seconds.
    window : float
        Seconds.

    Returns
    -------
    np.ndarray, shape (n, F), float64

    Example
    -------
    >>> pool_windows(np.array([0.5, 1.0, 1.5]), np.array([[1.0], [2.0], [6.0]]), np.array([0.0, 1.0]), 1.0)
    array([[1.],
           [4.]])
    """
    values = np.asarray(values, np.float64)
    lo = np.searchsorted(centres, starts, side="left")
    hi = np.searchsorted(centres, np.asarray(starts) + window, side="left")
    csum = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    count = (hi - lo)[:, None]
    pooled = (csum[hi] - csum[lo]) / np.maximum(count, 1)
    empty = np.flatnonzero(count[:, 0] == 0)
    if len(empty) and len(centres):
        middle = np.asarray(starts)[empty] + window / 2
        nearest = np.abs(np.asarray(centres)[None, :] - middle[:, None]).argmin(axis=1)
        pooled[empty] = values[nearest]
    return pooled


class WindowPooler:
    """:func:`pool_windows` for patches that arrive in order: windows are emitted once no later
    patch can fall in them, and only the patches of unfinished windows are held.

    Example
    -------
    >>> wp = WindowPooler(window=1.0, hop=1.0)
    >>> wp.push(np.array([0.5, 1.0]), np.array([[1.0], [2.0]]))[0]   # window [0, 1) is done
    array([0.])
    >>> starts, pooled = wp.finish(duration=2.0)
    >>> starts, pooled[:, 0]
    (array([1.]), array([2.]))
    """

    def __init__(self, window: float, hop: float):
        self.window, self.hop = float(window), float(hop)
        self._centres = np.zeros(0)
        self._values: np.ndarray | None = None
        self._next = 0  # index of the next window to emit

    def _emit(self, upto: int) -> tuple[np.ndarray, np.ndarray]:
        starts = np.arange(self._next, upto) * self.hop
        pooled = pool_windows(self._centres, self._values, starts, self.window)
        self._next = upto
        # Keep the patches later windows can use (one before their start for the nearest rule).
        keep = max(0, int(np.searchsorted(self._centres, self._next * self.hop)) - 1)
        self._centres, self._values = self._centres[keep:], self._values[keep:]
        return starts, pooled

    def push(self, centres: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add patches (centres increasing, after every earlier one); ``(starts, pooled)`` of the
        windows now complete, shapes (m,) and (m, F)."""
        values = np.asarray(values, np.float64)
        self._values = values if self._values is None else np.vstack([self._values, values])
        self._centres = np.concatenate([self._centres, centres])
        if not len(self._centres):
            return np.zeros(0), np.zeros((0, values.shape[1]))
        # window j is complete when its end is <= the latest centre (later ones are larger)
        upto = int(np.floor((self._centres[-1] - self.window) / self.hop + 1e-9)) + 1
        return self._emit(max(upto, self._next))

    def finish(self, duration: float) -> tuple[np.ndarray, np.ndarray]:
        """The remaining windows of a recording of ``duration`` seconds."""
        if self._values is None:
            raise ValueError("no patches were pushed")
        return self._emit(max(count_windows(duration, self.window, self.hop), self._next))


class LevelMeter:
    """Mean-square energy of consecutive 10 ms frames of a 16 kHz waveform given in blocks
    (4 bytes per frame: 1.4 MB per hour)."""

    def __init__(self):
        self._frame = int(round(FRAME_SECONDS * params.SAMPLE_RATE))
        self._rest = np.zeros(0, np.float32)
        self._energies: list[np.ndarray] = []

    def push(self, block: np.ndarray) -> None:
        x = np.concatenate([self._rest, block])
        n = len(x) // self._frame * self._frame
        x64 = x[:n].astype(np.float64).reshape(-1, self._frame)
        self._energies.append(np.mean(x64 * x64, axis=1).astype(np.float32))
        self._rest = x[n:]

    def frame_db(self) -> np.ndarray:
        """RMS level (dBFS) of every 10 ms frame so far, shape (frames,); -inf for digital silence."""
        energy = np.concatenate(self._energies + [np.zeros(0, np.float32)])
        with np.errstate(divide="ignore"):
            return 10 * np.log10(np.maximum(energy.astype(np.float64), 0.0))

    def window_db(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """RMS level (dBFS) of each span ``[start, end)``; -inf for digital silence."""
        energy = np.concatenate(self._energies + [np.zeros(0, np.float32)]).astype(np.float64)
        csum = np.concatenate([[0.0], np.cumsum(energy)])
        lo = np.clip(np.floor(np.asarray(starts) / FRAME_SECONDS).astype(int), 0, len(energy))
        hi = np.clip(np.ceil(np.asarray(ends) / FRAME_SECONDS).astype(int), 0, len(energy))
        mean = (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)
        with np.errstate(divide="ignore"):
            return 10 * np.log10(np.maximum(mean, 0.0))


def max_pool_columns(values: np.ndarray, factor: int) -> np.ndarray:
    """Max over consecutive groups of ``factor`` rows (the last group may be shorter).

    >>> max_pool_columns(np.array([[1.0], [3.0], [2.0], [0.0], [5.0]]), 2)[:, 0]
    array([3., 2., 5.])
    """
    values = np.asarray(values)
    if factor <= 1 or len(values) == 0:
        return values
    n = len(values) // factor * factor
    out = values[:n].reshape(n // factor, factor, *values.shape[1:]).max(axis=1)
    if n < len(values):
        out = np.concatenate([out, values[n:].max(axis=0, keepdims=True)])
    return out


class SpectrogramPooler:
    """YAMNet's log-mel spectrogram (64 bands, 10 ms frames) of blocks, max-pooled over time in
    groups of ``factor`` frames as they arrive (each block's frames are computed on the block
    plus the carried samples the next frame needs, so joins are seamless)."""

    def __init__(self, factor: int):
        self.factor = max(1, int(factor))
        self._win = int(round(params.STFT_WINDOW_LENGTH_SECONDS * params.SAMPLE_RATE))
        self._hop = int(round(FRAME_SECONDS * params.SAMPLE_RATE))
        self._rest = np.zeros(0, np.float32)
        self._pending = np.zeros((0, params.NUM_MEL_BINS), np.float32)
        self._columns: list[np.ndarray] = []

    def push(self, block: np.ndarray) -> None:
        x = np.concatenate([self._rest, block])
        if len(x) < self._win:
            self._rest = x
            return
        frames = mel.log_mel_spectrogram(x, log_offset=params.YAMNET_LOG_OFFSET)
        self._rest = x[len(frames) * self._hop:]
        pending = np.concatenate([self._pending, frames.astype(np.float32)])
        n = len(pending) // self.factor * self.factor
        if n:
            self._columns.append(max_pool_columns(pending[:n], self.factor))
        self._pending = pending[n:]

    def finish(self) -> np.ndarray:
        """``(bands, columns)`` float32."""
        cols = self._columns + ([max_pool_columns(self._pending, self.factor)] if len(self._pending) else [])
        if not cols:
            return np.zeros((params.NUM_MEL_BINS, 0), np.float32)
        return np.concatenate(cols).T


# ---------------------------------------------------------------------------- events
def merge_events(
    starts: np.ndarray,
    ends: np.ndarray,
    probabilities: np.ndarray,
    labels: Sequence[str],
    hop: float,
    threshold: float = DEFAULT_THRESHOLD,
    min_duration: float = DEFAULT_MIN_DURATION,
    max_gap: float = DEFAULT_MAX_GAP,
    active: np.ndarray | None = None,
) -> list[Event]:
    """Events from per-window probabilities.

    Window i speaks for ``[centre_i - hop/2, centre_i + hop/2)`` (the first from 0, the last to
    its end). Label c is active in window i when ``probabilities[i, c] >= threshold`` (and
    ``active[i]``); runs of active windows, joined across gaps shorter than ``max_gap``
    seconds, become events; events shorter than ``min_duration`` are dropped.

    Parameters
    ----------
    starts, ends : np.ndarray, shape (n,)
        Window spans, seconds.
    probabilities : np.ndarray, shape (n, C)
    labels : sequence of str, length C
    hop : float
        Seconds between window starts.
    threshold : float, default 0.5
    min_duration : float, default 1.0
        Seconds.
    max_gap : float, default 0.5
        Seconds; gaps strictly shorter are filled.
    active : np.ndarray of bool, shape (n,), optional
        Windows allowed to hold events (e.g. louder than a level).

    Returns
    -------
    list of Event
        Sorted by onset, then label order.

    Example
    -------
    >>> s = np.arange(6) * 1.0
    >>> p = np.array([[0.9, 0.1]] * 3 + [[0.2, 0.8]] * 3)
    >>> [(e.onset, e.offset, e.label) for e in merge_events(s, s + 1, p, ["a", "b"], hop=1.0)]
    [(0.0, 3.0, 'a'), (3.0, 6.0, 'b')]
    """
    starts, ends = np.asarray(starts, np.float64), np.asarray(ends, np.float64)
    probabilities = np.asarray(probabilities, np.float64)
    n = len(starts)
    if n == 0:
        return []
    centres = (starts + ends) / 2
    seg_on = np.maximum(centres - hop / 2, 0.0)
    seg_off = centres + hop / 2
    seg_on[0] = 0.0
    seg_off[-1] = max(seg_off[-1], ends[-1]) if n > 1 else ends[-1]
    seg_off = np.minimum(seg_off, ends[-1])
    allowed = np.ones(n, bool) if active is None else np.asarray(active, bool)
    events = []
    for c, label in enumerate(labels):
        on = (probabilities[:, c] >= threshold) & allowed
        runs = runs_of_true(on)
        merged: list[list[int]] = []
        for a, b in runs:  # window index ranges [a, b)
            if merged and seg_on[a] - seg_off[merged[-1][1] - 1] < max_gap - 1e-9:
                merged[-1][1] = b
            else:
                merged.append([a, b])
        for a, b in merged:
            onset, offset = float(seg_on[a]), float(seg_off[b - 1])
            if offset - onset + 1e-9 >= min_duration:
                score = float(probabilities[a:b, c][on[a:b]].mean())
                events.append(Event(round(onset, 4), round(offset, 4), label, score))
    order = {lab: i for i, lab in enumerate(labels)}
    return sorted(events, key=lambda e: (e.onset, order[e.label]))


def runs_of_true(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop)]`` index ranges of the runs of True in a 1-D bool array.

    >>> runs_of_true(np.array([True, True, False, True]))
    [(0, 2), (3, 4)]
    """
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def trim_events_to_level(events: Sequence[Event], frame_db: np.ndarray, min_level_db: float,
                         min_duration: float = 0.0) -> list[Event]:
    """Move each event's edges inwards to its first and last 10 ms frame at or above
    ``min_level_db``: a window that is half silence makes an event start in the silence, and
    the level says to the frame where the sound starts. Events left shorter than
    ``min_duration`` (or with no such frame) are dropped.

    Parameters
    ----------
    events : sequence of Event
    frame_db : np.ndarray, shape (frames,)
        Level of each 10 ms frame, dBFS (``LevelMeter.frame_db``).
    min_level_db : float
    min_duration : float, default 0.0

    Example
    -------
    >>> db = np.full(300, -np.inf); db[120:250] = -20.0           # sound from 1.2 s to 2.5 s
    >>> trim_events_to_level([Event(0.5, 3.0, "dog", 0.9)], db, -60.0)
    [Event(onset=1.2, offset=2.5, label='dog', score=0.9)]
    """
    out = []
    for e in events:
        lo = int(np.floor(e.onset / FRAME_SECONDS + 1e-6))
        hi = min(int(np.ceil(e.offset / FRAME_SECONDS - 1e-6)), len(frame_db))
        loud = np.flatnonzero(frame_db[lo:hi] >= min_level_db)
        if not len(loud):
            continue
        onset = round(max(e.onset, float(lo + loud[0]) * FRAME_SECONDS), 4)
        offset = round(min(e.offset, float(lo + loud[-1] + 1) * FRAME_SECONDS), 4)
        if offset - onset + 1e-9 >= min_duration:
            out.append(Event(onset, offset, e.label, e.score))
    return out


def write_event_table(events: Sequence[Event], path: str | os.PathLike,
                      files: Sequence[str] | None = None) -> Path:
    """Write events as DCASE / sed_eval read them: one ``onset offset event_label`` row per
    event, seconds, tab-separated (comma-separated when the file ends in ``.csv``), no header;
    with ``files`` (one name per event) a first ``filename`` column. Written atomically.

    Example
    -------
    >>> write_event_table([Event(1.5, 4.0, "dog", 0.9)], "events.tsv")  # doctest: +SKIP
    """
    path = Path(path)
    delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    names = [None] * len(events) if files is None else list(files)
    if len(names) != len(events):
        raise ValueError(f"{len(events)} events but {len(names)} file names")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
        for name, e in zip(names, events, strict=True):
            row = [f"{e.onset:.3f}", f"{e.offset:.3f}", e.label]
            writer.writerow(row if name is None else [name, *row])
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------- driver
def classify_segments(
    classifier,
    path: str | os.PathLike,
    labels: Sequence[str],
    window: float = DEFAULT_WINDOW,
    hop: float = DEFAULT_HOP,
    threshold: float = DEFAULT_THRESHOLD,
    min_duration: float = DEFAULT_MIN_DURATION,
    max_gap: float = DEFAULT_MAX_GAP,
    min_level_db: float = DEFAULT_MIN_LEVEL_DB,
    top_k: int = 3,
    spectrogram: bool = False,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
    threads: int = 1,
    progress: Callable[[float, float], None] | None = None,
) -> SegmentResult:
    """Rank the labels for every window of a recording and merge windows into events.

    The file is decoded, embedded, pooled and scored in blocks: memory is bounded by one block
    (``block_seconds``), one window of patches and the (n, C) probabilities.

    Parameters
    ----------
    classifier : zsaudio.classifier.ZeroShotClassifier
        A trained (or loaded) classifier; its audio encoder embeds the file and its
        ``score_features`` ranks the windows.
    path : path
        Any format soundfile reads.
    labels : sequence of str
        Candidate labels (free text).
    window, hop : float, default 2.0, 0.5
        Analysis window length and step, seconds. A file shorter than ``window`` gets one
        window.
    threshold, min_duration, max_gap, min_level_db : float
        Event rules (see the module docstring and :func:`merge_events`); defaults 0.5, 1.0 s,
        0.5 s, -60 dBFS.
    top_k : int, default 3
        Labels per window in ``to_dict``.
    spectrogram : bool, default False
        Also keep the log-mel spectrogram, max-pooled to about 2400 columns, for the picture.
    block_seconds : float, default 10.0
        Seconds decoded per block.
    threads : int, default 1
        Copies of a one-patch-per-call encoder (YAMNet) run in threads, each on part of every
        block (``embeddings.frames.PatchStream``). 1 by default: on the busy shared 2-core
        machine 2 threads were slower (``benchmarks/bench_segments.py``, ``streamed_threads2``);
        try more on idle cores.
    progress : callable, optional
        Called as ``progress(seconds_done, seconds_total)`` after each block.

    Returns
    -------
    SegmentResult
        ``error`` is set when decoding stopped early (damaged file): the windows before the
        damage are kept.

    Raises
    ------
    zsaudio.audio.io.AudioDecodeError
        The file cannot be read at all.
    ValueError
        Bad window/hop/threshold/top_k values, or the classifier's label errors.

    Example
    -------
    >>> res = classify_segments(clf, "street.flac", ["dog barking", "siren"])  # doctest: +SKIP
    >>> res.probabilities.shape                                              # doctest: +SKIP
    (1197, 2)
    """
    for name, value in (("window", window), ("hop", hop), ("block_seconds", block_seconds)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1], got {threshold!r}")
    if min_duration < 0 or max_gap < 0:
        raise ValueError("min_duration and max_gap must be >= 0 seconds")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
    labels = check_candidate_labels(labels)
    classifier.check_environment()
    info = stream_info(path)
    encoder = classifier.audio_model()  # the classifier's own instance: hashed once
    # Labels no word of which is known fail now, not after the first minutes of audio.
    n_cls = len(encoder.class_ids or [])
    classifier.score_features(np.zeros((1, encoder.dim), np.float32),
                              np.zeros((1, n_cls), np.float32) if n_cls else None, labels)
    pooler = WindowPooler(window, hop)
    meter = LevelMeter()
    spec = None
    if spectrogram:
        frames = max(1, int(info.duration / FRAME_SECONDS))
        spec = SpectrogramPooler(math.ceil(frames / SPECTROGRAM_COLUMNS))
    state: dict[str, Any] = {"samples": 0, "error": None}

    def blocks() -> Iterator[np.ndarray]:
        try:
            for block in stream_audio(path, block_seconds=block_seconds):
                meter.push(block)
                if spec is not None:
                    spec.push(block)
                state["samples"] += len(block)
                yield block
                if progress is not None:
                    progress(state["samples"] / params.SAMPLE_RATE, info.duration)
        except StreamDecodeError as err:  # keep what came before; the tail patch is still cut
            state["error"] = str(err)

    dim = None
    score_parts, prob_parts, start_parts = [], [], []
    pending_starts, pending_values = [], []

    def score(force: bool) -> None:
        if not pending_starts or (not force and sum(map(len, pending_starts)) < SCORE_CHUNK):
            return
        values = np.vstack(pending_values)
        emb, cls = values[:, :dim], (values[:, dim:] if values.shape[1] > dim else None)
        S, P = classifier.score_features(emb, cls, labels)
        score_parts.append(S)
        prob_parts.append(P)
        start_parts.append(np.concatenate(pending_starts))
        pending_starts.clear()
        pending_values.clear()

    for out in stream_patch_outputs(encoder, blocks(), threads=threads):
        dim = out.embeddings.shape[1]
        values = out.embeddings if out.scores is None else np.hstack([out.embeddings, out.scores])
        starts, pooled = pooler.push(out.centres, values)
        if len(starts):
            pending_starts.append(starts)
            pending_values.append(pooled)
            score(force=False)
    duration = state["samples"] / params.SAMPLE_RATE
    if dim is None:
        raise StreamDecodeError(state["error"] or "no audio decoded", 0.0)
    starts, pooled = pooler.finish(duration)
    if len(starts):
        pending_starts.append(starts)
        pending_values.append(pooled)
    score(force=True)
    starts = np.concatenate(start_parts)
    keep = starts < max(duration, 1e-9)  # windows starting after a damaged file's end
    starts = starts[keep]
    S, P = np.vstack(score_parts)[keep], np.vstack(prob_parts)[keep]
    ends = np.minimum(starts + window, duration)
    level = meter.window_db(starts, ends)
    events = merge_events(starts, ends, P, labels, hop, threshold, min_duration, max_gap,
                          active=level >= min_level_db)
    events = trim_events_to_level(events, meter.frame_db(), min_level_db, min_duration)
    settings = {"threshold": threshold, "min_duration": min_duration, "max_gap": max_gap,
                "min_level_db": min_level_db, "pooling": "mean of patch embeddings and class "
                "scores with centres in the window", "encoder": classifier.audio_encoder}
    return SegmentResult(str(path), labels, duration, float(window), float(hop), starts, ends, S, P,
                         level, events, int(top_k), state["error"],
                         spec.finish() if spec is not None else None,
                         FRAME_SECONDS * (spec.factor if spec is not None else 1), settings)
