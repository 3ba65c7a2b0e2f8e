"""VGGish and YAMNet encoders: architecture, weight/PCA loading, outputs, padding, registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zsaudio import assets
from zsaudio.assets import find_asset
from zsaudio.audio import params
from zsaudio.audio.io import load_audio
from zsaudio.embeddings import get_audio_encoder
from zsaudio.embeddings import vggish as vg

# torchvggish's vggish-10086976.pth: exact key names and shapes (written out, not derived).
TORCHVGGISH_SHAPES = {
    "features.0.weight": (64, 1, 3, 3), "features.0.bias": (64,),
    "features.3.weight": (128, 64, 3, 3), "features.3.bias": (128,),
    "features.6.weight": (256, 128, 3, 3), "features.6.bias": (256,),
    "features.8.weight": (256, 256, 3, 3), "features.8.bias": (256,),
    "features.11.weight": (512, 256, 3, 3), "features.11.bias": (512,),
    "features.13.weight": (512, 512, 3, 3), "features.13.bias": (512,),
    "embeddings.0.weight": (4096, 12288), "embeddings.0.bias": (4096,),
    "embeddings.2.weight": (4096, 4096), "embeddings.2.bias": (4096,),
    "embeddings.4.weight": (128, 4096), "embeddings.4.bias": (128,),
}  # fmt: skip


@pytest.fixture(scope="module")
def torchvggish_file(tmp_path_factory):
    gen = torch.Generator().manual_seed(1)
    state = {k: torch.randn(s, generator=gen) * 0.02 for k, s in TORCHVGGISH_SHAPES.items()}
    path = tmp_path_factory.mktemp("w") / "vggish-10086976.pth"
    torch.save(state, path)
    return path, state


def test_vggish_architecture():
    model = vg.VGGish()
    assert sum(p.numel() for p in model.parameters()) == params.VGGISH_NUM_PARAMETERS
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == TORCHVGGISH_SHAPES
    out = model(torch.zeros(2, 1, 96, 64))
    assert out.shape == (2, 128)


def test_final_relu_option():
    torch.manual_seed(0)
    x = torch.randn(3, 1, 96, 64)
    plain = vg.VGGish(final_relu=False).eval()
    relu = vg.VGGish(final_relu=True).eval()
    relu.load_state_dict(plain.state_dict())
    a, b = plain(x), relu(x)
    assert (a < 0).any()  # Google's current release: no ReLU on the embedding
    assert torch.equal(b, torch.relu(a))


def test_load_torchvggish_weights(torchvggish_file):
    path, state = torchvggish_file
    enc = get_audio_encoder("vggish", weights=str(path), pca_params=False)
    for k, v in enc.model.state_dict().items():
        assert torch.equal(v, state[k]), k
    wave = np.random.default_rng(0).standard_normal(32000).astype(np.float32) * 0.1
    clip = enc.embed_waveform(wave)
    assert clip.patch_embeddings.shape == (2, 128)
    np.testing.assert_allclose(clip.embedding, clip.patch_embeddings.mean(0), rtol=1e-6)
    assert enc.config()["weights_sha256"] == assets.sha256_of(path)


def test_load_rejects_wrong_keys(tmp_path):
    state = {k: torch.zeros(s) for k, s in TORCHVGGISH_SHAPES.items()}
    state["embeddings.6.weight"] = state.pop("embeddings.4.weight")
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match="embeddings.4.weight"):
        vg.load_vggish_weights(vg.VGGish(), path)


def _google_postprocess(emb, vectors, means):
    # vggish_postprocess.Postprocessor.postprocess, verbatim in numpy.
    pca_applied = np.dot(vectors, (emb.T - means.reshape(-1, 1))).T
    clipped = np.clip(pca_applied, -2.0, 2.0)
    return ((clipped - -2.0) * (255.0 / (2.0 - -2.0))).astype(np.uint8)


@pytest.mark.parametrize("fmt", ["npz", "pth"])
def test_pca_params_and_postprocess(tmp_path, torchvggish_file, fmt):
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((128, 128))
    means = rng.standard_normal(128)
    if fmt == "npz":
        path = tmp_path / "vggish_pca_params.npz"
        np.savez(path, pca_eigen_vectors=vectors, pca_means=means.reshape(-1, 1))
    else:
        path = tmp_path / "vggish_pca_params-970ea276.pth"
        torch.save(
            {"pca_eigen_vectors": torch.as_tensor(vectors), "pca_means": torch.as_tensor(means)},
            path,
        )
    v, m = vg.load_pca_params(path)
    np.testing.assert_array_equal(v, vectors)
    np.testing.assert_array_equal(m, means)
    emb = rng.standard_normal((7, 128))
    ours = vg.postprocess(emb, v, m)
    np.testing.assert_array_equal(ours, _google_postprocess(emb, vectors, means))
    assert ours.min() >= 0 and ours.max() <= 255 and len(np.unique(ours)) > 10

    weights, _ = torchvggish_file
    enc = get_audio_encoder("vggish", weights=str(weights), pca_params=str(path))
    raw = get_audio_encoder("vggish", weights=str(weights), pca_params=False)
    wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    np.testing.assert_array_equal(
        enc.embed_waveform(wave).patch_embeddings,
        _google_postprocess(raw.embed_waveform(wave).patch_embeddings, vectors, means),
    )


def test_tf_checkpoint_needs_tensorflow(tmp_path):
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="tensorflow"):
            vg.state_dict_from_tf_checkpoint(tmp_path / "vggish_model.ckpt")
    else:
        pytest.skip("tensorflow installed: conversion needs the real checkpoint")


def test_missing_weights_message(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.ENV_VAR, str(tmp_path / "assets"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(assets, "search_path", lambda: [tmp_path / "assets", tmp_path / "cache"])

    def offline(url, dest):
        raise OSError("network unreachable")

    monkeypatch.setattr(assets, "_urllib_download", offline)
    with pytest.raises(FileNotFoundError) as info:
        get_audio_encoder("vggish")
    message = str(info.value)
    assert "vggish/vggish-10086976.pth" in message and "https://" in message


def test_vggish_padding_and_patch_count():
    enc = get_audio_encoder("vggish", weights="random")
    assert enc.prepare(np.zeros(100, np.float32)).shape == (1, 96, 64)
    assert enc.prepare(np.zeros(80000, np.float32)).shape == (5, 96, 64)
    assert enc.config()["random_seed"] == 0 and enc.config()["weights_sha256"] is None


# --- YAMNet -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def yamnet():
    return get_audio_encoder("yamnet")


def test_yamnet_metadata(yamnet):
    assert yamnet.dim == 1024
    assert len(yamnet.class_names) == 521 and len(yamnet.class_ids) == 521
    assert yamnet.class_names[0] == "Speech" and yamnet.class_ids[0] == "/m/09x0r"
    assert yamnet.config()["model_sha256"] == assets.KNOWN_ASSETS["yamnet/yamnet.tflite"].sha256


def test_yamnet_real_clip(yamnet):
    wave = load_audio(find_asset("esc50/audio/1-100038-A-14.ogg"))  # chirping birds
    clip = yamnet.embed_waveform(wave)
    assert clip.patch_embeddings.shape == (10, 1024)  # 5 s, hop 0.48 s, padded to whole hops
    assert clip.patch_scores.shape == (10, 521)
    np.testing.assert_allclose(clip.embedding, clip.patch_embeddings.mean(0), rtol=1e-5)
    np.testing.assert_allclose(clip.scores, clip.patch_scores.mean(0), rtol=1e-5)
    assert (clip.patch_embeddings >= 0).all() and (clip.patch_embeddings > 0).mean() > 0.02  # ReLU
    top = {yamnet.class_names[i] for i in np.argsort(clip.scores)[-5:]}
    assert top & {"Bird", "Animal", "Bird vocalization, bird call, bird song", "Chirp, tweet"}


def test_yamnet_embedding_tensor_is_the_classifiers_input(yamnet):
    # The embedding read from the interpreter (XNNPACK delegate on) must be what the dense
    # classifier consumed: logits = dequantised W @ embedding + b.
    wave = load_audio(find_asset("esc50/audio/4-180337-A-28.flac"))
    patches = yamnet.prepare(wave)[:3]
    interp = yamnet._interpreter
    names = {t["name"]: t for t in interp.get_tensor_details()}
    w_t = names["yamnet_frames/dense/MatMul"]
    w = interp.get_tensor(w_t["index"]).astype(np.float64) * w_t["quantization"][0]
    b = interp.get_tensor(names["yamnet_frames/dense/BiasAdd/ReadVariableOp/resource"]["index"])
    for patch in patches:
        emb, scores = yamnet.embed_patches(patch[None])
        logits = interp.get_tensor(names[params.YAMNET_LOGITS_TENSOR]["index"])[0]
        np.testing.assert_allclose(1 / (1 + np.exp(-logits)), scores[0], atol=1e-6)
        recon = emb[0].astype(np.float64) @ w.T + b
        # 8-bit hybrid matmul quantises the embedding too: ~1e-3 of the logits' range.
        assert np.abs(recon - logits).max() < 2e-3 * np.abs(logits).max()


def test_yamnet_padding_and_hop():
    short = get_audio_encoder("yamnet").prepare(np.ones(1000, np.float32))
    assert short.shape == (1, 15600) and not short[0, 1000:].any()
    enc = get_audio_encoder("yamnet", patch_hop_seconds=0.96)
    # (80000 - 15600) / 15360 = 4.2 hops -> rounded up to 5 -> 6 patches (YAMNet's rule)
    assert enc.prepare(np.zeros(80000, np.float32)).shape == (6, 15600)
    assert enc.config()["patch_hop_samples"] == 15360


def test_unknown_encoder():
    with pytest.raises(ValueError, match="unknown audio encoder"):
        get_audio_encoder("nope")
