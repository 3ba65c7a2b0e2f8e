"""Report pieces of round 2: rows read back from results.csv, the ablation table, and source
texts embedded without the candidate template."""

from __future__ import annotations

import numpy as np

from zsaudio.experiments import report
from zsaudio.labels.audioset import encoder_source_embeddings, encoder_source_text_rows
from zsaudio.labels.base import LabelCoverage, LabelEncoder


def _rows():
    rows = []
    for seed in range(2):
        for cat in ("animals", "natural"):
            rows.append(dict(method="softmap · minilm", setting=3, train_category="",
                             eval_category=cat, seed=seed, n_test=400, top1=70.0 + seed,
                             top3=90.0, chance=10.0))
        rows.append(dict(method="softmap, names only · minilm", setting="50-way",
                         train_category="", eval_category="all", seed=seed, n_test=2000,
                         top1=60.0, top3=80.0, chance=2.0))
        rows.append(dict(method="bilinear · minilm", setting="gzsl", train_category="",
                         eval_category="animals", seed=seed, n_test=5, top1=1.0, top3=2.0,
                         chance=2.0, s=50.0, u=1.0, H=2.0))
    return rows


def test_rows_read_back_from_results_csv_give_the_same_tables(tmp_path):
    rows = _rows()
    report.write_csv(tmp_path / "results.csv", rows)
    back = report.read_rows_csv(tmp_path / "results.csv")
    assert back == rows
    assert report.headline_table(back) == report.headline_table(rows)


def test_ablation_table_lists_each_spec_with_what_it_turns_off():
    table = report.ablation_table(_rows(), {"softmap": "all on", "softmap, names only": "names"})
    lines = table.splitlines()
    assert lines[0].startswith("| method | label encoder | what differs | Setting 1 | Setting 3")
    assert "| softmap | minilm | all on | – | 70.5 ± 0.5 | – | – |" in lines
    assert "| softmap, names only | minilm | names | – | – | – | 60.0 ± 0.0 |" in lines
    assert not any("bilinear" in line for line in lines)


class _Templated(LabelEncoder):
    """A fake sentence-like encoder: the vector says whether the text carried the template."""

    name = "fake"

    def __init__(self, template=None):
        super().__init__()
        self.template = template

    @property
    def dim(self):
        return 2

    def source_encoder(self):
        return _Templated(None) if self.template else self

    def _coverage_one(self, label):
        return LabelCoverage(label, [label], [label], [])

    def _encode_new(self, labels):
        return np.array([[1.0, 0.0] if self.template else [0.0, 1.0] for _ in labels], np.float32)


def test_source_texts_are_embedded_without_the_candidate_template():
    ids = ["/m/09x0r", "/m/0bt9lr"]  # Speech, Dog
    enc = _Templated("the sound of {label}")
    emb, mask = encoder_source_embeddings(enc, ids)
    assert mask.all() and np.all(emb == [0.0, 1.0])
    rows, owner, kind = encoder_source_text_rows(enc, ids)
    assert np.all(rows == [0.0, 1.0]) and owner.tolist() == [0, 0, 0, 1, 1, 1]
    assert enc.encode(["dog"])[0].tolist() == [1.0, 0.0]  # candidates keep the template


def test_encoder_label_space_carries_the_text_rows_without_the_template():
    from zsaudio.model.features import encoder_label_space

    ids = ["/m/09x0r", "/m/0bt9lr"]  # Speech, Dog
    enc = _Templated("the sound of {label}")
    plain = encoder_label_space(enc, ids)
    assert plain.rows is None and np.all(plain.vectors == [0.0, 1.0])
    space = encoder_label_space(enc, ids, text_rows=True)
    rows, owner, kind = space.text_rows()
    assert np.all(rows == [0.0, 1.0]) and owner.tolist() == [0, 0, 0, 1, 1, 1]
    assert kind.tolist() == [0, 1, 2, 0, 1, 2]


def test_classifier_searches_the_main_grid_not_an_ablation_one():
    from zsaudio.classifier import ZeroShotClassifier
    from zsaudio.experiments.reproduce import ablation_methods
    from zsaudio.model import DEFAULT_SEARCH

    params, grid = ZeroShotClassifier(method="softmap")._search().resolved()
    assert grid == DEFAULT_SEARCH["softmap"][1] and params == {}
    # the ablations share the method's name but not its grid
    assert any(s.method == "softmap" and s.grid != grid for s in ablation_methods())
