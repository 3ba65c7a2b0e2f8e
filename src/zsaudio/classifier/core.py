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
>>> from zsaudio.datasets.labelled import from_esc50
>>> data = from_esc50(exclude_classes=["dog", "rain"])              # doctest: +SKIP
>>> clf = ZeroShotClassifier(label_encoder="minilm").fit(data.paths, data.labels)  # doctest: +SKIP
>>> clf.save("model.npz")                                          # doctest: +SKIP
>>> clf = ZeroShotClassifier.load("model.npz")                     # doctest: +SKIP
>>> res = clf.classify(["bark.wav"], ["dog barking", "rain", "siren"])  # doctest: +SKIP
>>> res[0].ranking[0].label, round(res[0].ranking[0].probability, 2)  # doctest: +SKIP
('dog barking', 0.93)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import zsaudio
from zsaudio import timeline
from zsaudio.audio.files import existing_files, expand_inputs
from zsaudio.classifier.calibration import validation_temperature
from zsaudio.classifier.modelfile import MODEL_FORMAT, config_diff, jsonable, read_model_file
from zsaudio.classifier.results import (
    Classification,
    ModelMismatchError,
    Prediction,
    check_candidate_labels,
)
from zsaudio.embeddings import get_audio_encoder
from zsaudio.embeddings.extract import embed_files
from zsaudio.labels import get_label_encoder, label_text
from zsaudio.labels.cache import CachedLabelEncoder
from zsaudio.model import METHODS, AudioFeatures, HeldOutClassSearch
from zsaudio.model.base import softmax, stable_topk
from zsaudio.model.features import SourceLabelSpace, encoder_label_space
from zsaudio.model.io import save_model
from zsaudio.model.search import MIN_SEARCH_CLASSES

