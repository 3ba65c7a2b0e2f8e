"""One device policy (zsaudio.device) for VGGish, the sentence encoders and BilinearTorch."""

from __future__ import annotations

import pytest
import torch

from zsaudio.device import DeviceError, resolve_device
from zsaudio.embeddings import get_audio_encoder
from zsaudio.labels.sentence import load_sentence_model


def test_cpu_and_auto():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", ["tpu", "CUDA", "cuda:", "cuda:x", "", "gpu"])
def test_unknown_names_are_refused(name):
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device(name)


def test_explicit_cuda_without_cuda_is_an_error_not_a_silent_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("cuda", "cuda:1"):
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device(name)
    assert resolve_device("auto") == "cpu"
    assert issubclass(DeviceError, ValueError)


def test_cuda_index_beyond_the_visible_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda") == "cuda" and resolve_device("cuda:0") == "cuda:0"
    assert resolve_device("auto") == "cuda"
    with pytest.raises(DeviceError, match="only 1 CUDA"):
        resolve_device("cuda:1")


def test_every_layer_uses_the_same_policy(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    vggish = get_audio_encoder("vggish", device="cuda", weights="random", pca_params=None)
    with pytest.raises(DeviceError, match="CUDA is not available"):
        vggish.model  # noqa: B018 - building the network resolves the device
    with pytest.raises(DeviceError, match="CUDA is not available"):
        load_sentence_model(tmp_path, device="cuda")
