"""The Markdown report of ``zsaudio reproduce`` (``report.md``) and its hyper-parameter tables.

The tables and figures come from :mod:`zsaudio.experiments.report`; this module arranges them
with the context a reader needs (what differs from the paper, what "zero-shot" means with an
AudioSet encoder, what was chosen on validation classes, what the run cost).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from zsaudio.datasets.esc50 import CATEGORIES, Esc50
from zsaudio.experiments import report
from zsaudio.experiments.runner import SplitResult
from zsaudio.fileio import atomic_write_text
from zsaudio.labels import label_text
from zsaudio.labels.audioset import nearest_audioset_classes
from zsaudio.model.softmap import DEFAULT_SOURCE_TEXT, DEFAULT_TAU

__all__ = ["ABLATIONS", "hardest_classes_section", "selected_params_summary", "write_report",
           "write_selected_params"]

#: Methods whose Setting 3 confusion matrices are drawn: the paper's model, the round-1 best
#: and the default method.
CONFUSION_METHODS = ("bilinear", "conse-anchored", "softmap")
#: The soft map's hardest Setting 3 classes are listed with their usual wrong answer and their
#: nearest AudioSet class (what limits a method that reads the encoder's label space).
ERROR_ANALYSIS_METHOD = "softmap"
ERROR_ANALYSIS_CLASSES = 12
#: What each ablation row of the report turns off (by the spec's label:
#: :func:`zsaudio.experiments.reproduce.ablation_methods`).
ABLATIONS = {
    "softmap": "all on: source texts and tau chosen on validation classes",
    "softmap, names only": "source texts: the AudioSet display name only (no synonyms, no "
                           "description); tau chosen on validation classes",
    "softmap, defaults": "no selection: the a-priori defaults (tau = 0.03, synonyms + "
                         "description)",
    "softmap-fewshot": "all on: silence-gated prototypes + soft map, weight by 5-shot episodes",
    "softmap-fewshot, mean pooling": "prototypes of plain-mean clip embeddings (no silence "
                                     "gate, no square root)",
    "softmap-fewshot, prototypes only": "soft map share 0 (silence-gated prototypes alone)",
}


def class_texts(data: Esc50) -> list[str]:
    """ESC-50 class names as label text ("sea_waves" → "sea waves")."""
    return [label_text(name) for name in data.class_names]


def slug(text: str) -> str:
    """``text`` with every non-alphanumeric character as ``_`` (file names)."""
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def _encoder_lines(record: dict, used: str) -> list[str]:
    """What the run's encoders are, beside the paper's (VGGish + full Google News Word2Vec)."""
    audio = record["audio_encoder"].get("encoder")
    lines = []
    if audio != "vggish":
        lines.append(f"- Audio encoder: `{audio}` instead of VGGish (no VGGish row in this run). "
                     "YAMNet: 1024-d embedding per 0.96 s patch (hop 0.48 s), averaged over the "
                     "clip as in the paper; its 521 AudioSet class scores feed ConSE.")
    lines.append(f"- Label encoders: {used}; the paper's is the full Google News Word2Vec (3 M "
                 "words). A word-vector encoder runs only on the ESC-50 classes all of whose "
                 "words it knows, so its settings have fewer classes (chance levels in the "
                 "tables say so).")
    return lines


def _compute_line(label: str, methods: dict) -> str:
    """Markdown line: what one label encoder's methods took to compute, reloaded or not."""
    reloaded = [m for m, r in methods.items() if r["reloaded"]]
    line = f"- `{label}`: computed in {sum(r['compute_s'] for r in methods.values()):.0f} s"
    if reloaded:
        line += f"; reloaded from checkpoints of an earlier invocation: {', '.join(reloaded)}"
    return line


def write_selected_params(path: Path, results: Sequence[SplitResult]) -> None:
    """One row per method and split: the hyper-parameters it was fitted with (chosen on
    validation classes, or the defaults where no search ran), and those the method chose
    itself inside its fit (the hybrids' weights, shrinkage and feature space)."""
    rows = [dict(method=r.method, setting=r.setting, train_category=r.train_category or "",
                 eval_category=r.eval_category, fold=r.fold, seed=r.seed,
                 params=json.dumps({k: v for k, v in r.params.items() if k != "seed"},
                                   sort_keys=True, default=str),
                 chosen_in_fit=json.dumps(r.chosen, sort_keys=True, default=str))
            for r in results]
    report.write_csv(path, rows)


