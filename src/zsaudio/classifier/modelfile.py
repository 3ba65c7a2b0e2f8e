"""The classifier's model file: one ``.npz`` holding the estimator's arrays and a description.

The description (``ZeroShotClassifier.metadata_``) names the format, the method and its
hyper-parameters, the audio and label encoders with their configurations, the training classes
and the temperature; :func:`read_model_file` refuses a file of another format, method or
encoders than the caller expects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zsaudio.classifier.results import ModelMismatchError
from zsaudio.fileio import json_default
from zsaudio.model.base import ZeroShotEstimator
from zsaudio.model.io import load_model

__all__ = ["MODEL_FORMAT", "config_diff", "jsonable", "read_model_file"]

MODEL_FORMAT = "zsaudio-classifier/1"


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays and tuples turned into JSON types."""
    return json.loads(json.dumps(obj, default=json_default))


def config_diff(stored: dict, current: dict) -> list[str]:
    """What differs between a stored and a current configuration, one line per key."""
    keys = sorted(set(stored) | set(current))
    return [f"{k}: model {stored.get(k)!r} vs now {current.get(k)!r}" for k in keys
            if stored.get(k) != current.get(k)]


def read_model_file(path: str | Path, method: str | None = None, audio_encoder: str | None = None,
                    label_encoder: str | None = None,
                    label_template: str | None = None) -> tuple[ZeroShotEstimator, dict[str, Any]]:
    """The fitted estimator and the description of a classifier model file.

    Parameters
    ----------
    path : path
    method, audio_encoder, label_encoder, label_template : str, optional
        What the caller expects (None: accept what the file says).

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelMismatchError
        Not a classifier model, or another method or encoders than expected.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        estimator, stored = load_model(path, expected_method=method)
    except ValueError as err:  # not a model file, or a file of another method
        raise ModelMismatchError(str(err)) from err
    meta = stored.get("user") or {}
    if meta.get("format") != MODEL_FORMAT:
        raise ModelMismatchError(f"{path} is not a zsaudio classifier model (format "
                                 f"{meta.get('format')!r}, expected {MODEL_FORMAT!r}); "
                                 "write one with `zsaudio train`")
    if method is not None and meta["method"] != method:
        raise ModelMismatchError(f"{path} holds a {meta['method']!r} model, not {method!r}")
    a, lab = meta["audio_encoder"], meta["label_encoder"]
    expected = [("audio encoder", audio_encoder, a["name"]),
                ("label encoder", label_encoder, lab["name"])]
    if label_template is not None:
        expected.append(("label template", label_template, lab.get("template")))
    for what, asked, trained in expected:
        if asked is not None and asked != trained:
            raise ModelMismatchError(
                f"{path} was trained with {what} {trained!r} and cannot be used with {asked!r}: "
                f"its weights only make sense for the embeddings it was trained on. Use "
                f"{trained!r}, or train a model for {asked!r} with `zsaudio train`.")
    return estimator, meta
