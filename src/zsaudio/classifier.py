"""Zero-shot classification for users: train once, then rank any free-text labels for any clip.

:class:`ZeroShotClassifier` ties the pipeline together: an audio encoder (cached clip
embeddings and class scores), a label encoder (class embeddings φ(y) of free-text labels), and
one zero-shot method of :mod:`zsaudio.model`. ``fit`` learns from labelled clips, ``save``
writes one self-describing model file, ``load`` reads it back (refusing a file of another
method or encoders that differ from the ones it was trained with), and ``classify`` ranks the
candidate labels for each clip.

Calibrated probabilities
------------------------
Compatibility scores of different methods live on different scales (ConSE: cosines in
[-1, 1]; the bilinear model: unbounded). ``classify`` reports, beside the raw score, the
probability ``softmax(scores / T)`` over the candidate labels of the call. The temperature T
is fitted at training time, by minimising the negative log-likelihood of the true class on
*validation classes*: the training classes are split into (at most) 4 groups; for each group
the method (with its chosen hyper-parameters) is fitted on the other groups' clips and scores
the group's clips zero-shot against the group's classes only; T minimises the NLL pooled over
all groups (a 1-D bounded search over log T). So T is calibrated for labels the model never
heard, which is how ``classify`` is used. With fewer than 4 training classes no validation
split exists and T = :data:`FALLBACK_TEMPERATURE` (recorded as not fitted). Probabilities
depend on the candidate set: the same clip gets other probabilities against other labels.

Example
-------
>>> from zsaudio.classifier import ZeroShotClassifier
>>> from zsaudio.labelled_audio import from_esc50
>>> data = from_esc50(exclude_classes=["dog", "rain"])              # doctest: +SKIP
>>> clf = ZeroShotClassifier(label_encoder="minilm").fit(data.paths, data.labels)  # doctest: +SKIP
>>> clf.save("model.npz")                                          # doctest: +SKIP
>>> clf = ZeroShotClassifier.load("model.npz")                     # doctest: +SKIP
>>> res = clf.classify(["bark.wav"], ["dog barking", "rain", "siren"])  # doctest: +SKIP
>>> res[0].ranking[0].label, round(res[0].ranking[0].probability, 2)  # doctest: +SKIP
('dog barking', 0.93)
"""

from __future__ import annotations

import inspect
import json
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

import zsaudio
from zsaudio.embeddings import get_audio_encoder
from zsaudio.embeddings.extract import embed_files
from zsaudio.experiments.esc50 import AUDIO_EXTENSIONS
from zsaudio.experiments.report import json_default
from zsaudio.experiments.reproduce import default_methods
from zsaudio.experiments.runner import (
    MIN_SEARCH_CLASSES,
    Features,
    MethodSpec,
    class_indices,
    fit_for_split,
)
from zsaudio.labels import get_label_encoder, label_text
from zsaudio.labels.audioset import encoder_source_embeddings, encoder_source_text_rows
from zsaudio.labels.cache import CachedLabelEncoder
from zsaudio.model import METHODS
from zsaudio.model.base import softmax, stable_topk
from zsaudio.model.io import load_model, save_model

# The method users get unless they ask for another: the best zero-shot method of the committed
# ESC-50 report (results/esc50_yamnet/report.md, Setting 3: unseen classes, no audio of them),
# with YAMNet + MiniLM. See the README's results section.
DEFAULT_METHOD = "softmap"
DEFAULT_AUDIO_ENCODER = "yamnet"
DEFAULT_LABEL_ENCODER = "minilm"
# Candidate labels of sentence encoders are embedded as a prompt ensemble by default (the
# source classes' texts never get a template: LabelEncoder.source_encoder).
DEFAULT_LABEL_TEMPLATE = "ensemble"
# The training-free classifier (default_classifier, `zsaudio classify` without --model): the
# soft map with its a-priori defaults, and a softmax temperature fixed a priori in the soft
# map's score units (weighted means of the encoder's class probabilities): a score lead of
# 0.05 is odds of e : 1. Not fitted on any audio.
TRAINING_FREE_METHOD = "softmap"
TRAINING_FREE_TEMPERATURE = 0.05
# How AudioSet source classes become text for methods that use the encoder's own label space.
DEFAULT_SOURCE_TEXT = "name"
# Temperature when too few training classes exist to fit one on validation classes.
FALLBACK_TEMPERATURE = 1.0
# Bounds of the temperature search (scores of every method here are O(0.01) to O(100)).
TEMPERATURE_BOUNDS = (1e-4, 1e4)
# At most this many validation groups of training classes for fitting the temperature.
TEMPERATURE_GROUPS = 4
MODEL_FORMAT = "zsaudio-classifier/1"
# Hyper-parameter search holds out 25 % of the training classes, at least 2: below this many
# training classes the method's default hyper-parameters are used.


