"""ZeroShotClassifier and labelled-audio loading on real ESC-50 clips (YAMNet + GloVe).

Kept fast: train on 12 classes x 8 clips, test zero-shot on 8 held-out classes x 5 clips; the
embeddings go to a module-wide temporary cache, so each clip is embedded once.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from zsaudio.classifier import (
    DEFAULT_METHOD,
    MODEL_FORMAT,
    LabelError,
    ModelMismatchError,
    ZeroShotClassifier,
    check_candidate_labels,
    expand_inputs,
    fit_nll,
    fit_temperature,
    softmax,
)
from zsaudio.datasets.esc50 import load_esc50
from zsaudio.datasets.labelled import LabelledAudio, from_esc50
from zsaudio.labels import UnknownLabelError

TRAIN = ["dog", "cat", "hen", "rain", "wind", "thunderstorm", "crying_baby", "laughing",
         "keyboard_typing", "clock_alarm", "siren", "train"]
HELD_OUT = ["rooster", "cow", "sea_waves", "crickets", "coughing", "door_wood_knock",
            "church_bells", "airplane"]
N_TRAIN, N_TEST = 8, 5


@pytest.fixture(scope="module")
def esc50():
    return load_esc50()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("emb-cache")


@pytest.fixture(scope="module")
def train_data(esc50):
    return from_esc50(esc50.root, classes=TRAIN, max_per_class=N_TRAIN)


@pytest.fixture(scope="module")
def test_data(esc50):
    data = from_esc50(esc50.root, classes=HELD_OUT)
    # the last clips of each class (the training side uses the first ones of *other* classes)
    keep = [i for i, lab in enumerate(data.labels) if data.labels[i:].count(lab) <= N_TEST]
    return LabelledAudio([data.paths[i] for i in keep], [data.labels[i] for i in keep], data.source)


@pytest.fixture(scope="module")
def trained(train_data, cache):
    clfs = {}
    for method in dict.fromkeys((DEFAULT_METHOD, "conse-anchored", "bilinear")):
        clfs[method] = ZeroShotClassifier(method=method, label_encoder="glove", cache_dir=cache,
                                          workers=2).fit(train_data.paths, train_data.labels)
    return clfs


@pytest.mark.slow
@pytest.mark.parametrize("method", [DEFAULT_METHOD, "bilinear"])
def test_held_out_labels_above_chance(trained, test_data, method):
    clf = trained[method]
    labels = list(dict.fromkeys(test_data.labels))
    assert not set(labels) & set(clf.classes_)  # truly unseen labels
    results = clf.classify(test_data.paths, labels, top_k=3)
    assert [r.path for r in results] == [str(p) for p in test_data.paths]
    assert all(r.ok and len(r.ranking) == 3 for r in results)
    top1 = np.mean([r.label == t for r, t in zip(results, test_data.labels, strict=True)])
    chance = 1 / len(labels)
    # measured (all 40 clips per class): ConSE 58 %, bilinear 25 %, chance 12.5 %
    floor = 2 * chance if method == DEFAULT_METHOD else 1.5 * chance
    assert top1 >= floor, f"{method}: top-1 {top1:.2f} on held-out classes, chance {chance:.2f}"
    for r in results:
        scores = [p.score for p in r.ranking]
        probs = [p.probability for p in r.ranking]
        assert scores == sorted(scores, reverse=True) and probs == sorted(probs, reverse=True)
        assert 0 < sum(probs) <= 1 + 1e-9
    # probabilities over all candidates sum to one
    full = clf.classify(test_data.paths[:3], labels, top_k=len(labels))
    for r in full:
        assert sum(p.probability for p in r.ranking) == pytest.approx(1.0)


@pytest.mark.slow
def test_model_file_round_trip_and_self_description(trained, test_data, tmp_path):
    clf = trained[DEFAULT_METHOD]
    path = clf.save(tmp_path / "m.npz")
    loaded = ZeroShotClassifier.load(path, cache_dir=clf.cache_dir, workers=2)
    meta = loaded.metadata_
    assert meta["format"] == MODEL_FORMAT and meta["method"] == DEFAULT_METHOD
    assert meta["audio_encoder"]["name"] == "yamnet" and meta["audio_encoder"]["config"]["model_sha256"]
    assert meta["label_encoder"]["name"] == "glove" and meta["label_encoder"]["config"]["rule"]
    assert sorted(meta["training"]["classes"]) == sorted(c.replace("_", " ") for c in TRAIN)
    assert meta["temperature"] == clf.temperature_ > 0 and meta["temperature_fit"]["fitted"]
    assert meta["zsaudio_version"]
    json.dumps(meta)
    labels = ["rooster", "sea waves", "church bells"]
    a = clf.classify(test_data.paths[:4], labels, top_k=3)
    b = loaded.classify(test_data.paths[:4], labels, top_k=3)
    assert [x.to_dict() for x in a] == [x.to_dict() for x in b]


@pytest.mark.slow
def test_model_refuses_other_method_and_encoders(trained, test_data, tmp_path):
    path = trained[DEFAULT_METHOD].save(tmp_path / "m.npz")
    other = "eszsl" if DEFAULT_METHOD != "eszsl" else "bilinear"
    with pytest.raises(ModelMismatchError, match=other):
        ZeroShotClassifier.load(path, method=other)
    with pytest.raises(ModelMismatchError, match="label encoder 'glove'"):
        ZeroShotClassifier.load(path, label_encoder="minilm")
    with pytest.raises(ModelMismatchError, match="audio encoder 'yamnet'"):
        ZeroShotClassifier.load(path, audio_encoder="vggish")
    # encoders here that differ from the stored ones (e.g. other word vectors) are refused
    clf = ZeroShotClassifier.load(path, cache_dir=trained[DEFAULT_METHOD].cache_dir)
    clf.metadata_["label_encoder"]["config"]["vectors"] = {"file": "other-vectors.npy"}
    with pytest.raises(ModelMismatchError, match="label encoder available here differs"):
        clf.classify(test_data.paths[:1], ["rooster", "cow"])
    not_a_model = tmp_path / "x.npz"
    np.savez(not_a_model, a=np.zeros(2))
    with pytest.raises(ModelMismatchError, match="not a zsaudio model"):
        ZeroShotClassifier.load(not_a_model)
    with pytest.raises(FileNotFoundError):
        ZeroShotClassifier.load(tmp_path / "missing.npz")


@pytest.mark.slow
def test_bad_labels(trained, test_data):
    clf = trained[DEFAULT_METHOD]
    clip = test_data.paths[:1]
    with pytest.raises(LabelError, match="no candidate labels"):
        clf.classify(clip, [])
    with pytest.raises(LabelError, match="duplicate"):
        clf.classify(clip, ["dog", "rain", "Dog "])
    with pytest.raises(LabelError, match="blank"):
        clf.classify(clip, ["dog", "  "])
    with pytest.raises(UnknownLabelError, match="qzxqzv"):
        clf.classify(clip, ["dog", "qzxqzv"])
    with pytest.raises(ValueError, match="top_k"):
        clf.classify(clip, ["dog", "rain"], top_k=0)
    assert len(clf.classify(clip, ["dog", "rain"], top_k=5)[0].ranking) == 2  # clipped to labels


@pytest.mark.slow
def test_folder_with_bad_files_still_classifies_the_good_ones(trained, test_data, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for p in test_data.paths[:2]:
        shutil.copy(p, folder / p.name)
    (folder / "broken.wav").write_bytes(b"RIFF not really a wave file")
    (folder / "notes.txt").write_text("not audio, not listed")
    results = trained[DEFAULT_METHOD].classify([folder, tmp_path / "missing.wav"], ["rooster", "cow"])
    by_name = {r.path.rsplit("/", 1)[-1]: r for r in results}
    assert set(by_name) == {"broken.wav", "missing.wav", *(p.name for p in test_data.paths[:2])}
    assert by_name["missing.wav"].error == "file not found" and not by_name["missing.wav"].ranking
    assert by_name["broken.wav"].error and not by_name["broken.wav"].ranking
    assert all(by_name[p.name].ok and by_name[p.name].ranking for p in test_data.paths[:2])


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    scores, truth = [], []
    for n_cand in (3, 5):
        s = rng.normal(size=(4000, n_cand))
        p = softmax(s, 0.5)
        truth.append(np.array([rng.choice(n_cand, p=row) for row in p]))
        scores.append(s)
    t, nll = fit_temperature(scores, truth)
    assert t == pytest.approx(0.5, rel=0.05)
    assert nll == pytest.approx(fit_nll(scores, truth, t)) and nll < fit_nll(scores, truth, 1.0)
    with pytest.raises(ValueError, match="no validation clips"):
        fit_temperature([np.zeros((0, 2))], [np.zeros(0, int)])


def test_softmax_and_label_checks():
    p = softmax(np.array([[1000.0, 1000.0, -1000.0]]), 0.01)  # stable for huge logits
    assert np.allclose(p, [[0.5, 0.5, 0.0]])
    assert check_candidate_labels(["dog", "sea waves"]) == ["dog", "sea waves"]
    with pytest.raises(LabelError, match="sea_waves"):
        check_candidate_labels(["sea waves", "sea_waves"])
    with pytest.raises(LabelError, match="one string"):
        check_candidate_labels("dog")


def test_expand_inputs(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.flac").write_bytes(b"")
    (tmp_path / "a" / "y.TXT").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    got = expand_inputs([tmp_path / "a", tmp_path / "empty", tmp_path / "nope.wav"])
    assert got[0] == (str(tmp_path / "a" / "x.flac"), None)
    assert got[1][0] == str(tmp_path / "empty") and "no audio" in got[1][1]
    assert got[2] == (str(tmp_path / "nope.wav"), "file not found")


def test_unknown_method_is_refused_before_embedding(train_data):
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        ZeroShotClassifier(method="nope").fit(train_data.paths[:2], ["a", "b"])
    with pytest.raises(ValueError, match="at least 2 classes"):
        ZeroShotClassifier().fit(train_data.paths[:2], ["a", "a"])
    with pytest.raises(ValueError, match="2 paths but 1 labels"):
        ZeroShotClassifier().fit(train_data.paths[:2], ["a"])


def test_training_labels_differing_only_in_case_are_refused(train_data):
    with pytest.raises(LabelError, match="duplicate labels: 'Dog' = 'dog'"):
        ZeroShotClassifier().fit(train_data.paths[:3], ["Dog", "dog", "rain"])


@pytest.mark.slow
def test_fewshot_method_ranks_unseen_labels_as_the_default_and_seen_ones_by_prototypes(
        trained, train_data, test_data, cache):
    """conse-fewshot through the classifier: held-out labels rank exactly as conse-anchored
    (no candidate has audio); training labels (all have clips) use the prototypes."""
    clf = ZeroShotClassifier(method="conse-fewshot", label_encoder="glove", cache_dir=cache,
                             workers=2).fit(train_data.paths, train_data.labels)
    labels = [x.replace("_", " ") for x in HELD_OUT]
    ours = [[p.label for p in r.ranking] for r in clf.classify(test_data.paths, labels, top_k=3)]
    default = [[p.label for p in r.ranking]
               for r in trained["conse-anchored"].classify(test_data.paths, labels, top_k=3)]
    assert ours == default
    seen = [x.replace("_", " ") for x in TRAIN]
    truth = [x.replace("_", " ") for x in train_data.labels]

    def top1(model):
        firsts = [r.ranking[0].label for r in model.classify(train_data.paths, seen)]
        return np.mean([a == b for a, b in zip(firsts, truth, strict=True)])

    assert top1(clf) >= 0.8 and top1(clf) > top1(trained["conse-anchored"]) + 0.05
