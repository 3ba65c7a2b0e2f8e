"""``zsaudio labels``: vocabulary coverage and nearest labels by cosine (a sanity view).

Example::

    zsaudio labels dog cat sea_waves crackling_fire
    zsaudio labels --encoder glove dog cat sea_waves crackling_fire
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from zsaudio.classifier import DEFAULT_LABEL_ENCODER
from zsaudio.device import DEVICE_HELP
from zsaudio.errors import EXIT_FAILURE, EXIT_OK, UserError
from zsaudio.labels import available_label_encoders, get_label_encoder, label_encoder_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "labels",
        help="show label-embedding coverage and nearest labels",
        description="Print, for each label, the words the encoder knows and misses, then the "
        "nearest other given labels by cosine similarity of their embeddings. Exit status 1 "
        "when some label cannot be embedded.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("labels", nargs="+", metavar="LABEL", help="class labels, e.g. sea_waves")
    p.add_argument("--encoder", choices=available_label_encoders(), default=DEFAULT_LABEL_ENCODER,
                   help="label encoder (the default is the one `zsaudio train` uses)")
    p.add_argument("--vectors", help="word vectors file (word2vec, glove)")
    p.add_argument("--template", help='sentence encoders: e.g. "the sound of {label}"')
    p.add_argument("--phrases", action="store_true", help="word encoders: try phrase tokens")
    p.add_argument("--device", help=f"sentence encoders: {DEVICE_HELP} (default cpu)")
    p.add_argument("--top", type=int, default=3, help="nearest labels shown")
    p.set_defaults(func=run)


def encoder_options(args: argparse.Namespace) -> dict:
    """The options given on the command line, checked against what the encoder accepts
    (:func:`zsaudio.labels.label_encoder_options`)."""
    given = {"vectors": args.vectors, "template": args.template, "phrases": args.phrases or None,
             "device": args.device}
    given = {k: v for k, v in given.items() if v is not None}
    accepted = label_encoder_options(args.encoder)
    refused = [f"--{k}" for k in given if k not in accepted]
    if refused:
        raise UserError(f"{' / '.join(refused)} do(es) not apply to the {args.encoder} encoder "
                        f"(its options: {', '.join('--' + a for a in accepted) or 'none'})")
    return given


def run(args: argparse.Namespace) -> int:
    encoder = get_label_encoder(args.encoder, **encoder_options(args))
    coverage = encoder.coverage(args.labels)

    print(f"encoder {encoder.name} ({encoder.dim}-d)")
    width = max(len(c.label) for c in coverage)
    for c in coverage:
        if not c.words:
            status = "NO WORDS"
        elif not c.known:
            status = "UNKNOWN"
        else:
            status = f"{len(c.words) - len(c.missing)}/{len(c.words)} words"
        line = f"  {c.label:<{width}}  {status:<11} known: {' '.join(c.known) or '-'}"
        if c.missing:
            line += f"  missing: {' '.join(c.missing)}"
        print(line)

    ok = list(dict.fromkeys(c.label for c in coverage if c.encodable))
    if len(ok) >= 2:
        vectors = encoder.encode(ok).astype(np.float64)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.where(norms > 0, norms, 1.0)
        sim = unit @ unit.T
        np.fill_diagonal(sim, -np.inf)
        k = max(0, min(args.top, len(ok) - 1))
        print(f"nearest labels by cosine (top {k}):")
        for i, label in enumerate(ok):
            order = np.argsort(-sim[i], kind="stable")[:k]
            near = ", ".join(f"{ok[j]} {sim[i, j]:.3f}" for j in order)
            print(f"  {label:<{width}}  {near}")
    unknown = [c.label for c in coverage if not c.encodable]
    if unknown:
        print(f"{len(unknown)} label(s) cannot be embedded: {', '.join(map(repr, unknown))}",
              file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
