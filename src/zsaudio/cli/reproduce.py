"""``zsaudio reproduce``: the paper's ESC-50 Settings 1–4 (and beyond) into a report folder."""

from __future__ import annotations

import argparse

from zsaudio.device import DEVICE_HELP
from zsaudio.embeddings import available_encoders
from zsaudio.errors import UserError
from zsaudio.labels import available_label_encoders


def label_encoder_spec(text: str) -> str:
    """``NAME`` or ``NAME:TEMPLATE`` with NAME a registered label encoder (argparse type).

    >>> label_encoder_spec("minilm:the sound of {label}")
    'minilm:the sound of {label}'
    """
    name = text.split(":", 1)[0]
    if name not in available_label_encoders():
        raise argparse.ArgumentTypeError(
            f"unknown label encoder {name!r} (choose from {', '.join(available_label_encoders())})")
    return text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="run the paper's ESC-50 evaluation (Settings 1-4, GZSL, 50-way) and write a report",
        description="Embed the ESC-50 clips (cached), run every method on every split of the "
        "paper's Settings 1-4 over several seeds, and write Tables 2-4 (Markdown, CSV, JSON) "
        "beside the paper's numbers, confusion matrices and a record of the run.",
    )
    p.add_argument("--esc50", metavar="DIR", help="ESC-50 folder with meta/esc50.csv and audio/ "
                   "(default: esc50/ on the asset search path)")
    p.add_argument("--audio-encoder", default="yamnet", choices=available_encoders())
    p.add_argument("--label-encoder", nargs="+", default=["minilm"], metavar="NAME[:TEMPLATE]",
                   type=label_encoder_spec,
                   help=f"one or more of {', '.join(available_label_encoders())}; a sentence "
                   'encoder may carry a template: "minilm:the sound of {label}" (default minilm)')
    p.add_argument("--method", nargs="+", default=None, metavar="NAME",
                   help="methods to run (default: bilinear conse softmap softmap-fewshot); any "
                   "method or ablation of the report (see --all-methods)")
    p.add_argument("--all-methods", action="store_true",
                   help="run every method of the report (the default run has the paper's model, "
                   "ConSE and the best zero-shot and few-shot methods)")
    p.add_argument("--settings", nargs="+", type=int, default=[1, 2, 3, 4], choices=[1, 2, 3, 4])
    p.add_argument("--no-gzsl", action="store_true", help="skip the generalized zero-shot runs")
    p.add_argument("--no-50way", action="store_true", help="skip the 50-way protocol")
    p.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    p.add_argument("--cache", default=None, metavar="DIR", help="embedding cache folder")
    p.add_argument("--device", default="cpu", help=f"audio encoder: {DEVICE_HELP}")
    p.add_argument("--out", required=True, metavar="DIR", help="report folder")
    p.add_argument("--previous", metavar="CSV", help="results.csv of an earlier report: its rows "
                   "of methods not run now are shown in the headline table (read before --out "
                   "is written, so it may be the same folder's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zsaudio.experiments.reproduce import ReproduceConfig, reproduce

    if args.seeds < 1:
        raise UserError("--seeds must be at least 1")
    config = ReproduceConfig(
        esc50=args.esc50, audio_encoder=args.audio_encoder, label_encoders=args.label_encoder,
        seeds=args.seeds, settings=args.settings,
        gzsl=not args.no_gzsl, fifty_way=not args.no_50way, methods=args.method,
        all_methods=args.all_methods,
        workers=args.workers, cache_dir=args.cache, device=args.device,
        previous_results=args.previous,
    )
    reproduce(config, args.out, progress=not args.quiet)
    return 0
