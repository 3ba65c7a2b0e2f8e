"""Asset search path: env-var precedence, missing-file message, download verify-and-cache."""

from __future__ import annotations

import hashlib

import pytest

from zsaudio import assets


@pytest.fixture
def roots(tmp_path, monkeypatch):
    env, cache = tmp_path / "env", tmp_path / "xdg"
    monkeypatch.setenv(assets.ENV_VAR, str(env))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return env, cache / "zsaudio"


def test_env_var_comes_first(roots):
    env, cache = roots
    path = assets.search_path()
    assert path[0] == env and path[-1] == cache
    assert path[1].name == "assets" and path[1].parent.name == "shared"
    # yamnet.tflite also lives in ../shared/assets: the env folder's copy wins.
    (env / "yamnet").mkdir(parents=True)
    (env / "yamnet" / "yamnet.tflite").write_bytes(b"x")
    assert assets.find_asset("yamnet/yamnet.tflite") == env / "yamnet" / "yamnet.tflite"


def test_cache_is_last_resort(roots):
    env, cache = roots
    shared = assets.search_path()[1]
    in_shared = "yamnet/yamnet_class_map.csv"
    if not (shared / in_shared).is_file():
        pytest.skip(f"needs {shared / in_shared}")
    for relpath in ("x/f.bin", in_shared):
        (cache / relpath).parent.mkdir(parents=True, exist_ok=True)
        (cache / relpath).write_bytes(b"cached copy")
    # found in the cache only when it is nowhere else...
    assert assets.find_asset("x/f.bin") == cache / "x" / "f.bin"
    # ...and never before the shared folder or the $ZSAUDIO_ASSETS folder
    assert assets.find_asset(in_shared) == shared / in_shared
    (env / "x").mkdir(parents=True)
    (env / "x" / "f.bin").write_bytes(b"env copy")
    assert assets.find_asset("x/f.bin") == env / "x" / "f.bin"


def test_cache_subdirs():
    assert assets.cache_subdir("embeddings", "/r") == assets.Path("/r/embeddings")
    assert assets.cache_subdir("models").parent == assets.cache_dir()
    with pytest.raises(ValueError, match="unknown cache kind"):
        assets.cache_subdir("nope")


def test_missing_message_names_file_url_sha(roots):
    with pytest.raises(assets.AssetNotFoundError) as info:
        assets.find_asset("vggish/vggish_pca_params.npz")
    msg = str(info.value)
    info_ = assets.KNOWN_ASSETS["vggish/vggish_pca_params.npz"]
    assert "vggish/vggish_pca_params.npz" in msg and info_.url in msg and info_.sha256 in msg
    assert isinstance(info.value, FileNotFoundError)


def _writer(payload: bytes, calls: list):
    def download(url, out):
        calls.append(url)
        out.write(payload)

    return download


def test_download_verifies_and_caches(roots):
    _, cache = roots
    payload = b"pca params"
    sha = hashlib.sha256(payload).hexdigest()
    calls: list[str] = []
    got = assets.fetch_asset("t/p.npz", "https://example.org/p.npz", sha, _writer(payload, calls))
    assert got == cache / "t" / "p.npz" and got.read_bytes() == payload
    again = assets.fetch_asset("t/p.npz", "https://example.org/p.npz", sha, _writer(b"", calls))
    assert again == got and calls == ["https://example.org/p.npz"]  # second time: cached


def test_bad_checksum_leaves_nothing(roots):
    _, cache = roots
    with pytest.raises(assets.ChecksumError):
        assets.fetch_asset("t/q.bin", "https://example.org/q", "0" * 64, _writer(b"evil", []))
    assert not (cache / "t" / "q.bin").exists()
    assert not list((cache / "t").glob("*.part"))


def test_interrupted_download_leaves_nothing(roots):
    _, cache = roots

    def half_then_crash(url, out):
        out.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        assets.fetch_asset("t/r.bin", "https://example.org/r", None, half_then_crash)
    assert not list((cache / "t").iterdir())


def test_torchvggish_prefix_checksum(roots):
    payload = b"weights"
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    got = assets.fetch_asset(f"v/w-{prefix}.pth", "https://example.org/w", None,
                             _writer(payload, []))  # fmt: skip
    assert got.exists()
    with pytest.raises(assets.ChecksumError):
        assets.fetch_asset("v/w-00000000.pth", "https://example.org/w", None, _writer(payload, []))


def test_failed_download_names_the_asset(roots):
    def offline(url, out):
        raise OSError("no network")

    with pytest.raises(assets.AssetNotFoundError, match="download failed") as info:
        assets.fetch_asset("vggish/vggish_model.ckpt", download=offline)
    assert assets.KNOWN_ASSETS["vggish/vggish_model.ckpt"].sha256 in str(info.value)
