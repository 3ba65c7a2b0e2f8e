"""``zsaudio train`` / ``classify`` / ``demo`` end to end on real ESC-50 clips (YAMNet + GloVe).

Small on purpose: a handful of classes and clips, one temporary embedding cache for the module.
"""

from __future__ import annotations

import csv
import functools
import json
import shutil

import pytest

from zsaudio.classifier import (
    DEFAULT_METHOD,
    TRAINING_FREE_METHOD,
    TRAINING_FREE_TEMPERATURE,
    ZeroShotClassifier,
    default_classifier,
)
from zsaudio.cli.main import main
from zsaudio.datasets.esc50 import load_esc50

TRAIN = ["dog", "cat", "rain", "wind", "crying_baby", "laughing", "clock_alarm", "siren"]
HELD_OUT = ["rooster", "sea_waves", "church_bells", "coughing"]


def run_cli(argv: list[str]) -> int:
    """Run one sub-command as the ``zsaudio`` command does."""
    return main(argv)


@pytest.fixture(scope="module")
def esc50():
    return load_esc50()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("emb-cache"))


@pytest.fixture(scope="module")
def model(tmp_path_factory, cache):
    out = tmp_path_factory.mktemp("model") / "model.npz"
    rc = run_cli(["train", "--esc50", "--classes", *TRAIN, "--max-per-class", "6",
                  "--label-encoder", "glove", "--out", str(out), "--cache", cache, "--quiet",
                  "--workers", "2"])
    assert rc == 0 and out.is_file()
    return out


@pytest.fixture(scope="module")
def held_out_clips(esc50):
    names = {esc50.class_names.index(c): c.replace("_", " ") for c in HELD_OUT}
    clips = {}
    for p, t in zip(esc50.paths, esc50.targets, strict=True):
        if int(t) in names and len([1 for v in clips.values() if v == names[int(t)]]) < 2:
            clips[str(p)] = names[int(t)]
    return clips


def classify_json(capsys, model, cache, inputs, labels, *extra):
    capsys.readouterr()
    rc = run_cli(["classify", *map(str, inputs), "--model", str(model), "--labels", *labels,
                  "--json", "--cache", cache, "--workers", "2", *extra])
    out = capsys.readouterr()
    return rc, json.loads(out.out) if out.out.strip() else None, out.err


@pytest.mark.slow
def test_classify_json_schema_and_held_out_accuracy(model, cache, held_out_clips, capsys):
    labels = list(dict.fromkeys(held_out_clips.values()))
    rc, doc, err = classify_json(capsys, model, cache, held_out_clips, labels, "--top-k", "2")
    assert rc == 0, err
    assert set(doc) == {"model", "method", "audio_encoder", "label_encoder", "temperature", "labels",
                        "top_k", "n_files", "n_failed", "results"}
    assert doc["method"] == DEFAULT_METHOD and doc["audio_encoder"] == "yamnet"
    assert doc["label_encoder"] == "glove" and doc["labels"] == labels and doc["top_k"] == 2
    assert doc["n_files"] == len(held_out_clips) and doc["n_failed"] == 0
    assert isinstance(doc["temperature"], float) and doc["temperature"] > 0
    for r in doc["results"]:
        assert set(r) == {"path", "ranking", "error"} and r["error"] is None
        assert len(r["ranking"]) == 2
        for p in r["ranking"]:
            assert set(p) == {"label", "score", "probability"} and p["label"] in labels
            assert 0 <= p["probability"] <= 1
    hits = sum(r["ranking"][0]["label"] == held_out_clips[r["path"]] for r in doc["results"])
    assert hits / len(doc["results"]) > 1 / len(labels)  # above chance on unseen labels


@pytest.mark.slow
def test_text_output_and_labels_file(model, cache, held_out_clips, tmp_path, capsys):
    clip = next(iter(held_out_clips))
    labels_file = tmp_path / "labels.txt"
    labels_file.write_text("# candidates\nrooster\n\nsea waves\n")
    capsys.readouterr()
    rc = run_cli(["classify", clip, "--model", str(model), "--labels", "church bells",
                  "--labels-file", str(labels_file), "--cache", cache])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert out[0] == clip and len(out) == 4
    assert out[1].lstrip().startswith("1. ") and "%" in out[1]
    assert {line.split()[1] for line in out[1:]} <= {"rooster", "sea", "church"}


