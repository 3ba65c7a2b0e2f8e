"""Experiment runner and report on synthetic features drawn from a known bilinear model."""

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_info
from tqdm.auto import tqdm

from zsaudio.experiments import report, runner
from zsaudio.experiments.markdown import write_report
from zsaudio.experiments.protocols import all_class_split, gzsl_splits, make_splits
from zsaudio.experiments.runner import Features, MethodSpec, run_tasks
from zsaudio.model.features import AudioFeatures, SourceLabelSpace

N_PER_CLASS = 8


@pytest.fixture(scope="module")
def synthetic():
    """50 classes; audio features = class label embedding through a random linear map + noise;
    encoder 'scores' = similarity to 60 source classes whose embeddings are known."""
    rng = np.random.default_rng(0)
    d, D, K = 12, 20, 60
    class_emb = rng.normal(size=(50, d)).astype(np.float32)
    targets = np.repeat(np.arange(50), N_PER_CLASS)
    A = rng.normal(size=(d, D))
    X = class_emb[targets] @ A + 0.3 * rng.normal(size=(len(targets), D))
    source = rng.normal(size=(K, d)).astype(np.float32)
    scores = 1 / (1 + np.exp(-(class_emb[targets] @ source.T) / 2))
    folds = np.tile(np.repeat(np.arange(1, 6), N_PER_CLASS // 5 + 1)[:N_PER_CLASS], 50)
    audio = AudioFeatures(X.astype(np.float32), scores.astype(np.float32))
    return Features(audio, class_emb, SourceLabelSpace.from_vectors(source)), targets, folds


SPECS = [MethodSpec("bilinear", "bilinear", {"epochs": 5}, {"learning_rate": [0.01, 0.1]}),
         MethodSpec("eszsl", "eszsl"),
         MethodSpec("conse", "conse", {}, {"top_t": [3, 10]})]


def test_settings_above_chance_and_report(synthetic, tmp_path):
    features, targets, folds = synthetic
    splits = make_splits(3, targets, 0) + make_splits(1, targets, 0) + gzsl_splits(targets, folds, 0)
    results = run_tasks(SPECS, splits, features, targets, workers=2, progress=False)
    assert len(results) == len(SPECS) * len(splits)
    results += run_tasks(SPECS[2:], [all_class_split(targets)], features, targets, 1, False)
    for r in results:
        assert r.topk.shape == (len(r.y_true), min(3, len(r.test_classes)))
        assert set(np.unique(r.topk)) <= set(r.test_classes)
    rows = report.per_seed_rows(results)
    by = {(r["method"], r["setting"]): [] for r in rows}
    for r in rows:
        by[(r["method"], r["setting"])].append(r)
    for (method, setting), rs in by.items():
        acc = np.mean([r["top1"] for r in rs])
        chance = np.mean([r["chance"] for r in rs])
        assert acc > chance + 0.4 * (100 - chance), (method, setting, acc, chance)
        if setting == "gzsl":
            assert all({"s", "u", "H"} <= set(r) for r in rs)
    table = report.setting_table(rows, 3)
    assert "paper (VGGish + Word2Vec, Alg. 1)" in table and "26.0" in table and "bilinear" in table
    # report files
    from zsaudio.datasets.esc50 import Esc50

    data = Esc50(tmp_path, [tmp_path / f"{i}.wav" for i in range(len(targets))], targets, folds,
                 [f"class_{i}" for i in range(50)], len(targets))
    record = {"clips_embedded": len(targets), "clips_listed": len(targets),
              "clips_present": len(targets), "audio_encoder": {"encoder": "synthetic"},
              "label_encoders": {"synthetic": {}}, "config": {"seeds": 1},
              "wall_time_s": {"total": 0, "embedding": 0}, "git_commit": None}
    write_report(tmp_path, rows, results, data, record)
    md = (tmp_path / "report.md").read_text()
    assert "Table 2" in md and "Table 4" in md and "Generalized zero-shot" in md and "50-way" in md
    assert "Headline" in md and "| conse |" in md
    assert "What differs from the paper" in md and "dog → Dog" not in md  # synthetic class names
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["conse"]["50-way"]["top1"]["mean"]["mean"] > 10
    assert (tmp_path / "figures" / "confusion_setting3_bilinear_animals.png").stat().st_size > 1000
    assert (tmp_path / "results.csv").read_text().count("\n") == len(rows) + 1


def test_selection_shared_by_setting4_folds(synthetic, monkeypatch):
    from zsaudio.experiments import runner

    features, targets, _ = synthetic
    calls = []
    real = runner.select_for_split

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "select_for_split", counting)
    splits = make_splits(4, targets, 0)
    results = run_tasks(SPECS[:1], splits, features, targets, workers=1, progress=False)
    assert len(results) == 40 and len(calls) == 5  # one selection per category, not per fold
    assert len({tuple(sorted(r.params.items())) for r in results if r.eval_category == "animals"}) == 1


def test_mean_std_and_chance():
    rows = [dict(method="m", setting=3, train_category="", eval_category=c, seed=s, top1=v,
                 top3=v, chance=10.0, n_test=1)
            for s, vals in enumerate([[10, 20, 30, 40, 50], [20, 30, 40, 50, 60]])
            for c, v in zip(["animals", "natural", "human", "interior", "exterior"], vals, strict=True)]
    assert report.category_average(rows, "m", 3) == (35.0, 5.0)
    assert report.summarize(rows)[("m", 3, "", "animals")] == (15.0, 5.0)
    assert "15.0 ± 5.0" in report.setting_table(rows, 3)


def test_checkpoint_round_trip_and_fingerprint(synthetic, tmp_path):
    from zsaudio.experiments.checkpoints import fingerprint, load_checkpoint, save_checkpoint
    from zsaudio.experiments.reproduce import ReproduceConfig

    features, targets, _ = synthetic
    results = run_tasks(SPECS[1:2], make_splits(3, targets, 0), features, targets, 1, False)
    protocol = ReproduceConfig(seeds=1).protocol()
    fp = fingerprint(SPECS[1], protocol, {"name": "x"}, {"name": "a"}, targets)
    assert fp != fingerprint(SPECS[0], protocol, {"name": "x"}, {"name": "a"}, targets)
    path = tmp_path / "checkpoints" / "x.json"
    save_checkpoint(path, fp, results, 12.34)
    again, seconds = load_checkpoint(path, fp)
    assert seconds == 12.3
    for a, b in zip(again, results, strict=True):  # every field, arrays and types included
        assert a.topk.tolist() == b.topk.tolist() and a.y_true.tolist() == b.y_true.tolist()
        assert (a.setting, a.train_category, a.eval_category, a.fold, a.seed, a.train_classes,
                a.test_classes, a.method, a.params, a.chosen) == (
            b.setting, b.train_category, b.eval_category, b.fold, b.seed, b.train_classes,
            b.test_classes, b.method, b.params, b.chosen)
    other = fingerprint(SPECS[1], ReproduceConfig(seeds=2).protocol(), {"name": "x"}, {"name": "a"},
                        targets)
    assert other != fp and load_checkpoint(path, other) is None
    path.write_bytes(b"truncated")
    assert load_checkpoint(path, fp) is None


def test_class_indices_refuses_unknown_targets():
    from zsaudio.experiments.runner import class_indices

    classes = np.array([2, 5, 9])
    assert class_indices(np.array([9, 2, 5, 5]), classes).tolist() == [2, 0, 1, 1]
    with pytest.raises(ValueError, match=r"\[3, 10\]"):
        class_indices(np.array([2, 3, 10]), classes)


def test_folds_with_different_candidate_counts(synthetic):
    features, targets, _ = synthetic
    available = [0, 1, 2, 3, 4, 5, 6]  # 7 classes: Setting 1 folds of 2 and 3 test classes
    splits = make_splits(1, targets, 0, available)
    assert sorted(len(s.test_classes) for s in splits) == [2, 2, 3]
    results = run_tasks(SPECS[2:], splits, features, targets, 1, False)
    rows = report.per_seed_rows(results)
    assert len(rows) == 1 and rows[0]["n_test"] == 7 * N_PER_CLASS
    assert rows[0]["top3"] >= rows[0]["top1"]


def test_reproduce_end_to_end_resumes_per_method(synthetic, tmp_path, monkeypatch):
    """The whole command on synthetic features: a second invocation reloads every method's
    checkpoint and writes the same report; another method computes only that method."""
    from types import SimpleNamespace

    from zsaudio.datasets.esc50 import Esc50
    from zsaudio.experiments import reproduce as rp

    features, targets, folds = synthetic
    n = len(targets)
    data = Esc50(tmp_path, [tmp_path / f"{i}.wav" for i in range(n)], targets, folds,
                 [f"class_{i}" for i in range(50)], n)
    extraction = SimpleNamespace(ok=np.ones(n, bool), failures={}, embeddings=features.audio.embeddings,
                                 scores=features.audio.scores, encoder_config={"name": "fake"})

    class Encoder:
        def config(self):
            return {"name": "fake-labels"}

    monkeypatch.setattr(rp, "load_esc50", lambda root: data)
    monkeypatch.setattr(rp, "embed_files", lambda *a, **k: extraction)
    monkeypatch.setattr(rp, "label_encoder_from_spec", lambda spec: Encoder())
    monkeypatch.setattr(rp, "embed_classes", lambda enc, texts: (features.class_embeddings,
                                                                 list(range(50)), {}))
    monkeypatch.setattr(rp, "get_audio_encoder", lambda name: SimpleNamespace(class_ids=["x"]))
    monkeypatch.setattr(rp, "encoder_label_space", lambda enc, ids, mode, text_rows=False: features.source)
    monkeypatch.setattr(rp, "all_methods", lambda: SPECS)
    config = rp.ReproduceConfig(esc50=str(tmp_path), label_encoders=["fake"], seeds=1,
                                settings=[3], gzsl=False, fifty_way=True, workers=1,
                                methods=["bilinear", "conse"])
    out = tmp_path / "out"
    first = rp.reproduce(config, out, progress=False)
    assert set(first) >= {"bilinear · fake", "conse · fake"}
    assert (out / "report.md").is_file() and (out / "checkpoints" / "fake" / "bilinear.json").is_file()
    report_text = (out / "results.csv").read_text()

    def refuse(*a, **k):
        raise AssertionError("a checkpointed method was computed again")

    monkeypatch.setattr(rp, "run_tasks", refuse)
    assert rp.reproduce(config, out, progress=False) == first
    assert (out / "results.csv").read_text() == report_text
    record = json.loads((out / "run.json").read_text())
    methods = record["label_encoders"]["fake"]["methods"]
    assert [m for m, r in methods.items() if r["reloaded"]] == ["bilinear", "conse"]
    assert all(r["compute_s"] >= 0 for r in methods.values())
    assert "reloaded from checkpoints of an earlier invocation: bilinear, conse" in (
        out / "report.md").read_text()

    ran = []
    monkeypatch.setattr(rp, "run_tasks", lambda specs, *a, **k: ran.extend(specs) or [])
    rp.reproduce(rp.ReproduceConfig(**{**vars(config), "methods": ["bilinear", "conse", "eszsl"]}),
                 out, progress=False)
    assert [s.method for s in ran] == ["eszsl"]


def test_setting1_table_has_every_category():
    """Setting 1 rows carry their category as train_category too; the table still fills
    every category cell (it once showed only the mean)."""
    rows = [dict(method="m", setting=1, train_category=c, eval_category=c, seed=s, top1=v + s,
                 top3=100.0, chance=50.0, n_test=1)
            for s in range(2)
            for c, v in zip(["animals", "natural", "human", "interior", "exterior"],
                            [60, 70, 80, 90, 100], strict=True)]
    line = next(x for x in report.setting_table(rows, 1).splitlines() if x.startswith("| m |"))
    assert line == "| m | 60.5 ± 0.5 | 70.5 ± 0.5 | 80.5 ± 0.5 | 90.5 ± 0.5 | 100.5 ± 0.5 | 80.5 ± 0.5 |"


def test_choices_made_inside_fit_are_recorded_and_reported(synthetic, tmp_path):
    """A hybrid's own validation choices (here conse-anchored's lam) reach SplitResult.chosen,
    selected_params.csv and the report's summary."""
    from zsaudio.experiments.markdown import selected_params_summary, write_selected_params
    from zsaudio.model import make_estimator

    features, targets, _ = synthetic
    split = make_splits(3, targets, 0)[0]
    spec = MethodSpec("conse-anchored", "conse-anchored")
    (result,) = run_tasks([spec], [split], features, targets, workers=1, progress=False)
    direct = make_estimator("conse-anchored", seed=split.seed).fit(
        features.audio.scores[split.train_idx],
        np.searchsorted(split.train_classes, targets[split.train_idx]),
        features.class_embeddings[list(split.train_classes)],
        source=features.source)
    assert result.chosen == {"lam": float(direct.lam_)} == direct.chosen_params()
    bilinear = run_tasks(SPECS[:1], [split], features, targets, workers=1, progress=False)[0]
    assert bilinear.chosen == {}

    write_selected_params(tmp_path / "p.csv", [result, bilinear])
    text = (tmp_path / "p.csv").read_text()
    assert json.dumps({"lam": float(direct.lam_)}) in text.replace('""', '"')
    lines = selected_params_summary([result, bilinear])
    assert any(f"lam (in fit): {float(direct.lam_)} ×1" in line for line in lines), lines


def test_split_info_names_the_split_without_its_clips(synthetic):
    from dataclasses import fields

    from zsaudio.experiments.protocols import SplitInfo

    _, targets, _ = synthetic
    split = make_splits(4, targets, 1)[3]
    info = split.info()
    assert type(info) is SplitInfo and not hasattr(info, "train_idx")
    assert all(getattr(info, f.name) == getattr(split, f.name) for f in fields(SplitInfo))
    assert info.chance == split.chance == 1 / len(split.test_classes)


def test_soft_map_methods_run_with_text_rows_and_refuse_a_space_without(synthetic):
    """The soft map and its few-shot variant through the runner (gated embeddings in
    Features.audio, text rows in Features.source); without text rows a clear error."""
    from dataclasses import replace

    features, targets, _ = synthetic
    vectors = np.asarray(features.source.vectors)
    K = len(vectors)
    with_rows = SourceLabelSpace(features.source.names, vectors, rows=np.vstack([vectors, vectors]),
                                 row_owner=np.tile(np.arange(K), 2), row_kind=np.repeat([0, 1], K))
    audio = AudioFeatures(features.audio.embeddings, features.audio.scores,
                          np.sqrt(np.abs(features.audio.embeddings)))
    rich = replace(features, audio=audio, source=with_rows)
    specs = [MethodSpec("softmap", "softmap", {}, {"tau": [0.05, 0.5]}),
             MethodSpec("softmap-fewshot", "softmap-fewshot",
                        {"taus": (0.1,), "source_texts": ("name",), "n_episodes": 2}, {}, (4,))]
    splits = make_splits(4, targets, 0, list(range(50)))[:1]
    results = run_tasks(specs, splits, rich, targets, 1, False)
    assert {r.method for r in results} == {"softmap", "softmap-fewshot"}
    assert all(r.top1 > 0.1 for r in results)  # above chance (10 candidates)
    assert set(next(r for r in results if r.method == "softmap-fewshot").chosen) == {
        "tau", "source_text", "weight"}
    with pytest.raises(ValueError, match="source texts as rows"):
        run_tasks(specs[:1], splits, features, targets, 1, False)


def _blas_threads(_task):
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.mark.parametrize("workers", [1, 2])
def test_tasks_run_with_one_blas_thread(workers):
    """The limit is set once around the tasks here, or once per worker process, and is lifted
    afterwards here."""
    before = _blas_threads(None)
    assert before  # numpy's BLAS is loaded
    if before == [1] * len(before):
        pytest.skip("BLAS already runs one thread here: a limit could not be seen")
    out = runner._map(_blas_threads, [0, 1, 2], workers, tqdm(disable=True))
    assert out == [[1] * len(before)] * 3
    assert _blas_threads(None) == before


def _fail(message):
    raise RuntimeError(message)


@pytest.mark.parametrize("workers", [1, 2])
def test_figures_are_drawn_in_series_or_in_workers_and_errors_surface(tmp_path, workers):
    from zsaudio.experiments.report import draw_figures, plot_confusion

    cm = np.array([[3, 1], [0, 4]])
    jobs = [(plot_confusion, (cm, ["a", "b"], f"t{i}", tmp_path / f"c{i}.png")) for i in range(3)]
    draw_figures(jobs, workers=workers)
    assert all((tmp_path / f"c{i}.png").stat().st_size > 1000 for i in range(3))
    with pytest.raises(RuntimeError, match="bad figure"):
        draw_figures([*jobs, (_fail, ("bad figure",))], workers=workers)
