"""``zsaudio serve``: the web page and the JSON API on one local port, one model loaded once.

Example
-------
::

    zsaudio serve                                 # training-free default, http://127.0.0.1:8000/
    zsaudio serve --model model.npz --port 8080
    zsaudio serve --model model.npz --host 0.0.0.0 --max-upload-mb 50   # reachable from others

It binds 127.0.0.1 (this machine only) unless ``--host`` says otherwise. Needs the ``serve``
extra: ``pip install 'zsaudio[serve]'``. Exit status 2 for bad arguments, a missing or
mismatched model, or the extra missing.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Callable

from zsaudio.classifier import ZeroShotClassifier, default_classifier
from zsaudio.errors import UserError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_default_classifier(progress: Callable[[str], None] | None = _log) -> tuple[ZeroShotClassifier, str]:
    """The model ``zsaudio serve`` uses when no ``--model`` is given; (classifier, its name).

    The one place that chooses the default model: the training-free classifier of
    ``zsaudio classify`` without ``--model`` (:func:`zsaudio.classifier.default_classifier`:
    the soft map through YAMNet's AudioSet classes, MiniLM with the prompt ensemble). It needs
    no training data; the first start embeds the AudioSet class texts once (cached after).

    Parameters
    ----------
    progress : callable or None, default: print to stderr
        Receives one-line progress messages; None for silence (also hides progress bars).

    Returns
    -------
    (ZeroShotClassifier, str)
        The classifier and a name for it.

    Example
    -------
    >>> clf, name = load_default_classifier(progress=None)  # doctest: +SKIP
    >>> name                                                 # doctest: +SKIP
    'training-free default (softmap)'
    """
    log = progress or (lambda msg: None)
    log("no --model given: using the training-free default (the soft map through YAMNet's "
        "AudioSet classes; no training data needed)")
    clf = default_classifier(progress=progress is not None)
    return clf, f"training-free default ({clf.method})"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a web page and a JSON API for classifying audio against free-text labels",
        description="Load a model once and serve, on HOST:PORT, a web page (pick, drop or record a "
                    "sound, type labels, see the ranking and the spectrogram) and a versioned JSON "
                    "API under /api/v1 (schema at /openapi.json). Binds this machine only "
                    "(127.0.0.1) unless --host says otherwise.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", metavar="MODEL",
                   help="model file from `zsaudio train` (default: the training-free soft map, "
                        "as `zsaudio classify` without --model)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help="address to bind; 0.0.0.0 makes the server reachable from other machines")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--max-upload-mb", type=float, default=20.0, metavar="MB",
                   help="largest request (all uploaded files together)")
    p.add_argument("--max-labels", type=int, default=100, metavar="N", help="most labels per request")
    p.add_argument("--max-files", type=int, default=16, metavar="N", help="most files per request")
    p.add_argument("--max-audio-seconds", type=float, default=600.0, metavar="S",
                   help="longest recording accepted, in seconds")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from zsaudio.serve.app import create_app
        from zsaudio.serve.core import ServeLimits
    except ImportError as err:
        raise UserError(f"the server needs the 'serve' extra ({err.name} is missing): "
                        "pip install 'zsaudio[serve]'") from err
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be 0-65535, got {args.port}")
    try:
        limits = ServeLimits(max_upload_mb=args.max_upload_mb, max_labels=args.max_labels,
                             max_files=args.max_files, max_audio_seconds=args.max_audio_seconds)
    except ValueError as err:
        raise UserError(str(err).replace("max_", "--max-").replace("_", "-")) from err
    # A missing or mismatched model file is a user error (FileNotFoundError / ValueError):
    # cli.main reports it in one line.
    if args.model:
        clf, name = ZeroShotClassifier.load(args.model), str(args.model)
    else:
        clf, name = load_default_classifier(_log)
    app = create_app(clf, limits, model_name=name)
    if not _is_loopback(args.host):
        _log(f"warning: binding {args.host}: other machines can reach this server; it has no "
             "authentication")
    _log(f"model {name} ({clf.method}, {clf.audio_encoder} + {clf.label_encoder}); "
         f"serving http://{args.host}:{args.port}/ (Ctrl+C stops it)")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
