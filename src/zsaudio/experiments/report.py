"""Aggregate split results over folds and seeds, and write the tables and figures.

Per seed, a (method, setting, category) accuracy pools the test clips of all its folds, i.e.
the mean over folds weighted by their test clips (equal weights with all 2000 clips, except
Setting 1 of a label encoder covering an odd number of a category's classes); across seeds
it is reported as mean ± standard deviation (population std, ``ddof=0``). Accuracies in %.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from zsaudio.datasets.esc50 import CATEGORIES
from zsaudio.experiments import paper
from zsaudio.experiments.runner import SplitResult
from zsaudio.fileio import atomic_write_text, json_dumps

GroupKey = tuple  # (method, setting, train_category, eval_category)


def per_seed_rows(results: Iterable[SplitResult]) -> list[dict]:
    """One row per (method, setting, train category, eval category, seed), folds pooled.

    For setting ``"gzsl"`` the row also has seen (``s``), unseen (``u``) and harmonic (``H``)
    accuracy; ``top1`` is then the accuracy over all its test clips.
    """
    groups: dict[tuple, list[SplitResult]] = defaultdict(list)
    for r in results:
        groups[(r.method, r.setting, r.train_category, r.eval_category, r.seed)].append(r)
    rows = []
    for (method, setting, train_cat, eval_cat, seed), rs in groups.items():
        y = np.concatenate([r.y_true for r in rs])
        # folds may rank different numbers of candidates (top-k is cut at their count)
        hit1 = np.concatenate([r.topk[:, 0] == r.y_true for r in rs])
        hit3 = np.concatenate([(r.topk == r.y_true[:, None]).any(axis=1) for r in rs])
        row = dict(method=method, setting=setting, train_category=train_cat or "",
                   eval_category=eval_cat, seed=seed, n_test=len(y),
                   top1=100 * float(hit1.mean()), top3=100 * float(hit3.mean()),
                   chance=100 * float(np.mean([r.chance for r in rs])))
        if setting == "gzsl":
            seen = np.isin(y, rs[0].train_classes)
            s, u = 100 * float(hit1[seen].mean()), 100 * float(hit1[~seen].mean())
            row.update(s=s, u=u, H=0.0 if s + u == 0 else 2 * s * u / (s + u))
        rows.append(row)
    return rows


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(values, float)
    return float(a.mean()), float(a.std())


def summarize(rows: Sequence[dict], metric: str = "top1") -> dict[GroupKey, tuple[float, float]]:
    """(method, setting, train category, eval category) → (mean, std) of ``metric`` over seeds."""
    by: dict[GroupKey, list[float]] = defaultdict(list)
    for r in rows:
        if metric in r:
            by[(r["method"], r["setting"], r["train_category"], r["eval_category"])].append(r[metric])
    return {k: _mean_std(v) for k, v in by.items()}


def category_average(rows: Sequence[dict], method: str, setting, metric: str = "top1",
                     eval_category: str | None = None) -> tuple[float, float] | None:
    """Per seed, average ``metric`` over categories (or over the rows of one
    ``eval_category``: its training categories in Setting 2), then mean ± std over seeds."""
    per_seed: dict[int, list[float]] = defaultdict(list)
    for r in rows:
        if r["method"] == method and r["setting"] == setting and metric in r and (
                eval_category is None or r["eval_category"] == eval_category):
            per_seed[r["seed"]].append(r[metric])
    if not per_seed:
        return None
    return _mean_std([np.mean(v) for v in per_seed.values()])


def fmt(ms: tuple[float, float] | None) -> str:
    return "–" if ms is None else f"{ms[0]:.1f} ± {ms[1]:.1f}"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _methods(rows: Sequence[dict], setting) -> list[str]:
    return list(dict.fromkeys(r["method"] for r in rows if r["setting"] == setting))


def _chance_row(rows: Sequence[dict], setting, cats: Sequence[str]) -> list[str]:
    out = []
    for cat in cats:
        vals = [r["chance"] for r in rows if r["setting"] == setting and r["eval_category"] == cat]
        out.append(f"{np.mean(vals):.1f}" if vals else "–")
    return out


def setting_table(rows: Sequence[dict], setting: int, metric: str = "top1") -> str:
    """Markdown table: methods × evaluation categories (+ mean), paper and chance rows.

    A cell is the mean ± std over seeds of the category's accuracy (Setting 2: per seed, the
    mean over the training categories of that evaluation category).
    """
    header = ["method", *CATEGORIES, "mean"]
    body = []
    for m in _methods(rows, setting):
        cells = [fmt(category_average(rows, m, setting, metric, eval_category=cat))
                 for cat in CATEGORIES]
        cells.append(fmt(category_average(rows, m, setting, metric)))
        body.append([m, *cells])
    if metric == "top1":
        ref = {1: paper.SETTING1, 2: paper.SETTING2_AVG, 3: paper.SETTING3, 4: paper.SETTING4}[setting]
        mean = np.mean(list(ref.values()))
        body.append(["paper (VGGish + Word2Vec, Alg. 1)", *[f"{ref[c]:.1f}" for c in CATEGORIES],
                     f"{mean:.1f}"])
        chance = _chance_row(rows, setting, CATEGORIES)
        body.append(["chance", *chance, "–"])
    return _md_table(header, body)


def setting2_matrix(rows: Sequence[dict], method: str) -> str:
    """Markdown train × test matrix of Setting 2 for one method, paper value in brackets."""
    summ = summarize(rows)
    body = []
    for tr in CATEGORIES:
        cells = []
        for te in CATEGORIES:
            if te == tr:
                cells.append("–")
                continue
            ours = summ.get((method, 2, tr, te))
            ref = paper.SETTING2[tr].get(te)
            cells.append(f"{fmt(ours)} ({ref:.1f})" if ref is not None else fmt(ours))
        body.append([tr, *cells])
    return _md_table(["train \\ test", *CATEGORIES], body)


def headline_table(rows: Sequence[dict]) -> str:
    """Markdown: one row per method, the category-mean top-1 of each setting, GZSL H and the
    50-way accuracy (mean ± std over seeds), then the paper's row."""
    settings = [1, 2, 3, 4, "gzsl", "50-way"]
    names = {1: "Setting 1", 2: "Setting 2", 3: "Setting 3", 4: "Setting 4", "gzsl": "GZSL H",
             "50-way": "50-way"}
    body = []
    for m in dict.fromkeys(r["method"] for r in rows):
        cells = [fmt(category_average(rows, m, s, "H" if s == "gzsl" else "top1"))
                 for s in settings]
        body.append([m, *cells])
    body.append(["paper (VGGish + Word2Vec, Alg. 1)",
                 f"{np.mean(list(paper.SETTING1.values())):.1f}", f"{paper.MEANS['setting2']:.1f}",
                 f"{paper.MEANS['setting3']:.1f}", f"{paper.MEANS['setting4']:.1f}", "–", "–"])
    return _md_table(["method · label encoder", *[names[s] for s in settings]], body)


