"""The user API: rank any free-text labels for any recording (:class:`ZeroShotClassifier`).

It stands on the model layer (encoders, label encoders, :mod:`zsaudio.model`) and on
:mod:`zsaudio.timeline` for long recordings, as a thin client of
:class:`zsaudio.model.HeldOutClassSearch`:

- :mod:`.core`: :class:`ZeroShotClassifier` (fit, save/load, classify);
- :mod:`.results`: :class:`Classification`, :class:`Prediction`, candidate-label checks, errors;
- :mod:`.calibration`: the softmax temperature fitted on validation classes.
"""

from zsaudio.audio.files import expand_inputs
from zsaudio.classifier.calibration import FALLBACK_TEMPERATURE, fit_nll, fit_temperature
from zsaudio.classifier.core import (
    DEFAULT_AUDIO_ENCODER,
    DEFAULT_LABEL_ENCODER,
    DEFAULT_LABEL_TEMPLATE,
    DEFAULT_METHOD,
    DEFAULT_SOURCE_TEXT,
    MODEL_FORMAT,
    TRAINING_FREE_METHOD,
    TRAINING_FREE_TEMPERATURE,
    ZeroShotClassifier,
    default_classifier,
    default_label_template,
)
from zsaudio.classifier.results import (
    Classification,
    LabelError,
    ModelMismatchError,
    Prediction,
    check_candidate_labels,
)
from zsaudio.model.base import softmax

__all__ = [
    "DEFAULT_AUDIO_ENCODER",
    "DEFAULT_LABEL_ENCODER",
    "DEFAULT_METHOD",
    "DEFAULT_LABEL_TEMPLATE",
    "DEFAULT_SOURCE_TEXT",
    "FALLBACK_TEMPERATURE",
    "MODEL_FORMAT",
    "TRAINING_FREE_METHOD",
    "TRAINING_FREE_TEMPERATURE",
    "Classification",
    "LabelError",
    "ModelMismatchError",
    "Prediction",
    "ZeroShotClassifier",
    "check_candidate_labels",
    "default_classifier",
    "default_label_template",
    "expand_inputs",
    "fit_nll",
    "fit_temperature",
    "softmax",
]
