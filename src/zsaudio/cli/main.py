"""``zsaudio`` entry point: builds the argument parser from one module per sub-command.

Each module ``zsaudio.cli.<name>`` defines ``register(subparsers)``, which adds its parser
and sets ``func=run`` (a function ``run(args) -> int`` returning the exit status).

Errors take one path for every sub-command (:func:`main`): a user error
(:data:`zsaudio.errors.USER_ERRORS`: :class:`~zsaudio.errors.UserError`, ``ValueError``,
``FileNotFoundError``) is printed as ``zsaudio <command>: error: <message>`` on stderr with
exit status 2; another ``OSError`` (permission denied, disk full) the same way with status 1;
Ctrl-C gives status 130. Any other exception is a bug and keeps its traceback, as do user
errors under ``zsaudio --traceback``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from zsaudio import __version__
from zsaudio.errors import (
    EXIT_CODES_HELP,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    USER_ERRORS,
    describe_error,
)

COMMANDS = ["embed", "labels", "train", "classify", "reproduce", "demo", "serve"]


def build_parser() -> argparse.ArgumentParser:
    """The ``zsaudio`` parser with every sub-command of :data:`COMMANDS` registered.

    >>> build_parser().parse_args(["labels", "dog"]).command
    'labels'
    """
    parser = argparse.ArgumentParser(
        prog="zsaudio",
        description="Zero-shot audio classification from class label embeddings.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"zsaudio {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="show the Python traceback of user errors too (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"zsaudio.cli.{name}").register(sub)
    return parser


def _report(command: str, err: BaseException) -> None:
    print(f"zsaudio {command}: error: {describe_error(err)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``zsaudio`` with ``argv`` (default ``sys.argv[1:]``) and return its exit status.

    Returns
    -------
    int
        0 done; 1 some inputs failed or the system refused a read/write; 2 user error (also
        argparse's usage errors, which exit through ``SystemExit``); 130 interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"zsaudio {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except USER_ERRORS as err:
        if args.traceback:
            raise
        _report(args.command, err)
        return EXIT_USAGE
    except OSError as err:  # not the user's mistake, nor a bug: the system refused
        if args.traceback:
            raise
        _report(args.command, err)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
