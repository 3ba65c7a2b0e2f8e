"""The JSON API of ``zsaudio serve``: results equal to ``classify --json``, every bad input a
clear 4xx JSON answer while the server keeps serving, uploads deleted, concurrent requests."""

from __future__ import annotations

import io
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from serve_support import UNSEEN_LABELS, require, running_server, unseen_clips

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
    assert info["label_encoder"] == "glove" and info["timeline"] is False
    assert info["limits"]["max_labels"] == 8
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "zsaudio"
    for route in ("classify", "spectrogram", "timeline", "model", "health"):
        assert f"{API}/{route}" in schema["paths"]
    assert "ClassifyResponse" in schema["components"]["schemas"]
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
    assert_error(client.post(f"{API}/timeline", files=[ok_file], data={"labels": "crow"}), 501,
                 "not available")
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
    assert client.get(f"{API}/health").status_code == 200


def test_uploads_are_deleted_and_names_never_used_as_paths(client, clips, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    evil = audio_file(clips["crow"][0], "../../../escaped.ogg")
    r = post_classify(client, [evil])
    assert r.status_code == 200 and r.json()["results"][0]["path"] == "escaped.ogg"
    assert_error(post_classify(client, [("files", ("x.wav", b"junk" * 10, "audio/wav"))]), 415)
    client.post(f"{API}/spectrogram", files={"file": ("y.ogg", Path(clips["crow"][0]).read_bytes())})
    leftovers = [p for p in tmp_path.rglob("*") if "zsaudio-serve" in str(p)]
    assert leftovers == []
    assert not (tmp_path.parent / "escaped.ogg").exists() and not list(tmp_path.rglob("escaped*"))


def test_concurrent_requests_on_a_real_server(serve_model, clips):
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
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, jobs))
        assert http.get(f"{API}/health").json()["status"] == "ok"
    assert all(status == 200 for _, status, _ in answers)
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
