"""AudioSet ontology, YAMNet class map, source label texts, target -> AudioSet matching."""

import numpy as np
import pytest

from zsaudio.embeddings.yamnet import load_class_map
from zsaudio.labels import audioset


@pytest.fixture(scope="module")
def yamnet_classes():
    return audioset.audioset_classes(audioset.yamnet_class_ids())


def test_ontology_and_class_map_are_consistent(yamnet_classes):
    onto = audioset.load_ontology()
    assert len(onto) == 632
    assert len(yamnet_classes) == 521
    # The class map's display names are the ontology names, in output order.
    names = load_class_map()[1]
    assert names == [c.name for c in yamnet_classes]
    assert yamnet_classes[0].name == "Speech"
    # Hierarchy: parents are the inverse of child_ids.
    dog = onto["/m/0bt9lr"]
    assert dog.name == "Dog"
    assert dog.children, "Dog has children (Bark, Yip, ...)"
    for child in dog.children:
        assert dog.mid in onto[child].parents
    assert onto["/m/0dgw9r"].parents == ()  # "Human sounds" is a root
    assert "abstract" in onto["/m/0dgw9r"].restrictions


def test_unknown_mid_is_named():
    with pytest.raises(ValueError, match="/m/not_a_mid"):
        audioset.audioset_classes(["/m/09x0r", "/m/not_a_mid"])


def test_source_label_texts_modes(yamnet_classes):
    onto = audioset.load_ontology()
    dog, surf = onto["/m/0bt9lr"], onto["/m/034srq"]
    assert audioset.source_label_texts([dog, surf]) == ["Dog", "Waves, surf"]
    desc = audioset.source_label_texts([surf], mode="description")[0]
    assert desc.startswith("Sounds caused by the surface waves")
    both = audioset.source_label_texts([surf], mode="name+description")[0]
    assert both == "Waves, surf. " + desc
    bark = next(c for c in yamnet_classes if c.name == "Bark")
    assert audioset.source_label_texts([bark, onto["/m/0dgw9r"]], mode="name+parent") == [
        "Bark (Dog)", "Human sounds"]
    assert len(audioset.source_label_texts(yamnet_classes, mode="name+description")) == 521
    with pytest.raises(ValueError, match="mode"):
        audioset.source_label_texts([dog], mode="names")


def test_match_words_normalisation():
    assert audioset.match_words("Sea_waves") == audioset.match_words("waves, sea")
    assert audioset.match_words("crying_baby") == audioset.match_words("Baby cry")
    assert audioset.match_words("Sneezing") == audioset.match_words("sneeze")
    assert audioset.match_words("dog") == {"dog"}
    assert audioset.match_words("glasses") == {"glass"}


def test_nearest_audioset_classes_rule(yamnet_classes):
    targets = ["dog", "rain", "sea_waves", "door_wood_knock", "crying_baby", "car_horn",
               "crow", "hand_saw", "cow", "laughing"]
    got = {m.target: m for m in audioset.nearest_audioset_classes(targets, yamnet_classes)}
    assert (got["dog"].name, got["dog"].kind) == ("Dog", "identical")
    assert got["dog"].near_identical and got["dog"].jaccard == 1.0
    assert (got["rain"].name, got["rain"].kind) == ("Rain", "identical")
    assert (got["sea_waves"].name, got["sea_waves"].synonym) == ("Waves, surf", "Waves")
    assert got["sea_waves"].kind == "contains" and not got["sea_waves"].near_identical
    assert (got["door_wood_knock"].name, got["door_wood_knock"].kind) == ("Knock", "contains")
    assert got["crying_baby"].name == "Baby cry, infant cry"
    assert got["car_horn"].synonym == "car horn"
    assert got["crow"].name == "Crow"          # not "Crowing, cock-a-doodle-doo"
    assert got["hand_saw"].name == "Sawing"    # head word beats "Hands"
    assert got["cow"].kind == "none" and got["cow"].mid is None
    assert got["laughing"].kind == "contained"


def test_embed_source_texts_masks_unknown_texts():
    from zsaudio.labels import LabelCoverage, UnknownLabelError

    class TinyEncoder:
        vocab = {"dog": [1.0, 0.0], "rain": [0.0, 1.0]}

        def __init__(self, name_labels=True):
            self.name_labels = name_labels

        def encode(self, labels):
            out, bad = [], []
            for lab in labels:
                vecs = [self.vocab[w] for w in lab.lower().split() if w in self.vocab]
                if not vecs:
                    bad.append(LabelCoverage(lab, lab.lower().split(), [], lab.lower().split()))
                out.append(np.mean(vecs, axis=0) if vecs else None)
            if bad:
                err = UnknownLabelError("tiny", bad)
                if not self.name_labels:
                    err.labels = []
                raise err
            return np.array(out, dtype=np.float32)

    for name_labels in (True, False):  # the error names the labels / they must be probed
        emb, mask = audioset.embed_source_texts(TinyEncoder(name_labels),
                                                ["Dog", "Yodeling", "Rain dog"])
        assert mask.tolist() == [True, False, True]
        np.testing.assert_allclose(emb, [[1, 0], [0, 0], [0.5, 0.5]])
        assert emb.dtype == np.float32
    emb, mask = audioset.embed_source_texts(TinyEncoder(), ["Dog", "Rain"])
    assert mask.all() and emb.shape == (2, 2)
    with pytest.raises(ValueError, match="none of the texts"):
        audioset.embed_source_texts(TinyEncoder(), ["Yodeling"])


def test_embed_yamnet_names_with_a_small_vocabulary(yamnet_classes):
    """The Google News subset (376 words) lacks every word of some AudioSet names."""
    from zsaudio.labels import get_label_encoder

    enc = get_label_encoder("googlenews-subset")
    texts = audioset.source_label_texts(yamnet_classes)
    emb, mask = audioset.embed_source_texts(enc, texts)
    assert emb.shape == (521, 300) and 0 < (~mask).sum() < 521
    np.testing.assert_array_equal(emb[~mask], 0)
    known = [t for t, ok in zip(texts, mask, strict=True) if ok]
    np.testing.assert_allclose(emb[mask][:20], enc.encode(known[:20]), rtol=1e-6)
    assert np.all(np.linalg.norm(emb[mask], axis=1) > 0)
