"""``zsaudio demo``: the main job end to end, on the data and models that ship with the project.

1. Hold out some ESC-50 classes (default: :data:`DEFAULT_HOLDOUT`, two per category).
2. Train a classifier on the ESC-50 clips present of every *other* class, or load the model
   this command saved before (in the user cache, keyed by everything that defines it).
3. Classify a few real clips of the held-out classes against the held-out labels only
   (labels the model never heard), print each ranking with the truth, and the hit rate.

Example
-------
::

    zsaudio demo                              # default held-out classes, the default method
    zsaudio demo --holdout animals --clips-per-class 2
    zsaudio demo --method bilinear --label-encoder glove --retrain
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from zsaudio.assets import cache_subdir
from zsaudio.classifier import (
    DEFAULT_AUDIO_ENCODER,
    DEFAULT_LABEL_ENCODER,
    DEFAULT_METHOD,
    ModelMismatchError,
    ZeroShotClassifier,
    default_label_template,
)
from zsaudio.cli.classify import format_text
from zsaudio.datasets.esc50 import load_esc50
from zsaudio.datasets.labelled import esc50_label, from_esc50, resolve_esc50_classes
from zsaudio.device import DEVICE_HELP
from zsaudio.embeddings import available_encoders
from zsaudio.errors import EXIT_FAILURE, EXIT_OK, UserError
from zsaudio.labels import available_label_encoders
from zsaudio.model import METHODS

# Ten familiar ESC-50 classes, two from each of the paper's five categories.
DEFAULT_HOLDOUT = ("dog", "rooster", "rain", "thunderstorm", "crying_baby", "sneezing",
                   "door_wood_knock", "clock_tick", "siren", "church_bells")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="train on ESC-50 minus some classes, then classify clips of those unseen classes",
        description="The main job: train (or load the model trained before) on the ESC-50 clips "
                    "present except held-out classes, then classify real clips of the held-out "
                    "classes against the held-out labels and print the rankings.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--esc50", metavar="DIR", help="ESC-50 folder (default: the asset search path)")
    p.add_argument("--holdout", nargs="+", default=list(DEFAULT_HOLDOUT), metavar="NAME",
                   help="ESC-50 classes or categories held out of training (the candidate labels)")
    p.add_argument("--clips-per-class", type=int, default=1, metavar="N",
                   help="held-out clips classified per held-out class")
    p.add_argument("--max-train-per-class", type=int, metavar="N",
                   help="at most N training clips per class (quicker first run)")
    p.add_argument("--method", default=DEFAULT_METHOD, choices=sorted(METHODS))
    p.add_argument("--audio-encoder", default=DEFAULT_AUDIO_ENCODER, choices=available_encoders())
    p.add_argument("--label-encoder", default=DEFAULT_LABEL_ENCODER, choices=available_label_encoders())
    p.add_argument("--label-template", metavar="TEMPLATE",
                   help="sentence encoders: text embedded for a label (default: the prompt "
                        "ensemble 'ensemble'; '' for the bare label)")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--model", metavar="PATH",
                   help="model file to load, or to write if absent (default: in the user cache)")
    p.add_argument("--retrain", action="store_true", help="train even if the model file exists")
    p.add_argument("--cache", metavar="DIR", help="embedding cache folder (default: the user cache)")
    p.add_argument("--workers", type=int, metavar="N")
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def default_model_path(args: argparse.Namespace, holdout: list[str], root: Path) -> Path:
    """A model file in the cache, named by everything that defines the trained model."""
    key = json.dumps({"holdout": sorted(holdout), "method": args.method, "audio": args.audio_encoder,
                      "label": args.label_encoder, "template": args.label_template,
                      "max": args.max_train_per_class, "esc50": str(root.resolve())}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    name = f"demo-{args.method}-{args.audio_encoder}-{args.label_encoder}-{digest}.npz"
    return cache_subdir("models", root=args.cache) / name


class DemoModel(NamedTuple):
    """What :func:`get_demo_model` returns."""

    classifier: ZeroShotClassifier
    data: Any
    targets: list[int]
    labels: list[str]
    path: Path


def default_args(**overrides) -> argparse.Namespace:
    """The arguments of a bare ``zsaudio demo`` (every default), with ``overrides`` applied.

    Example
    -------
    >>> default_args(quiet=True).holdout[:2]
    ['dog', 'rooster']
    """
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["demo"])
    for name, value in overrides.items():
        if not hasattr(args, name):
            raise TypeError(f"zsaudio demo has no argument {name!r}")
        setattr(args, name, value)
    return args


def get_demo_model(args: argparse.Namespace, log: Callable[[str], None] = _log) -> DemoModel:
    """The demo's classifier: the model this command saved before, else one trained now.

    Trains on the ESC-50 clips present of every class except ``args.holdout`` (and saves the
    model, by default in the user cache under a name keyed by everything that defines it).

    Parameters
    ----------
    args : argparse.Namespace
        ``zsaudio demo``'s arguments (:func:`default_args` for the defaults).
    log : callable, default: print to stderr
        Receives one-line progress messages (which data, loading or training, where saved).

    Returns
    -------
    DemoModel
        ``(classifier, data, targets, labels, path)``: the classifier, the ESC-50 data set,
        the held-out class indices, their labels (the demo's candidates), the model file.

    Raises
    ------
    FileNotFoundError, ValueError
        No ESC-50 data, unknown held-out classes, fewer than 2 held out, training failed.

    Example
    -------
    >>> get_demo_model(default_args()).classifier.method  # doctest: +SKIP
    'softmap'
    """
    # Sentence encoders default to the prompt ensemble; '' asks for the bare label (a copy of
    # args: calling this again with the same args gives the same model).
    args = argparse.Namespace(**{**vars(args), "label_template": (
        default_label_template(args.label_encoder) if args.label_template is None
        else args.label_template or None)})
    data = load_esc50(args.esc50)
    targets = resolve_esc50_classes(args.holdout, data.class_names)
    if len(targets) < 2:
        raise UserError("hold out at least 2 classes (the candidates)")
    holdout = [data.class_names[t] for t in targets]
    labels = [esc50_label(c) for c in holdout]
    log(data.summary())
    log(f"held out of training ({len(labels)}): {', '.join(labels)}")

    model_path = Path(args.model) if args.model else default_model_path(args, holdout, data.root)
    runtime = {"cache_dir": args.cache, "workers": args.workers, "device": args.device,
               "progress": not args.quiet}
    clf = None
    if model_path.is_file() and not args.retrain:
        try:
            clf = ZeroShotClassifier.load(model_path, method=args.method, audio_encoder=args.audio_encoder,
                                          label_encoder=args.label_encoder, **runtime)
            clf.check_environment()
            seen = set(clf.classes_) & set(labels)
            if seen:
                raise ModelMismatchError(f"it was trained on held-out class(es) {sorted(seen)}")
            log(f"loaded the model trained before: {model_path}")
        except (ValueError, KeyError) as err:
            log(f"not using {model_path} ({err}); training a new one")
            clf = None
    if clf is None:
        train = from_esc50(data.root, exclude_classes=holdout, max_per_class=args.max_train_per_class)
        log(f"training {args.method} ({args.audio_encoder} + {args.label_encoder}) on "
            f"{len(train.paths)} clips of {len(train.classes)} classes")
        clf = ZeroShotClassifier(method=args.method, audio_encoder=args.audio_encoder,
                                 label_encoder=args.label_encoder, label_template=args.label_template,
                                 **runtime)
        clf.fit(train.paths, train.labels)
        model_path.parent.mkdir(parents=True, exist_ok=True)
        model_path = clf.save(model_path)
        log(f"model saved to {model_path} (the next run loads it; --retrain to train again)")
    return DemoModel(clf, data, targets, labels, model_path)


def run(args: argparse.Namespace) -> int:
    clf, data, targets, labels, _ = get_demo_model(args)  # user errors: cli.main's one error path
    _log(f"method {clf.method}, hyper-parameters {clf.params_}, temperature {clf.temperature_:.4g}")

    clips, truth = [], []
    for t, label in zip(targets, labels, strict=True):
        present = [p for p, y in zip(data.paths, data.targets, strict=True) if int(y) == t]
        clips += present[: args.clips_per_class]
        truth += [label] * len(present[: args.clips_per_class])
    results = clf.classify(clips, labels, top_k=min(args.top_k, len(labels)))
    print(f"\n{len(clips)} clips of held-out classes, ranked among the {len(labels)} held-out labels "
          f"(chance {1 / len(labels):.0%}):\n")
    for r, true in zip(results, truth, strict=True):
        mark = "ok " if r.label == true else "-- "
        print(f"{mark}truth: {true}")
        print(format_text([r], show_score=False))
    done = [(r, true) for r, true in zip(results, truth, strict=True) if r.ok]
    hits = sum(r.label == true for r, true in done)
    top_k = sum(true in [p.label for p in r.ranking] for r, true in done)
    print(f"\ntop-1: {hits} of {len(done)} correct; top-{min(args.top_k, len(labels))}: "
          f"{top_k} of {len(done)}")
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"not classified: {r.path}: {r.error}", file=sys.stderr)
    return EXIT_FAILURE if failed else EXIT_OK
