"""``zsaudio classify``: rank free-text labels for audio files, with no training at all (the
training-free default, :func:`zsaudio.classifier.default_classifier`) or with a trained model.

Example
-------
::

    zsaudio classify bark.wav --labels "dog barking" "rain" "siren"
    zsaudio classify clips/ bark.wav --model model.npz --labels "dog barking" "rain" "siren"
    zsaudio classify bark.wav --model model.npz --labels-file labels.txt --top-k 2 --json
    zsaudio classify long.flac --model model.npz --labels dog siren --segments --plot t.png

``--segments`` ranks the labels in every window of long recordings and lists events
(:mod:`zsaudio.cli.segments`).

Exit status: 0 when every file was classified; 1 when some file could not be (missing,
unreadable audio; the others are still classified and printed, the failures listed on
stderr); 2 for bad arguments (no or duplicate labels, a label with no known word, a missing
or mismatched model file). With ``--ray [ADDRESS] --out DIR`` the files are classified on a
Ray cluster and the rankings written as Parquet shards into DIR (``zsaudio.cluster``).

JSON output (``--json``), one object on stdout::

    {"model": str | null, "method": str, "audio_encoder": str, "label_encoder": str,
     "temperature": float, "labels": [str], "top_k": int, "n_files": int, "n_failed": int,
     "results": [{"path": str, "error": str | null,
                  "ranking": [{"label": str, "score": float, "probability": float}]}]}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from zsaudio.classifier import (
    DEFAULT_AUDIO_ENCODER,
    DEFAULT_LABEL_ENCODER,
    TRAINING_FREE_METHOD,
    ZeroShotClassifier,
    default_classifier,
)
from zsaudio.cli import segments
from zsaudio.cli.ray_jobs import add_ray_arguments, run_classify
from zsaudio.device import DEVICE_HELP
from zsaudio.embeddings import available_encoders
from zsaudio.errors import EXIT_FAILURE, EXIT_OK, UserError
from zsaudio.labels import UnknownLabelError, available_label_encoders
from zsaudio.model import METHODS
from zsaudio.serve.core import classification_document


def read_labels_file(path: str | Path) -> list[str]:
    """One label per line; blank lines and lines starting with ``#`` are skipped.

    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "labels.txt")
    >>> _ = open(f, "w").write("dog barking\\n\\n# comment\\n rain \\n")
    >>> read_labels_file(f)
    ['dog barking', 'rain']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labels file not found: {path}")
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "classify",
        help="rank candidate labels for audio files (no training needed; --model adds it)",
        description="Embed the audio (cached) and the candidate labels, and print for each file "
                    "the labels ranked by compatibility, with a calibrated probability "
                    "(softmax over the candidates' scores / the model's temperature).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_FOLDER")
    p.add_argument("--model", metavar="MODEL",
                   help="model file from `zsaudio train` (default: none, the training-free soft "
                        "map through YAMNet's AudioSet classes)")
    p.add_argument("--labels", nargs="+", default=[], metavar="LABEL", help="candidate labels")
    p.add_argument("--labels-file", metavar="FILE", help="candidate labels, one per line")
    p.add_argument("--top-k", type=int, default=3, help="labels shown per file")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--method", choices=sorted(METHODS), help="refuse the model unless it is of this method")
    p.add_argument("--audio-encoder", choices=available_encoders(),
                   help="refuse the model unless trained with this audio encoder")
    p.add_argument("--label-encoder", choices=available_label_encoders(),
                   help="refuse the model unless trained with this label encoder")
    p.add_argument("--cache", metavar="DIR", help="embedding cache folder (default: the user cache)")
    p.add_argument("--workers", type=int, metavar="N", help="decoding/embedding processes")
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    add_ray_arguments(p, add_out=True)
    segments.add_arguments(p)
    p.set_defaults(func=run)


def format_text(results, show_score: bool = True) -> str:
    """Human-readable rankings: the path, then one numbered line per label."""
    lines = []
    for r in results:
        lines.append(r.path)
        if r.error:
            lines.append(f"  error: {r.error}")
            continue
        width = max(len(p.label) for p in r.ranking)
        for i, p in enumerate(r.ranking, 1):
            score = f"  (score {p.score:+.4f})" if show_score else ""
            lines.append(f"  {i}. {p.label:<{width}}  {p.probability:6.1%}{score}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    labels = list(args.labels)
    if args.labels_file:
        try:
            labels += read_labels_file(args.labels_file)
        except UnicodeDecodeError as err:
            raise UserError(f"{args.labels_file}: not UTF-8 text ({err})") from err
    if args.top_k < 1:
        raise UserError(f"--top-k must be >= 1, got {args.top_k}")
    if (problem := segments.check_arguments(args)) is not None:
        raise UserError(problem)
    if args.ray is not None:
        return run_classify(args, labels)
    try:
        runtime = {"cache_dir": args.cache, "workers": args.workers, "device": args.device,
                   "progress": False}
        if args.model is None:
            asked = {"--method": (args.method, TRAINING_FREE_METHOD),
                     "--audio-encoder": (args.audio_encoder, DEFAULT_AUDIO_ENCODER),
                     "--label-encoder": (args.label_encoder, DEFAULT_LABEL_ENCODER)}
            for flag, (value, default) in asked.items():
                if value is not None and value != default:
                    raise UserError(f"{flag} {value} needs a model trained with it (--model FILE "
                                    f"from `zsaudio train`); without --model, {default!r} is used")
            if not labels:
                raise UserError("no candidate labels given: use --labels and/or --labels-file")
            clf = default_classifier(**runtime)
        else:
            clf = ZeroShotClassifier.load(args.model, method=args.method,
                                          audio_encoder=args.audio_encoder,
                                          label_encoder=args.label_encoder, **runtime)
        for warning in clf.label_warnings(labels) if labels else []:
            print(f"warning: {warning}", file=sys.stderr)
        if args.segments:
            return segments.run(args, clf, labels)
        results = clf.classify(args.inputs, labels, top_k=args.top_k)
    except UnknownLabelError as err:
        raise UserError(f"{err} (use other words, or a sentence label encoder such as minilm)") from err
    failed = [r for r in results if not r.ok]
    if args.json:
        doc = classification_document(clf, None if args.model is None else str(args.model), labels,
                                      args.top_k, results)
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print(format_text(results))
    if failed:
        print(f"zsaudio classify: {len(failed)} of {len(results)} file(s) not classified:",
              file=sys.stderr)
        for r in failed:
            print(f"  {r.path}: {r.error}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
