"""``zsaudio reproduce``: the paper's ESC-50 evaluation (Settings 1–4) and beyond, one command.

Embeds every present ESC-50 clip (cached), embeds the class labels with each label encoder,
runs every method on every split of every setting for every seed, and writes the report:
``report.md`` (Tables 2–4 beside the paper's numbers and chance), ``results.csv`` (one row per
method, setting, category and seed), ``summary.json``, ``run.json`` (the record of the run),
Setting 3 confusion matrices and per-class accuracy as PNG.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

import zsaudio
from zsaudio.embeddings import get_audio_encoder
from zsaudio.embeddings.extract import embed_files
from zsaudio.experiments import report
from zsaudio.experiments.esc50 import CATEGORIES, Esc50, load_esc50
from zsaudio.experiments.protocols import all_class_split, gzsl_splits, make_splits, setting4_note
from zsaudio.experiments.runner import Features, MethodSpec, SplitResult, run_tasks
from zsaudio.labels import get_label_encoder, label_text
from zsaudio.labels.audioset import encoder_source_embeddings, encoder_source_text_rows
from zsaudio.labels.cache import CachedLabelEncoder
from zsaudio.model import METHODS
from zsaudio.model.softmap import DEFAULT_SOURCE_TEXT, DEFAULT_TAU


def default_methods() -> list[MethodSpec]:
    """The methods compared by default, with the hyper-parameter grids searched on
    validation classes and the settings each runs in. The paper's bilinear model and the
    ConSE family run everywhere; the other trained baselines in Setting 3 and GZSL (the
    comparison the paper's Setting 3 invites), which keeps a full run within minutes."""
    return [
        MethodSpec("bilinear", "bilinear", {},
                   {"learning_rate": [0.001, 0.003, 0.01], "epochs": [5, 10, 20]}),
        MethodSpec("eszsl", "eszsl", {}, {"alpha": [0.1, 1.0, 10.0], "gamma": [0.1, 1.0, 10.0]},
                   (3, "gzsl")),
        MethodSpec("sje", "sje", {}, {"learning_rate": [0.01, 0.03]}, (3, "gzsl")),
        MethodSpec("devise", "devise", {}, {"learning_rate": [0.01, 0.03]}, (3, "gzsl")),
        MethodSpec("conse", "conse", {}, {"top_t": [1, 3, 5, 10],
                                          "score_transform": ["raw", "power"],
                                          "temperature": [1.0, 2.0, 4.0]}),
        # The hybrids choose their own mixing weight / shrinkage on validation classes
        # inside fit (ConSE is one end of each search), so no outer grid. ConSE-mix fits
        # 45 ESZSL models per fit (9 regularisers x 5 validation splits): Setting 3 only.
        MethodSpec("conse-anchored", "conse-anchored"),
        MethodSpec("conse-mix", "conse-mix", settings=(3,)),
        # Adds class prototypes only where every candidate has clips (Setting 4); elsewhere
        # it ranks exactly as conse-anchored (tested), so it runs in Setting 4 only.
        MethodSpec("conse-fewshot", "conse-fewshot", settings=(4,)),
        # The soft map (training-free): temperature and source texts chosen on validation
        # classes; with no training classes (50-way) its a-priori defaults.
        MethodSpec("softmap", "softmap", {}, SOFTMAP_GRID),
        # Ablations of the soft map, each with one ingredient off (Setting 3 and 50-way).
        MethodSpec("softmap, names only", "softmap", {"source_text": "name"},
                   {"tau": SOFTMAP_GRID["tau"]}, (3, "50-way")),
        MethodSpec("softmap, defaults", "softmap", {}, {}, (3, "50-way")),
        # Few-shot: silence-gated prototypes + a share of the soft map (Setting 4; elsewhere it
        # ranks as the soft map), and its ablations.
        MethodSpec("softmap-fewshot", "softmap-fewshot", settings=(4,)),
        MethodSpec("softmap-fewshot, mean pooling", "softmap-fewshot-mean", settings=(4,)),
        MethodSpec("softmap-fewshot, prototypes only", "softmap-fewshot",
                   {"weights": (0.0,)}, settings=(4,)),
        # GZSL: the trained methods with calibrated stacking (gamma on training classes only;
        # the base at its default hyper-parameters).
        *[MethodSpec(f"{base}, calibrated stacking", "calibrated-stacking", {"base": base},
                     settings=("gzsl",)) for base in ("bilinear", "eszsl", "sje", "devise")],
    ]


#: The soft map's search on validation classes (tau in cosine units; source text kinds).
SOFTMAP_GRID = {"tau": [0.01, 0.02, 0.03, 0.05, 0.1],
                "source_text": ["name", "synonyms", "name+description", "synonyms+description"]}
SOFTMAP_DEFAULTS = {"tau": DEFAULT_TAU, "source_text": DEFAULT_SOURCE_TEXT}
#: What each ablation row of the report turns off (by the spec's label).
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


@dataclass
class ReproduceConfig:
    """Everything that defines a reproduce run (recorded in ``run.json``)."""

    esc50: str | None = None
    audio_encoder: str = "yamnet"
    # Each "NAME" or "NAME:TEMPLATE", e.g. "minilm:the sound of {label}" (sentence encoders).
    label_encoders: Sequence[str] = ("minilm",)
    source_text: str = "name"  # how the audio encoder's own classes become label text
    seeds: int = 5
    settings: Sequence[int] = (1, 2, 3, 4)
    gzsl: bool = True
    fifty_way: bool = True
    methods: Sequence[str] | None = None  # None: all of default_methods()
    # An earlier report's results.csv: its rows of methods not run here join the headline table.
    previous_results: str | None = None
    workers: int | None = None
    cache_dir: str | None = None
    device: str = "cpu"
    extra: dict = field(default_factory=dict)


CONFUSION_METHODS = ("bilinear", "conse-anchored", "softmap")
# The soft map's hardest Setting 3 classes are listed with their usual wrong answer and their
# nearest AudioSet class (what limits a method that reads the encoder's label space).
ERROR_ANALYSIS_METHOD = "softmap"
ERROR_ANALYSIS_CLASSES = 12


def label_encoder_from_spec(spec: str):
    """A label encoder from ``"NAME"`` or ``"NAME:TEMPLATE"`` (``"minilm:the sound of {label}"``),
    with its vectors cached on disk (a warm run never loads a sentence model)."""
    name, _, template = spec.partition(":")
    return CachedLabelEncoder(get_label_encoder(name, **({"template": template} if template else {})))


def class_texts(data: Esc50) -> list[str]:
    """ESC-50 class names as label text ("sea_waves" → "sea waves")."""
    return [label_text(name) for name in data.class_names]


def embed_classes(encoder, texts: Sequence[str]) -> tuple[np.ndarray, list[int], dict]:
    """Class embeddings (50, d) and the classes the encoder fully covers.

    A class with any word unknown to a word-vector encoder is dropped (the Google News subset
    covers 26 of 50), so that no class is represented by part of its name; its row is zero.
    """
    coverage = encoder.coverage(list(texts))
    available = [i for i, c in enumerate(coverage) if not c.missing]
    emb = np.zeros((len(texts), encoder.dim), np.float32)
    if available:
        emb[available] = encoder.encode([texts[i] for i in available])
    dropped = {texts[i]: list(c.missing) for i, c in enumerate(coverage) if c.missing}
    return emb, available, dropped


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def _fingerprint(config: ReproduceConfig, spec: MethodSpec, label_config: dict,
                 audio_config: dict, targets: np.ndarray) -> str:
    """What one method's results with one label encoder depend on; a checkpoint is reused
    only if it matches."""
    key = {"spec": asdict(spec), "label": label_config, "audio": audio_config,
           "seeds": config.seeds, "settings": list(config.settings), "gzsl": config.gzsl,
           "fifty_way": config.fifty_way, "source_text": config.source_text,
           "targets": hashlib.sha256(np.asarray(targets).tobytes()).hexdigest(),
           "version": zsaudio.__version__}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def _load_checkpoint(path: Path, fingerprint: str) -> tuple[list[SplitResult], float | None] | None:
    """``(results, seconds they took to compute)`` of a matching checkpoint, else None
    (the seconds are None for checkpoints written before they were recorded)."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            saved = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        return None
    if saved.get("fingerprint") != fingerprint:
        return None
    return saved["results"], saved.get("compute_s")


def _save_checkpoint(path: Path, fingerprint: str, results: list[SplitResult],
                     compute_s: float) -> None:
    """Atomically save one method's results with one label encoder (and the seconds they
    took), so an interrupted run resumes after it and the report can be rewritten without
    recomputation, still saying what the computation cost."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump({"fingerprint": fingerprint, "results": results,
                     "compute_s": round(compute_s, 1)}, fh)
    os.replace(tmp, path)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def reproduce(config: ReproduceConfig, out: str | Path, progress: bool = True) -> dict:
    """Run the whole evaluation and write the report into ``out``; returns the summary dict."""
    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_esc50(config.esc50)
    _log(data.summary())
    extraction = embed_files(data.paths, encoder=config.audio_encoder, cache_dir=config.cache_dir,
                             workers=config.workers, progress=progress, device=config.device)
    ok = extraction.ok
    for path, reason in extraction.failures.items():
        _log(f"failed: {path}: {reason}")
    targets = data.targets[ok]
    folds = data.folds[ok]
    t_embed = time.time() - t0

    specs = default_methods()
    if config.methods:
        # A method name runs all its specs (ablations included); a spec label runs that one.
        known = list(dict.fromkeys([s.method for s in specs] + [s.label for s in specs]))
        unknown = set(config.methods) - set(known)
        if unknown:
            raise ValueError(f"unknown method(s) {sorted(unknown)}; choose from {known}")
        specs = [s for s in specs if s.method in config.methods or s.label in config.methods]
    if extraction.scores is None:
        specs = [s for s in specs if s.input_kind == "embedding"]

    gated = None
    if any(s.input_kind == "gated+scores" for s in specs):
        # Pooled from the same cached patch outputs: no second pass of the audio model.
        gated = embed_files(data.paths, encoder=config.audio_encoder, cache_dir=config.cache_dir,
                            workers=config.workers, progress=progress, device=config.device,
                            pooling="silence-gated")
        if not np.array_equal(gated.ok, extraction.ok):
            raise RuntimeError("the silence-gated pooling failed on clips the mean did not")
    texts = class_texts(data)
    # The audio encoder's own classes (for ConSE-like methods), looked up once for all
    # label encoders.
    source_class_ids = None
    if extraction.scores is not None and any(s.input_kind != "embedding" for s in specs):
        source_class_ids = get_audio_encoder(config.audio_encoder).class_ids
    all_results: list[SplitResult] = []
    label_records = {}
    for label_name in config.label_encoders:
        encoder = label_encoder_from_spec(label_name)
        class_emb, available, dropped = embed_classes(encoder, texts)
        source = source_rows = None
        if source_class_ids:
            source, _ = encoder_source_embeddings(encoder, source_class_ids, config.source_text)
            if any(getattr(METHODS[s.method], "source_rows_input", False) for s in specs):
                source_rows = encoder_source_text_rows(encoder, source_class_ids)
        features = Features(extraction.embeddings[ok], None if extraction.scores is None
                            else extraction.scores[ok], class_emb, source, source_rows,
                            None if gated is None else gated.embeddings[ok])
        label_config = encoder.config()
        label_records[label_name] = {"config": label_config, "classes_used": len(available),
                                     "dropped_classes": dropped}
        if dropped:
            _log(f"{label_name}: {len(available)} of 50 classes fully covered; "
                 f"dropped {sorted(dropped)}")
        note = setting4_note(targets, available) if 4 in config.settings else None
        if note:
            label_records[label_name]["note"] = note
            _log(f"{label_name}: {note}")
        named = [replace(s, label=f"{s.label} · {label_name}") for s in specs]
        splits = [sp for setting in config.settings for seed in range(config.seeds)
                  for sp in make_splits(setting, targets, seed, available)]
        if config.gzsl:
            splits += [sp for seed in range(config.seeds)
                       for sp in gzsl_splits(targets, folds, seed, available)]
        if config.fifty_way:
            splits.append(all_class_split(targets, available))
        # One checkpoint per label encoder and method: an interrupted run resumes after the
        # last finished method, and adding a method to a finished report computes only it.
        methods_record = label_records[label_name]["methods"] = {}
        for base, spec in zip(specs, named, strict=True):
            # keyed by the spec's own label: two specs of one method must not share a file
            checkpoint = out / "checkpoints" / _slug(label_name) / f"{_slug(base.label)}.pkl"
            fingerprint = _fingerprint(config, spec, label_config, extraction.encoder_config,
                                       targets)
            loaded = _load_checkpoint(checkpoint, fingerprint)
            if loaded is None:
                t_method = time.time()
                mine = [sp for sp in splits if spec.runs_in(sp.setting)]
                done = run_tasks([spec], mine, features, targets, config.workers, progress,
                                 desc=spec.label) if mine else []
                compute_s = time.time() - t_method
                _save_checkpoint(checkpoint, fingerprint, done, compute_s)
                methods_record[base.label] = {"compute_s": round(compute_s, 1), "reloaded": False}
            else:
                done, compute_s = loaded
                methods_record[base.label] = {"compute_s": compute_s, "reloaded": True}
            all_results += done
        reloaded = [m for m, r in methods_record.items() if r["reloaded"]]
        if reloaded:
            _log(f"{label_name}: reloaded from checkpoints: {', '.join(reloaded)}")

    rows = report.per_seed_rows(all_results)
    previous: list[dict] = []
    if config.previous_results:
        ran = {r["method"] for r in rows}
        previous = [r for r in report.read_rows_csv(config.previous_results)
                    if r["method"] not in ran]
    wall = time.time() - t0
    record = {
        "zsaudio_version": zsaudio.__version__, "git_commit": _git_commit(),
        "python": platform.python_version(), "numpy": np.__version__,
        "config": asdict(config), "esc50_root": str(data.root),
        "clips_listed": data.n_listed, "clips_present": len(data.paths),
        "clips_embedded": int(ok.sum()), "failures": extraction.failures,
        "audio_encoder": extraction.encoder_config,
        "label_encoders": label_records,
        "methods": [asdict(s) for s in specs],
        "hyperparameter_selection": "per split, on 25% of its training classes held out as "
                                    "validation classes (zero-shot on them); test classes never seen",
        # Per label encoder and method: the seconds its results took to compute, and whether
        # they were reloaded from a checkpoint of an earlier invocation (label_encoders[...]).
        "wall_time_s": {"total": round(wall, 1), "embedding": round(t_embed, 1)},
    }
    write_report(out, rows, all_results, data, record, previous)
    _log(f"report written to {out} ({wall:.0f} s)")
    return report.summary_json(rows)


