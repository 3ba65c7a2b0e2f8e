"""The on-disk label embedding cache: same vectors, no second call to the wrapped encoder."""

from __future__ import annotations

import numpy as np
import pytest

from zsaudio.labels import LabelCoverage, LabelEncoder, UnknownLabelError, label_words
from zsaudio.labels.cache import CachedLabelEncoder


class CountingEncoder(LabelEncoder):
    """Deterministic 4-d vectors from the label text; "zzz" is an unknown word."""

    name = "counting"

    def __init__(self, version: int = 1) -> None:
        super().__init__()
        self.version = version
        self.encoded: list[str] = []
        self.covered: list[str] = []

    @property
    def dim(self) -> int:
        return 4

    def config(self):
        return {"name": self.name, "dim": 4, "version": self.version}

    def _coverage_one(self, label: str) -> LabelCoverage:
        self.covered.append(label)
        words = label_words(label)
        return LabelCoverage(label, words, [w for w in words if w != "zzz"],
                             [w for w in words if w == "zzz"])

    def _encode_new(self, labels: list[str]) -> np.ndarray:
        self.encoded.extend(labels)
        rng = [np.random.default_rng(sum(map(ord, x)) + self.version) for x in labels]
        return np.stack([r.normal(size=4) for r in rng]).astype(np.float32)


def test_second_encoder_reads_vectors_and_coverage_from_disk(tmp_path):
    first = CountingEncoder()
    cached = CachedLabelEncoder(first, tmp_path)
    labels = ["dog", "sea waves", "zzz dog"]
    cov = cached.coverage(labels)
    vecs = cached.encode(labels)
    np.testing.assert_array_equal(vecs, CountingEncoder().encode(labels))
    assert first.encoded == labels

    inner = CountingEncoder()
    again = CachedLabelEncoder(inner, tmp_path)
    np.testing.assert_array_equal(again.encode(labels), vecs)
    assert [c.missing for c in again.coverage(labels)] == [c.missing for c in cov] == [[], [], ["zzz"]]
    assert inner.encoded == [] and inner.covered == []  # nothing reached the wrapped encoder
    assert again.config() == first.config()

    again.encode(["cat", "dog"])
    assert inner.encoded == ["cat"]  # only the new label


def test_unencodable_label_raises_and_its_coverage_is_remembered(tmp_path):
    cached = CachedLabelEncoder(CountingEncoder(), tmp_path)
    with pytest.raises(UnknownLabelError, match="zzz"):
        cached.encode(["zzz"])
    assert cached.coverage(["zzz"])[0].missing == ["zzz"]
    inner = CountingEncoder()
    assert not CachedLabelEncoder(inner, tmp_path).coverage(["zzz"])[0].encodable
    assert inner.covered == []


def test_other_identity_uses_another_file_and_a_broken_file_is_rebuilt(tmp_path):
    a = CachedLabelEncoder(CountingEncoder(version=1), tmp_path)
    b = CachedLabelEncoder(CountingEncoder(version=2), tmp_path)
    assert a.path != b.path
    assert not np.array_equal(a.encode(["dog"]), b.encode(["dog"]))

    a.path.write_bytes(b"not an npz file")
    inner = CountingEncoder(version=1)
    rebuilt = CachedLabelEncoder(inner, tmp_path)
    np.testing.assert_array_equal(rebuilt.encode(["dog"]), CountingEncoder(version=1).encode(["dog"]))
    assert inner.encoded == ["dog"]
    assert CachedLabelEncoder(CountingEncoder(version=1), tmp_path).encode(["dog"]).shape == (1, 4)


def test_writers_merge_what_others_added(tmp_path):
    one = CachedLabelEncoder(CountingEncoder(), tmp_path)
    two = CachedLabelEncoder(CountingEncoder(), tmp_path)  # opened before one writes
    one.encode(["dog"])
    two.encode(["cat"])
    inner = CountingEncoder()
    CachedLabelEncoder(inner, tmp_path).encode(["dog", "cat"])
    assert inner.encoded == []


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"not an npz file"])
def test_damaged_file_is_a_miss_and_is_rebuilt(tmp_path, content):
    good = CachedLabelEncoder(CountingEncoder(), tmp_path)
    good.encode(["dog"])
    good.path.write_bytes(content)
    inner = CountingEncoder()
    rebuilt = CachedLabelEncoder(inner, tmp_path)
    np.testing.assert_array_equal(rebuilt.encode(["dog"]), CountingEncoder().encode(["dog"]))
    assert inner.encoded == ["dog"]
    assert CachedLabelEncoder(CountingEncoder(), tmp_path).dim == 4


def test_bad_metadata_is_a_miss(tmp_path):
    good = CachedLabelEncoder(CountingEncoder(), tmp_path)
    good.encode(["dog"])
    np.savez(good.path, meta=np.array('{"identity": {"name": "counting", "dim": 4, "version": 1}}'),
             vectors=np.zeros((1, 4), np.float32))
    inner = CountingEncoder()
    CachedLabelEncoder(inner, tmp_path).encode(["dog"])
    assert inner.encoded == ["dog"]