@pytest.mark.slow
def test_folder_with_bad_files(model, cache, held_out_clips, tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    good = list(held_out_clips)[:2]
    for p in good:
        shutil.copy(p, folder)
    (folder / "broken.flac").write_bytes(b"fLaC but nothing else")
    rc, doc, err = classify_json(capsys, model, cache, [folder, tmp_path / "missing.wav"],
                                 ["rooster", "sea waves"])
    assert rc == 1
    assert doc["n_files"] == 4 and doc["n_failed"] == 2
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in doc["results"]}
    assert by_name["missing.wav"]["error"] == "file not found"
    assert by_name["broken.flac"]["error"] and by_name["broken.flac"]["ranking"] == []
    for p in good:
        assert by_name[p.rsplit("/", 1)[-1]]["ranking"]
    assert "2 of 4 file(s) not classified" in err and "broken.flac" in err and "missing.wav" in err


@pytest.mark.slow
@pytest.mark.parametrize("labels, extra, message", [
    ([], [], "no candidate labels"),
    (["dog", "rain", "Dog"], [], "duplicate labels"),
    (["dog", "qzxqzv"], [], "qzxqzv"),
    (["dog", "rain"], ["--label-encoder", "minilm"], "trained with label encoder 'glove'"),
    (["dog", "rain"], ["--audio-encoder", "vggish"], "trained with audio encoder 'yamnet'"),
    (["dog", "rain"], ["--method", "bilinear" if DEFAULT_METHOD != "bilinear" else "eszsl"],
     "model was expected"),
    (["dog", "rain"], ["--top-k", "0"], "--top-k"),
])
def test_bad_inputs_exit_2_with_a_clear_message(model, cache, held_out_clips, capsys,
                                                labels, extra, message):
    clip = next(iter(held_out_clips))
    capsys.readouterr()
    argv = ["classify", clip, "--model", str(model), "--cache", cache, *extra]
    if labels:
        argv += ["--labels", *labels]
    rc = run_cli(argv)
    err = capsys.readouterr().err
    assert rc == 2 and "zsaudio classify: error:" in err and message in err