def _compute_line(label: str, methods: dict) -> str:
    """Markdown line: what one label encoder's methods took to compute, reloaded or not."""
    known = [r["compute_s"] for r in methods.values() if r["compute_s"] is not None]
    reloaded = [m for m, r in methods.items() if r["reloaded"]]
    if not known:
        line = f"- `{label}`: compute time not recorded (checkpoints older than the record)"
    else:
        line = f"- `{label}`: computed in {sum(known):.0f} s" + (
            f" ({len(methods) - len(known)} method(s) without a recorded time)"
            if len(known) < len(methods) else "")
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
                 chosen_in_fit="not recorded" if r.chosen is None else
                 json.dumps(r.chosen, sort_keys=True, default=str))
            for r in results]
    report.write_csv(path, rows)


def selected_params_summary(results: Sequence[SplitResult]) -> list[str]:
    """Markdown lines: per method, how often each hyper-parameter value was chosen (by the
    search on validation classes, or "in fit" by the method's own validation)."""
    counts: dict[str, dict[str, dict]] = {}
    for r in results:
        named = [*r.params.items(), *((f"{k} (in fit)", v) for k, v in (r.chosen or {}).items())]
        for k, v in named:
            if k not in ("seed", "n_scores"):
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
    from zsaudio.labels.audioset import nearest_audioset_classes

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
        f"- Audio encoder: `{record['audio_encoder'].get('encoder')}` instead of VGGish "
        "(the VGGish weights are not on this machine; zsaudio loads them where they are, but no "
        "VGGish row was run here). YAMNet: 1024-d embedding per 0.96 s patch (hop 0.48 s), "
        "averaged over the clip as in the paper; its 521 AudioSet class scores feed ConSE.",
        f"- Label encoders: {used} instead of the full Google News Word2Vec (3 M words, not on "
        "this machine). A word-vector encoder runs only on the ESC-50 classes all of whose words "
        "it knows, so its settings have fewer classes (chance levels in the tables say so).",
        f"- Clips: {record['clips_embedded']} of {record['clips_listed']} (the paper: 2000).",
        "- Hyper-parameters (learning rate, epochs, regularisers, T) are chosen per split on "
        "25 % of the training classes held out as validation classes, never on test classes; the "
        "paper does not say how it chose them. Its random folds are not published: ours are "
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
    from zsaudio.labels.audioset import nearest_audioset_classes

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
               f"{SOFTMAP_DEFAULTS['tau']}, source texts {SOFTMAP_DEFAULTS['source_text']!r}) "
               "unless the row fixes otherwise.", ""]
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
    if 3 in settings:
        fig_dir = out / "figures"
        fig_dir.mkdir(exist_ok=True)
        md += ["## Setting 3 confusion matrices", ""]
        # Figures for the paper's model and the default method (the others: per-class table).
        for m in dict.fromkeys(r.method for r in results if r.setting == 3
                               and r.method.split(" · ")[0] in CONFUSION_METHODS):
            slug = _slug(m)
            for cat in CATEGORIES:
                rs = [r for r in results if r.setting == 3 and r.method == m and r.eval_category == cat]
                if not rs:
                    continue
                classes = list(rs[0].test_classes)
                cm = report.confusion_matrix(rs, classes)
                name = f"confusion_setting3_{slug}_{cat}.png"
                report.plot_confusion(cm, [names[c] for c in classes], f"Setting 3, {cat}: {m}",
                                      fig_dir / name)
            md.append(f"- {m}: " + ", ".join(
                f"[{cat}](figures/confusion_setting3_{slug}_{cat}.png)" for cat in CATEGORIES))
        md.append("")
        md += hardest_classes_section(results, data)
        md += ["## Setting 3 per-class top-1 accuracy (%)", ""]
        methods3 = list(dict.fromkeys(r.method for r in results if r.setting == 3))
        per_class = {m: report.per_class_accuracy(r for r in results if r.setting == 3 and r.method == m)
                     for m in methods3}
        body = [[names[t], *[f"{per_class[m].get(t, float('nan')):.1f}" for m in methods3]]
                for t in range(len(names)) if any(t in per_class[m] for m in methods3)]
        md += [report._md_table(["class", *methods3], body), ""]
        report.plot_method_comparison(rows, fig_dir / "methods_by_setting.png")
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
    (out / "report.md").write_text("\n".join(md))