class ModelMismatchError(ValueError):
    """A model used with an audio encoder, label encoder or method it was not trained with."""


class LabelError(ValueError):
    """Candidate labels that cannot be used (empty list, blank or duplicate labels)."""


@dataclass(frozen=True)
class Prediction:
    """One candidate label for one clip.

    Attributes
    ----------
    label : str
        The candidate label as given.
    score : float
        The method's compatibility score (higher = better; scale depends on the method).
    probability : float
        ``softmax(scores / T)`` over the call's candidates, in [0, 1].
    """

    label: str
    score: float
    probability: float


@dataclass
class Classification:
    """The result for one input file.

    Attributes
    ----------
    path : str
        The file as given (or found in a given folder).
    ranking : list of Prediction
        The ``top_k`` best labels, best first; empty when ``error`` is set.
    error : str or None
        Why the file could not be classified (missing, unreadable audio, ...).
    """

    path: str
    ranking: list[Prediction] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def label(self) -> str | None:
        """The best label, or None for a failed file."""
        return self.ranking[0].label if self.ranking else None

    def to_dict(self) -> dict[str, Any]:
        """``{"path", "ranking": [{"label", "score", "probability"}], "error"}``."""
        return {"path": self.path, "ranking": [asdict(p) for p in self.ranking], "error": self.error}


def fit_temperature(scores: Sequence[np.ndarray], truth: Sequence[np.ndarray]) -> tuple[float, float]:
    """The temperature minimising the mean NLL of the true candidates.

    Parameters
    ----------
    scores : sequence of np.ndarray, each shape (n_i, C_i)
        Compatibility scores of validation clips against each group's candidates (groups
        may have different numbers of candidates).
    truth : sequence of np.ndarray, each shape (n_i,)
        Index of each clip's true candidate.

    Returns
    -------
    temperature : float
        In :data:`TEMPERATURE_BOUNDS`.
    nll : float
        Mean NLL (nats per clip) at that temperature.

    Example
    -------
    >>> s = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    >>> t, nll = fit_temperature([s], [np.array([0, 0, 0, 1])])  # 3 of 4 right
    >>> round(1 / t, 2)  # softmax(s / T) gives the true class 3/4: 1/T = log 3
    1.1
    """
    pairs = [(np.asarray(s, np.float64), np.asarray(t, int)) for s, t in zip(scores, truth, strict=True)
             if len(t)]
    if not pairs:
        raise ValueError("no validation clips to fit a temperature on")
    kept_scores, kept_truth = [s for s, _ in pairs], [t for _, t in pairs]

    def nll(log_t: float) -> float:
        return fit_nll(kept_scores, kept_truth, float(np.exp(log_t)))

    lo, hi = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    res = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x)), float(res.fun)