# The method users get unless they ask for another: the best zero-shot method of the committed
# ESC-50 reports (results/esc50_yamnet_softmap/report.md beside the round-1 rows of
# results/esc50_yamnet: Settings 1-3, GZSL, 50-way), with YAMNet + MiniLM. See the README.
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
        classes, over the method's grid in :data:`zsaudio.model.DEFAULT_SEARCH`
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
    def _get_label_encoder(self):
        if self._label_enc is None:
            options = {"template": self.label_template} if self.label_template else {}
            # Cached on disk: classifying with labels seen before never loads a sentence model.
            self._label_enc = CachedLabelEncoder(get_label_encoder(self.label_encoder, **options))
        return self._label_enc

    def audio_model(self):
        """The audio encoder (``zsaudio.embeddings.AudioEncoder``) this classifier embeds with:
        one instance per encoder settings, shared by ``classify``, the environment check and
        :meth:`classify_segments` (its model file is hashed once)."""
        return self._get_audio_encoder()

    def _get_audio_encoder(self):
        # One instance per settings: creating it reads the class map, and its config() hashes
        # the model file (once per instance), so config checks and embedding share that work.
        key = (self.audio_encoder, self.device, repr(sorted((self.audio_options or {}).items())))
        if getattr(self, "_audio_enc_key", None) != key:
            self._audio_enc = get_audio_encoder(self.audio_encoder, device=self.device,
                                                **(self.audio_options or {}))
            self._audio_enc_key = key
        return self._audio_enc

    def _embed(self, paths: Sequence[str | Path], pooling: str = "mean"):
        return embed_files(list(paths), encoder=self._get_audio_encoder(), cache_dir=self.cache_dir,
                           workers=self.workers, progress=self.progress, pooling=pooling)

    def _features(self, paths: Sequence[str], extraction, ok: np.ndarray) -> AudioFeatures:
        """The embedded clips' AudioFeatures (rows where ``ok``) of an ``embed_files`` result,
        with the silence-gated embeddings when the method reads them (pooled from the cached
        patches: no second model run)."""
        scores = None if extraction.scores is None else np.asarray(extraction.scores)[ok]
        gated = None
        if "gated" in METHODS[self.method].uses:
            gated = np.asarray(self._embed(paths, pooling="silence-gated").embeddings)[ok]
        return AudioFeatures(np.asarray(extraction.embeddings)[ok], scores, gated)

    def _source(self, audio_enc) -> SourceLabelSpace | None:
        """The audio encoder's label space, for methods that rank through it (else None)."""
        if not METHODS[self.method].needs_source:
            return None
        if not audio_enc.class_ids:
            raise ValueError(f"method {self.method!r} uses the audio encoder's own classes, but "
                             f"{self.audio_encoder!r} has no classifier head; choose a method that "
                             "works on embeddings (e.g. 'bilinear')")
        return encoder_label_space(self._get_label_encoder(), audio_enc.class_ids, self.source_text,
                                   text_rows=METHODS[self.method].needs_source_rows)

    # ------------------------------------------------------------------ training
    def _search(self) -> HeldOutClassSearch:
        """The method's search: its default grid minus the parameters fixed by the user."""
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {sorted(METHODS)}")
        search = HeldOutClassSearch(self.method, seed=self.seed)
        params, grid = search.resolved()
        params.update(self.method_params or {})
        return search.set_params(params=params, grid=grid if self.search else {})

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
        search = self._search()  # validates the method before the (slow) embedding
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
        source = self._source(audio_enc)
        X = self._features(paths, extraction, ok)
        search.fit(X, y, class_emb, source)
        estimator, params = search.best_estimator_, search.best_params_
        if self.temperature is not None:
            temperature, t_record = float(self.temperature), {"fitted": False, "reason": "given"}
        else:
            temperature, t_record = validation_temperature(self.method, params, X, y, class_emb,
                                                           source, self.seed)

        counts = {c: int(np.sum(y == i)) for i, c in enumerate(classes)}
        self._set_fitted(estimator, params, search.resolved()[1] if len(classes) >= MIN_SEARCH_CLASSES
                         else {}, audio_enc, source, classes, counts, failures, temperature, t_record)
        return self

    def _set_fitted(self, estimator, params: dict, searched: dict, audio_enc, source, classes: list,
                    counts: dict, failures: dict, temperature: float, t_record: dict) -> None:
        """The fitted state and the model file's description (``metadata_``), one rule for a
        trained model and the training-free default."""
        self.estimator_ = estimator
        self.params_ = jsonable(params)
        self.classes_ = list(classes)
        self.temperature_ = temperature
        self.metadata_ = jsonable({
            "format": MODEL_FORMAT,
            "zsaudio_version": zsaudio.__version__,
            "method": self.method,
            "params": params,
            "searched": searched,
            "audio_encoder": {"name": self.audio_encoder, "options": self.audio_options or {},
                              "config": audio_enc.config()},
            "label_encoder": {"name": self.label_encoder, "template": self.label_template,
                              "config": self._get_label_encoder().config(),
                              "label_rule": "labels are embedded as label_text(label) "
                                            "('_' -> space, whitespace collapsed) by the label "
                                            "encoder's own rule (config.rule / text_rule)"},
            "source_text": self.source_text if source is not None else None,
            **({"source_text_rule": "zsaudio.labels.audioset.source_text_rows (no template)"}
               if METHODS[self.method].needs_source_rows else {}),
            "training": {"classes": list(classes), "clips_per_class": counts,
                         "n_clips": int(sum(counts.values())), "failures": failures, "seed": self.seed},
            "temperature": temperature,
            "temperature_fit": t_record,
        })
        self._checked_env = True

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
        estimator, meta = read_model_file(path, method=method, audio_encoder=audio_encoder,
                                          label_encoder=label_encoder, label_template=label_template)
        a, lab = meta["audio_encoder"], meta["label_encoder"]
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
            diff = config_diff(stored, jsonable(current))
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

    def score_features(self, embeddings: np.ndarray, class_scores: np.ndarray | None,
                       labels: Sequence[str], gated: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and probabilities of clip features computed elsewhere, against candidate labels.

        What :meth:`classify` does once the clips are embedded (it calls this), for features
        computed elsewhere, e.g. on a cluster (:mod:`zsaudio.cluster`): the same features give
        the same numbers, up to float64 round-off when the rows are scored in other batches.

        Parameters
        ----------
        embeddings : np.ndarray, shape (n, d)
            Clip embeddings of the model's audio encoder (``ExtractionResult.embeddings`` rows).
        class_scores : np.ndarray, shape (n, k), or None
            The encoder's mean class scores (YAMNet: k = 521); methods using the encoder's own
            classes (ConSE and its hybrids) need them.
        labels : sequence of str
            Candidate labels, as for :meth:`classify`.
        gated : np.ndarray, shape (n, d), optional
            Silence-gated clip embeddings (``embed_files(..., pooling="silence-gated")``),
            needed by methods reading them (``softmap-fewshot``).

        Returns
        -------
        scores : np.ndarray, shape (n, len(labels)), float64
            Compatibility scores.
        probabilities : np.ndarray, shape (n, len(labels)), float64
            ``softmax(scores / temperature_)`` per row.

        Raises
        ------
        LabelError, zsaudio.labels.UnknownLabelError, ModelMismatchError
            As :meth:`classify`.

        Example
        -------
        >>> res = embed_files(["a.wav"])                                          # doctest: +SKIP
        >>> S, P = clf.score_features(res.embeddings, res.scores, ["dog", "rain"])  # doctest: +SKIP
        >>> S.shape, P.sum(axis=1)                                                # doctest: +SKIP
        ((1, 2), array([1.]))
        """
        self._check_fitted()
        labels = check_candidate_labels(labels)
        self.check_environment()
        E = self._get_label_encoder().encode([label_text(x) for x in labels])
        X = AudioFeatures(np.asarray(embeddings), None if class_scores is None else np.asarray(class_scores),
                          None if gated is None else np.asarray(gated))
        S = np.asarray(self.estimator_.decision_function(X, E), dtype=np.float64)
        return S, softmax(S, self.temperature_)

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
        # Unknown labels fail here, before the (slow) embedding; score_features reuses the vectors.
        self._get_label_encoder().encode([label_text(x) for x in labels])
        entries = expand_inputs(paths)
        good = existing_files(entries)
        errors: dict[str, str] = {}
        rows: dict[str, int] = {}
        S = P = order = None
        if good:
            extraction = self._embed(good)
            failures = {str(k): str(v) for k, v in extraction.failures.items()}
            ok = np.asarray(extraction.ok, bool)
            for i, p in enumerate(good):
                if not ok[i]:
                    errors[p] = failures.get(p) or failures.get(str(Path(p))) or "could not be embedded"
            rows = {good[i]: j for j, i in enumerate(np.flatnonzero(ok))}
            if ok.any():
                X = self._features(good, extraction, ok)
                S, P = self.score_features(X.embeddings, X.scores, labels, X.gated)
                order = stable_topk(S, min(int(top_k), len(labels)))
        results = []
        for p, err in entries:
            if err is not None or p in errors:
                results.append(Classification(p, [], err or errors[p]))
                continue
            r = rows[p]
            results.append(Classification(p, [Prediction(labels[c], float(S[r, c]), float(P[r, c]))
                                              for c in order[r]]))
        return results

    def classify_segments(self, path: str | Path, labels: Sequence[str], window: float = 2.0,
                          hop: float = 0.5, threshold: float = 0.5, min_duration: float = 1.0,
                          top_k: int = 3, **options: Any) -> timeline.SegmentResult:
        """Where in a long recording each label sounds: per-window probabilities and events.

        ``window`` and ``hop`` in seconds; a label is active in a window from probability
        ``threshold`` on; events shorter than ``min_duration`` seconds are dropped; ``top_k``
        labels per window in ``to_dict``. Further ``options`` (``max_gap``, ``min_level_db``,
        ``spectrogram``, ``threads``, ``progress``, ...) and the result are described in
        :func:`zsaudio.timeline.classify_segments`. The file is decoded and embedded in blocks.

        Example
        -------
        >>> res = clf.classify_segments("street.flac", ["dog barking", "siren"])  # doctest: +SKIP
        >>> [(e.onset, e.offset, e.label) for e in res.events]                     # doctest: +SKIP
        [(12.5, 15.0, 'dog barking')]
        """
        return timeline.classify_segments(self, path, labels, window=window, hop=hop, threshold=threshold,
                                 min_duration=min_duration, top_k=top_k, **options)



def default_label_template(label_encoder: str) -> str | None:
    """:data:`DEFAULT_LABEL_TEMPLATE` for sentence encoders (``minilm``, ``mpnet``), else None
    (word vectors have no prompts).

    >>> default_label_template("minilm"), default_label_template("glove")
    ('ensemble', None)
    """
    return DEFAULT_LABEL_TEMPLATE if label_encoder in ("minilm", "mpnet") else None


def default_classifier(label_encoder: str = DEFAULT_LABEL_ENCODER, **runtime: Any) -> ZeroShotClassifier:
    """The training-free classifier, ready to classify: no training data needed.

    The soft map (:class:`zsaudio.model.SoftMap`) through YAMNet's 521 AudioSet classes with
    MiniLM and the prompt ensemble on the candidate labels, at its a-priori defaults (tau =
    0.03, every source text), and the softmax temperature :data:`TRAINING_FREE_TEMPERATURE`,
    fixed a priori (no audio was used to choose anything). ``zsaudio train`` adds what
    labelled audio brings (tau and texts chosen on its classes, a fitted temperature).

    Parameters
    ----------
    label_encoder : str, default :data:`DEFAULT_LABEL_ENCODER`
        Another label encoder (e.g. ``"glove"``; tests use it as it needs no model download).
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
    clf = ZeroShotClassifier(method=TRAINING_FREE_METHOD, label_encoder=label_encoder,
                             label_template=default_label_template(label_encoder),
                             temperature=TRAINING_FREE_TEMPERATURE, **runtime)
    audio_enc = clf._get_audio_encoder()
    source = clf._source(audio_enc)
    estimator = HeldOutClassSearch(TRAINING_FREE_METHOD, grid={}).fit(
        None, None, None, source).best_estimator_
    clf._set_fitted(estimator, estimator.get_params(), {}, audio_enc, source, [], {}, {},
                    TRAINING_FREE_TEMPERATURE,
                    {"fitted": False, "reason": "training-free default: fixed a priori"})
    return clf
