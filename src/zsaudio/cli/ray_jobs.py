"""``--ray``: run ``zsaudio embed`` / ``zsaudio classify`` on a Ray cluster (zsaudio.cluster).

The options are added to both commands by :func:`add_ray_arguments`; with ``--ray`` given, the
command's ``run`` hands its arguments to :func:`run_embed` / :func:`run_classify`, which write
Parquet shards and ``failures.parquet`` into ``--out`` (see :mod:`zsaudio.cluster.jobs`).
"""

from __future__ import annotations

import argparse
import sys

MAX_FAILURES_PRINTED = 20


def add_ray_arguments(parser: argparse.ArgumentParser, add_out: bool = False) -> None:
    """Add ``--ray [ADDRESS]``, ``--batch-size`` (and ``--out`` when the command has none)."""
    group = parser.add_argument_group("running on a Ray cluster (pip install \"zsaudio[cluster]\")")
    group.add_argument(
        "--ray", nargs="?", const="", default=None, metavar="ADDRESS",
        help="run on the Ray cluster at ADDRESS ('auto', HOST:PORT or ray://HOST:10001; "
             "without ADDRESS: $RAY_ADDRESS, else 'auto'); results as Parquet shards in --out, "
             "--workers = actors (default: one per cluster CPU); a rerun skips files already there")
    group.add_argument("--batch-size", type=int, default=None, metavar="N",
                       help="with --ray: files per batch and per Parquet shard (default 16)")
    if add_out:
        group.add_argument("--out", metavar="DIR", help="with --ray: output folder (path or URI)")


def _report(what: str, summary, out: str) -> int:
    for path, reason in list(summary.failures.items())[:MAX_FAILURES_PRINTED]:
        print(f"FAILED {path}: {reason}", file=sys.stderr)
    more = len(summary.failures) - MAX_FAILURES_PRINTED
    if more > 0:
        print(f"... and {more} more", file=sys.stderr)
    print(f"{summary.n_ok}/{summary.n_inputs} files {what} on Ray ({summary.n_written} now, "
          f"{summary.n_skipped} already in {out}) in {summary.seconds:.1f} s -> {out}/part-*.parquet"
          + (f"; {len(summary.failures)} failed, listed in {out}/failures.parquet" if summary.failures
             else ""), file=sys.stderr)
    return 1 if summary.failures else 0


def _job_kwargs(args: argparse.Namespace) -> dict:
    from zsaudio.cluster.jobs import DEFAULT_BATCH_SIZE

    batch = args.batch_size or DEFAULT_BATCH_SIZE
    if batch < 1 or (args.workers is not None and args.workers < 1):
        raise ValueError("--batch-size and --workers must be >= 1")
    return {"address": args.ray or None, "workers": args.workers, "batch_size": batch,
            "progress": not getattr(args, "no_progress", False)}


def run_embed(args: argparse.Namespace, options: dict) -> int:
    """``zsaudio embed --ray``: exit status 0 (all embedded), 1 (some failed), 2 (bad input)."""
    from zsaudio.cluster import ClusterJobError, embed_on_ray

    try:
        summary = embed_on_ray(args.paths, args.out, args.encoder, options, **_job_kwargs(args))
    except (ClusterJobError, ValueError, OSError) as err:
        print(f"zsaudio embed: error: {err}", file=sys.stderr)
        return 2
    return _report(f"embedded with {args.encoder}", summary, args.out)


def run_classify(args: argparse.Namespace, labels: list[str]) -> int:
    """``zsaudio classify --ray``: exit status 0 (all ranked), 1 (some failed), 2 (bad input)."""
    from zsaudio.classifier import ZeroShotClassifier
    from zsaudio.cluster import ClusterJobError, classify_on_ray

    if not args.out or args.json:
        print("zsaudio classify: error: --ray needs --out DIR (where the Parquet shards go)"
              + (" and writes no --json: the rankings are in DIR/results/*.parquet" if args.json else ""),
              file=sys.stderr)
        return 2
    if args.model is None:
        print("zsaudio classify: error: --ray needs --model FILE (the cluster's workers load the "
              "model file; the training-free default runs locally, without --ray)", file=sys.stderr)
        return 2
    try:
        # The checks of the local path (--method / --audio-encoder / --label-encoder, unknown
        # words) before the cluster is involved.
        clf = ZeroShotClassifier.load(args.model, method=args.method, audio_encoder=args.audio_encoder,
                                      label_encoder=args.label_encoder)
        for warning in clf.label_warnings(labels) if labels else []:
            print(f"warning: {warning}", file=sys.stderr)
        summary = classify_on_ray(args.inputs, args.model, labels, args.out, args.top_k,
                                  **_job_kwargs(args))
    except (ClusterJobError, ValueError, OSError) as err:
        print(f"zsaudio classify: error: {err}", file=sys.stderr)
        return 2
    return _report("classified", summary, args.out)
