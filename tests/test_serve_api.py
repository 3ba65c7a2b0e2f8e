"""The JSON API of ``zsaudio serve``: results equal to ``classify --json``, every bad input a
clear 4xx JSON answer while the server keeps serving, uploads deleted, concurrent requests; the
timeline of a ~22 s recording of three unseen classes with silence between (events in order)."""

from __future__ import annotations

import io
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from serve_support import LONG_ORDER, UNSEEN_LABELS, long_recording, require, running_server, unseen_clips

require("fastapi")
require("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from zsaudio.cli.main import main  # noqa: E402
from zsaudio.serve.app import create_app  # noqa: E402
from zsaudio.serve.core import ServeLimits, display_name, parse_labels  # noqa: E402

API = "/api/v1"
ALL_LABELS = "\n".join(UNSEEN_LABELS)


@pytest.fixture(scope="module")
def clips():
    return unseen_clips(per_class=2)


@pytest.fixture(scope="module")
def client(serve_model):
    clf, path = serve_model
    return TestClient(create_app(clf, ServeLimits(max_labels=8, max_files=4), model_name=str(path)))


@pytest.fixture(scope="module")
def recording(clips, tmp_path_factory):
    """(path, [(onset, offset, label)]) of 1 s silence, crow, 2 s, airplane, 2 s, toilet flush, 2 s."""
    return long_recording(tmp_path_factory.mktemp("long") / "three.flac", clips)


def post_timeline(client, path, labels=ALL_LABELS, name="three.flac", **fields):
    data = {"labels": labels, **{k: str(v) for k, v in fields.items()}} if labels is not None else fields
    return client.post(f"{API}/timeline", files={"file": (name, Path(path).read_bytes(), "audio/flac")},
                       data=data)


def post_classify(client, files, labels=ALL_LABELS, top_k=4, **extra):
    data = {"labels": labels, "top_k": str(top_k), **extra} if labels is not None else {"top_k": str(top_k)}
    return client.post(f"{API}/classify", files=files, data=data)


def audio_file(path: str, name: str | None = None):
    return ("files", (name or Path(path).name, Path(path).read_bytes(), "audio/ogg"))


def assert_error(response, status: int, *words: str):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "status"} and body["status"] == status
    assert "Traceback" not in body["error"]
    for word in words:
        assert word in body["error"], body["error"]
    return body["error"]


# ------------------------------------------------------------------------------ service
def test_health_model_schema_and_page(client):
    assert client.get(f"{API}/health").json()["status"] == "ok"
    info = client.get(f"{API}/model").json()
    assert info["method"] == "conse" and info["audio_encoder"] == "yamnet"
    assert info["label_encoder"] == "glove" and info["timeline"] is True
    assert info["limits"]["max_labels"] == 8
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "zsaudio"
    for route in ("classify", "spectrogram", "timeline", "model", "health"):
        assert f"{API}/{route}" in schema["paths"]
    assert {"ClassifyResponse", "TimelineResponse"} <= set(schema["components"]["schemas"])
    timeline = schema["paths"][f"{API}/timeline"]["post"]
    assert "200" in timeline["responses"] and "501" not in timeline["responses"]
    page = client.get("/")
    assert page.status_code == 200 and 'id="classify"' in page.text
    for asset in ("app.js", "style.css"):
        assert client.get(f"/static/{asset}").status_code == 200


def test_page_loads_nothing_from_outside():
    from zsaudio.serve.app import STATIC_DIR

    names = sorted(p.name for p in Path(str(STATIC_DIR)).iterdir())
    assert names == ["app.js", "index.html", "style.css"]
    for name in names:
        text = (Path(str(STATIC_DIR)) / name).read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name


# ------------------------------------------------------------------------------ results
def test_unseen_clips_ranked_right(client, clips):
    for label, paths in clips.items():
        r = post_classify(client, [audio_file(paths[0])])
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["n_files"] == 1 and doc["n_failed"] == 0 and doc["top_k"] == 4
        ranking = doc["results"][0]["ranking"]
        assert ranking[0]["label"] == label, (label, ranking)
        probs = [p["probability"] for p in ranking]
        assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-6


