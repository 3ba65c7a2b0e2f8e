"""``zsaudio classify --segments``: where in long recordings each label sounds.

Example
-------
::

    zsaudio classify street.flac --model model.npz --labels "dog barking" siren rain --segments
    zsaudio classify street.flac --model model.npz --labels dog siren --segments \\
        --window 2 --hop 0.5 --threshold 0.5 --min-duration 1 --events-out events.tsv \\
        --plot timeline.png --json

Text output: per file, its duration and one ``onset offset label score`` line per event.
``--events-out`` writes the DCASE / sed_eval event list (tab-separated ``onset offset
event_label``; with several inputs a first ``filename`` column; comma-separated for ``.csv``).
``--plot`` draws the log-mel spectrogram, the per-label probabilities and the events (with
several inputs, one picture per file: ``timeline-<file stem>.png``). ``--json`` prints one
object: the classify header plus ``"segments": true`` and per file
:meth:`zsaudio.timeline.SegmentResult.to_dict` (per-window top-k rankings and the events).

``--workers N`` runs N copies of YAMNet in threads (default 1; see
:func:`zsaudio.timeline.classify_segments`).

Exit status as ``classify``: 1 when a file could not be read or decoding stopped early (the
windows before the damage are still printed), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from tqdm import tqdm

from zsaudio.audio.files import expand_inputs
from zsaudio.audio.io import AudioDecodeError
from zsaudio.timeline import (
    DEFAULT_HOP,
    DEFAULT_MAX_GAP,
    DEFAULT_MIN_DURATION,
    DEFAULT_MIN_LEVEL_DB,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW,
    SegmentResult,
    write_event_table,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--segments`` options of ``zsaudio classify``."""
    g = p.add_argument_group("long recordings (--segments)")
    g.add_argument("--segments", action="store_true",
                   help="rank the labels in every window of each file and list the events "
                        "(files are streamed: any length)")
    g.add_argument("--window", type=float, default=DEFAULT_WINDOW, metavar="SEC", help="window length")
    g.add_argument("--hop", type=float, default=DEFAULT_HOP, metavar="SEC", help="window step")
    g.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="P",
                   help="probability at which a label is active in a window")
    g.add_argument("--min-duration", type=float, default=DEFAULT_MIN_DURATION, metavar="SEC",
                   help="shorter events are dropped")
    g.add_argument("--max-gap", type=float, default=DEFAULT_MAX_GAP, metavar="SEC",
                   help="gaps shorter than this inside an event are filled")
    g.add_argument("--min-level", type=float, default=DEFAULT_MIN_LEVEL_DB, metavar="DBFS",
                   help="windows quieter than this (RMS) get no events")
    g.add_argument("--events-out", metavar="FILE", help="event list (DCASE: onset, offset, event_label; "
                                                         ".tsv or .csv)")
    g.add_argument("--plot", metavar="FILE.png", help="spectrogram + probabilities + events picture")


def check_arguments(args: argparse.Namespace) -> str | None:
    """A one-line message for a bad ``--segments`` option, or None."""
    if not args.segments:
        used = [f"--{n.replace('_', '-')}" for n in ("events_out", "plot") if getattr(args, n)]
        return f"{', '.join(used)} need(s) --segments" if used else None
    for name in ("window", "hop"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            return f"--{name} must be a positive number of seconds, got {value:g}"
    if not 0.0 <= args.threshold <= 1.0:
        return f"--threshold must be a probability in [0, 1], got {args.threshold:g}"
    if args.min_duration < 0 or args.max_gap < 0:
        return "--min-duration and --max-gap must be >= 0 seconds"
    for name in ("events_out", "plot"):
        value = getattr(args, name)
        if value and not Path(value).parent.is_dir():
            return f"--{name.replace('_', '-')}: folder {Path(value).parent} does not exist"
    return None


def _plot_path(plot: str, source: str, several: bool) -> Path:
    p = Path(plot)
    return p.with_name(f"{p.stem}-{Path(source).stem}{p.suffix}") if several else p


def format_events(result: SegmentResult) -> str:
    """Text block of one file: path, duration, then ``onset offset label score`` per event."""
    lines = [f"{result.path}  ({result.duration:.2f} s, {len(result.starts)} windows, "
             f"{len(result.events)} events)"]
    if result.error:
        lines.append(f"  error: {result.error} (the windows before it are kept)")
    width = max((len(e.label) for e in result.events), default=5)
    lines.append(f"  {'onset':>9}  {'offset':>9}  {'label':<{width}}  score")
    for e in result.events:
        lines.append(f"  {e.onset:9.2f}  {e.offset:9.2f}  {e.label:<{width}}  {e.score:.2f}")
    return "\n".join(lines)


def run(args: argparse.Namespace, clf, labels: list[str]) -> int:
    """Classify each input's windows with the loaded classifier ``clf``; the exit status."""
    entries = expand_inputs(args.inputs)
    several = len(entries) > 1
    results: list[SegmentResult] = []
    failed: dict[str, str] = {}
    for path, err in entries:
        if err is not None:
            failed[path] = err
            continue
        bar = tqdm(total=None, unit="s", unit_scale=False, desc=Path(path).name, disable=None,
                   leave=False, file=sys.stderr, bar_format="{desc}: {n:.0f}/{total_fmt} s audio "
                   "[{elapsed}<{remaining}]")

        def progress(done: float, total: float, bar=bar) -> None:
            bar.total = round(total)
            bar.n = done
            bar.refresh()

        try:
            res = clf.classify_segments(path, labels, window=args.window, hop=args.hop,
                                        threshold=args.threshold, min_duration=args.min_duration,
                                        max_gap=args.max_gap, min_level_db=args.min_level,
                                        top_k=args.top_k, spectrogram=bool(args.plot),
                                        threads=args.workers or 1, progress=progress)
        except AudioDecodeError as error:
            failed[path] = str(error)
            continue
        finally:
            bar.close()
        results.append(res)
        if res.error:
            failed[path] = res.error
        if args.plot:
            from zsaudio.timeline_plot import plot_segments

            plot_segments(res, _plot_path(args.plot, path, several))
    if args.events_out:
        events = [e for r in results for e in r.events]
        files = [r.path for r in results for _ in r.events] if several else None
        write_event_table(events, args.events_out, files)
    if args.json:
        by_path = {r.path: r for r in results}
        docs = [by_path[p].to_dict() if p in by_path else {"path": p, "error": failed[p]}
                for p, _ in entries]
        doc = {"model": None if args.model is None else str(args.model), "method": clf.method,
               "audio_encoder": clf.audio_encoder,
               "label_encoder": clf.label_encoder, "temperature": clf.temperature_, "labels": labels,
               "top_k": min(args.top_k, len(labels)), "segments": True, "n_files": len(entries),
               "n_failed": len(failed), "results": docs}
        print(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print("\n".join(format_events(r) for r in results))
    if failed:
        print(f"zsaudio classify: {len(failed)} of {len(entries)} file(s) not (fully) classified:",
              file=sys.stderr)
        for p, reason in failed.items():
            print(f"  {p}: {reason}", file=sys.stderr)
        return 1
    return 0

