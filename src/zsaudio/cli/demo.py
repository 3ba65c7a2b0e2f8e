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
from pathlib import Path

from zsaudio.assets import cache_dir
from zsaudio.classifier import (
    DEFAULT_AUDIO_ENCODER,
    DEFAULT_LABEL_ENCODER,
    DEFAULT_METHOD,
    ModelMismatchError,
    ZeroShotClassifier,
    default_label_template,
)
from zsaudio.cli.classify import format_text
from zsaudio.experiments.esc50 import load_esc50
from zsaudio.labelled_audio import esc50_label, from_esc50, resolve_esc50_classes

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
    p.add_argument("--method", default=DEFAULT_METHOD)
    p.add_argument("--audio-encoder", default=DEFAULT_AUDIO_ENCODER)
    p.add_argument("--label-encoder", default=DEFAULT_LABEL_ENCODER)
    p.add_argument("--label-template", metavar="TEMPLATE",
                   help="sentence encoders: text embedded for a label (default: the prompt "
                        "ensemble 'ensemble'; '' for the bare label)")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--model", metavar="PATH",
                   help="model file to load, or to write if absent (default: in the user cache)")
    p.add_argument("--retrain", action="store_true", help="train even if the model file exists")
    p.add_argument("--cache", metavar="DIR", help="embedding cache folder (default: the user cache)")
    p.add_argument("--workers", type=int, metavar="N")
    p.add_argument("--device", default="cpu")
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
    base = Path(args.cache) if args.cache else cache_dir()
    return base / "models" / f"demo-{args.method}-{args.audio_encoder}-{args.label_encoder}-{digest}.npz"


def run(args: argparse.Namespace) -> int:
    # Sentence encoders default to the prompt ensemble; '' asks for the bare label.
    args.label_template = (default_label_template(args.label_encoder)
                           if args.label_template is None else args.label_template or None)
    try:
        data = load_esc50(args.esc50)
        targets = resolve_esc50_classes(args.holdout, data.class_names)
    except (FileNotFoundError, ValueError) as err:
        print(f"zsaudio demo: error: {err}", file=sys.stderr)
        return 2
    if len(targets) < 2:
        print("zsaudio demo: error: hold out at least 2 classes (the candidates)", file=sys.stderr)
        return 2
    holdout = [data.class_names[t] for t in targets]
    labels = [esc50_label(c) for c in holdout]
    _log(data.summary())
    _log(f"held out of training ({len(labels)}): {', '.join(labels)}")

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
            _log(f"loaded the model trained before: {model_path}")
        except (ValueError, KeyError) as err:
            _log(f"not using {model_path} ({err}); training a new one")
            clf = None
    if clf is None:
        try:
            train = from_esc50(data.root, exclude_classes=holdout, max_per_class=args.max_train_per_class)
        except (FileNotFoundError, ValueError) as err:
            print(f"zsaudio demo: error: {err}", file=sys.stderr)
            return 2
        _log(f"training {args.method} ({args.audio_encoder} + {args.label_encoder}) on "
             f"{len(train.paths)} clips of {len(train.classes)} classes")
        clf = ZeroShotClassifier(method=args.method, audio_encoder=args.audio_encoder,
                                 label_encoder=args.label_encoder, label_template=args.label_template,
                                 **runtime)
        clf.fit(train.paths, train.labels)
        model_path.parent.mkdir(parents=True, exist_ok=True)
        model_path = clf.save(model_path)
        _log(f"model saved to {model_path} (the next run loads it; --retrain to train again)")
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
    return 1 if failed else 0