def test_classify_missing_model_and_labels_file(tmp_path, capsys):
    assert run_cli(["classify", "x.wav", "--model", str(tmp_path / "no.npz"), "--labels", "a"]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert run_cli(["classify", "x.wav", "--model", "m.npz", "--labels-file", str(tmp_path / "l")]) == 2
    assert "labels file not found" in capsys.readouterr().err


def test_train_bad_inputs(tmp_path, capsys):
    out = str(tmp_path / "m.npz")
    assert run_cli(["train", "--out", out]) == 2
    assert "no training data" in capsys.readouterr().err
    assert run_cli(["train", "--esc50", "--classes", "dgo", "--out", out]) == 2
    assert "unknown ESC-50 class" in capsys.readouterr().err
    assert run_cli(["train", "--data", str(tmp_path / "none.csv"), "--out", out]) == 2
    assert "not found" in capsys.readouterr().err
    assert run_cli(["train", "--classes", "dog", "--data", "x.csv", "--out", out]) == 2
    assert "add --esc50" in capsys.readouterr().err


@pytest.mark.slow
def test_train_from_csv(esc50, cache, tmp_path, capsys):
    rows = []
    for cls in ("dog", "rain", "siren", "laughing"):
        t = esc50.class_names.index(cls)
        rows += [(str(p), cls) for p, y in zip(esc50.paths, esc50.targets, strict=True) if y == t][:3]
    table = tmp_path / "train.csv"
    with open(table, "w", newline="") as f:
        csv.writer(f).writerows([("path", "label"), *rows])
    out = tmp_path / "m.npz"
    rc = run_cli(["train", "--data", str(table), "--label-encoder", "glove", "--out", str(out),
                  "--cache", cache, "--quiet", "--workers", "2"])
    assert rc == 0 and out.is_file()
    assert f"model written to {out}" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_trains_then_reuses_its_model(esc50, cache, tmp_path, capsys):
    # a small ESC-50 copy (links to the real clips): the demo trains on all of it but the held-out
    root = tmp_path / "esc50"
    (root / "meta").mkdir(parents=True)
    (root / "audio").mkdir()
    with open(esc50.root / "meta" / "esc50.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    keep = {c: 0 for c in TRAIN + HELD_OUT}
    stems = {p.stem: p for p in esc50.paths}
    chosen = []
    for row in rows:
        if row["category"] in keep and keep[row["category"]] < 4:
            keep[row["category"]] += 1
            src = stems[row["filename"].rsplit(".", 1)[0]]
            (root / "audio" / src.name).symlink_to(src)
            chosen.append(row)
    with open(root / "meta" / "esc50.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(chosen)
    model = tmp_path / "demo.npz"
    argv = ["demo", "--esc50", str(root), "--holdout", *HELD_OUT, "--label-encoder", "glove",
            "--model", str(model), "--cache", cache, "--quiet", "--workers", "2"]
    capsys.readouterr()
    assert run_cli(argv) == 0
    first = capsys.readouterr()
    assert "\ntraining " in first.err and model.is_file()
    assert "top-1:" in first.out and "truth: rooster" in first.out
    assert run_cli(argv) == 0
    second = capsys.readouterr()
    assert "loaded the model trained before" in second.err and "\ntraining " not in second.err
    assert second.out == first.out


def test_classify_without_a_model_runs_the_training_free_default(cache, held_out_clips, capsys,
                                                                 tmp_path, monkeypatch):
    """The CLI path without --model, with GloVe in place of MiniLM: the default embeds ~2100
    AudioSet source texts, one MiniLM call each (minutes on a loaded machine); GloVe looks
    them up. The MiniLM default itself: test_default_classifier_is_minilm_with_the_ensemble."""
    from zsaudio.cli import classify as classify_cmd

    monkeypatch.setattr(classify_cmd, "default_classifier",
                        functools.partial(default_classifier, label_encoder="glove"))
    labels = list(dict.fromkeys(held_out_clips.values()))
    capsys.readouterr()
    rc = run_cli(["classify", *held_out_clips, "--labels", *labels, "--json", "--cache", cache,
                  "--workers", "2"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    doc = json.loads(out.out)
    assert doc["model"] is None and doc["method"] == TRAINING_FREE_METHOD == "softmap"
    assert doc["label_encoder"] == "glove" and doc["temperature"] == TRAINING_FREE_TEMPERATURE
    hits = sum(r["ranking"][0]["label"] == held_out_clips[r["path"]] for r in doc["results"])
    assert hits / len(doc["results"]) >= 0.75  # 8 clips of 4 classes AudioSet names well
    # a method or encoder other than the default needs a model; no labels is an error
    assert run_cli(["classify", *held_out_clips, "--labels", "a", "--method", "bilinear"]) == 2
    assert "needs a model" in capsys.readouterr().err
    assert run_cli(["classify", *held_out_clips]) == 2
    assert "no candidate labels" in capsys.readouterr().err
    # --ray runs a model file on the cluster: without --model it is refused before any cluster
    assert run_cli(["classify", *held_out_clips, "--labels", "a", "--ray", "--out",
                    str(tmp_path / "ray")]) == 2
    assert "--ray needs --model" in capsys.readouterr().err
    # the training-free classifier saves and loads like a trained one
    clf = default_classifier(label_encoder="glove", cache_dir=cache, workers=2)
    loaded = ZeroShotClassifier.load(clf.save(tmp_path / "free.npz"), cache_dir=cache, workers=2)
    assert loaded.metadata_["source_text_rule"].startswith("zsaudio.labels.audioset")
    clip = next(iter(held_out_clips))
    assert [p.label for p in loaded.classify([clip], labels)[0].ranking] == \
        [p.label for p in clf.classify([clip], labels)[0].ranking]


def test_default_classifier_is_minilm_with_the_ensemble(monkeypatch):
    """default_classifier() builds the MiniLM soft map with the prompt ensemble on candidates
    (source texts embedded without it); the label space is stubbed (no MiniLM run here)."""
    import numpy as np

    from zsaudio.classifier import DEFAULT_LABEL_TEMPLATE
    from zsaudio.model import SourceLabelSpace

    seen = {}

    def fake_source(self, audio_enc):
        seen["template"] = self.label_template
        k = len(audio_enc.class_ids)
        return SourceLabelSpace(list(audio_enc.class_names), np.eye(k, 8, dtype=np.float32),
                                rows=np.eye(k, 8, dtype=np.float32), row_owner=np.arange(k),
                                row_kind=np.ones(k, int))  # "synonym" rows

    monkeypatch.setattr(ZeroShotClassifier, "_source", fake_source)
    monkeypatch.setattr(ZeroShotClassifier, "_get_label_encoder",
                        lambda self: type("Enc", (), {"config": staticmethod(dict)})())
    clf = default_classifier()
    assert clf.method == TRAINING_FREE_METHOD and clf.label_encoder == "minilm"
    assert seen["template"] == DEFAULT_LABEL_TEMPLATE == "ensemble"
    assert clf.temperature_ == TRAINING_FREE_TEMPERATURE and clf.classes_ == []
    assert clf.estimator_.get_params() == {"tau": 0.03, "source_text": "synonyms+description"}