def gzsl_table(rows: Sequence[dict]) -> str:
    """Markdown: per method, mean over categories of seen s, unseen u and harmonic mean H."""
    body = []
    for m in _methods(rows, "gzsl"):
        body.append([m] + [fmt(category_average(rows, m, "gzsl", k)) for k in ("s", "u", "H")])
    return _md_table(["method", "seen s", "unseen u", "H"], body)


def fifty_way_table(rows: Sequence[dict]) -> str:
    body = []
    for m in _methods(rows, "50-way"):
        chance = np.mean([r["chance"] for r in rows if r["setting"] == "50-way" and r["method"] == m])
        body.append([m, fmt(category_average(rows, m, "50-way")),
                     fmt(category_average(rows, m, "50-way", "top3")), f"{chance:.1f}"])
    return _md_table(["method", "top-1", "top-3", "chance"], body)


def read_rows_csv(path: str | Path) -> list[dict]:
    """The per-seed rows of an earlier report's ``results.csv`` (as :func:`per_seed_rows`
    makes them): settings 1-4 as int, ``seed`` and ``n_test`` as int, metrics as float
    (empty cells dropped).

    >>> rows = read_rows_csv("results/esc50_yamnet/results.csv")  # doctest: +SKIP
    >>> rows[0]["method"], rows[0]["setting"]                     # doctest: +SKIP
    ('bilinear · minilm', 1)
    """
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            row: dict = {}
            for key, value in raw.items():
                if value == "" and key not in ("train_category",):
                    continue
                if key == "setting":
                    row[key] = int(value) if value.isdigit() else value
                elif key in ("seed", "n_test"):
                    row[key] = int(value)
                elif key in ("method", "train_category", "eval_category"):
                    row[key] = value
                else:
                    row[key] = float(value)
            out.append(row)
    return out


def ablation_table(rows: Sequence[dict], ablations: dict[str, str]) -> str:
    """Markdown: one row per (ablation spec, label encoder) that ran, with what it turns off
    and its category-mean top-1 in Settings 1, 3, 4 and 50-way (mean ± std over seeds).

    ``ablations`` maps a spec label (the part of a row's method before `` · ``) to a sentence.
    """
    settings = [(1, "Setting 1"), (3, "Setting 3"), (4, "Setting 4"), ("50-way", "50-way")]
    body = []
    for label, what in ablations.items():
        for m in dict.fromkeys(r["method"] for r in rows):
            spec, _, encoder = m.partition(" · ")
            if spec == label:
                body.append([spec, encoder, what,
                             *[fmt(category_average(rows, m, s)) for s, _ in settings]])
    return _md_table(["method", "label encoder", "what differs", *[n for _, n in settings]], body)


