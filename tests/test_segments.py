"""Long recordings on real ESC-50 clips: dog, rain and siren clips with silence between them,
classified window by window with a model trained WITHOUT those classes (12 other classes,
4 clips each, GloVe): the order and the boundaries are recovered within 1 s. Plus the API's
guarantees (same probabilities as whole-clip classify, one window for a short file, damaged
tails, any format) and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from zsaudio.audio.io import load_audio
from zsaudio.classifier import ZeroShotClassifier
from zsaudio.datasets.labelled import from_esc50
from zsaudio.timeline import SegmentResult

TRAIN = ["cat", "hen", "wind", "thunderstorm", "crying_baby", "laughing", "keyboard_typing",
         "clock_alarm", "train", "church_bells", "cow", "rooster"]
HELD_OUT = ["dog", "rain", "siren"]
SILENCE = 3.0  # seconds between clips (and 2 s before the first)
RATE = 16000


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    data = from_esc50(classes=TRAIN, max_per_class=4)
    cache = tmp_path_factory.mktemp("emb-cache")
    return ZeroShotClassifier(label_encoder="glove", cache_dir=cache, workers=2).fit(data.paths, data.labels)


def _quiet_fraction(wave: np.ndarray) -> float:
    frames = wave[: len(wave) // 160 * 160].reshape(-1, 160).astype(np.float64)
    return float(np.mean(np.mean(frames**2, axis=1) < 1e-6))  # below -60 dBFS


@pytest.fixture(scope="module")
def clips(clf):
    """Per held-out class, its first clip that has no stretch of digital silence (many ESC-50
    clips are a short sound padded with zeros) and that whole-clip classify recognises with
    probability >= 0.7: this test is about *where*, not about zero-shot accuracy."""
    out = {}
    held = from_esc50(classes=HELD_OUT)
    for cls in HELD_OUT:
        paths = [p for p, lab in zip(held.paths, held.labels, strict=True) if lab == cls]
        ranked = clf.classify(paths[:12], HELD_OUT, top_k=1)
        for p, r in zip(paths[:12], ranked, strict=True):
            wave = load_audio(p)
            if r.label == cls and r.ranking[0].probability >= 0.7 and _quiet_fraction(wave) < 0.02:
                out[cls] = wave
                break
        assert cls in out, f"no usable {cls} clip among the first 12"
    return out


@pytest.fixture(scope="module")
def recording(clips, tmp_path_factory):
    """(FLAC path, [(onset, offset, label)]) of 2 s silence + clip + 3 s silence + ..."""
    parts, truth, pos = [np.zeros(2 * RATE, np.float32)], [], 2.0
    for cls in HELD_OUT:
        wave = clips[cls]
        parts += [wave, np.zeros(int(SILENCE * RATE), np.float32)]
        truth.append((pos, pos + len(wave) / RATE, cls))
        pos += len(wave) / RATE + SILENCE
    path = tmp_path_factory.mktemp("long") / "three.flac"
    sf.write(path, np.concatenate(parts), RATE)
    return path, truth


@pytest.fixture(scope="module")
def result(clf, recording):
    return clf.classify_segments(recording[0], HELD_OUT, spectrogram=True)


def test_order_and_boundaries_within_one_second(result, recording):
    _, truth = recording
    assert [e.label for e in result.events] == [lab for _, _, lab in truth]
    for e, (onset, offset, _) in zip(result.events, truth, strict=True):
        assert abs(e.onset - onset) <= 1.0 and abs(e.offset - offset) <= 1.0, (e, onset, offset)
        assert e.score >= 0.5


def test_windows_cover_the_file_with_calibrated_probabilities(result, recording):
    assert isinstance(result, SegmentResult)
    duration = sf.info(str(recording[0])).duration
    assert result.duration == pytest.approx(duration, abs=1e-3)
    assert result.starts[0] == 0 and result.ends[-1] == pytest.approx(duration)
    assert np.allclose(np.diff(result.starts), 0.5)
    assert result.probabilities.shape == (len(result.starts), 3)
    assert np.allclose(result.probabilities.sum(1), 1.0)
    # the middle of each clip is ranked right
    for onset, offset, lab in recording[1]:
        i = np.argmin(np.abs((result.starts + result.ends) / 2 - (onset + offset) / 2))
        assert HELD_OUT[int(result.probabilities[i].argmax())] == lab
    assert result.spectrogram.shape[0] == 64 and result.spectrogram.shape[1] > 100
    doc = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert len(doc["windows"]) == len(result.starts) and len(doc["windows"][0]["ranking"]) == 3
    assert doc["events"][0]["label"] == "dog"


def test_one_window_over_a_whole_clip_equals_classify(clf, clips, tmp_path):
    """One window over a whole 5 s clip pools the same patches as the clip embedding, and goes
    through the same score_features: the probabilities are classify's."""
    path = tmp_path / "siren.wav"
    sf.write(path, clips["siren"], RATE)
    seg = clf.classify_segments(path, HELD_OUT, window=6.0, hop=6.0)
    whole = clf.classify([path], HELD_OUT, top_k=3)[0]
    assert len(seg.starts) == 1
    for pred in whole.ranking:
        c = HELD_OUT.index(pred.label)
        assert seg.probabilities[0, c] == pytest.approx(pred.probability, abs=1e-5)
        assert seg.scores[0, c] == pytest.approx(pred.score, abs=1e-5)