def _jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays and tuples turned into JSON types."""
    return json.loads(json.dumps(obj, default=json_default))


def _config_diff(stored: dict, current: dict) -> list[str]:
    keys = sorted(set(stored) | set(current))
    return [f"{k}: model {stored.get(k)!r} vs now {current.get(k)!r}" for k in keys
            if stored.get(k) != current.get(k)]


def expand_inputs(inputs: Sequence[str | Path]) -> list[tuple[str, str | None]]:
    """Files to classify: each input file as given, each folder's audio files (recursively).

    A folder contributes its files with an audio extension (wav, flac, ogg, aiff, mp3), sorted;
    hidden files are skipped. A missing input or a folder without audio becomes an entry with
    an error, so the other inputs are still classified.

    Parameters
    ----------
    inputs : sequence of str or Path

    Returns
    -------
    list of (path, error)
        ``error`` is None for a file to classify, else the reason it cannot be.

    Example
    -------
    >>> expand_inputs(["no/such.wav"])
    [('no/such.wav', 'file not found')]
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    out: list[tuple[str, str | None]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not files:
                out.append((str(item), "folder holds no audio file (" + ", ".join(AUDIO_EXTENSIONS) + ")"))
            out += [(str(f), None) for f in files]
        elif p.is_file():
            out.append((str(item), None))
        else:
            out.append((str(item), "file not found"))
    return out


def check_candidate_labels(labels: Sequence[str]) -> list[str]:
    """Validate the candidate labels of a ``classify`` call.

    Parameters
    ----------
    labels : sequence of str
        At least one label; labels must not be blank, and no two may be the same once case,
        ``_`` vs space and extra whitespace are ignored (``"Dog"`` and ``"dog"`` are duplicates).

    Returns
    -------
    list of str
        The labels as given.

    Raises
    ------
    LabelError
        Naming the problem (all blank or duplicate labels at once).

    Example
    -------
    >>> check_candidate_labels(["dog", "Dog "])
    Traceback (most recent call last):
    ...
    zsaudio.classifier.LabelError: duplicate labels: 'dog' = 'Dog '
    """
    if isinstance(labels, (str, bytes)):
        raise LabelError(f"labels must be a list of strings, not one string: {labels!r}")
    labels = list(labels)
    if not labels:
        raise LabelError("no candidate labels given: pass at least one label")
    bad = [x for x in labels if not isinstance(x, str)]
    if bad:
        raise LabelError(f"labels must be strings; got {bad[:5]!r}")
    blank = [x for x in labels if not x.strip()]
    if blank:
        raise LabelError(f"{len(blank)} blank label(s): every label needs some text")
    seen: dict[str, str] = {}
    dups = []
    for x in labels:
        key = label_text(x).casefold()
        if key in seen:
            dups.append(f"{seen[key]!r} = {x!r}")
        else:
            seen[key] = x
    if dups:
        raise LabelError("duplicate labels: " + "; ".join(dups))
    return labels


class ZeroShotClassifier:
    """Train a zero-shot audio classifier on labelled clips; rank free-text labels for any clip.

    Parameters
    ----------
    method : str, default :data:`DEFAULT_METHOD`
        A name of ``zsaudio.model.METHODS`` (e.g. ``"conse"``, ``"bilinear"``, ``"eszsl"``).
    audio_encoder : str, default ``"yamnet"``
        Audio encoder name (``zsaudio.embeddings.get_audio_encoder``).
    label_encoder : str, default ``"minilm"``
        Label encoder name (``zsaudio.labels.get_label_encoder``): ``"minilm"``, ``"glove"``,
        ``"word2vec"``, ``"googlenews-subset"``.
    label_template : str, optional
        Sentence encoders only: the text embedded for a label, e.g. ``"the sound of {label}"``.
    method_params : dict, optional
        Fixed hyper-parameters of the method (override the defaults and are not searched).
    search : bool, default True
        Choose the remaining hyper-parameters on validation classes held out of the training
        classes, over the grid of :func:`zsaudio.experiments.reproduce.default_methods`
        (needs at least :data:`MIN_SEARCH_CLASSES` training classes; else the defaults).
    source_text : str, default ``"name"``
        How the audio encoder's own (AudioSet) classes become label text for methods that use
        them (ConSE, hybrids): a mode of :func:`zsaudio.labels.audioset.source_label_texts`.
    audio_options : dict, optional
        Audio-encoder options (e.g. ``{"patch_hop_seconds": 0.48}``).
    temperature : float, optional
        Fixed softmax temperature; default None: fitted on validation classes (module doc).
    seed : int, default 0
        Seeds the validation-class splits and stochastic training.
    cache_dir : path, optional
        Embedding cache folder (default: the user cache). Not saved in the model file.
    workers : int, optional
        Audio decoding / embedding worker processes (default: the CPU count).
    device : str, default "cpu"
    progress : bool, default False
        Show progress bars while embedding.

    Attributes
    ----------
    estimator_ : the fitted ``zsaudio.model`` estimator.
    params_ : dict
        The hyper-parameters used (fixed and chosen).
    classes_ : list of str
        Training labels.
    temperature_ : float
    metadata_ : dict
        Everything written into the model file besides the estimator's arrays.

    Example
    -------
    >>> clf = ZeroShotClassifier(method="conse", label_encoder="glove")  # doctest: +SKIP
    >>> clf.fit(paths, labels).save("conse-glove.npz")                   # doctest: +SKIP
    >>> [c.label for c in clf.classify(["x.wav"], ["dog", "rain"])]      # doctest: +SKIP
    ['dog']
    """

    def __init__(
        self,
        method: str = DEFAULT_METHOD,
        audio_encoder: str = DEFAULT_AUDIO_ENCODER,
        label_encoder: str = DEFAULT_LABEL_ENCODER,
        label_template: str | None = None,
        method_params: dict | None = None,
        search: bool = True,
        source_text: str = DEFAULT_SOURCE_TEXT,
        audio_options: dict | None = None,
        temperature: float | None = None,
        seed: int = 0,
        cache_dir: str | Path | None = None,
        workers: int | None = None,
        device: str = "cpu",
        progress: bool = False,
    ) -> None:
        self.method = method
        self.audio_encoder = audio_encoder
        self.label_encoder = label_encoder
        self.label_template = label_template
        self.method_params = method_params
        self.search = search
        self.source_text = source_text
        self.audio_options = audio_options
        self.temperature = temperature
        self.seed = seed
        self.cache_dir = cache_dir
        self.workers = workers
        self.device = device
        self.progress = progress
        self._label_enc = None
        self._checked_env = False

    # ------------------------------------------------------------------ encoders
    @property
    def input_kind(self) -> str:
        return getattr(METHODS[self.method], "input_kind", "embedding")

    def _get_label_encoder(self):
        if self._label_enc is None:
            options = {"template": self.label_template} if self.label_template else {}
            # Cached on disk: classifying with labels seen before never loads a sentence model.
            self._label_enc = CachedLabelEncoder(get_label_encoder(self.label_encoder, **options))
        return self._label_enc

    def _get_audio_encoder(self):
        return get_audio_encoder(self.audio_encoder, device=self.device, **(self.audio_options or {}))

    def _embed(self, paths: Sequence[str | Path], pooling: str = "mean"):
        return embed_files(list(paths), encoder=self.audio_encoder, encoder_options=self.audio_options,
                           cache_dir=self.cache_dir, workers=self.workers, progress=self.progress,
                           device=self.device, pooling=pooling)

    def _features(self, paths: Sequence[str], extraction, ok: np.ndarray,
                  class_emb: np.ndarray) -> Features:
        """Features of the clips ``ok`` of an extraction, plus the silence-gated embeddings and
        the source text rows where the method takes them."""
        scores = None if extraction.scores is None else np.asarray(extraction.scores)[ok]
        gated = None
        if self.input_kind == "gated+scores":  # pooled from the cached patches: no model run
            gated = np.asarray(self._embed(paths, pooling="silence-gated").embeddings)[ok]
        return Features(np.asarray(extraction.embeddings)[ok], scores, class_emb,
                        gated_embeddings=gated)

    def _source_embeddings(self, audio_enc) -> np.ndarray:
        if not audio_enc.class_ids:
            raise ValueError(f"method {self.method!r} uses the audio encoder's own classes, but "
                             f"{self.audio_encoder!r} has no classifier head; choose a method that "
                             "works on embeddings (e.g. 'bilinear')")
        emb, _ = encoder_source_embeddings(self._get_label_encoder(), audio_enc.class_ids,
                                           self.source_text)
        return emb

    # ------------------------------------------------------------------ training
    def _spec(self, n_scores: int | None, n_classes: int | None = None) -> MethodSpec:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {sorted(METHODS)}")
        # The report's main spec of each method (ablation specs share its method name).
        defaults = {s.method: s for s in default_methods() if s.label == s.method}
        params = dict(defaults[self.method].params) if self.method in defaults else {}
        grid = dict(defaults[self.method].grid) if (self.search and self.method in defaults) else {}
        if n_classes is not None and n_classes < MIN_SEARCH_CLASSES:
            grid = {}  # too few classes to hold 25 % (>= 2) out for validation: defaults
        params.update(self.method_params or {})
        for name in params:
            grid.pop(name, None)  # fixed by the user: not searched
        accepted = inspect.signature(METHODS[self.method].__init__).parameters
        if n_scores is not None and "n_scores" in accepted and "n_scores" not in params:
            params["n_scores"] = n_scores  # hybrids split X = [embedding, scores] by K
        return MethodSpec(self.method, self.method, params, grid)

    def fit(self, paths: Sequence[str | Path], labels: Sequence[str]) -> ZeroShotClassifier:
        """Train on labelled clips.

        Parameters
        ----------
        paths : sequence of path, length n
            Audio files (any format soundfile reads; decoded to 16 kHz mono).
        labels : sequence of str, length n
            The class label of each clip, as text (``"dog barking"``); at least 2 classes.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Mismatched lengths, fewer than 2 classes (after dropping unreadable files), an
            unknown method; :class:`zsaudio.labels.UnknownLabelError` for a training label
            with no known word.

        Notes
        -----
        Unreadable files are skipped with a warning (listed in ``metadata_``). Hyper-parameters
        are chosen on validation classes carved out of the training classes, as in
        ``zsaudio reproduce``; then the temperature is fitted (module docstring).
        """
        paths = [str(p) for p in paths]
        labels = list(labels)
        if len(paths) != len(labels):
            raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
        if len(set(labels)) < 2:
            raise ValueError(f"need clips of at least 2 classes to train, got {sorted(set(labels))}")
        # Class names follow the candidate-label rule: "Dog" and "dog" would be two classes
        # with one embedding, so they are refused rather than trained apart.
        check_candidate_labels(list(dict.fromkeys(labels)))
        self._label_enc = None
        spec = self._spec(None)  # validates the method before the (slow) embedding
        audio_enc = self._get_audio_encoder()
        extraction = self._embed(paths)
        ok = np.asarray(extraction.ok, bool)
        failures = {str(k): str(v) for k, v in extraction.failures.items()}
        if failures:
            warnings.warn(f"{len(failures)} of {len(paths)} training file(s) could not be embedded "
                          f"and are skipped, e.g. {next(iter(failures.items()))}", stacklevel=2)
        kept = [lab for lab, good in zip(labels, ok, strict=True) if good]
        classes = list(dict.fromkeys(kept))
        if len(classes) < 2:
            raise ValueError(f"need clips of at least 2 classes to train; readable clips have {classes}")
        y = np.array([classes.index(lab) for lab in kept]) if kept else np.zeros(0, int)
        # UnknownLabelError (a ValueError) names every training label with no known word.
        class_emb = self._get_label_encoder().encode([label_text(c) for c in classes])
        features = self._features(paths, extraction, ok, class_emb)
        scores = features.scores
        spec = self._spec(None if scores is None else scores.shape[1], len(classes))
        if spec.input_kind != "embedding":
            features.source_embeddings = self._source_embeddings(audio_enc)
            if getattr(METHODS[self.method], "source_rows_input", False):
                features.source_rows = encoder_source_text_rows(self._get_label_encoder(),
                                                                audio_enc.class_ids)
        all_classes = np.arange(len(classes))
        estimator, params = fit_for_split(spec, features, np.arange(len(y)), all_classes, y, self.seed)
        if self.temperature is not None:
            temperature, t_record = float(self.temperature), {"fitted": False, "reason": "given"}
        else:
            temperature, t_record = self._fit_temperature(spec, params, features, y, len(classes))

        self.estimator_ = estimator
        self.params_ = _jsonable(params)
        self.classes_ = classes
        self.temperature_ = temperature
        counts = {c: int(np.sum(y == i)) for i, c in enumerate(classes)}
        self.metadata_ = _jsonable({
            "format": MODEL_FORMAT,
            "zsaudio_version": zsaudio.__version__,
            "method": self.method,
            "input_kind": spec.input_kind,
            "params": params,
            "searched": spec.grid,
            "audio_encoder": {"name": self.audio_encoder, "options": self.audio_options or {},
                              "config": audio_enc.config()},
            "label_encoder": {"name": self.label_encoder, "template": self.label_template,
                              "config": self._get_label_encoder().config(),
                              "label_rule": "labels are embedded as label_text(label) "
                                            "('_' -> space, whitespace collapsed) by the label "
                                            "encoder's own rule (config.rule / text_rule)"},
            "source_text": self.source_text if spec.input_kind != "embedding" else None,
            **({"source_text_rule": "zsaudio.labels.audioset.source_text_rows (no template)"}
               if getattr(METHODS[self.method], "source_rows_input", False) else {}),
            "training": {"classes": classes, "clips_per_class": counts, "n_clips": int(len(y)),
                         "failures": failures, "seed": self.seed},
            "temperature": temperature,
            "temperature_fit": t_record,
        })
        self._checked_env = True
        return self

    def _fit_temperature(self, spec: MethodSpec, params: dict, features: Features, y: np.ndarray,
                         n_classes: int) -> tuple[float, dict]:
        """Fit T on validation-class groups (see the module docstring); (T, record)."""
        if n_classes < 4:
            return FALLBACK_TEMPERATURE, {"fitted": False, "reason": f"only {n_classes} training classes"}
        rng = np.random.default_rng(self.seed)
        groups = np.array_split(rng.permutation(n_classes), min(TEMPERATURE_GROUPS, n_classes // 2))
        fixed = MethodSpec(spec.label, spec.method, dict(params), {})
        X = features.inputs(spec.input_kind)
        all_scores, all_truth, skipped = [], [], []
        for group in groups:
            val = np.sort(group)
            train = np.setdiff1d(np.arange(n_classes), val)
            try:
                est, _ = fit_for_split(fixed, features, np.flatnonzero(np.isin(y, train)), train, y,
                                       self.seed)
            except ValueError as err:  # e.g. a hybrid needing more training classes
                skipped.append(str(err))
                continue
            val_idx = np.flatnonzero(np.isin(y, val))
            all_scores.append(est.decision_function(X[val_idx], features.class_embeddings[val]))
            all_truth.append(class_indices(y[val_idx], np.asarray(val)))
        if not all_scores:
            return FALLBACK_TEMPERATURE, {"fitted": False, "reason": "; ".join(skipped)}
        t, nll = fit_temperature(all_scores, all_truth)
        n_val = int(sum(len(t_) for t_ in all_truth))
        return t, {"fitted": True, "nll": nll, "nll_at_1": fit_nll(all_scores, all_truth, 1.0),
                   "groups": len(all_scores), "validation_clips": n_val, "skipped_groups": skipped,
                   "rule": "argmin_T mean NLL of softmax(scores/T) on validation-class groups, "
                           "each scored zero-shot by a model fitted on the other training classes"}

    # ------------------------------------------------------------------ persistence
    def _check_fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise RuntimeError("ZeroShotClassifier is not trained: call fit(...) or load(path) first")

    def save(self, path: str | Path) -> Path:
        """Write the model file: estimator arrays plus :attr:`metadata_` (self-describing).

        Returns
        -------
        Path
            The file written.
        """
        self._check_fitted()
        save_model(path, self.estimator_, self.metadata_)
        return Path(path)

    @classmethod
    def load(
        cls,
        path: str | Path,
        method: str | None = None,
        audio_encoder: str | None = None,
        label_encoder: str | None = None,
        label_template: str | None = None,
        **runtime: Any,
    ) -> ZeroShotClassifier:
        """Read a model file written by :meth:`save`.

        Parameters
        ----------
        path : path
        method, audio_encoder, label_encoder, label_template : str, optional
            What the caller expects; a model trained otherwise is refused with
            :class:`ModelMismatchError` (None: accept what the file says).
        **runtime
            ``cache_dir``, ``workers``, ``device``, ``progress`` (see the class).

        Raises
        ------
        FileNotFoundError
            No such file.
        ModelMismatchError
            The file's method or encoders differ from the expected ones, or the file is not a
            classifier model.

        Example
        -------
        >>> clf = ZeroShotClassifier.load("model.npz", method="conse")  # doctest: +SKIP
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model file not found: {path}")
        try:
            estimator, stored = load_model(path, expected_method=method)
        except ValueError as err:  # not a model file, or a file of another method
            raise ModelMismatchError(str(err)) from err
        meta = stored.get("user") or {}
        if meta.get("format") != MODEL_FORMAT:
            raise ModelMismatchError(f"{path} is not a zsaudio classifier model (format "
                                     f"{meta.get('format')!r}, expected {MODEL_FORMAT!r}); "
                                     "write one with `zsaudio train`")
        if method is not None and meta["method"] != method:
            raise ModelMismatchError(f"{path} holds a {meta['method']!r} model, not {method!r}")
        a, lab = meta["audio_encoder"], meta["label_encoder"]
        expected = [("audio encoder", audio_encoder, a["name"]),
                    ("label encoder", label_encoder, lab["name"])]
        if label_template is not None:
            expected.append(("label template", label_template, lab.get("template")))
        for what, asked, trained in expected:
            if asked is not None and asked != trained:
                raise ModelMismatchError(
                    f"{path} was trained with {what} {trained!r} and cannot be used with {asked!r}: "
                    f"its weights only make sense for the embeddings it was trained on. Use "
                    f"{trained!r}, or train a model for {asked!r} with `zsaudio train`.")
        clf = cls(method=meta["method"], audio_encoder=a["name"], label_encoder=lab["name"],
                  label_template=lab.get("template"), audio_options=a.get("options") or None,
                  source_text=meta.get("source_text") or DEFAULT_SOURCE_TEXT,
                  temperature=meta["temperature"], seed=meta["training"].get("seed", 0), **runtime)
        clf.estimator_ = estimator
        clf.params_ = meta["params"]
        clf.classes_ = list(meta["training"]["classes"])
        clf.temperature_ = float(meta["temperature"])
        clf.metadata_ = meta
        return clf

    def check_environment(self) -> None:
        """Refuse to run if the encoders here differ from the ones the model was trained with.

        Compares the audio and label encoders' ``config()`` (weights hashes, front-end
        constants, word rule, template) with those stored in the model file.

        Raises
        ------
        ModelMismatchError
        """
        self._check_fitted()
        if self._checked_env:
            return
        for what, stored, current in (
            ("audio encoder", self.metadata_["audio_encoder"]["config"], self._get_audio_encoder().config()),
            ("label encoder", self.metadata_["label_encoder"]["config"], self._get_label_encoder().config()),
        ):
            diff = _config_diff(stored, _jsonable(current))
            if diff:
                raise ModelMismatchError(
                    f"the {what} available here differs from the one this model was trained with "
                    f"({'; '.join(diff)}); retrain the model with `zsaudio train`")
        self._checked_env = True

    # ------------------------------------------------------------------ classification
    def label_warnings(self, labels: Sequence[str]) -> list[str]:
        """Words of the labels the label encoder does not know (they are ignored), as messages."""
        out = []
        for c in self._get_label_encoder().coverage([label_text(x) for x in labels]):
            if c.missing and c.known:
                out.append(f"label {c.label!r}: unknown word(s) {', '.join(c.missing)} ignored")
        return out

    def classify(self, paths: Sequence[str | Path] | str | Path, labels: Sequence[str],
                 top_k: int = 3) -> list[Classification]:
        """Rank the candidate labels for each audio file.

        Parameters
        ----------
        paths : path or sequence of paths
            Audio files and/or folders (a folder contributes its audio files, recursively).
        labels : sequence of str
            Candidate labels (free text, never needing to be training classes), at least one,
            no duplicates.
        top_k : int, default 3
            Labels to return per file (at most the number of labels).

        Returns
        -------
        list of Classification
            One per file, in input order (folders expanded in sorted order). A file that is
            missing or cannot be decoded gets ``error`` set and an empty ranking; the others
            are still classified.

        Raises
        ------
        LabelError
            Empty label list, blank or duplicate labels.
        zsaudio.labels.UnknownLabelError
            A label with no word known to the label encoder (all such labels named).
        ModelMismatchError
            Encoders here differ from the model's (see :meth:`check_environment`).
        ValueError
            ``top_k < 1``.

        Example
        -------
        >>> clf = ZeroShotClassifier.load("model.npz")                      # doctest: +SKIP
        >>> r = clf.classify(["clip.wav"], ["dog barking", "rain"], top_k=2)  # doctest: +SKIP
        >>> [(p.label, round(p.probability, 2)) for p in r[0].ranking]      # doctest: +SKIP
        [('dog barking', 0.97), ('rain', 0.03)]
        """
        self._check_fitted()
        labels = check_candidate_labels(labels)
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        self.check_environment()
        E = self._get_label_encoder().encode([label_text(x) for x in labels])
        entries = expand_inputs(paths)
        good = list(dict.fromkeys(p for p, err in entries if err is None))
        errors: dict[str, str] = {}
        rows: dict[str, int] = {}
        X = None
        if good:
            extraction = self._embed(good)
            failures = {str(k): str(v) for k, v in extraction.failures.items()}
            ok = np.asarray(extraction.ok, bool)
            for i, p in enumerate(good):
                if not ok[i]:
                    errors[p] = failures.get(p) or failures.get(str(Path(p))) or "could not be embedded"
            okrows = np.flatnonzero(ok)
            rows = {good[i]: j for j, i in enumerate(okrows)}
            if len(okrows):
                X = self._features(good, extraction, okrows, E).inputs(self.input_kind)
        results = []
        if X is not None:
            S = np.asarray(self.estimator_.decision_function(X, E), dtype=np.float64)
            P = softmax(S, self.temperature_)
            k = min(int(top_k), len(labels))
            order = stable_topk(S, k)
        for p, err in entries:
            if err is not None or p in errors:
                results.append(Classification(p, [], err or errors[p]))
                continue
            r = rows[p]
            results.append(Classification(p, [Prediction(labels[c], float(S[r, c]), float(P[r, c]))
                                              for c in order[r]]))
        return results


def fit_nll(scores: Sequence[np.ndarray], truth: Sequence[np.ndarray], temperature: float) -> float:
    """Mean NLL (nats per clip) of the true candidates under ``softmax(scores / temperature)``,
    computed with log-sum-exp (no underflow for confident wrong answers)."""
    total, n = 0.0, 0
    for s, t in zip(scores, truth, strict=True):
        z = np.asarray(s, np.float64) / temperature
        z = z - z.max(axis=1, keepdims=True)
        t = np.asarray(t, int)
        total += float(np.sum(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(t)), t]))
        n += len(t)
    return total / max(n, 1)


def default_label_template(label_encoder: str) -> str | None:
    """:data:`DEFAULT_LABEL_TEMPLATE` for sentence encoders (``minilm``, ``mpnet``), else None
    (word vectors have no prompts).

    >>> default_label_template("minilm"), default_label_template("glove")
    ('ensemble', None)
    """
    return DEFAULT_LABEL_TEMPLATE if label_encoder in ("minilm", "mpnet") else None


def default_classifier(**runtime: Any) -> ZeroShotClassifier:
    """The training-free classifier, ready to classify: no training data needed.

    The soft map (:class:`zsaudio.model.softmap.SoftMap`) through YAMNet's 521 AudioSet
    classes with MiniLM and the prompt ensemble on the candidate labels, at its a-priori
    defaults (tau = 0.03, every source text), and the softmax temperature
    :data:`TRAINING_FREE_TEMPERATURE`, fixed a priori (no audio was used to choose anything).
    ``zsaudio train`` adds what labelled audio brings (tau and texts chosen on its classes,
    a fitted temperature).

    Parameters
    ----------
    **runtime
        ``cache_dir``, ``workers``, ``device``, ``progress`` (see :class:`ZeroShotClassifier`).

    Returns
    -------
    ZeroShotClassifier
        Fitted (``save`` writes it like a trained model; ``classes_`` is empty).

    Example
    -------
    >>> clf = default_classifier()                                      # doctest: +SKIP
    >>> clf.classify(["bark.wav"], ["dog barking", "rain"])[0].label    # doctest: +SKIP
    'dog barking'
    """
    clf = ZeroShotClassifier(method=TRAINING_FREE_METHOD, label_encoder=DEFAULT_LABEL_ENCODER,
                             label_template=default_label_template(DEFAULT_LABEL_ENCODER),
                             temperature=TRAINING_FREE_TEMPERATURE, **runtime)
    audio_enc = clf._get_audio_encoder()
    rows, owner, kind = encoder_source_text_rows(clf._get_label_encoder(), audio_enc.class_ids)
    clf.estimator_ = METHODS[TRAINING_FREE_METHOD]().fit(
        source_embeddings=rows, source_owner=owner, source_kind=kind,
        n_sources=len(audio_enc.class_ids))
    clf.params_ = _jsonable(clf.estimator_.get_params())
    clf.classes_ = []
    clf.temperature_ = TRAINING_FREE_TEMPERATURE
    clf.metadata_ = _jsonable({
        "format": MODEL_FORMAT, "zsaudio_version": zsaudio.__version__,
        "method": TRAINING_FREE_METHOD, "input_kind": clf.input_kind, "params": clf.params_,
        "searched": {},
        "audio_encoder": {"name": clf.audio_encoder, "options": {}, "config": audio_enc.config()},
        "label_encoder": {"name": clf.label_encoder, "template": clf.label_template,
                          "config": clf._get_label_encoder().config()},
        "source_text": DEFAULT_SOURCE_TEXT,
        "source_text_rule": "zsaudio.labels.audioset.source_text_rows (no template)",
        "training": {"classes": [], "clips_per_class": {}, "n_clips": 0, "failures": {},
                     "seed": 0},
        "temperature": TRAINING_FREE_TEMPERATURE,
        "temperature_fit": {"fitted": False, "reason": "training-free default: fixed a priori"},
    })
    clf._checked_env = True
    return clf
