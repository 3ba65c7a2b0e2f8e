"""One ``classify`` call creates and hashes the audio model once, and a call on a few clips
writes no cache pack (issue 13, point 8)."""

from __future__ import annotations

import pytest

from zsaudio.classifier import ZeroShotClassifier
from zsaudio.datasets import from_esc50
from zsaudio.embeddings import yamnet


@pytest.fixture(scope="module")
def model_and_clip(tmp_path_factory):
    data = from_esc50(classes=["dog", "rain", "siren", "rooster"], max_per_class=3)
    train = [(p, y) for p, y in zip(data.paths, data.labels, strict=True) if y != "rooster"]
    cache = tmp_path_factory.mktemp("emb")
    clf = ZeroShotClassifier(method="conse", label_encoder="glove", search=False, cache_dir=cache,
                             workers=0).fit([p for p, _ in train], [y for _, y in train])
    path = clf.save(tmp_path_factory.mktemp("model") / "m.npz")
    rooster = [p for p, y in zip(data.paths, data.labels, strict=True) if y == "rooster"]
    return path, cache, rooster


@pytest.fixture
def counters(monkeypatch):
    counts = {"created": 0, "model_hashed": 0}
    init, sha256_of = yamnet.YAMNetEncoder.__init__, yamnet.sha256_of

    def counting_init(self, *args, **kwargs):
        counts["created"] += 1
        init(self, *args, **kwargs)

    def counting_sha256(path, *args, **kwargs):
        if str(path).endswith(".tflite"):
            counts["model_hashed"] += 1
        return sha256_of(path, *args, **kwargs)

    monkeypatch.setattr(yamnet.YAMNetEncoder, "__init__", counting_init)
    monkeypatch.setattr(yamnet, "sha256_of", counting_sha256)
    return counts


@pytest.mark.parametrize("warm", [False, True], ids=["new-clip", "cached-clip"])
def test_one_classify_creates_and_hashes_the_model_once(model_and_clip, counters, warm):
    path, cache, rooster = model_and_clip
    clip = rooster[1] if warm else rooster[0]
    if warm:  # embedded by an earlier classify
        ZeroShotClassifier.load(path, cache_dir=cache, workers=0).classify([clip], ["a", "b"])
    counters.update(created=0, model_hashed=0)
    clf = ZeroShotClassifier.load(path, cache_dir=cache, workers=0)
    (result,) = clf.classify([clip], ["rooster crowing", "rain", "siren"])
    assert result.ok
    assert counters == {"created": 1, "model_hashed": 1}
    clf.classify([clip], ["rooster", "rain"])  # a second call on the same classifier: no more
    assert counters == {"created": 1, "model_hashed": 1}


def test_classifying_a_few_clips_writes_no_pack(model_and_clip, monkeypatch):
    path, cache, rooster = model_and_clip
    packs = sorted(cache.rglob("*.pack"))
    clf = ZeroShotClassifier.load(path, cache_dir=cache, workers=0)
    for clip in rooster:
        clf.classify([clip], ["rooster", "rain"])
    clf.classify(rooster, ["rooster", "rain"])
    assert sorted(cache.rglob("*.pack")) == packs  # per-clip entries only
    # a bulk run (here: from 3 clips on) packs the clips it used, once
    monkeypatch.setattr("zsaudio.embeddings.extract.PACK_MIN_CLIPS", 3)
    clf.classify(rooster, ["rooster", "rain"])
    clf.classify(rooster, ["rooster", "rain"])
    assert len(sorted(cache.rglob("*.pack"))) == len(packs) + 1
