"""VGGish (Google, AudioSet) in PyTorch: the published network, its weights, its post-processor.

Architecture (``vggish_slim.py``): conv 3x3 64 / 128 / 256, 256 / 512, 512 with 2x2 max-pooling
after conv1, conv2, conv3_2 and conv4_2; fully connected 12288 -> 4096 -> 4096 -> 128;
72,141,184 parameters. Google's current release has no ReLU on the 128-d embedding layer
(the PyTorch port torchvggish keeps one): ``final_relu`` chooses. Parameter names are
torchvggish's (``features.0.weight`` ... ``embeddings.4.bias``), so its ``vggish-10086976.pth``
loads directly; Google's TF checkpoint is converted when tensorflow is installed.

Post-processor (``vggish_postprocess.py``): PCA (``pca_eigen_vectors`` (128, 128),
``pca_means`` (128,)) then clip to [-2, 2] and 8-bit quantisation to 0..255 (truncation, as
Google's code), returned as float32.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zsaudio.assets import fetch_asset, sha256_of
from zsaudio.audio import mel, params
from zsaudio.device import resolve_device
from zsaudio.embeddings.base import AudioEncoder, register_encoder

WEIGHTS_ASSET = "vggish/vggish-10086976.pth"
PCA_ASSETS = ("vggish/vggish_pca_params.npz", "vggish/vggish_pca_params-970ea276.pth")
EXAMPLE_HOP_FRAMES = int(round(params.EXAMPLE_HOP_SECONDS / params.STFT_HOP_LENGTH_SECONDS))

# TF checkpoint variable -> torchvggish parameter prefix.
_TF_NAMES = {
    "vggish/conv1": "features.0",
    "vggish/conv2": "features.3",
    "vggish/conv3/conv3_1": "features.6",
    "vggish/conv3/conv3_2": "features.8",
    "vggish/conv4/conv4_1": "features.11",
    "vggish/conv4/conv4_2": "features.13",
    "vggish/fc1/fc1_1": "embeddings.0",
    "vggish/fc1/fc1_2": "embeddings.2",
    "vggish/fc2": "embeddings.4",
}


class VGGish(nn.Module):
    """The VGGish network: ``(n, 1, 96, 64)`` log-mel patches -> ``(n, 128)`` embeddings.

    Parameters
    ----------
    final_relu : bool, default False
        Apply a ReLU to the 128-d output (torchvggish / the original release) or not
        (Google's current release).
    """

    def __init__(self, final_relu: bool = False):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for width, pool in [(64, True), (128, True), (256, False), (256, True),
                            (512, False), (512, True)]:  # fmt: skip
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
            if pool:
                layers.append(nn.MaxPool2d(2, 2))
            channels = width
        self.features = nn.Sequential(*layers)
        fc: list[nn.Module] = [
            nn.Linear(512 * 6 * 4, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, params.EMBEDDING_SIZE),
        ]
        if final_relu:
            fc.append(nn.ReLU(inplace=True))
        self.embeddings = nn.Sequential(*fc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (n, 512, 6, 4)
        # Flatten in TF's NHWC order so that fc1's weights match Google's checkpoint.
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.embeddings(x)


def state_dict_from_tf_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Convert Google's ``vggish_model.ckpt`` into this module's state dict (needs tensorflow)."""
    try:
        import tensorflow as tf
    except ImportError as err:
        raise ImportError(
            "reading the TF checkpoint needs tensorflow; or use torchvggish's "
            "vggish-10086976.pth (no tensorflow needed)"
        ) from err
    reader = tf.train.load_checkpoint(str(path))
    state = {}
    for tf_name, prefix in _TF_NAMES.items():
        w = reader.get_tensor(f"{tf_name}/weights")
        b = reader.get_tensor(f"{tf_name}/biases")
        # conv: HWIO -> OIHW; dense: (in, out) -> (out, in)
        w = w.transpose(3, 2, 0, 1) if w.ndim == 4 else w.T
        state[f"{prefix}.weight"] = torch.from_numpy(np.ascontiguousarray(w))
        state[f"{prefix}.bias"] = torch.from_numpy(b)
    return state


def load_vggish_weights(model: VGGish, path: str | os.PathLike) -> VGGish:
    """Load ``vggish-10086976.pth`` (torchvggish) or ``vggish_model.ckpt`` (TF) into ``model``.

    Raises
    ------
    ValueError
        If keys or shapes differ from the published architecture (the message lists them).
    """
    path = Path(path)
    if path.suffix == ".pth" or path.suffix == ".pt":
        state = torch.load(path, map_location="cpu", weights_only=True)
    else:
        state = state_dict_from_tf_checkpoint(path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    bad_shapes = [
        f"{k}: {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or bad_shapes:
        raise ValueError(
            f"{path}: not VGGish weights (missing {missing}, unexpected {unexpected}, "
            f"wrong shapes {bad_shapes})"
        )
    model.load_state_dict(state)
    return model


def load_pca_params(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(eigen_vectors (128, 128), means (128,))`` from Google's ``.npz`` or torchvggish's ``.pth``."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as f:
            vectors, means = f[params.PCA_EIGEN_VECTORS_NAME], f[params.PCA_MEANS_NAME]
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        vectors = state[params.PCA_EIGEN_VECTORS_NAME]
        means = state[params.PCA_MEANS_NAME]
        vectors, means = np.asarray(vectors), np.asarray(means)
    vectors = np.asarray(vectors, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64).reshape(-1)
    d = params.EMBEDDING_SIZE
    if vectors.shape != (d, d) or means.shape != (d,):
        raise ValueError(f"{path}: PCA params have shapes {vectors.shape}, {means.shape}")
    return vectors, means


def postprocess(embeddings: np.ndarray, eigen_vectors: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Google's post-processor: PCA, clip to [-2, 2], quantise to 0..255 (as float32).

    Parameters
    ----------
    embeddings : np.ndarray, shape (n, 128)

    Returns
    -------
    np.ndarray, shape (n, 128), float32 holding integers 0..255

    Examples
    --------
    >>> postprocess(np.zeros((1, 128)), np.eye(128), np.zeros(128))[0, :2]
    array([127., 127.], dtype=float32)
    """
    pca_applied = (embeddings - means) @ eigen_vectors.T
    clipped = np.clip(pca_applied, params.QUANTIZE_MIN_VAL, params.QUANTIZE_MAX_VAL)
    scale = 255.0 / (params.QUANTIZE_MAX_VAL - params.QUANTIZE_MIN_VAL)
    return ((clipped - params.QUANTIZE_MIN_VAL) * scale).astype(np.uint8).astype(np.float32)


@register_encoder("vggish")
class VGGishEncoder(AudioEncoder):
    """VGGish 128-d embeddings per non-overlapping 0.96 s patch.

    Parameters
    ----------
    device : str, default "cpu"
        ``"cpu"``, ``"cuda[:N]"`` or ``"auto"``, resolved when the model is first built
        (:func:`zsaudio.device.resolve_device`: CUDA asked for where it is absent is an error).
    weights : str, default None
        ``None``: ``vggish/vggish-10086976.pth`` from the asset path (downloaded when missing
        and the network is there); a path to a ``.pth`` or TF ``.ckpt``; or ``"random"``
        (seeded initialisation: same cost as the real model, for tests and benchmarks).
    pca_params : str or bool, default None
        ``None``: Google's ``vggish_pca_params.npz`` or torchvggish's ``.pth`` from the asset
        path when weights are real, none with random weights; a path; or ``False`` for raw
        (pre-PCA, float) embeddings.
    final_relu : bool, default False
    batch_size : int, default 64
        Patches per forward pass.
    seed : int, default 0
        For ``weights="random"``.

    Notes
    -----
    Padding: a clip shorter than 0.975 s gets zeros appended up to 15 600 samples (one patch);
    a longer clip's trailing partial patch is dropped (VGGish's rule: 5 s -> 5 patches).
    """

    name = "vggish"
    dim = params.EMBEDDING_SIZE

    def __init__(
        self,
        device: str = "cpu",
        weights: str | None = None,
        pca_params: str | bool | None = None,
        final_relu: bool = False,
        batch_size: int = 64,
        seed: int = 0,
    ):
        super().__init__(
            device=device,
            weights=weights,
            pca_params=pca_params,
            final_relu=final_relu,
            batch_size=batch_size,
            seed=seed,
        )
        self.weights = weights
        self.pca_params = pca_params
        self.final_relu = final_relu
        self.batch_size = int(batch_size)
        self.seed = seed
        if weights is None:
            self.weights_path: str | None = str(fetch_asset(WEIGHTS_ASSET))
        elif weights == "random":
            self.weights_path = None
        else:
            self.weights_path = str(weights)
            if not Path(weights).exists():
                raise FileNotFoundError(f"VGGish weights not found: {weights}")
        self.pca_path: str | None = None
        if pca_params is None and self.weights_path is not None:
            self.pca_path = str(_find_pca())
        elif pca_params not in (None, False):
            self.pca_path = str(pca_params)
        self._model: VGGish | None = None
        self._pca: tuple[np.ndarray, np.ndarray] | None = None
        self._hashes: dict[str, str] = {}

    def _hash(self, path: str | None) -> str | None:
        if path is None:
            return None
        if path not in self._hashes:
            self._hashes[path] = sha256_of(path)
        return self._hashes[path]

    def config(self) -> dict:
        return {
            "encoder": self.name,
            "weights_sha256": self._hash(self.weights_path),
            "random_seed": self.seed if self.weights_path is None else None,
            "pca_sha256": self._hash(self.pca_path),
            "final_relu": self.final_relu,
            "sample_rate": params.SAMPLE_RATE,
            "stft_window_seconds": params.STFT_WINDOW_LENGTH_SECONDS,
            "stft_hop_seconds": params.STFT_HOP_LENGTH_SECONDS,
            "mel": [params.NUM_MEL_BINS, params.MEL_MIN_HZ, params.MEL_MAX_HZ],
            "log_offset": params.LOG_OFFSET,
            "patch_frames": params.NUM_FRAMES,
            "patch_hop_frames": EXAMPLE_HOP_FRAMES,
            "padding": "zeros-at-end-to-one-patch",
        }

    @property
    def model(self) -> VGGish:
        """The network, built (and its weights loaded) on first use."""
        if self._model is None:
            self.device = resolve_device(self.device)
            if self.weights_path is None:
                torch.manual_seed(self.seed)
                model = VGGish(self.final_relu)
            else:
                model = load_vggish_weights(VGGish(self.final_relu), self.weights_path)
            self._model = model.eval().to(self.device)
            if self.pca_path is not None:
                self._pca = load_pca_params(self.pca_path)
        return self._model

    def prepare(self, wave_16k: np.ndarray) -> np.ndarray:
        """Log-mel patches ``(p, 96, 64)`` float32 (offset 0.01, hop 0.96 s)."""
        wave = mel.pad_waveform(np.asarray(wave_16k, dtype=np.float32))
        log_mel = mel.log_mel_spectrogram(wave, log_offset=params.LOG_OFFSET)
        return np.ascontiguousarray(mel.frame_patches(log_mel, params.NUM_FRAMES, EXAMPLE_HOP_FRAMES))

    def embed_patches(self, patches: np.ndarray) -> tuple[np.ndarray, None]:
        """``(n, 96, 64)`` log-mel patches -> ``(n, 128)`` embeddings (post-processed if PCA)."""
        model = self.model
        out = []
        with torch.inference_mode():
            for start in range(0, len(patches), self.batch_size):
                x = torch.tensor(patches[start : start + self.batch_size], dtype=torch.float32)
                out.append(model(x.to(self.device).unsqueeze(1)).float().cpu().numpy())
        emb = np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)
        if self._pca is not None:
            emb = postprocess(emb, *self._pca)
        return emb.astype(np.float32, copy=False), None


def _find_pca() -> Path:
    errors = []
    for rel in PCA_ASSETS:
        try:
            return fetch_asset(rel)
        except FileNotFoundError as err:
            errors.append(str(err))
    raise FileNotFoundError("VGGish PCA parameters not found:\n" + "\n".join(errors))
