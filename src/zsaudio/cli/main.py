"""``zsaudio`` entry point: builds the argument parser from one module per sub-command.

Each module ``zsaudio.cli.<name>`` defines ``register(subparsers)``, which adds its parser
and sets ``func=run`` (a function ``run(args) -> int`` returning the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from zsaudio import __version__

COMMANDS = ["embed", "labels", "train", "classify", "reproduce", "demo", "serve"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zsaudio",
        description="Zero-shot audio classification from class label embeddings.",
    )
    parser.add_argument("--version", action="version", version=f"zsaudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"zsaudio.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