def selected_params_summary(results: Sequence[SplitResult]) -> list[str]:
    """Markdown lines: per method, how often each hyper-parameter value was chosen (by the
    search on validation classes, or "in fit" by the method's own validation)."""
    counts: dict[str, dict[str, dict]] = {}
    for r in results:
        named = [*r.params.items(), *((f"{k} (in fit)", v) for k, v in r.chosen.items())]
        for k, v in named:
            if k != "seed":
                by_value = counts.setdefault(r.method, {}).setdefault(k, {})
                by_value[v] = by_value.get(v, 0) + 1
    lines = []
    for method, params in counts.items():
        parts = [f"{k}: " + ", ".join(f"{v} ×{n}" for v, n in sorted(vals.items(), key=str))
                 for k, vals in params.items()]
        lines.append(f"- {method}: " + "; ".join(parts))
    return lines


def context_section(data: Esc50, record: dict) -> list[str]:
    """Markdown lines: what differs from the paper, and which ESC-50 classes the audio
    encoder's training ontology (AudioSet) already names, by the rule of
    :func:`zsaudio.labels.audioset.nearest_audioset_classes`."""
    labels = record["label_encoders"]
    used = ", ".join(f"`{k}` ({v.get('classes_used', '?')} classes)" for k, v in labels.items())
    matches = nearest_audioset_classes(data.class_names)
    identical = [m for m in matches if m.near_identical]
    contains = [m for m in matches if m.kind == "contains"]
    other = [m for m in matches if not m.near_identical and m.kind != "contains"]

    def listing(ms):
        return ", ".join(f"{label_text(m.target)} → {m.name}" if m.name else
                         label_text(m.target) for m in ms) or "none"

    return [
        "## What differs from the paper", "",
        *_encoder_lines(record, used),
        f"- Clips: {record['clips_embedded']} of {record['clips_listed']} (the paper: 2000).",
        "- Hyper-parameters (learning rate, epochs, regularisers, T) are chosen once per "
        "method and training-class set, on 25 % of the training classes held out as validation "
        "classes, never on test classes; the seeds and folds that train on the same classes share "
        "that choice, and the seeds vary what the paper's protocol varies (the SGD sample order, "
        "the random folds of Settings 1 and 4, the few-shot draw). The paper does not say how it "
        "chose them. Its random folds are not published: ours are "
        f"drawn per seed ({record['config']['seeds']} seeds), hence mean ± std. The 50-way "
        "protocol has no training classes: ConSE runs there with its default T = 5 and raw "
        "scores, once (no seed to vary, so its std is 0).",
        *[f"- {v['note']}" for v in labels.values() if v.get("note")],
        "",
        "## What \"zero-shot\" means with an AudioSet encoder", "",
        "YAMNet (like VGGish's AudioSet siblings) was trained on the 521 AudioSet classes, and "
        "most ESC-50 classes have a near-identical AudioSet class. \"Zero-shot\" here means *no "
        "ESC-50 audio of the class was used*, as with CLAP models — not that the audio encoder "
        "never heard such sounds. Matching class names by words "
        "(`zsaudio.labels.audioset.nearest_audioset_classes`):",
        "",
        f"- same words ({len(identical)}): {listing(identical)}",
        f"- an AudioSet name contained in the ESC-50 name ({len(contains)}): {listing(contains)}",
        f"- no such match ({len(other)}): {listing(other)}",
        "",
    ]


