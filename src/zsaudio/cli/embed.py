"""``zsaudio embed``: audio files, folders or a dataset csv -> clip embeddings (cached).

Writes ``DIR/embeddings.npz`` (``paths``, ``embeddings`` (n, d), ``ok``, and ``scores`` /
``class_names`` for encoders with a classifier), ``DIR/failures.tsv`` and
``DIR/encoder_config.json``. Exit status 1 when any file failed (each printed with its reason).
With ``--ray [ADDRESS]`` it runs on a Ray cluster instead and writes Parquet shards
(``zsaudio.cluster``; inputs may also be globs, URIs and .parquet manifests).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from zsaudio.cli.ray_jobs import add_ray_arguments, run_embed
from zsaudio.embeddings.cache import atomic_write_bytes

AUDIO_SUFFIXES = {"." + ext.lower() for ext in sf.available_formats()} | {".mp3", ".ogg", ".oga"}


def _csv_paths(csv_path: Path) -> list[str]:
    """Resolve a dataset csv's ``filename``/``path`` column (by stem, any audio extension)."""
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    column = next((c for c in ("path", "filename", "file") if rows and c in rows[0]), None)
    if column is None:
        raise ValueError(f"{csv_path}: no 'path' or 'filename' column")
    bases = [csv_path.parent, csv_path.parent / "audio", csv_path.parent.parent / "audio"]
    stems: dict[str, Path] = {}
    for base in reversed(bases):
        if base.is_dir():
            stems.update({p.stem: p for p in base.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES})
    out = []
    for row in rows:
        name = row[column]
        found = next((b / name for b in bases if (b / name).is_file()), None)
        if found is None:
            found = stems.get(Path(name).stem, bases[0] / name)  # missing: reported later
        out.append(str(found))
    return out


def expand_inputs(inputs: list[str]) -> list[str]:
    """Files as given; folders -> their audio files (recursive, sorted); ``.csv`` -> its rows."""
    out: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
        elif p.suffix.lower() == ".csv" and p.is_file():
            out += _csv_paths(p)
        else:
            out.append(str(p))
    return out


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "embed",
        help="compute audio embeddings (VGGish / YAMNet) of files, folders or a dataset csv",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio file, folder or csv")
    parser.add_argument("--encoder", choices=["yamnet", "vggish"], default="yamnet")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
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
    from zsaudio.embeddings.extract import embed_files

    options = {}
    if args.encoder == "vggish" and args.vggish_weights:
        options["weights"] = args.vggish_weights
    if args.ray is not None:
        return run_embed(args, options)
    try:
        paths = expand_inputs(args.paths)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not paths:
        print("error: no audio files found in the given paths", file=sys.stderr)
        return 2
    result = embed_files(
        paths,
        encoder=args.encoder,
        encoder_options=options,
        cache_dir=args.cache,
        workers=args.workers,
        progress=not args.no_progress,
        device=args.device,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"paths": np.array(result.paths), "embeddings": result.embeddings, "ok": result.ok}
    if result.scores is not None:
        arrays["scores"] = result.scores
        arrays["class_names"] = np.array(result.class_names)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(out / "embeddings.npz", buffer.getvalue())
    lines = ["path\treason"] + [f"{p}\t{r}" for p, r in result.failures.items()]
    atomic_write_bytes(out / "failures.tsv", ("\n".join(lines) + "\n").encode())
    atomic_write_bytes(out / "encoder_config.json", json.dumps(result.encoder_config, indent=1).encode())
    for path, reason in result.failures.items():
        print(f"FAILED {path}: {reason}", file=sys.stderr)
    n_ok = int(result.ok.sum())
    print(
        f"{n_ok}/{len(paths)} files embedded with {args.encoder} -> {out / 'embeddings.npz'}"
        + (f"; {len(result.failures)} failed" if result.failures else ""),
        file=sys.stderr,
    )
    return 1 if result.failures else 0
