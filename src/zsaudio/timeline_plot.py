"""The picture of a :class:`~zsaudio.timeline.SegmentResult`: log-mel spectrogram on top, each
label's probability over time beneath it, events marked.

Readable from seconds to hours: the spectrogram arrives max-pooled to about 2400 columns
(:func:`zsaudio.timeline.classify_segments` with ``spectrogram=True``) and the probability
curves are max-pooled to the figure's pixel width here, so a one-second event in an hour is
still drawn (as a peak) instead of vanishing between plotted samples.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zsaudio.audio import params
from zsaudio.timeline import SegmentResult, max_pool_columns, runs_of_true


def _time_axis(seconds: float) -> tuple[float, str]:
    """Scale and unit for a time axis: seconds below 3 min, minutes below 3 h, else hours."""
    if seconds < 180:
        return 1.0, "s"
    if seconds < 3 * 3600:
        return 60.0, "min"
    return 3600.0, "h"


def plot_segments(result: SegmentResult, path: str | os.PathLike, width: float = 12.0,
                  dpi: int = 100, title: str | None = None) -> Path:
    """Draw the spectrogram, the per-label probability curves and the events into a PNG.

    Parameters
    ----------
    result : SegmentResult
        From ``classify_segments(..., spectrogram=True)`` (without a spectrogram the top panel
        is left out).
    path : path
        Output image (any format matplotlib writes, by extension; written atomically).
    width : float, default 12.0
        Inches; the curves are max-pooled to ``width * dpi`` points.
    dpi : int, default 100
    title : str, optional
        Default: the file name and its duration.

    Returns
    -------
    Path

    Example
    -------
    >>> res = clf.classify_segments("street.flac", ["dog", "siren"], spectrogram=True)  # doctest: +SKIP
    >>> plot_segments(res, "timeline.png")                                              # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    scale, unit = _time_axis(max(result.duration, 1e-3))
    has_spec = result.spectrogram is not None and result.spectrogram.shape[1] > 0
    n_labels = len(result.labels)
    rows = [2.2] if has_spec else []
    rows += [1.2 + 0.12 * n_labels, 0.35 + 0.22 * n_labels]
    fig, axes = plt.subplots(len(rows), 1, figsize=(width, sum(rows) + 0.9), sharex=True,
                             gridspec_kw={"height_ratios": rows}, dpi=dpi)
    axes = list(np.atleast_1d(axes))
    colors = plt.get_cmap("tab10" if n_labels <= 10 else "tab20")(np.arange(n_labels) % 20)
    end = result.duration / scale

    if has_spec:
        ax = axes.pop(0)
        # max-pooled to the pixel width too: nearest-neighbour drawing would drop columns
        pool = max(1, int(np.ceil(result.spectrogram.shape[1] / (width * dpi))))
        spec = max_pool_columns(result.spectrogram.T, pool).T
        ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
                  extent=(0, spec.shape[1] * pool * result.spectrogram_seconds / scale, 0, spec.shape[0]),
                  vmin=np.percentile(spec, 5), vmax=np.percentile(spec, 99.5))
        ax.set_ylabel("log-mel")
        ax.set_yticks([0, spec.shape[0]], [f"{params.MEL_MIN_HZ:g} Hz", f"{params.MEL_MAX_HZ / 1000:g} kHz"])

    ax_p, ax_e = axes
    # Probabilities: each window's value over its centre, max-pooled to the pixel width.
    centres = (result.starts + result.ends) / 2 / scale
    factor = max(1, int(np.ceil(len(centres) / (width * dpi))))
    t = centres[::factor][: len(max_pool_columns(centres[:, None], factor))]
    probs = max_pool_columns(result.probabilities, factor)
    for c, label in enumerate(result.labels):
        ax_p.plot(t, probs[:, c], color=colors[c], lw=1.2, label=label)
    threshold = result.settings.get("threshold")
    if threshold is not None:
        ax_p.axhline(threshold, color="0.4", lw=0.8, ls="--")
    quiet = result.level_db < result.settings.get("min_level_db", -np.inf)
    for a, b in runs_of_true(quiet):
        ax_p.axvspan(result.starts[a] / scale, result.ends[b - 1] / scale, color="0.9", lw=0, zorder=0)
    ax_p.set_ylim(0, 1.02)
    ax_p.set_ylabel("probability")
    ax_p.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)

    # Events: one lane per label.
    for e in result.events:
        c = result.labels.index(e.label)
        ax_e.broken_barh([(e.onset / scale, max((e.offset - e.onset) / scale, end * 1e-3))],
                         (n_labels - 1 - c + 0.15, 0.7), color=colors[c], alpha=0.4 + 0.6 * e.score)
    ax_e.set_yticks(n_labels - 1 - np.arange(n_labels) + 0.5, result.labels, fontsize=8)
    ax_e.set_ylim(0, n_labels)
    ax_e.set_xlim(0, end)
    ax_e.set_xlabel(f"time ({unit})")
    ax_e.set_ylabel("events")
    name = title or f"{Path(result.path).name} ({result.duration:.1f} s, {len(result.events)} events)"
    if result.error:
        name += f" - {result.error}"
    fig.suptitle(name, fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)
    return path