def test_file_shorter_than_one_window_gets_one_window(clf, clips, tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, clips["dog"][: int(1.2 * RATE)], RATE)
    res = clf.classify_segments(path, HELD_OUT, window=2.0, hop=0.5, min_duration=0.5)
    assert len(res.starts) == 1 and res.starts[0] == 0 and res.ends[0] == pytest.approx(1.2)
    assert res.error is None


def test_damaged_tail_keeps_the_windows_before_it(clf, result, recording, tmp_path):
    good = recording[0]
    data = good.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    res = clf.classify_segments(cut, HELD_OUT)
    assert res.error is not None and "decoding stopped at" in res.error
    stopped = float(res.error.split("decoding stopped at ")[1].split(" s")[0])
    assert res.duration == pytest.approx(stopped, abs=0.05)
    assert 10.0 < res.duration < result.duration - 2
    # windows wholly before the damage (and the patch they need) equal the intact file's
    n = int(np.sum(res.ends <= res.duration - 1.5))
    assert n > 10
    assert np.allclose(res.probabilities[:n], result.probabilities[:n], atol=1e-6)
    assert [e.label for e in res.events][:2] == ["dog", "rain"]


@pytest.mark.parametrize("ext", ["wav", "ogg"])
def test_any_soundfile_format(clf, result, recording, tmp_path, ext):
    wave, rate = sf.read(recording[0], dtype="float32")
    path = tmp_path / f"three.{ext}"
    sf.write(path, wave, rate)
    res = clf.classify_segments(path, HELD_OUT)
    assert [e.label for e in res.events] == [e.label for e in result.events]
    if ext == "wav":
        assert np.allclose(res.probabilities, result.probabilities, atol=1e-6)
    else:  # Vorbis is lossy: same events, edges within 0.1 s
        for a, b in zip(res.events, result.events, strict=True):
            assert abs(a.onset - b.onset) <= 0.1 and abs(a.offset - b.offset) <= 0.1


def run_cli(argv: list[str]) -> int:
    """``zsaudio ARGV`` as the console script runs it (one error path, exit status)."""
    from zsaudio.cli.main import main

    return main(argv)


def test_cli_segments(clf, recording, tmp_path, capsys):
    model = clf.save(tmp_path / "model.npz")
    events, plot = tmp_path / "events.tsv", tmp_path / "timeline.png"
    capsys.readouterr()
    rc = run_cli(["classify", str(recording[0]), "--model", str(model), "--labels", *HELD_OUT,
                  "--segments", "--events-out", str(events), "--plot", str(plot), "--json",
                  "--cache", str(clf.cache_dir)])
    out = capsys.readouterr().out
    assert rc == 0
    doc = json.loads(out)
    assert doc["segments"] is True and doc["n_failed"] == 0
    rows = [line.split("\t") for line in events.read_text().splitlines()]
    assert [r[2] for r in rows] == HELD_OUT
    assert [e["label"] for e in doc["results"][0]["events"]] == HELD_OUT
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"
    # text output, and a bad option / a missing file
    rc = run_cli(["classify", str(recording[0]), str(tmp_path / "missing.wav"), "--model", str(model),
                  "--labels", *HELD_OUT, "--segments", "--cache", str(clf.cache_dir)])
    captured = capsys.readouterr()
    assert rc == 1 and "missing.wav" in captured.err
    assert "onset" in captured.out and "siren" in captured.out
    assert run_cli(["classify", str(recording[0]), "--model", str(model), "--labels", "dog", "rain",
                    "--segments", "--window", "-1"]) == 2
    assert "--window must be a positive" in capsys.readouterr().err


def test_label_errors_come_before_decoding(clf, recording):
    from zsaudio.classifier import LabelError
    from zsaudio.labels import UnknownLabelError

    with pytest.raises(LabelError, match="duplicate"):
        clf.classify_segments(recording[0], ["dog", "Dog"])
    with pytest.raises(UnknownLabelError):
        clf.classify_segments(recording[0], ["dog", "qwxzvbnm"])
    with pytest.raises(ValueError, match="hop"):
        clf.classify_segments(recording[0], ["dog", "rain"], hop=0)


def test_classifier_method_defaults_are_the_timeline_defaults():
    import inspect

    from zsaudio import timeline

    method = inspect.signature(ZeroShotClassifier.classify_segments).parameters
    function = inspect.signature(timeline.classify_segments).parameters
    for name in ("window", "hop", "threshold", "min_duration", "top_k"):
        assert method[name].default == function[name].default, name


def test_back_to_back_clips_boundaries_within_one_second(clf, clips, tmp_path):
    """No silence to help: the boundaries come from the probabilities alone."""
    path = tmp_path / "back_to_back.flac"
    sf.write(path, np.concatenate([clips[c] for c in HELD_OUT]), RATE)
    res = clf.classify_segments(path, HELD_OUT)
    edges = np.cumsum([0] + [len(clips[c]) / RATE for c in HELD_OUT])
    assert [e.label for e in res.events] == HELD_OUT
    for e, onset, offset in zip(res.events, edges[:-1], edges[1:], strict=True):
        assert abs(e.onset - onset) <= 1.0 and abs(e.offset - offset) <= 1.0, (e, onset, offset)