def hardest_classes_section(results: Sequence[SplitResult], data: Esc50) -> list[str]:
    """Markdown lines: for each label encoder's :data:`ERROR_ANALYSIS_METHOD` row, its
    :data:`ERROR_ANALYSIS_CLASSES` worst Setting 3 classes (top-1 %, pooled over seeds), the
    class most often predicted instead, and the nearest AudioSet class by words
    (:func:`zsaudio.labels.audioset.nearest_audioset_classes`: kind of match)."""
    names = class_texts(data)
    matches = nearest_audioset_classes(data.class_names)
    md: list[str] = []
    for m in dict.fromkeys(r.method for r in results if r.setting == 3
                           and r.method.split(" · ")[0] == ERROR_ANALYSIS_METHOD):
        rs = [r for r in results if r.setting == 3 and r.method == m]
        acc = report.per_class_accuracy(rs)
        wrong: dict[int, dict[int, int]] = {}
        for r in rs:
            for t, p in zip(r.y_true, r.topk[:, 0], strict=True):
                if t != p:
                    wrong.setdefault(int(t), {}).setdefault(int(p), 0)
                    wrong[int(t)][int(p)] += 1
        worst = sorted(acc, key=lambda t: (acc[t], t))[:ERROR_ANALYSIS_CLASSES]
        body = []
        for t in worst:
            instead = max(wrong.get(t, {0: 0}).items(), key=lambda kv: (kv[1], -kv[0]))[0]
            match = matches[t]
            body.append([names[t], f"{acc[t]:.1f}", names[instead] if wrong.get(t) else "–",
                         f"{match.name} ({match.kind})" if match.name else "none"])
        md += [f"## Hardest Setting 3 classes: {m}", "",
               report._md_table(["class", "top-1 %", "most often predicted instead",
                                 "nearest AudioSet class (match)"], body), ""]
    return md


