"""``zsaudio train``: train a zero-shot classifier on labelled audio and save one model file.

Examples
--------
Train on ESC-50 without the animal classes (so they can be tested zero-shot)::

    zsaudio train --esc50 --exclude-classes animals --label-encoder minilm --out animals-out.npz

Train on your own clips (a csv of ``path,label`` rows, or a folder of label sub-folders)::

    zsaudio train --data my_sounds/ --method bilinear --out mine.npz
"""

from __future__ import annotations

import argparse
import sys

from zsaudio.classifier import (
    DEFAULT_AUDIO_ENCODER,
    DEFAULT_LABEL_ENCODER,
    DEFAULT_METHOD,
    ZeroShotClassifier,
    default_label_template,
)
from zsaudio.datasets.labelled import class_counts, concat, from_esc50, load_labelled_audio
from zsaudio.device import DEVICE_HELP
from zsaudio.embeddings import available_encoders
from zsaudio.errors import UserError
from zsaudio.labels import available_label_encoders
from zsaudio.model import METHODS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a zero-shot classifier on labelled audio and save it",
        description="Train a zero-shot classifier on labelled clips (ESC-50 and/or your own "
                    "path,label data) and save one self-describing model file.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = p.add_argument_group("training data (at least one of --esc50, --data)")
    data.add_argument("--esc50", nargs="?", const="", default=None, metavar="DIR",
                      help="ESC-50 folder (meta/esc50.csv + audio/); without DIR: the asset search path")
    data.add_argument("--classes", nargs="+", metavar="NAME",
                      help="ESC-50 classes or categories to train on (default: all)")
    data.add_argument("--exclude-classes", nargs="+", metavar="NAME",
                      help="ESC-50 classes or categories to leave out (e.g. to test them zero-shot)")
    data.add_argument("--max-per-class", type=int, metavar="N",
                      help="at most N ESC-50 clips per class (quick runs)")
    data.add_argument("--data", nargs="+", metavar="CSV_OR_FOLDER",
                      help="csv of path,label rows, or a folder (labels.csv or one sub-folder per label)")
    p.add_argument("--method", default=DEFAULT_METHOD, choices=sorted(METHODS), help="zero-shot method")
    p.add_argument("--audio-encoder", default=DEFAULT_AUDIO_ENCODER, choices=available_encoders())
    p.add_argument("--label-encoder", default=DEFAULT_LABEL_ENCODER, choices=available_label_encoders())
    p.add_argument("--label-template", metavar="TEMPLATE",
                   help="sentence encoders: text embedded for a label, e.g. 'the sound of {label}' "
                        "(default: the prompt ensemble 'ensemble'; '' for the bare label)")
    p.add_argument("--no-search", action="store_true",
                   help="use the method's default hyper-parameters instead of choosing them on "
                        "validation classes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="MODEL", help="model file to write")
    p.add_argument("--cache", metavar="DIR", help="embedding cache folder (default: the user cache)")
    p.add_argument("--workers", type=int, metavar="N", help="decoding/embedding processes")
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Sentence encoders default to the prompt ensemble; '' asks for the bare label.
    args.label_template = (default_label_template(args.label_encoder)
                           if args.label_template is None else args.label_template or None)
    if args.esc50 is None and not args.data:
        raise UserError("no training data: give --esc50 [DIR] and/or --data CSV_OR_FOLDER")
    if (args.classes or args.exclude_classes or args.max_per_class) and args.esc50 is None:
        raise UserError("--classes, --exclude-classes and --max-per-class select ESC-50 clips: add --esc50")
    parts = []
    if args.esc50 is not None:
        parts.append(from_esc50(args.esc50 or None, args.classes, args.exclude_classes,
                                args.max_per_class))
    for item in args.data or []:
        parts.append(load_labelled_audio(item))
    data = concat(parts)
    for part in parts:
        print(part.summary(), file=sys.stderr)
    counts = class_counts(data)
    print(f"training {args.method} on {len(data.paths)} clips of {len(counts)} classes: "
          + ", ".join(f"{c} ({n})" for c, n in counts.items()), file=sys.stderr)
    clf = ZeroShotClassifier(method=args.method, audio_encoder=args.audio_encoder,
                             label_encoder=args.label_encoder, label_template=args.label_template,
                             search=not args.no_search, seed=args.seed, cache_dir=args.cache,
                             workers=args.workers, device=args.device, progress=not args.quiet)
    clf.fit(data.paths, data.labels)
    out = clf.save(args.out)
    meta = clf.metadata_
    failures = meta["training"]["failures"]
    for path, reason in failures.items():
        print(f"skipped (unreadable): {path}: {reason}", file=sys.stderr)
    t_fit = meta["temperature_fit"]
    t_note = (f"fitted on {t_fit['validation_clips']} validation clips, NLL {t_fit['nll']:.3f}"
              if t_fit.get("fitted") else f"not fitted: {t_fit.get('reason')}")
    print(f"method {clf.method}, hyper-parameters {clf.params_}", file=sys.stderr)
    print(f"temperature {clf.temperature_:.4g} ({t_note})", file=sys.stderr)
    print(f"model written to {out}")
    return 0
