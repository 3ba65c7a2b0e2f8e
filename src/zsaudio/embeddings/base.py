"""The audio-encoder interface, the per-clip result, and the encoder registry.

Adding an encoder: a module ``zsaudio/embeddings/<name>.py`` whose encoder class is decorated
with :func:`register_encoder`, and its name in :data:`BUILTIN_ENCODERS` (so that the name is
listed without importing the module); :func:`get_audio_encoder` imports the module by name on
first use.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class ClipEmbedding:
    """Embeddings (and class scores, when the encoder has a classifier) of one clip.

    Attributes
    ----------
    patch_embeddings : np.ndarray, shape (p, d), float32
        One row per patch (0.96 s of audio each).
    embedding : np.ndarray, shape (d,), float32
        The clip's embedding θ(x): the mean over patches (the paper's rule).
    patch_scores : np.ndarray, shape (p, k), optional
    scores : np.ndarray, shape (k,), optional
        Mean of the patch class scores.
    """

    patch_embeddings: np.ndarray
    embedding: np.ndarray
    patch_scores: np.ndarray | None = None
    scores: np.ndarray | None = None

    @classmethod
    def from_patches(
        cls, patch_embeddings: np.ndarray, patch_scores: np.ndarray | None = None
    ) -> ClipEmbedding:
        """Build the clip result from per-patch outputs (means over the patch axis)."""
        patch_embeddings = np.asarray(patch_embeddings, dtype=np.float32)
        scores = None
        if patch_scores is not None:
            patch_scores = np.asarray(patch_scores, dtype=np.float32)
            scores = patch_scores.mean(axis=0)
        return cls(patch_embeddings, patch_embeddings.mean(axis=0), patch_scores, scores)


class AudioEncoder(ABC):
    """A pretrained audio model mapping a 16 kHz waveform to patch embeddings.

    Work is split in two so that batch extraction can parallelise it: :meth:`prepare` (pure
    numpy, cheap, run in decoding worker processes) turns a waveform into the model's per-patch
    inputs, and :meth:`embed_patches` runs the model on a batch of them. When
    ``inference_in_workers`` is true (a model that cannot batch, like YAMNet's TFLite) each
    worker runs the whole :meth:`embed_waveform` with its own copy of the model.

    Subclasses set ``name``, ``dim`` and, with a classifier head, ``class_names`` /
    ``class_ids``, and load their model lazily so that a worker calling only :meth:`prepare`
    never loads weights.
    """

    name: str = ""
    dim: int = 0
    class_names: list[str] | None = None
    class_ids: list[str] | None = None
    inference_in_workers: bool = False

    def __init__(self, device: str = "cpu", **options):
        self.device = device
        self.options = options

    @abstractmethod
    def config(self) -> dict:
        """Everything that changes the outputs (model file hash, front end, options).

        Used in cache keys and saved beside trained models; JSON-serialisable.
        """

    @abstractmethod
    def prepare(self, wave_16k: np.ndarray) -> np.ndarray:
        """Model inputs, one per patch: ``(p, ...)`` float32, ``p >= 1`` (short clips padded)."""

    @abstractmethod
    def embed_patches(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Run the model on ``(n, ...)`` prepared patches -> ``(n, dim)``, ``(n, k)`` or None."""

    def embed_waveform(self, wave_16k: np.ndarray) -> ClipEmbedding:
        """Embed one clip: float32 mono samples in [-1, 1] at 16 kHz, shape (n,).

        Examples
        --------
        >>> enc = get_audio_encoder("yamnet")
        >>> enc.embed_waveform(np.zeros(80000, np.float32)).patch_embeddings.shape
        (10, 1024)
        """
        wave_16k = np.asarray(wave_16k, dtype=np.float32)
        if wave_16k.ndim != 1 or wave_16k.size == 0:
            raise ValueError(f"expected a non-empty 1-D waveform, got shape {wave_16k.shape}")
        emb, scores = self.embed_patches(self.prepare(wave_16k))
        return ClipEmbedding.from_patches(emb, scores)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.device!r}, **{self.options!r})"


_REGISTRY: dict[str, Callable[..., AudioEncoder]] = {}


def register_encoder(name: str):
    """Class decorator: make an :class:`AudioEncoder` available to :func:`get_audio_encoder`."""

    def decorate(cls):
        _REGISTRY[name] = cls
        return cls

    return decorate


#: The encoders that ship with zsaudio, each in the module ``zsaudio.embeddings.<name>``
#: (imported on first use: VGGish's module imports torch).
BUILTIN_ENCODERS = ("vggish", "yamnet")


def available_encoders() -> list[str]:
    """Names :func:`get_audio_encoder` accepts: the built-in encoders and those registered
    since, sorted. Imports no encoder module (cheap enough for ``--help``).

    >>> available_encoders()[:2]
    ['vggish', 'yamnet']
    """
    return sorted(set(BUILTIN_ENCODERS) | set(_REGISTRY))


def get_audio_encoder(name: str, device: str = "cpu", **options) -> AudioEncoder:
    """Create an audio encoder by name.

    Parameters
    ----------
    name : {"yamnet", "vggish"}
    device : str, default "cpu"
        Where a torch model runs (VGGish): ``"cpu"``, ``"cuda[:N]"`` (an error where CUDA is
        not available) or ``"auto"``, see :func:`zsaudio.device.resolve_device`. YAMNet's
        TFLite runs on the CPU whatever is asked.
    **options
        Encoder options, e.g. ``patch_hop_seconds=0.48`` (YAMNet), ``weights="random"``,
        ``pca_params=None``, ``final_relu=False`` (VGGish); see each encoder class.

    Examples
    --------
    >>> enc = get_audio_encoder("yamnet")
    >>> enc.dim, len(enc.class_names)
    (1024, 521)
    """
    if name not in _REGISTRY:
        try:
            importlib.import_module(f"zsaudio.embeddings.{name}")
        except ModuleNotFoundError:
            pass
    if name not in _REGISTRY:
        raise ValueError(f"unknown audio encoder {name!r}; available: {available_encoders()}")
    return _REGISTRY[name](device=device, **options)