def write_report(out: Path, rows: list[dict], results: list[SplitResult], data: Esc50,
                 record: dict, previous: Sequence[dict] = ()) -> None:
    """Write report.md, results.csv, summary.json, run.json and the figures into ``out``.

    ``previous``: per-seed rows of an earlier report (other methods), shown in the headline
    table below this run's rows (only there: the other tables and files hold this run's)."""
    report.write_csv(out / "results.csv", rows)
    report.write_json(out / "summary.json", report.summary_json(rows))
    report.write_json(out / "run.json", record)
    write_selected_params(out / "selected_params.csv", results)
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    names = class_texts(data)
    md = [f"# zsaudio reproduce: ESC-50 ({record['clips_embedded']} of {record['clips_listed']} clips)",
          "",
          f"Audio encoder: `{record['audio_encoder'].get('encoder')}`; label encoders: "
          f"{', '.join(f'`{k}`' for k in record['label_encoders'])}; seeds: "
          f"{record['config']['seeds']}; top-1 accuracy in %, mean ± std over seeds. "
          "The paper's row is VGGish + Google News Word2Vec + Algorithm 1 (not run here).", ""]
    md += ["## Headline: category-mean top-1 (%) per setting, mean ± std over seeds", "",
           report.headline_table([*rows, *previous]), "",
           *([f"Rows of this run first, then those of the earlier report "
              f"`{record['config']['previous_results']}` (methods not rerun here; their details "
              "are in that report)."] if previous else []),
           *(["Its rows with a template (`NAME:TEMPLATE`) were computed when the template "
              "was also put on the AudioSet source names (\"the sound of Speech\"); templates "
              "now apply to the candidate labels only."]
             if any(":" in r["method"].partition(" · ")[2] for r in previous) else []), "",
           "Chance: Setting 1 50 %, Settings 2–4 10 % (fewer classes for a word-vector encoder "
           "that does not cover all of them: see the tables), 50-way 2 %. ConSE learns nothing "
           "from the 5 shots of Setting 4, so its Setting 4 equals its Setting 3 (each test clip "
           "is tested in 7 of the 8 folds).", ""]
    if any(r["method"].partition(" · ")[0] in ABLATIONS for r in rows):
        md += ["## Ablation: each ingredient of the soft map and its few-shot variant on and off",
               "", report.ablation_table(rows, ABLATIONS), "",
               "The prompt ensemble on the candidate labels is on for the label encoder "
               "`minilm:ensemble` and off for `minilm`. The 50-way protocol has no training "
               "classes, so every soft map row there runs at its a-priori defaults (tau = "
               f"{DEFAULT_TAU}, source texts {DEFAULT_SOURCE_TEXT!r}) unless the row fixes "
               "otherwise.", ""]
    titles = {1: "Table 2 — Setting 1 (within a category; train 8 classes, test 2)",
              2: "Table 3 — Setting 2 (train on one category, test on another), mean over "
                 "training categories",
              3: "Table 4 — Setting 3 (train on 40 classes of four categories, test on the fifth)",
              4: "Table 4 — Setting 4 (Setting 3 plus 5 clips of each test class)"}
    for s in (1, 2, 3, 4):
        if s in settings:
            md += [f"## {titles[s]}", "", report.setting_table(rows, s), "",
                   "Top-3:", "", report.setting_table(rows, s, "top3"), ""]
    if 2 in settings:
        md += ["## Table 3 — Setting 2 matrices (ours, paper in brackets)", ""]
        for m in dict.fromkeys(r["method"] for r in rows if r["setting"] == 2):
            md += [f"### {m}", "", report.setting2_matrix(rows, m), ""]
    if "gzsl" in settings:
        md += ["## Generalized zero-shot (Setting 3 categories; all classes are candidates)", "",
               report.gzsl_table(rows), ""]
    if "50-way" in settings:
        md += ["## 50-way, no ESC-50 training (the protocol of CLAP papers)", "",
               report.fifty_way_table(rows), "",
               "The paper has no 50-way figure. For context only: large audio–text (CLAP-family) "
               "models report 82.6–93.9 % top-1 on this protocol, with encoders trained on far "
               "more audio–text data.", ""]
    figures: list[tuple] = []  # (plot function, args), drawn together at the end
    if 3 in settings:
        fig_dir = out / "figures"
        fig_dir.mkdir(exist_ok=True)
        md += ["## Setting 3 confusion matrices", ""]
        # Figures for the paper's model and the default method (the others: per-class table).
        for m in dict.fromkeys(r.method for r in results if r.setting == 3
                               and r.method.split(" · ")[0] in CONFUSION_METHODS):
            m_slug = slug(m)
            for cat in CATEGORIES:
                rs = [r for r in results if r.setting == 3 and r.method == m and r.eval_category == cat]
                if not rs:
                    continue
                classes = list(rs[0].test_classes)
                cm = report.confusion_matrix(rs, classes)
                name = f"confusion_setting3_{m_slug}_{cat}.png"
                figures.append((report.plot_confusion, (cm, [names[c] for c in classes],
                                                        f"Setting 3, {cat}: {m}", fig_dir / name)))
            md.append(f"- {m}: " + ", ".join(
                f"[{cat}](figures/confusion_setting3_{m_slug}_{cat}.png)" for cat in CATEGORIES))
        md.append("")
        md += hardest_classes_section(results, data)
        md += ["## Setting 3 per-class top-1 accuracy (%)", ""]
        methods3 = list(dict.fromkeys(r.method for r in results if r.setting == 3))
        per_class = {m: report.per_class_accuracy(r for r in results if r.setting == 3 and r.method == m)
                     for m in methods3}
        body = [[names[t], *[f"{per_class[m].get(t, float('nan')):.1f}" for m in methods3]]
                for t in range(len(names)) if any(t in per_class[m] for m in methods3)]
        md += [report._md_table(["class", *methods3], body), ""]
        figures.append((report.plot_method_comparison, (rows, fig_dir / "methods_by_setting.png")))
        md += ["![methods by setting](figures/methods_by_setting.png)", ""]
    md += ["## Hyper-parameters chosen on validation classes (count of splits)", "",
           *selected_params_summary(results), "",
           "\"(in fit)\": chosen by the method itself inside each fit, on validation classes held "
           "out of that fit's training classes (the hybrids); the others by the per-split search. "
           "Per split: `selected_params.csv`.", ""]
    md += context_section(data, record)
    md += ["## Run record", "", f"- clips: {record['clips_present']} present of "
           f"{record['clips_listed']} listed, {record['clips_embedded']} embedded",
           f"- wall time of this invocation: {record['wall_time_s']['total']} s "
           f"(embedding {record['wall_time_s']['embedding']} s)",
           *[_compute_line(k, v["methods"]) for k, v in record["label_encoders"].items()
             if v.get("methods")],
           f"- git commit: {record['git_commit']}", "- details: `run.json`", ""]
    report.draw_figures(figures, record["config"].get("workers"))
    atomic_write_text(out / "report.md", "\n".join(md))