def write_csv(path: Path, rows: Sequence[dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, keys)
        w.writeheader()
        w.writerows(rows)


def summary_json(rows: Sequence[dict]) -> dict:
    """Everything of the tables, machine-readable: per method and setting, per category and
    the category mean, top-1 and top-3, mean and std over seeds."""
    out: dict = {}
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    for setting in settings:
        metrics = ["top1", "top3"] + (["s", "u", "H"] if setting == "gzsl" else [])
        for m in _methods(rows, setting):
            entry = out.setdefault(m, {}).setdefault(str(setting), {})
            for metric in metrics:
                cats = {}
                for cat in dict.fromkeys(r["eval_category"] for r in rows if r["setting"] == setting):
                    ms = category_average(rows, m, setting, metric, eval_category=cat)
                    if ms is not None:
                        cats[cat] = {"mean": ms[0], "std": ms[1]}
                mean = category_average(rows, m, setting, metric)
                entry[metric] = {"per_category": cats,
                                 "mean": None if mean is None else {"mean": mean[0], "std": mean[1]}}
    return out


def confusion_matrix(results: Iterable[SplitResult], classes: Sequence[int]) -> np.ndarray:
    """Counts (true × predicted) over ``classes`` (global targets), summed over results."""
    index = {c: i for i, c in enumerate(classes)}
    cm = np.zeros((len(classes), len(classes)), int)
    for r in results:
        for t, p in zip(r.y_true, r.topk[:, 0], strict=True):
            if t in index and p in index:
                cm[index[t], index[p]] += 1
    return cm


def draw_figures(jobs: Sequence[tuple[Callable, tuple]], workers: int | None = None) -> None:
    """Call each ``(plot function, args)`` of ``jobs``; with several jobs and CPUs, in forked
    worker processes (``workers``: the run's; default the CPU count, at most 4): matplotlib
    draws on one core, and a report has a dozen figures or more, which otherwise came after all
    the compute, in series. The functions and arguments must pickle (module-level functions,
    arrays, paths). Any error of a job is raised here."""
    workers = min(workers or min(os.cpu_count() or 1, 4), len(jobs))
    if workers <= 1:
        for fn, args in jobs:
            fn(*args)
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401  imported once, before the fork, not in every worker

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for future in [pool.submit(fn, *args) for fn, args in jobs]:
            future.result()


def plot_confusion(cm: np.ndarray, labels: Sequence[str], title: str, path: Path) -> None:
    """Row-normalised confusion matrix as a PNG (as the paper's Figure 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if cm[i, j]:
                ax.text(j, i, f"{rates[i, j]:.2f}".lstrip("0"), ha="center", va="center",
                        fontsize=6, color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_method_comparison(rows: Sequence[dict], path: Path) -> None:
    """One panel per setting: category-mean top-1 (± std over seeds) of each method that ran
    in it, as horizontal bars, with the paper's number as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = [s for s in (1, 2, 3, 4) if any(r["setting"] == s for r in rows)]
    ref = {1: float(np.mean(list(paper.SETTING1.values()))), 2: paper.MEANS["setting2"],
           3: paper.MEANS["setting3"], 4: paper.MEANS["setting4"]}
    n_max = max(len(_methods(rows, s)) for s in settings) if settings else 1
    fig, axes = plt.subplots(1, max(len(settings), 1), figsize=(4.2 * max(len(settings), 1),
                                                                 1.2 + 0.28 * n_max),
                             sharex=True, squeeze=False)
    for ax, setting in zip(axes[0], settings, strict=False):
        methods = _methods(rows, setting)
        vals = [category_average(rows, m, setting) or (np.nan, 0.0) for m in methods]
        ypos = np.arange(len(methods))[::-1]
        ax.barh(ypos, [v[0] for v in vals], xerr=[v[1] for v in vals], capsize=2, color="C0")
        ax.axvline(ref[setting], color="k", ls="--", lw=1, label="paper")
        ax.set_yticks(ypos, methods, fontsize=7)
        ax.set_title(f"Setting {setting}", fontsize=10)
        ax.set_xlim(0, 100)
        ax.set_xlabel("top-1 accuracy (%)")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def per_class_accuracy(results: Iterable[SplitResult]) -> dict[int, float]:
    """Top-1 accuracy (%) per true class target, pooled over the given results."""
    hits: dict[int, list[bool]] = defaultdict(list)
    for r in results:
        for t, p in zip(r.y_true, r.topk[:, 0], strict=True):
            hits[int(t)].append(bool(t == p))
    return {t: 100 * float(np.mean(v)) for t, v in sorted(hits.items())}


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON (numpy values included), atomically."""
    atomic_write_text(path, json_dumps(obj) + "\n")

