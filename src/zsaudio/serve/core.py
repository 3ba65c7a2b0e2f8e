"""The server's work without the web framework: limits, labels, uploads, one shared classifier.

:class:`ClassifierService` is what every request goes through. It holds one trained
:class:`~zsaudio.classifier.ZeroShotClassifier` (loaded once, never reloaded), writes each
request's uploads into a fresh temporary folder under names it makes up (``upload-0.ogg``;
a client's file name is only ever shown, never used as a path), decodes them with
:func:`zsaudio.audio.io.load_audio` to refuse empty, undecodable, NaN-filled, too short or too
long audio with a clear message, classifies them with ``classifier.classify`` (so the ranking,
scores and probabilities are those of ``zsaudio classify --json``), and deletes the folder.
:meth:`ClassifierService.timeline` does the same for one long recording with
``classifier.classify_segments`` (:mod:`zsaudio.timeline`): per-window probabilities, shrunk
to at most :data:`TIMELINE_MAX_POINTS` points for drawing, and the events.

Concurrency: ``ZeroShotClassifier.classify`` is not safe to call from two threads at once
(``zsaudio.embeddings.extract.embed_files`` runs an in-process extraction through a module
global holding the audio encoder, and the label encoder is created lazily), so classification
(``classify_segments`` too) runs under one lock; reading uploads, decoding them for
validation and the spectrogram run outside it, in parallel. Each ``classify`` call embeds
through its own throw-away embedding cache inside the request's temporary folder, so uploads
leave nothing behind in the user's cache (``classify_segments`` streams the file and caches
nothing).
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from zsaudio import __version__
from zsaudio.audio import mel, params
from zsaudio.audio.io import AudioDecodeError, load_audio
from zsaudio.classifier import Classification, LabelError, ZeroShotClassifier, check_candidate_labels
from zsaudio.labels import UnknownLabelError
from zsaudio.timeline import (
    DEFAULT_HOP,
    DEFAULT_MIN_DURATION,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW,
    SegmentResult,
    count_windows,
)

# Suffixes kept on the made-up upload name (libsndfile mostly reads the format from the bytes;
# the suffix is a hint for the formats that need one). Anything else becomes ".audio".
AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au",
                  ".caf", ".w64")
# Spectrogram columns sent to the page at most (frames are averaged in groups beyond this).
SPECTROGRAM_MAX_COLUMNS = 400
# Timeline points sent at most (consecutive windows are averaged in equal groups beyond this).
TIMELINE_MAX_POINTS = 2000
# Windows one timeline request may analyse at most (bounds the work and the (n, C) arrays).
TIMELINE_MAX_WINDOWS = 50_000
TIMELINE_MIN_HOP = 0.01  # seconds: one 10 ms frame
COPY_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ServeLimits:
    """What one request may ask of the server.

    Attributes
    ----------
    max_upload_mb : float, default 20
        Largest request body, in MiB (all files and fields together); larger gets 413.
    max_labels : int, default 100
        Most candidate labels per request.
    max_files : int, default 16
        Most audio files per request.
    max_label_chars : int, default 200
        Longest label, in characters.
    max_audio_seconds : float, default 600
        Longest recording, in seconds after decoding (bounds the work per file).

    Example
    -------
    >>> ServeLimits(max_upload_mb=1).max_upload_bytes
    1048576
    """

    max_upload_mb: float = 20.0
    max_labels: int = 100
    max_files: int = 16
    max_label_chars: int = 200
    max_audio_seconds: float = 600.0

    def __post_init__(self) -> None:
        for name in ("max_upload_mb", "max_labels", "max_files", "max_label_chars", "max_audio_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


class ServeError(Exception):
    """A request the server refuses: an HTTP status (4xx) and a message for a person."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Upload:
    """One uploaded file: the client's name (shown only) and a readable binary stream."""

    name: str | None
    stream: BinaryIO


def parse_labels(values: Sequence[str] | str | None) -> list[str]:
    """Candidate labels from form text: one per line, or comma-separated when on one line.

    Each value is split on line breaks when it has any, else on commas; labels are stripped
    and blank ones dropped. Several values (a repeated form field) are concatenated.

    Example
    -------
    >>> parse_labels(["dog barking\\nrain, heavy\\n\\n"])
    ['dog barking', 'rain, heavy']
    >>> parse_labels("dog, rain ,siren")
    ['dog', 'rain', 'siren']
    """
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        parts = value.splitlines() if ("\n" in value or "\r" in value) else value.split(",")
        out += [p.strip() for p in parts if p.strip()]
    return out


