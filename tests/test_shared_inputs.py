"""Inputs validated once and shared: the checked source label space, features restricted to the
fields a method reads. Each equals the per-call validation it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from zsaudio.model import ConSE, HeldOutClassSearch, SoftMap
from zsaudio.model.arrays import check_matrix
from zsaudio.model.features import AudioFeatures, SourceLabelSpace


def _rows_space(seed=0, K=6, d=4, dtype=np.float32):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(K, d)).astype(dtype)
    vectors[2] = 0  # a class the label encoder could not embed
    rows = rng.normal(size=(2 * K, d)).astype(dtype)
    return SourceLabelSpace([f"c{k}" for k in range(K)], vectors, rows=rows,
                            row_owner=np.arange(2 * K) % K, row_kind=np.arange(2 * K) % 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_checked_source_equals_the_per_call_validation(dtype):
    space = _rows_space(dtype=dtype)
    checked = space.checked
    assert space.checked is checked  # computed once
    assert checked.vectors.dtype == np.float32
    np.testing.assert_array_equal(
        checked.vectors, check_matrix(space.vectors, "v").astype(np.float32))
    np.testing.assert_array_equal(checked.mask, space.usable())
    assert checked.names.tolist() == list(space.names)
    rows, owner, kind = space.checked_rows
    assert space.checked_rows[0] is rows
    np.testing.assert_array_equal(rows, check_matrix(space.rows, "r").astype(np.float32))
    assert owner.dtype == kind.dtype == np.int64
    np.testing.assert_array_equal(owner, space.row_owner)
    np.testing.assert_array_equal(kind, space.row_kind)


def test_checked_source_is_read_only_and_never_aliases_the_callers_arrays():
    vectors, mask = np.eye(3, dtype=np.float32), np.array([True, False, True])
    space = SourceLabelSpace(["a", "b", "c"], vectors, mask=mask)
    for a in (space.checked.names, space.checked.vectors, space.checked.mask,
              *space.checked_rows):
        assert not a.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            a[0] = a[1]
    assert vectors.flags.writeable and mask.flags.writeable  # the caller's arrays untouched
    assert not np.shares_memory(space.checked.mask, mask)


def test_estimators_share_the_checked_source_and_raise_as_before():
    space = _rows_space()
    a, b = SoftMap(tau=0.1).fit(source=space), ConSE().fit(source=space)
    assert a.source_embeddings_ is b.source_embeddings_ is space.checked.vectors
    assert a.source_rows_ is space.checked_rows[0]
    bad = SourceLabelSpace(["a", "b"], np.array([[1.0, np.nan], [0.0, 1.0]]))
    for _ in range(2):  # a failed check is not cached: it raises every time
        with pytest.raises(ValueError, match="source.vectors contains NaN"):
            ConSE().fit(source=bad)
    with pytest.raises(ValueError, match="no usable source class"):
        ConSE().fit(source=SourceLabelSpace(["a"], np.zeros((1, 2))))


def test_only_keeps_the_fields_a_method_reads_sharing_the_arrays():
    rng = np.random.default_rng(0)
    feats = AudioFeatures(embeddings=rng.normal(size=(5, 3)), scores=rng.uniform(size=(5, 4)))
    kept = feats.only(ConSE.uses)
    assert kept.embeddings is None and kept.scores is feats.scores
    np.testing.assert_array_equal(kept[[1, 3]].scores, feats[[1, 3]].scores)
    with pytest.raises(ValueError, match="no feature field"):
        feats.only(("logits",))


def test_features_without_the_field_read_give_the_clear_error_in_a_search():
    """The runner passes only the fields a method reads: without scores, a training-free search
    says which field is missing (not that X has no rows)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(8), 3)
    X = AudioFeatures(embeddings=rng.normal(size=(24, 3))).only(SoftMap.uses)
    with pytest.raises(ValueError, match="scores, which these features lack"):
        HeldOutClassSearch("softmap").select(X, y, rng.normal(size=(8, 4)), _rows_space(d=4))


def test_training_free_search_on_float32_features_equals_float64():
    """The search converts the clips once; the same scores as converted per fit."""
    space = _rows_space(K=6, d=4)
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(8), 4)
    scores = rng.uniform(size=(32, 6)).astype(np.float32)
    E = rng.normal(size=(8, 4)).astype(np.float32)
    tables = [HeldOutClassSearch("softmap").select(X, y, E, space)[1].table
              for X in (scores, scores.astype(np.float64), AudioFeatures(scores=scores))]
    assert tables[0] == tables[1] == tables[2]
