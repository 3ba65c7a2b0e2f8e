"""The soft map (zsaudio.model.softmap), the source text rows and the candidate-only template."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zsaudio.labels.audioset import SOURCE_TEXT_KINDS, load_ontology, source_text_rows
from zsaudio.labels.sentence import PROMPT_ENSEMBLE, SentenceEncoder
from zsaudio.model import METHODS, SoftMap, SourceLabelSpace
from zsaudio.model.softmap import soft_map_scores, soft_map_weights, source_similarity


def _literal(scores, E, rows, owner, K, tau):
    """score(x, y) = sum_k softmax_k(max_{rows r of k} cos(E_y, r) / tau) * s_k(x), in loops."""
    out = np.zeros((scores.shape[0], E.shape[0]))
    for c, e in enumerate(E):
        sims = np.full(K, -np.inf)
        for r, k in zip(rows, owner, strict=True):
            cos = e @ r / np.linalg.norm(e) / np.linalg.norm(r)
            sims[k] = max(sims[k], cos)
        w = np.exp((sims - sims.max()) / tau)
        w /= w.sum()
        out[:, c] = scores @ w
    return out


def _space(rows, owner=None, kind=None, n_sources=None):
    """A source label space of ``n_sources`` classes whose texts are ``rows`` (owner, kind);
    without owner and kind: one row per class, no text rows."""
    rows = np.asarray(rows, float)
    if owner is None:
        return SourceLabelSpace.from_vectors(rows)
    K = n_sources or int(np.max(owner)) + 1
    return SourceLabelSpace([f"c{k}" for k in range(K)], np.ones((K, rows.shape[1])),
                            rows=rows, row_owner=np.asarray(owner), row_kind=np.asarray(kind))


def test_soft_map_equals_the_formula():
    rng = np.random.default_rng(0)
    K, M, d = 7, 15, 5
    rows, owner = rng.normal(size=(M, d)), rng.integers(0, K - 1, M)  # class K-1 has no row
    scores, E = rng.uniform(size=(4, K)), rng.normal(size=(3, d))
    for tau in (0.02, 0.3, 5.0):
        W = soft_map_weights(source_similarity(E, rows, owner, K), tau)
        np.testing.assert_allclose(W.sum(axis=1), 1.0)
        assert np.all(W[:, K - 1] == 0)
        np.testing.assert_allclose(soft_map_scores(scores, W),
                                   _literal(scores, E, rows, owner, K, tau), rtol=1e-10)


def test_small_tau_reads_the_best_matching_source_class():
    S = np.eye(4)
    scores = np.array([[0.1, 0.7, 0.2, 0.0]])
    est = SoftMap(tau=1e-3).fit(source=_space(S))
    np.testing.assert_allclose(est.decision_function(scores, S), scores, atol=1e-12)


def test_source_text_choice_selects_rows_by_kind():
    # class 0: name row "a", synonym row "b"; class 1: name row "b". Candidate "b" reads
    # class 1 by names, class 0 by synonyms (class 1 has no synonym row).
    rows = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    owner, kind = np.array([0, 0, 1]), np.array([0, 1, 0])
    scores = np.array([[1.0, 0.0]])
    cand = np.array([[0.0, 1.0]])
    by_name = SoftMap(tau=0.01, source_text="name").fit(source=_space(rows, owner, kind, 2))
    assert by_name.text_rows_.shape[0] == 2 and by_name.source_rows_.shape[0] == 3
    assert by_name.decision_function(scores, cand)[0, 0] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="no source text"):
        SoftMap(source_text="synonyms+description").fit(
            source=_space(rows[[0, 2]], owner[[0, 2]], kind[[0, 2]], 2))
    syn = SoftMap(tau=0.01, source_text="synonyms").fit(source=_space(rows, owner, kind, 2))
    assert syn.decision_function(scores, cand)[0, 0] == pytest.approx(1.0)


def test_softmap_is_registered_training_free_and_checks_inputs():
    assert METHODS["softmap"] is SoftMap and SoftMap.training_free
    assert SoftMap.uses == ("scores",) and SoftMap.needs_source_rows
    with pytest.raises(ValueError, match="tau"):
        SoftMap(tau=0).fit(source=_space(np.eye(2)))
    with pytest.raises(ValueError, match="source_text"):
        SoftMap(source_text="words").fit(source=_space(np.eye(2)))
    est = SoftMap().fit(np.ones((4, 3)), np.array([0, 1, 0, 1]), np.eye(3)[:2],
                        source=_space(np.eye(3)))
    assert est.n_classes_ == 2
    with pytest.raises(ValueError, match="class scores"):
        SoftMap().fit(np.ones((4, 5)), np.array([0, 1, 0, 1]), np.eye(3)[:2],
                      source=_space(np.eye(3)))
    with pytest.raises(ValueError, match="go together"):
        SourceLabelSpace(["a"], np.ones((1, 2)), rows=np.ones((1, 2)))


def test_source_text_rows_rule():
    onto = load_ontology()
    surf = next(c for c in onto.values() if c.name == "Waves, surf")
    dog = onto["/m/0bt9lr"]
    texts, owner, kind = source_text_rows([surf, dog])
    assert texts[:3] == ["Waves, surf", "Waves", "surf"]
    assert texts[3].startswith("Waves, surf. ")
    assert texts[4:6] == ["Dog", "Dog"] and texts[6].startswith("Dog. ")
    assert owner.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert [SOURCE_TEXT_KINDS[k] for k in kind[:4]] == ["name", "synonym", "synonym",
                                                       "name+description"]


def test_template_is_candidate_side_only():
    enc = SentenceEncoder("minilm", Path("."), template="the sound of {label}")
    assert enc.text_for("Speech") == "the sound of Speech"
    src = enc.source_encoder()
    assert src.template is None and src.text_for("Speech") == "Speech"
    assert src.identity()["template"] is None
    plain = SentenceEncoder("minilm", Path("."))
    assert plain.source_encoder() is plain


def test_prompt_ensemble_texts_and_identity():
    enc = SentenceEncoder("minilm", Path("."), template="ensemble")
    assert enc.template == PROMPT_ENSEMBLE
    assert enc.texts_for("sea_waves") == ["sea waves", "the sound of sea waves",
                                          "a recording of sea waves", "sea waves sound"]
    assert "ensemble" in enc.identity()
    single = SentenceEncoder("minilm", Path("."), template="the sound of {label}")
    assert "ensemble" not in single.identity()  # cache keys of single templates unchanged
    with pytest.raises(ValueError, match="label"):
        SentenceEncoder("minilm", Path("."), template="{label}|no placeholder")