def display_name(name: str | None, index: int) -> str:
    """The client's file name made safe to show: its last path part, printable, at most 200
    characters; ``upload-<index>`` when there is none. Never used as a path.

    Example
    -------
    >>> display_name("../../etc/passwd\\x00.wav", 0)
    'passwd.wav'
    """
    base = re.split(r"[/\\]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable())[:200].strip()
    return base or f"upload-{index}"


def classification_document(clf: ZeroShotClassifier, model: str | None, labels: list[str], top_k: int,
                            results: list[Classification]) -> dict[str, Any]:
    """The ``zsaudio classify --json`` document for the results of ``clf.classify``.

    Shape::

        {"model": str, "method": str, "audio_encoder": str, "label_encoder": str,
         "temperature": float, "labels": [str], "top_k": int, "n_files": int, "n_failed": int,
         "results": [{"path": str, "error": str | null,
                      "ranking": [{"label": str, "score": float, "probability": float}]}]}

    Parameters
    ----------
    clf : ZeroShotClassifier
        The trained classifier that produced ``results``.
    model : str
        What names the model (its file path for the CLI).
    labels : list of str
        The candidate labels of the call.
    top_k : int
        As asked; reported capped at the number of labels.
    results : list of Classification

    Example
    -------
    >>> doc = classification_document(clf, "model.npz", ["dog", "rain"], 3, results)  # doctest: +SKIP
    >>> doc["top_k"], doc["results"][0]["ranking"][0]["label"]  # doctest: +SKIP
    (2, 'dog')
    """
    return {"model": model, "method": clf.method, "audio_encoder": clf.audio_encoder,
            "label_encoder": clf.label_encoder, "temperature": float(clf.temperature_),
            "labels": list(labels), "top_k": min(int(top_k), len(labels)), "n_files": len(results),
            "n_failed": sum(not r.ok for r in results), "results": [r.to_dict() for r in results]}


def timeline_document(result: SegmentResult, max_points: int = TIMELINE_MAX_POINTS) -> dict[str, Any]:
    """The timeline answer for one recording, from ``result.to_dict()``, shrunk for drawing.

    The events, settings, duration, window, hop and error are ``to_dict()``'s. The per-window
    values are re-indexed for drawing: ``times`` (each window's centre, seconds),
    ``probabilities`` (rows = windows, one column per label in ``labels`` order, all labels),
    ``level_db`` (None for digital silence) and ``top_labels`` (the ``top_k`` most probable
    labels of each window). When there are more than ``max_points`` windows, consecutive
    windows are averaged in equal groups of ``group`` (the last group may be shorter; its
    level is the loudest window's) and ``downsampled`` is true; the events are always those of
    the full-resolution windows.

    Example
    -------
    >>> doc = timeline_document(clf.classify_segments("long.flac", ["dog", "rain"]))  # doctest: +SKIP
    >>> doc["n_windows"], len(doc["times"]), doc["events"][0]["label"]               # doctest: +SKIP
    (1197, 1197, 'dog')
    """
    doc = result.to_dict()
    n = len(doc["windows"])
    probabilities = np.asarray(result.probabilities, np.float64).reshape(n, len(result.labels))
    centres = np.array([(w["start"] + w["end"]) / 2 for w in doc["windows"]], np.float64)
    level = np.array([-np.inf if w["level_db"] is None else w["level_db"] for w in doc["windows"]],
                     np.float64)
    group = max(1, math.ceil(n / max(1, int(max_points))))
    if group > 1:
        cuts = np.arange(0, n, group)
        counts = np.diff(np.append(cuts, n))[:, None]
        probabilities = np.add.reduceat(probabilities, cuts, axis=0) / counts
        centres = np.add.reduceat(centres, cuts) / counts[:, 0]
        level = np.maximum.reduceat(level, cuts)
    k = min(result.top_k, len(result.labels))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return {"duration_seconds": doc["duration"], "window": doc["window"], "hop": doc["hop"],
            "labels": doc["labels"], "top_k": k, "settings": doc["settings"], "error": doc["error"],
            "events": doc["events"], "n_windows": n, "downsampled": group > 1, "group": group,
            "times": np.round(centres, 4).tolist(),
            "probabilities": np.round(probabilities, 4).tolist(),
            "level_db": [None if not np.isfinite(v) else round(float(v), 2) for v in level],
            "top_labels": [[result.labels[c] for c in row] for row in order.tolist()]}


def spectrogram_summary(wave: np.ndarray, max_columns: int = SPECTROGRAM_MAX_COLUMNS) -> dict[str, Any]:
    """The clip's log-mel spectrogram, shrunk in time for drawing.

    The front end of :func:`zsaudio.audio.mel.log_mel_spectrogram` (25 ms window, 10 ms hop,
    64 mel bands 125-7500 Hz, ``log(mel + 0.01)``); when there are more than ``max_columns``
    frames, consecutive frames are averaged in equal groups.

    Parameters
    ----------
    wave : np.ndarray, shape (n,)
        float32 samples at 16 kHz, at least one 25 ms window long.
    max_columns : int, default 400

    Returns
    -------
    dict
        ``values``: list of ``columns`` rows of ``n_mels`` floats (time-major, lowest band
        first, 2 decimals); ``frame_seconds``: the time one row spans; ``duration_seconds``,
        ``n_mels``, ``f_min_hz``, ``f_max_hz``, ``min``, ``max``.

    Example
    -------
    >>> s = spectrogram_summary(np.zeros(16000, np.float32))
    >>> s["n_mels"], len(s["values"]), round(s["frame_seconds"], 3)
    (64, 98, 0.01)
    """
    spec = mel.log_mel_spectrogram(np.asarray(wave, np.float32))  # (frames, 64)
    group = max(1, int(np.ceil(len(spec) / max_columns)))
    if group > 1:  # the few frames beyond a whole number of groups are dropped (< one column)
        spec = spec[: len(spec) // group * group].reshape(-1, group, spec.shape[1]).mean(axis=1)
    pooled = spec
    return {"duration_seconds": len(wave) / params.SAMPLE_RATE,
            "frame_seconds": params.STFT_HOP_LENGTH_SECONDS * group,
            "n_mels": int(spec.shape[1]), "f_min_hz": params.MEL_MIN_HZ, "f_max_hz": params.MEL_MAX_HZ,
            "min": round(float(pooled.min()), 2), "max": round(float(pooled.max()), 2),
            "values": np.round(pooled, 2).tolist()}


class ClassifierService:
    """One trained classifier shared by every request, with the server's limits.

    Parameters
    ----------
    classifier : ZeroShotClassifier
        Trained (``fit`` or ``load``). The service runs its extraction in-process
        (``workers = 0``: no process pool per request) with progress bars off.
    model_name : str
        How ``/api/v1/model`` and the results name the model (e.g. its file path).
    limits : ServeLimits, optional

    Example
    -------
    >>> service = ClassifierService(ZeroShotClassifier.load("model.npz"), "model.npz")  # doctest: +SKIP
    >>> with open("bark.wav", "rb") as f:                                             # doctest: +SKIP
    ...     doc = service.classify([Upload("bark.wav", f)], ["dog", "rain"], top_k=2)
    >>> doc["results"][0]["ranking"][0]["label"]                                       # doctest: +SKIP
    'dog'
    """

    def __init__(self, classifier: ZeroShotClassifier, model_name: str,
                 limits: ServeLimits | None = None) -> None:
        self.classifier = classifier
        self.model_name = model_name
        self.limits = limits or ServeLimits()
        classifier.workers = 0
        classifier.progress = False
        self._lock = threading.Lock()
        # Loads the label encoder and compares both encoders with the model file's now, so a
        # mismatch stops the server at start instead of failing every request.
        classifier.check_environment()

    # ---------------------------------------------------------------------------- facts
    def model_info(self) -> dict[str, Any]:
        """The model's method, encoders, temperature, training classes and the limits."""
        clf = self.classifier
        meta = getattr(clf, "metadata_", {}) or {}
        return {"model": self.model_name, "method": clf.method, "audio_encoder": clf.audio_encoder,
                "label_encoder": clf.label_encoder, "label_template": clf.label_template,
                "temperature": float(clf.temperature_), "params": clf.params_,
                "training_classes": list(clf.classes_),
                "zsaudio_version": __version__, "model_zsaudio_version": meta.get("zsaudio_version"),
                "timeline": True,
                "limits": {"max_upload_mb": self.limits.max_upload_mb,
                           "max_labels": self.limits.max_labels, "max_files": self.limits.max_files,
                           "max_label_chars": self.limits.max_label_chars,
                           "max_audio_seconds": self.limits.max_audio_seconds}}

    # ---------------------------------------------------------------------------- checks
    def check_labels(self, labels: list[str]) -> list[str]:
        """Refuse no labels, too many, too long, blank or duplicate ones (ServeError 400)."""
        if not labels:
            raise ServeError(400, "no labels given: type candidate labels, one per line or "
                                  "comma-separated (form field 'labels')")
        if len(labels) > self.limits.max_labels:
            raise ServeError(400, f"too many labels: {len(labels)} given, at most "
                                  f"{self.limits.max_labels} per request")
        long = [x for x in labels if len(x) > self.limits.max_label_chars]
        if long:
            raise ServeError(400, f"label too long ({len(long[0])} characters, at most "
                                  f"{self.limits.max_label_chars}): {long[0][:40]!r}...")
        try:
            return check_candidate_labels(labels)
        except LabelError as err:
            raise ServeError(400, str(err)) from err

    def _save(self, upload: Upload, index: int, folder: Path) -> tuple[str, Path]:
        """Copy one upload into ``folder`` under a made-up name; (display name, path)."""
        shown = display_name(upload.name, index)
        suffix = Path(shown).suffix.lower()
        path = folder / f"upload-{index}{suffix if suffix in AUDIO_SUFFIXES else '.audio'}"
        with open(path, "wb") as out:
            shutil.copyfileobj(upload.stream, out, COPY_CHUNK_BYTES)
        if path.stat().st_size == 0:
            raise ServeError(400, f"{shown!r} is an empty file (0 bytes): choose an audio file")
        return shown, path

    def _decode(self, shown: str, path: Path) -> np.ndarray:
        """The upload as 16 kHz mono float32, or ServeError: 415 not audio, 422 unusable audio."""
        try:
            wave = load_audio(path)
        except AudioDecodeError as err:
            reason = str(err)
            status = 415 if reason.startswith("not decodable") else 422
            raise ServeError(status, f"{shown!r} cannot be used: {reason}") from err
        seconds = len(wave) / params.SAMPLE_RATE
        if seconds > self.limits.max_audio_seconds:
            raise ServeError(413, f"{shown!r} is {seconds:.0f} s long; at most "
                                  f"{self.limits.max_audio_seconds:g} s per file")
        return wave

    def _saved_uploads(self, uploads: Sequence[Upload], folder: Path) -> list[tuple[str, Path]]:
        if not uploads:
            raise ServeError(400, "no audio file uploaded: send one or more files in the form "
                                  "field 'files'")
        if len(uploads) > self.limits.max_files:
            raise ServeError(400, f"too many files: {len(uploads)} uploaded, at most "
                                  f"{self.limits.max_files} per request")
        return [self._save(u, i, folder) for i, u in enumerate(uploads)]

    # ---------------------------------------------------------------------------- work
    def classify(self, uploads: Sequence[Upload], labels: list[str], top_k: int = 3) -> dict[str, Any]:
        """Rank ``labels`` for each upload; the ``zsaudio classify --json`` document.

        Every upload is validated (decoded) before any is classified: one bad file refuses
        the request with a :class:`ServeError` naming it. In the result each ``path`` is the
        client's file name as shown (see :func:`display_name`).

        Raises
        ------
        ServeError
            400 no file / empty file / too many files / bad labels / ``top_k < 1``; 413 too
            long; 415 not audio; 422 NaN samples, no samples or too short.
        """
        labels = self.check_labels(labels)
        if isinstance(top_k, bool) or int(top_k) < 1:
            raise ServeError(400, f"top_k must be an integer >= 1, got {top_k!r}")
        with tempfile.TemporaryDirectory(prefix="zsaudio-serve-") as tmp:
            folder = Path(tmp)
            saved = self._saved_uploads(uploads, folder)
            for shown, path in saved:
                self._decode(shown, path)
            clf = self.classifier
            with self._lock:
                previous, clf.cache_dir = clf.cache_dir, folder / "embedding-cache"
                try:
                    results = clf.classify([str(p) for _, p in saved], labels, top_k=int(top_k))
                except UnknownLabelError as err:
                    raise ServeError(400, f"{err} (use other words)") from err
                finally:
                    clf.cache_dir = previous
        for (shown, _), result in zip(saved, results, strict=True):
            result.path = shown
            if result.error:  # decoded above, so only an unexpected failure lands here
                raise ServeError(422, f"{shown!r} could not be classified: {result.error}")
        return classification_document(clf, self.model_name, labels, top_k, results)

    @staticmethod
    def check_timeline_options(window: float, hop: float, threshold: float, min_duration: float,
                               top_k: int) -> None:
        """Refuse window/hop/threshold/min_duration/top_k values classify_segments cannot use
        (ServeError 400), before any upload is read."""
        for name, value in (("window", window), ("hop", hop)):
            if not (math.isfinite(value) and value > 0):
                raise ServeError(400, f"{name} must be a positive number of seconds, got {value!r}")
        if hop < TIMELINE_MIN_HOP:
            raise ServeError(400, f"hop must be at least {TIMELINE_MIN_HOP:g} s, got {hop!r}")
        if hop > window:
            raise ServeError(400, f"hop ({hop:g} s) must not be longer than window ({window:g} s): "
                                  "audio between windows would be skipped")
        if not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
            raise ServeError(400, f"threshold must be a probability in [0, 1], got {threshold!r}")
        if not (math.isfinite(min_duration) and min_duration >= 0):
            raise ServeError(400, f"min_duration must be >= 0 seconds, got {min_duration!r}")
        if isinstance(top_k, bool) or int(top_k) < 1:
            raise ServeError(400, f"top_k must be an integer >= 1, got {top_k!r}")

    def timeline(self, upload: Upload, labels: list[str], window: float = DEFAULT_WINDOW,
                 hop: float = DEFAULT_HOP, threshold: float = DEFAULT_THRESHOLD,
                 min_duration: float = DEFAULT_MIN_DURATION, top_k: int = 3) -> dict[str, Any]:
        """Where in one recording each label sounds: ``classifier.classify_segments`` on the
        upload, as :func:`timeline_document` plus the model's facts and ``name`` (the client's
        file name as shown).

        The upload is saved, decoded and refused exactly as in :meth:`classify` (same limits);
        the classifier runs under the same lock.

        Raises
        ------
        ServeError
            400 no file / empty file / bad labels / bad window, hop, threshold, min_duration or
            top_k / more than :data:`TIMELINE_MAX_WINDOWS` windows; 413 too long; 415 not
            audio; 422 NaN samples, no samples or too short.
        """
        labels = self.check_labels(labels)
        self.check_timeline_options(window, hop, threshold, min_duration, top_k)
        with tempfile.TemporaryDirectory(prefix="zsaudio-serve-") as tmp:
            (shown, path), = self._saved_uploads([upload], Path(tmp))
            wave = self._decode(shown, path)
            windows = count_windows(len(wave) / params.SAMPLE_RATE, window, hop)
            del wave
            if windows > TIMELINE_MAX_WINDOWS:
                raise ServeError(400, f"hop {hop:g} s makes {windows} windows for {shown!r}; at most "
                                      f"{TIMELINE_MAX_WINDOWS} per request (use a longer hop)")
            clf = self.classifier
            with self._lock:
                try:
                    result = clf.classify_segments(path, labels, window=float(window), hop=float(hop),
                                                   threshold=float(threshold),
                                                   min_duration=float(min_duration), top_k=int(top_k))
                except UnknownLabelError as err:
                    raise ServeError(400, f"{err} (use other words)") from err
                except AudioDecodeError as err:  # decoded above, so only a surprise lands here
                    raise ServeError(422, f"{shown!r} cannot be used: {err}") from err
        return {"name": shown, "model": self.model_name, "method": clf.method,
                "audio_encoder": clf.audio_encoder, "label_encoder": clf.label_encoder,
                "temperature": float(clf.temperature_), **timeline_document(result)}

    def spectrogram(self, upload: Upload) -> dict[str, Any]:
        """The upload's log-mel spectrogram for drawing (:func:`spectrogram_summary`), with
        ``name``, the client's file name as shown. Same refusals as :meth:`classify`."""
        with tempfile.TemporaryDirectory(prefix="zsaudio-serve-") as tmp:
            (shown, path), = self._saved_uploads([upload], Path(tmp))
            wave = self._decode(shown, path)
        return {"name": shown, **spectrogram_summary(wave)}

