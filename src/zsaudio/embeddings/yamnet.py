"""YAMNet (Google, AudioSet, 521 classes) through its TFLite model and ``ai-edge-litert``.

The model takes one patch of waveform, 15 600 samples (0.975 s) at 16 kHz, computes its own
log-mel front end (offset 0.001) and returns the 521 class scores. Its 1024-d embedding, the
average-pooled last feature map, is an intermediate tensor, read by name
(``yamnet_frames/global_average_pooling2d/Mean``) with ``experimental_preserve_all_tensors``.
Checked with the default XNNPACK delegate: the tensor read is the one the classifier used
(``logits = W_int8 * scale @ embedding + b`` holds to ~1e-3 relative; see the tests).

The TFLite graph has a fixed batch of one (resizing fails under XNNPACK), so patches run one
by one (~4 ms each on one thread); batch extraction parallelises across worker processes.
"""

from __future__ import annotations

import csv
import os
import warnings

import numpy as np

from zsaudio.assets import find_asset, sha256_of
from zsaudio.audio import mel, params
from zsaudio.embeddings.base import AudioEncoder, register_encoder

MODEL_ASSET = "yamnet/yamnet.tflite"
CLASS_MAP_ASSET = "yamnet/yamnet_class_map.csv"


def load_class_map(path: str | os.PathLike | None = None) -> tuple[list[str], list[str]]:
    """The YAMNet class map: the only reader of ``yamnet_class_map.csv`` in zsaudio.

    Parameters
    ----------
    path : path, optional
        A class map csv (``index,mid,display_name``); default the asset
        ``yamnet/yamnet_class_map.csv``.

    Returns
    -------
    (mids, display_names) : two lists of str, in output-index order (521 each)

    Raises
    ------
    ValueError
        If the ``index`` column is not 0..K-1.

    Examples
    --------
    >>> mids, names = load_class_map()
    >>> len(mids), mids[0], names[0]
    (521, '/m/09x0r', 'Speech')
    """
    path = path or find_asset(CLASS_MAP_ASSET)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: int(r["index"]))
    if [int(r["index"]) for r in rows] != list(range(len(rows))):
        raise ValueError(f"{path}: the 'index' column is not 0..{len(rows) - 1}")
    return [r["mid"] for r in rows], [r["display_name"] for r in rows]


@register_encoder("yamnet")
class YAMNetEncoder(AudioEncoder):
    """YAMNet embeddings (1024-d) and class scores (521) per 0.975 s patch.

    Parameters
    ----------
    device : str, default "cpu"
        TFLite runs on the CPU whatever is asked ("cuda" is accepted and ignored).
    patch_hop_seconds : float, default 0.48
        Hop between patches (YAMNet's own value).
    model_path : str, optional
        A ``yamnet.tflite`` other than the one on the asset path.
    num_threads : int, default 1
        Threads per interpreter (batch extraction parallelises over processes instead).

    Notes
    -----
    Padding (YAMNet's rule): a clip shorter than 0.975 s gets zeros appended up to 15 600
    samples (one patch); a longer one is zero-padded at the end to a whole number of hops, so
    a 5 s clip gives 10 patches, the last one partly silent.
    """

    name = "yamnet"
    dim = params.YAMNET_EMBEDDING_SIZE
    inference_in_workers = True

    def __init__(
        self,
        device: str = "cpu",
        patch_hop_seconds: float = params.YAMNET_PATCH_HOP_SECONDS,
        model_path: str | None = None,
        num_threads: int = 1,
    ):
        super().__init__(
            device=device,
            patch_hop_seconds=patch_hop_seconds,
            model_path=model_path,
            num_threads=num_threads,
        )
        if not patch_hop_seconds > 0:
            raise ValueError(f"patch_hop_seconds must be > 0, got {patch_hop_seconds}")
        if device != "cpu":
            warnings.warn("YAMNet (TFLite) runs on the CPU", stacklevel=2)
        self.patch_hop_seconds = float(patch_hop_seconds)
        self.hop_samples = int(round(patch_hop_seconds * params.SAMPLE_RATE))
        self.model_path = str(model_path or find_asset(MODEL_ASSET))
        self.num_threads = num_threads
        self.class_ids, self.class_names = load_class_map()
        self._interpreter = None
        self._sha256: str | None = None

    def config(self) -> dict:
        if self._sha256 is None:
            self._sha256 = sha256_of(self.model_path)
        return {
            "encoder": self.name,
            "model_sha256": self._sha256,
            "embedding_tensor": params.YAMNET_EMBEDDING_TENSOR,
            "sample_rate": params.SAMPLE_RATE,
            "patch_samples": params.YAMNET_INPUT_SAMPLES,
            "patch_hop_samples": self.hop_samples,
            "padding": "zeros-at-end-to-whole-hops",
        }

    def _load(self):
        from ai_edge_litert.interpreter import Interpreter

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "preserve_all_tensors is for debugging"
            interp = Interpreter(
                self.model_path,
                num_threads=self.num_threads,
                experimental_preserve_all_tensors=True,
            )
        interp.allocate_tensors()
        names = {t["name"]: t["index"] for t in interp.get_tensor_details()}
        if params.YAMNET_EMBEDDING_TENSOR not in names:
            raise ValueError(f"{self.model_path}: no tensor {params.YAMNET_EMBEDDING_TENSOR!r}")
        self._input = interp.get_input_details()[0]["index"]
        self._embedding = names[params.YAMNET_EMBEDDING_TENSOR]
        self._scores = next(
            o["index"]
            for o in interp.get_output_details()
            if list(o["shape"]) == [1, params.YAMNET_NUM_CLASSES]
        )
        self._interpreter = interp

    def prepare(self, wave_16k: np.ndarray) -> np.ndarray:
        """Waveform patches ``(p, 15600)`` float32 (zero-padded as in the class notes)."""
        wave = mel.pad_waveform(
            np.asarray(wave_16k, dtype=np.float32), params.YAMNET_INPUT_SAMPLES, self.hop_samples
        )
        return np.ascontiguousarray(
            mel.frame(wave, params.YAMNET_INPUT_SAMPLES, self.hop_samples), dtype=np.float32
        )

    def embed_patches(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n, 15600)`` waveform patches -> embeddings ``(n, 1024)``, scores ``(n, 521)``."""
        if self._interpreter is None:
            self._load()
        interp = self._interpreter
        n = len(patches)
        emb = np.empty((n, self.dim), np.float32)
        scores = np.empty((n, params.YAMNET_NUM_CLASSES), np.float32)
        for i, patch in enumerate(patches):
            interp.set_tensor(self._input, patch[None])
            interp.invoke()
            emb[i] = interp.get_tensor(self._embedding)[0]
            scores[i] = interp.get_tensor(self._scores)[0]
        return emb, scores
