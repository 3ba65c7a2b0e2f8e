"""``zsaudio embed``: audio files, folders or a dataset csv -> clip embeddings (cached).

Writes ``DIR/embeddings.npz`` (``paths``, ``embeddings`` (n, d), ``ok``, and ``scores`` /
``class_names`` for encoders with a classifier), ``DIR/failures.tsv`` and
``DIR/encoder_config.json``. Exit status 1 when any input failed: a file missing or not
decodable, a folder without audio (each printed with its reason, and listed in
``failures.tsv``; the others are embedded); 2 when there is nothing to embed at all.
With ``--ray [ADDRESS]`` it runs on a Ray cluster instead and writes Parquet shards
(``zsaudio.cluster``; inputs may also be globs, URIs and .parquet manifests).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from zsaudio.audio.files import AUDIO_EXTENSIONS, expand_inputs
from zsaudio.cli.ray_jobs import add_ray_arguments, run_embed
from zsaudio.device import DEVICE_HELP
from zsaudio.embeddings import available_encoders
from zsaudio.embeddings.extract import embed_files
from zsaudio.errors import EXIT_FAILURE, EXIT_OK, UserError
from zsaudio.fileio import atomic_write, atomic_write_text, json_dumps


def _csv_paths(csv_path: Path) -> list[str]:
    """Resolve a dataset csv's ``filename``/``path`` column (by stem, any audio extension)."""
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    column = next((c for c in ("path", "filename", "file") if rows and c in rows[0]), None)
    if column is None:
        raise UserError(f"{csv_path}: no 'path' or 'filename' column")
    bases = [csv_path.parent, csv_path.parent / "audio", csv_path.parent.parent / "audio"]
    stems: dict[str, Path] = {}
    for base in reversed(bases):
        if base.is_dir():
            stems.update({p.stem: p for p in base.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS})
    out = []
    for row in rows:
        name = row[column]
        found = next((b / name for b in bases if (b / name).is_file()), None)
        if found is None:
            found = stems.get(Path(name).stem, bases[0] / name)  # missing: reported later
        out.append(str(found))
    return out


def embed_inputs(inputs: list[str]) -> list[tuple[str, str | None]]:
    """Files to embed, as ``(path, error)`` entries: each file as given (a missing one too: its
    row stays in the output, marked failed), each folder's audio files (recursive, sorted,
    :func:`zsaudio.audio.files.expand_inputs`), each ``.csv``'s rows (by stem, any audio
    extension). A folder without audio is an entry with its error: reported, not skipped.

    >>> import tempfile
    >>> embed_inputs(["x.wav", tempfile.mkdtemp()])[0]
    ('x.wav', None)
    >>> embed_inputs([tempfile.mkdtemp()])[0][1]
    'folder holds no audio file (.wav, .flac, .ogg, .aiff, .aif, .mp3)'
    """
    out: list[tuple[str, str | None]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += expand_inputs([item])
        elif p.suffix.lower() == ".csv" and p.is_file():
            out += [(path, None) for path in _csv_paths(p)]
        else:
            out.append((str(item), None))
    return out


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "embed",
        help="compute audio embeddings (VGGish / YAMNet) of files, folders or a dataset csv",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio file, folder or csv")
    parser.add_argument("--encoder", choices=available_encoders(), default="yamnet")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes")
    parser.add_argument("--device", default="cpu", help=DEVICE_HELP)
    parser.add_argument("--cache", default=None, metavar="DIR", help="embedding cache folder")
    parser.add_argument(
        "--vggish-weights",
        default=None,
        help="VGGish weights: .pth / .ckpt path or 'random' (default: from the asset path)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_ray_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = {}
    if args.encoder == "vggish" and args.vggish_weights:
        options["weights"] = args.vggish_weights
    if args.ray is not None:
        return run_embed(args, options)
    entries = embed_inputs(args.paths)
    paths = [p for p, err in entries if err is None]
    skipped = {p: err for p, err in entries if err is not None}
    if not paths:
        raise UserError("no audio file to embed: "
                        + "; ".join(f"{p}: {err}" for p, err in skipped.items()))
    result = embed_files(
        paths,
        encoder=args.encoder,
        encoder_options=options,
        cache_dir=args.cache,
        workers=args.workers,
        progress=not args.no_progress,
        device=args.device,
    )
    failures = {**skipped, **result.failures}
    out = Path(args.out)
    arrays = {"paths": np.array(result.paths), "embeddings": result.embeddings, "ok": result.ok}
    if result.scores is not None:
        arrays["scores"] = result.scores
        arrays["class_names"] = np.array(result.class_names)
    atomic_write(out / "embeddings.npz", lambda f: np.savez(f, **arrays))
    lines = ["path\treason"] + [f"{p}\t{r}" for p, r in failures.items()]
    atomic_write_text(out / "failures.tsv", "\n".join(lines) + "\n")
    atomic_write_text(out / "encoder_config.json", json_dumps(result.encoder_config, indent=1))
    for path, reason in failures.items():
        print(f"FAILED {path}: {reason}", file=sys.stderr)
    n_ok = int(result.ok.sum())
    print(
        f"{n_ok}/{len(paths)} files embedded with {args.encoder} -> {out / 'embeddings.npz'}"
        + (f"; {len(failures)} input(s) failed" if failures else ""),
        file=sys.stderr,
    )
    return EXIT_FAILURE if failures else EXIT_OK
