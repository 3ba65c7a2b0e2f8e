"""zsaudio: zero-shot audio classification from class label embeddings.

Pipeline stages, one sub-package each: ``audio`` (decode, resample, log-mel patches) →
``embeddings`` (VGGish / YAMNet audio encoders, cached batch extraction) → ``labels``
(Word2Vec / GloVe / sentence label encoders) → ``model`` (bilinear compatibility and other
zero-shot methods) → ``experiments`` (ESC-50 protocols, reports) → ``cli``.
"""

__version__ = "0.1.0"
