"""Window pooling, events and the streamed per-patch encoder outputs (no trained model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from zsaudio.audio import mel, params
from zsaudio.embeddings import get_audio_encoder
from zsaudio.embeddings.frames import PatchStream, stream_patch_outputs
from zsaudio.timeline import (
    Event,
    LevelMeter,
    SpectrogramPooler,
    WindowPooler,
    count_windows,
    max_pool_columns,
    merge_events,
    pool_windows,
    trim_events_to_level,
    write_event_table,
)


def test_count_windows():
    assert count_windows(0.3, 2.0, 0.5) == 1  # shorter than one window: one window
    assert count_windows(2.0, 2.0, 0.5) == 1
    assert count_windows(2.01, 2.0, 0.5) == 2
    assert count_windows(3600.0, 2.0, 0.5) == 7197  # last window starts at 3598 s


def test_pool_windows_matches_a_literal_loop():
    rng = np.random.default_rng(0)
    centres = np.sort(rng.uniform(0, 20, 60))
    values = rng.standard_normal((60, 3))
    starts = np.arange(count_windows(20.0, 2.0, 0.5)) * 0.5
    got = pool_windows(centres, values, starts, 2.0)
    for i, s in enumerate(starts):
        inside = (centres >= s) & (centres < s + 2.0)
        want = values[inside].mean(0) if inside.any() else values[np.abs(centres - s - 1.0).argmin()]
        assert np.allclose(got[i], want)


def test_window_pooler_streamed_equals_all_at_once():
    rng = np.random.default_rng(1)
    centres = 0.4875 + 0.48 * np.arange(80)  # YAMNet's patch centres over ~38.9 s
    values = rng.standard_normal((80, 4))
    duration = 38.9
    for window, hop in [(2.0, 0.5), (0.3, 0.25), (5.0, 1.0)]:
        starts = np.arange(count_windows(duration, window, hop)) * hop
        want = pool_windows(centres, values, starts, window)
        pooler, got_s, got_v = WindowPooler(window, hop), [], []
        cuts = np.sort(rng.choice(np.arange(1, 80), 7, replace=False))
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, 80], strict=True):
            s, v = pooler.push(centres[a:b], values[a:b])
            got_s.append(s)
            got_v.append(v)
        s, v = pooler.finish(duration)
        got_s.append(s)
        got_v.append(v)
        assert np.allclose(np.concatenate(got_s), starts)
        assert np.allclose(np.vstack(got_v), want)


def test_merge_events_threshold_gap_min_duration_and_mask():
    starts = np.arange(20) * 0.5
    ends = starts + 2.0
    p = np.full((20, 2), 0.1)
    p[2:8, 0] = 0.9       # label a over windows 2..7
    p[9, 0] = 0.9         # one-window gap at 8, then a again
    p[12:13, 1] = 0.8     # b: a single window, 0.5 s long
    p[15:20, 1] = 0.7     # b at the end
    labels = ["a", "b"]
    events = merge_events(starts, ends, p, labels, hop=0.5, threshold=0.5, min_duration=1.0, max_gap=0.6)
    assert [(e.label, e.onset, e.offset) for e in events] == [("a", 1.75, 5.75), ("b", 8.25, 11.5)]
    assert events[0].score == pytest.approx(0.9)
    # without gap filling the a-run splits; the short b event is kept with min_duration 0
    events = merge_events(starts, ends, p, labels, hop=0.5, threshold=0.5, min_duration=0.0, max_gap=0.0)
    assert [(e.label, e.onset, e.offset) for e in events] == [
        ("a", 1.75, 4.75), ("a", 5.25, 5.75), ("b", 6.75, 7.25), ("b", 8.25, 11.5)]
    # windows masked out (e.g. silence) hold no events
    mask = np.ones(20, bool)
    mask[15:] = False
    events = merge_events(starts, ends, p, labels, hop=0.5, min_duration=1.0, max_gap=0.6, active=mask)
    assert [e.label for e in events] == ["a"]
    # a single window (file shorter than a window) spans the whole file
    one = merge_events(np.array([0.0]), np.array([1.2]), np.array([[0.8, 0.2]]), labels, hop=0.5,
                       min_duration=0.5)
    assert one == [Event(0.0, 1.2, "a", 0.8)]


def test_trim_events_to_level_and_drop_silent():
    db = np.full(1000, -np.inf)
    db[230:470] = -30.0
    events = [Event(1.5, 5.5, "x", 0.9), Event(7.0, 9.0, "y", 0.8)]
    assert trim_events_to_level(events, db, -60.0, 1.0) == [Event(2.3, 4.7, "x", 0.9)]


def test_level_meter():
    meter = LevelMeter()
    x = np.zeros(32000, np.float32)
    x[16000:] = 0.1
    for block in np.array_split(x, 7):
        meter.push(block)
    db = meter.window_db(np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    assert db[0] == -np.inf and db[1] == pytest.approx(-20.0)
    assert len(meter.frame_db()) == 200


def test_spectrogram_pooler_equals_whole_log_mel_max_pooled():
    wave = np.random.default_rng(2).standard_normal(16000 * 3).astype(np.float32) * 0.1
    whole = mel.log_mel_spectrogram(wave, log_offset=params.YAMNET_LOG_OFFSET)
    pooler = SpectrogramPooler(factor=7)
    for block in np.array_split(wave, 5):
        pooler.push(block)
    got = pooler.finish()
    want = max_pool_columns(whole, 7).T
    assert got.shape == want.shape
    assert np.allclose(got, want, atol=1e-4)


def test_write_event_table(tmp_path):
    events = [Event(1.5, 4.25, "dog barking", 0.9), Event(6.0, 7.0, "siren", 0.6)]
    tsv = write_event_table(events, tmp_path / "ev.tsv")
    assert tsv.read_text() == "1.500\t4.250\tdog barking\n6.000\t7.000\tsiren\n"
    csv_ = write_event_table(events, tmp_path / "ev.csv", files=["a.wav", "b.wav"])
    assert csv_.read_text() == "a.wav,1.500,4.250,dog barking\nb.wav,6.000,7.000,siren\n"


@pytest.fixture(scope="module")
def encoders():
    return {"yamnet": get_audio_encoder("yamnet"), "vggish": get_audio_encoder("vggish", weights="random")}


@pytest.mark.parametrize("name", ["yamnet", "vggish"])
@pytest.mark.parametrize("seconds", [0.4, 0.975, 5.0, 7.32])
def test_patch_stream_equals_whole_waveform(encoders, name, seconds):
    enc = encoders[name]
    wave = np.random.default_rng(3).standard_normal(int(seconds * 16000)).astype(np.float32) * 0.1
    whole = enc.embed_waveform(wave)
    blocks = np.array_split(wave, max(1, int(seconds * 3)))
    outs = list(stream_patch_outputs(enc, blocks))
    emb = np.concatenate([o.embeddings for o in outs])
    assert emb.shape == whole.patch_embeddings.shape
    assert np.allclose(emb, whole.patch_embeddings, atol=1e-5)
    if whole.patch_scores is not None:
        assert np.allclose(np.concatenate([o.scores for o in outs]), whole.patch_scores, atol=1e-5)
    starts = np.concatenate([o.starts for o in outs])
    hop = PatchStream(enc).hop_samples / 16000
    assert np.allclose(starts, hop * np.arange(len(starts)))


def test_patch_stream_threads_give_the_same_outputs(encoders):
    wave = np.random.default_rng(4).standard_normal(16000 * 12).astype(np.float32) * 0.1
    blocks = np.array_split(wave, 3)
    one = list(stream_patch_outputs(encoders["yamnet"], blocks, threads=1))
    two = list(stream_patch_outputs(encoders["yamnet"], blocks, threads=2))
    for field in ("embeddings", "scores"):
        a = np.concatenate([getattr(o, field) for o in one])
        assert np.array_equal(a, np.concatenate([getattr(o, field) for o in two]))


def test_plot_of_an_hour_is_drawn_from_pooled_curves(tmp_path):
    from zsaudio.timeline import SegmentResult
    from zsaudio.timeline_plot import plot_segments

    n = count_windows(3600.0, 2.0, 0.5)
    starts = np.arange(n) * 0.5
    p = np.full((n, 2), 0.5)
    p[:, 0] = np.random.default_rng(5).uniform(0, 0.4, n)
    p[3000, 0] = 0.95  # one window: must survive the pooling to ~1200 points as a peak
    p[:, 1] = 1 - p[:, 0]
    res = SegmentResult("hour.flac", ["a", "b"], 3600.0, 2.0, 0.5, starts, np.minimum(starts + 2, 3600.0),
                        np.log(p), p, np.full(n, -20.0), [Event(1500.25, 1500.75, "a", 0.95)],
                        spectrogram=np.random.default_rng(6).standard_normal((64, 2400)).astype(np.float32),
                        spectrogram_seconds=1.5, settings={"threshold": 0.5, "min_level_db": -60.0})
    out = plot_segments(res, tmp_path / "hour.png")
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 20_000
    pooled = max_pool_columns(p, int(np.ceil(n / 1200)))
    assert pooled[:, 0].max() == pytest.approx(0.95)
