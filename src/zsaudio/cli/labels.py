"""``zsaudio labels``: vocabulary coverage and nearest labels by cosine (a sanity view).

Example::

    zsaudio labels --encoder glove dog cat sea_waves crackling_fire
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

ENCODERS = ["word2vec", "googlenews-subset", "glove", "minilm", "mpnet"]
WORD_ENCODERS = {"word2vec", "googlenews-subset", "glove"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "labels",
        help="show label-embedding coverage and nearest labels",
        description="Print, for each label, the words the encoder knows and misses, then the "
        "nearest other given labels by cosine similarity of their embeddings.",
    )
    p.add_argument("labels", nargs="+", metavar="LABEL", help="class labels, e.g. sea_waves")
    p.add_argument("--encoder", choices=ENCODERS, default="word2vec")
    p.add_argument("--vectors", help="word vectors file (word2vec, glove)")
    p.add_argument("--template", help='sentence encoders: e.g. "the sound of {label}"')
    p.add_argument("--phrases", action="store_true", help="word encoders: try phrase tokens")
    p.add_argument("--device", default="cpu", help="sentence encoders: torch device")
    p.add_argument("--top", type=int, default=3, help="nearest labels shown (default 3)")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> dict:
    opts: dict = {}
    if args.encoder in WORD_ENCODERS:
        if args.template:
            raise ValueError(f"--template applies to sentence encoders, not {args.encoder}")
        opts["phrases"] = args.phrases
        if args.vectors:
            if args.encoder == "googlenews-subset":
                raise ValueError("--vectors applies to word2vec and glove")
            opts["vectors"] = args.vectors
    else:
        if args.vectors or args.phrases:
            raise ValueError(f"--vectors / --phrases apply to word encoders, not {args.encoder}")
        opts["template"] = args.template
        opts["device"] = args.device
    return opts


def run(args: argparse.Namespace) -> int:
    from zsaudio.assets import AssetNotFoundError
    from zsaudio.labels import get_label_encoder

    try:
        encoder = get_label_encoder(args.encoder, **_options(args))
        coverage = encoder.coverage(args.labels)
    except (ValueError, FileNotFoundError, AssetNotFoundError) as err:
        print(f"zsaudio labels: {err}", file=sys.stderr)
        return 2

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
        return 1
    return 0