def test_several_files_keep_order_and_client_names(client, clips):
    files = [audio_file(clips["crow"][0], "a dog.ogg"), audio_file(clips["toilet flush"][0], "b.ogg"),
             audio_file(clips["crow"][1], "../../etc/c.ogg")]
    doc = post_classify(client, files, labels="crow, toilet flush, airplane", top_k=1).json()
    assert [r["path"] for r in doc["results"]] == ["a dog.ogg", "b.ogg", "c.ogg"]
    assert [r["ranking"][0]["label"] for r in doc["results"]] == ["crow", "toilet flush", "crow"]
    assert doc["labels"] == ["crow", "toilet flush", "airplane"] and doc["top_k"] == 1


def test_same_ranking_as_classify_json(client, clips, serve_model, capsys):
    _, model_path = serve_model
    clip = clips["airplane"][0]
    assert main(["classify", clip, "--model", str(model_path), "--labels", *UNSEEN_LABELS,
                 "--top-k", "4", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    api = post_classify(client, [audio_file(clip)]).json()
    assert set(api) == set(cli)
    for key in ("method", "audio_encoder", "label_encoder", "labels", "top_k", "n_files", "n_failed"):
        assert api[key] == cli[key], key
    assert api["temperature"] == pytest.approx(cli["temperature"])
    a, c = api["results"][0]["ranking"], cli["results"][0]["ranking"]
    assert [p["label"] for p in a] == [p["label"] for p in c]
    assert [p["score"] for p in a] == pytest.approx([p["score"] for p in c], abs=1e-6)
    assert [p["probability"] for p in a] == pytest.approx([p["probability"] for p in c], abs=1e-6)


def test_spectrogram(client, clips):
    r = client.post(f"{API}/spectrogram", files={"file": ("x.ogg", Path(clips["crow"][0]).read_bytes())})
    assert r.status_code == 200, r.text
    s = r.json()
    values = np.array(s["values"])
    assert s["n_mels"] == 64 and values.shape[1] == 64 and 0 < len(values) <= 400
    assert s["duration_seconds"] == pytest.approx(5.0, abs=0.01)
    assert len(values) * s["frame_seconds"] == pytest.approx(5.0, abs=0.05)
    assert s["min"] == pytest.approx(values.min()) and s["max"] == pytest.approx(values.max())


# ------------------------------------------------------------------------------ timeline
def test_timeline_events_in_order(client, recording):
    path, truth = recording
    r = post_timeline(client, path)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["name"] == "three.flac" and doc["labels"] == UNSEEN_LABELS and doc["error"] is None
    assert doc["duration_seconds"] == pytest.approx(truth[-1][1] + 2.0, abs=0.01)
    assert (doc["window"], doc["hop"], doc["top_k"], doc["settings"]["threshold"]) == (2.0, 0.5, 3, 0.5)
    assert [e["label"] for e in doc["events"]] == LONG_ORDER
    for e, (onset, offset, _) in zip(doc["events"], truth, strict=True):
        assert abs(e["onset"] - onset) <= 1.0 and abs(e["offset"] - offset) <= 1.0, (e, onset, offset)
        assert 0.5 <= e["score"] <= 1
    n = doc["n_windows"]
    assert n == 1 + int(np.ceil((doc["duration_seconds"] - 2.0) / 0.5 - 1e-9))
    assert not doc["downsampled"] and doc["group"] == 1
    probs = np.array(doc["probabilities"])
    assert probs.shape == (n, 4) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    times = np.array(doc["times"])
    assert len(times) == len(doc["level_db"]) == len(doc["top_labels"]) == n
    assert times[0] == pytest.approx(1.0) and np.allclose(np.diff(times)[:-1], 0.5)
    assert all(len(top) == 3 and top[0] == UNSEEN_LABELS[int(row.argmax())]
               for top, row in zip(doc["top_labels"], probs, strict=True))
    assert all(v is None or -100 < v <= 0 for v in doc["level_db"])
    # the middle of each clip is ranked right
    for onset, offset, label in truth:
        i = int(np.argmin(np.abs(times - (onset + offset) / 2)))
        assert doc["top_labels"][i][0] == label


def test_timeline_options_downsampling_and_a_short_clip(client, recording, clips, tmp_path):
    path, _ = recording
    doc = post_timeline(client, path, labels="crow, airplane, toilet flush", window=3, hop=1,
                        threshold=0.4, min_duration=2, top_k=1).json()
    assert (doc["window"], doc["hop"], doc["top_k"]) == (3.0, 1.0, 1)
    assert doc["settings"]["threshold"] == 0.4 and doc["settings"]["min_duration"] == 2.0
    assert [e["label"] for e in doc["events"]] == LONG_ORDER
    assert all(e["offset"] - e["onset"] >= 2.0 for e in doc["events"])
    # more than 2000 windows: drawn as averages of equal groups; the events use every window
    doc = post_timeline(client, path, hop=0.01).json()
    assert doc["n_windows"] > 2000 and doc["downsampled"] and doc["group"] == 2
    assert len(doc["times"]) == len(doc["probabilities"]) == (doc["n_windows"] + 1) // 2 <= 2000
    assert np.allclose(np.array(doc["probabilities"]).sum(axis=1), 1.0, atol=1e-3)
    assert [e["label"] for e in doc["events"]] == LONG_ORDER
    # a clip shorter than one window: one window over it
    short = tmp_path / "short.wav"
    sf.write(short, sf.read(clips["crow"][0], dtype="float32")[0][: int(1.5 * 44100)], 44100)
    r = post_timeline(client, short, name="short.wav", labels="crow, airplane")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["n_windows"] == 1 and doc["duration_seconds"] == pytest.approx(1.5, abs=0.01)
    assert doc["times"] == [pytest.approx(0.75)] and len(doc["probabilities"][0]) == 2


def test_timeline_bad_options_get_4xx(client, recording, monkeypatch):
    from zsaudio.serve import core

    path, _ = recording
    for fields, status, words in (
            ({"window": -1}, 400, ("window", "positive")),
            ({"window": "inf"}, 400, ("window",)),
            ({"window": "two"}, 422, ("window", "number")),
            ({"hop": 0}, 400, ("hop", "positive")),
            ({"hop": 3}, 400, ("hop", "longer than window")),
            ({"hop": 0.001}, 400, ("hop", "at least 0.01")),
            ({"hop": "abc"}, 422, ("hop",)),
            ({"threshold": 1.5}, 400, ("threshold",)),
            ({"threshold": "nan"}, 400, ("threshold",)),
            ({"min_duration": -1}, 400, ("min_duration",)),
            ({"top_k": 0}, 400, ("top_k",)),
            ({"top_k": "1.5"}, 422, ("top_k",))):
        assert_error(post_timeline(client, path, **fields), status, *words)
    assert_error(post_timeline(client, path, labels=None), 400, "no labels")
    assert_error(post_timeline(client, path, labels="crow\nCrow"), 400, "duplicate")
    assert_error(post_timeline(client, path, labels="crow, qwxzvbnmkj"), 400, "qwxzvbnmkj")
    assert_error(client.post(f"{API}/timeline", data={"labels": "crow"}), 400, "no audio file", "'file'")
    assert_error(client.post(f"{API}/timeline", files={"file": ("n.wav", b"text " * 99, "audio/wav")},
                             data={"labels": "crow"}), 415, "n.wav", "not decodable")
    monkeypatch.setattr(core, "TIMELINE_MAX_WINDOWS", 100)
    assert_error(post_timeline(client, path, hop=0.1), 400, "windows", "at most 100", "longer hop")
    assert client.get(f"{API}/health").json()["status"] == "ok"


def test_label_parsing_and_display_names():
    assert parse_labels(["a\nb, c\n"]) == ["a", "b, c"]
    assert parse_labels(["a, b", "c"]) == ["a", "b", "c"]
    assert parse_labels(None) == [] and parse_labels(["  \n\n"]) == [] and parse_labels([" , "]) == []
    assert display_name("C:\\x\\y.wav", 0) == "y.wav" and display_name("", 3) == "upload-3"


# ------------------------------------------------------------------------------ bad input
def wav_bytes(samples: np.ndarray, rate: int = 16000, subtype: str = "FLOAT") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def test_bad_inputs_get_clear_4xx_and_server_keeps_serving(client, clips):
    ok_file = audio_file(clips["crow"][0])
    assert_error(post_classify(client, None), 400, "no audio file")
    assert_error(post_classify(client, [("files", ("empty.wav", b"", "audio/wav"))]), 400, "empty.wav",
                 "empty")
    assert_error(post_classify(client, [("files", ("notes.wav", b"just some text\n" * 50, "audio/wav"))]),
                 415, "notes.wav", "not decodable")
    nan = np.sin(np.linspace(0, 100, 16000)).astype(np.float32)
    nan[100:200] = np.nan
    assert_error(post_classify(client, [("files", ("nan.wav", wav_bytes(nan), "audio/wav"))]), 422,
                 "nan.wav", "NaN")
    assert_error(post_classify(client, [("files", ("short.wav", wav_bytes(np.zeros(100, np.float32)),
                                                   "audio/wav"))]), 422, "too short")
    assert_error(post_classify(client, [ok_file], labels=None), 400, "no labels")
    assert_error(post_classify(client, [ok_file], labels=" \n \n"), 400, "no labels")
    assert_error(post_classify(client, [ok_file], labels=",".join(f"l{i}" for i in range(9))), 400,
                 "too many labels", "at most 8")
    assert_error(post_classify(client, [ok_file], labels="crow\nCrow"), 400, "duplicate")
    assert_error(post_classify(client, [ok_file], labels="x" * 201), 400, "too long")
    assert_error(post_classify(client, [ok_file], top_k=0), 400, "top_k")
    assert_error(client.post(f"{API}/classify", files=[ok_file], data={"labels": "crow", "top_k": "many"}),
                 422, "top_k")
    assert_error(post_classify(client, [ok_file] * 5), 400, "too many files", "at most 4")
    assert_error(client.get("/api/v2/classify"), 404, "no such page or API route")
    assert_error(client.get(f"{API}/classify"), 405, "GET")
    assert_error(client.post(f"{API}/spectrogram"), 400, "no audio file")
    # one bad file among good ones refuses the request, naming it
    assert_error(post_classify(client, [ok_file, ("files", ("bad.mp3", b"\x00" * 999, "audio/mpeg"))]),
                 415, "bad.mp3")
    # ... and the server still serves
    assert client.get(f"{API}/health").json()["status"] == "ok"
    assert post_classify(client, [ok_file]).json()["results"][0]["ranking"][0]["label"] == "crow"


def test_too_large_upload_and_long_audio(serve_model, clips):
    clf, _ = serve_model
    client = TestClient(create_app(clf, ServeLimits(max_upload_mb=0.05, max_audio_seconds=2)))
    big = ("files", ("big.wav", wav_bytes(np.zeros(16000, np.float32)), "audio/wav"))  # 64 kB
    assert_error(post_classify(client, [big]), 413, "too large", "0.05 MB")
    # a body sent without Content-Length is counted as it arrives
    chunks = iter([b"x" * 30000, b"x" * 30000])
    r = client.post(f"{API}/classify", content=chunks,
                    headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert_error(r, 413, "too large")
    long = ("files", ("long.wav", wav_bytes(np.zeros(3 * 8000, np.int16), 8000, "PCM_16"), "audio/wav"))
    assert_error(post_classify(client, [long]), 413, "long.wav", "at most 2 s")
    assert_error(client.post(f"{API}/timeline", files={"file": long[1]}, data={"labels": "crow"}), 413,
                 "long.wav", "at most 2 s")
    assert client.get(f"{API}/health").status_code == 200


def test_uploads_are_deleted_and_names_never_used_as_paths(client, clips, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    evil = audio_file(clips["crow"][0], "../../../escaped.ogg")
    r = post_classify(client, [evil])
    assert r.status_code == 200 and r.json()["results"][0]["path"] == "escaped.ogg"
    assert_error(post_classify(client, [("files", ("x.wav", b"junk" * 10, "audio/wav"))]), 415)
    client.post(f"{API}/spectrogram", files={"file": ("y.ogg", Path(clips["crow"][0]).read_bytes())})
    r = post_timeline(client, clips["crow"][0], name="../../../escaped.ogg")
    assert r.status_code == 200 and r.json()["name"] == "escaped.ogg"
    leftovers = [p for p in tmp_path.rglob("*") if "zsaudio-serve" in str(p)]
    assert leftovers == []
    assert not (tmp_path.parent / "escaped.ogg").exists() and not list(tmp_path.rglob("escaped*"))


def test_concurrent_requests_on_a_real_server(serve_model, clips, recording):
    httpx = require("httpx")
    clf, _ = serve_model
    app = create_app(clf)
    jobs = [(label, path) for label, paths in clips.items() for path in paths] * 2  # 16 requests
    with running_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        def one(job):
            label, path = job
            r = http.post(f"{API}/classify", files=[audio_file(path)],
                          data={"labels": "\n".join(UNSEEN_LABELS), "top_k": "4"})
            return label, r.status_code, r.json()

        def timeline(path):  # classify_segments shares the classifier (and its lock) with classify
            r = post_timeline(http, path)
            return r.status_code, r.json()

        with ThreadPoolExecutor(8) as pool:
            later = [pool.submit(timeline, recording[0]) for _ in range(3)]
            answers = list(pool.map(one, jobs))
            timelines = [f.result() for f in later]
        assert http.get(f"{API}/health").json()["status"] == "ok"
    assert all(status == 200 for _, status, _ in answers)
    assert all(status == 200 for status, _ in timelines)
    assert [e["label"] for e in timelines[0][1]["events"]] == LONG_ORDER
    assert all(doc["events"] == timelines[0][1]["events"]
               and doc["probabilities"] == timelines[0][1]["probabilities"] for _, doc in timelines)
    by_clip: dict[str, list] = {}
    for (label, path), (_, _, doc) in zip(jobs, answers, strict=True):
        ranking = doc["results"][0]["ranking"]
        assert ranking[0]["label"] == label
        by_clip.setdefault(path, []).append([(p["label"], round(p["score"], 6)) for p in ranking])
    assert all(r == runs[0] for runs in by_clip.values() for r in runs)  # same answer every time
    assert app.state.service.classifier is clf  # one shared model, never reloaded


# ------------------------------------------------------------------------------ command line
def test_cli_refuses_bad_arguments(tmp_path, capsys):
    assert main(["serve", "--model", str(tmp_path / "missing.npz")]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert main(["serve", "--model", "x.npz", "--max-labels", "0"]) == 2
    assert "--max-labels must be > 0" in capsys.readouterr().err
    assert main(["serve", "--model", "x.npz", "--port", "70000"]) == 2


def test_default_model_is_the_training_free_default(monkeypatch, serve_model):
    from zsaudio.cli import serve

    clf, _ = serve_model
    seen = {}

    def fake_default_classifier(**runtime):
        seen.update(runtime)
        return clf

    monkeypatch.setattr(serve, "default_classifier", fake_default_classifier)
    messages = []
    got, name = serve.load_default_classifier(messages.append)
    assert got is clf and name == f"training-free default ({clf.method})"
    assert seen == {"progress": True}
    assert any("training-free" in m for m in messages)


def test_unexpected_failure_is_a_json_500_and_the_server_keeps_serving(serve_model, clips, monkeypatch):
    clf, _ = serve_model
    app = create_app(clf)
    client = TestClient(app, raise_server_exceptions=False)

    def broken(*args, **kwargs):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(app.state.service, "classify", broken)
    r = post_classify(client, [audio_file(clips["crow"][0])])
    assert_error(r, 500, "internal error (RuntimeError)")
    assert "something inside broke" not in r.text
    assert client.get(f"{API}/health").json()["status"] == "ok"
