"""Class-label embeddings φ(y): Word2Vec, GloVe and sentence encoders behind one interface.

>>> from zsaudio.labels import get_label_encoder
>>> enc = get_label_encoder("glove")
>>> enc.encode(["dog", "sea_waves"]).shape
(2, 50)

See :mod:`zsaudio.labels.base` for the interface and the word rule,
:mod:`zsaudio.labels.word_vectors` and :mod:`zsaudio.labels.sentence` for the encoders.
"""

from zsaudio.labels import sentence, word_vectors  # noqa: F401  (register the encoders)
from zsaudio.labels.base import (
    LabelCoverage,
    LabelEncoder,
    UnknownLabelError,
    available_label_encoders,
    get_label_encoder,
    label_encoder_options,
    label_text,
    label_words,
    register_label_encoder,
)

__all__ = [
    "LabelCoverage",
    "LabelEncoder",
    "UnknownLabelError",
    "available_label_encoders",
    "get_label_encoder",
    "label_encoder_options",
    "label_text",
    "label_words",
    "register_label_encoder",
]
