"""Audio encoders (VGGish, YAMNet) behind one interface, and cached batch extraction.

>>> from zsaudio.embeddings import get_audio_encoder  # doctest: +SKIP
>>> get_audio_encoder("yamnet").embed_waveform(wave).embedding.shape  # doctest: +SKIP
(1024,)
"""

from zsaudio.embeddings.base import (
    AudioEncoder,
    ClipEmbedding,
    available_encoders,
    get_audio_encoder,
    register_encoder,
)

__all__ = [
    "AudioEncoder",
    "ClipEmbedding",
    "available_encoders",
    "get_audio_encoder",
    "register_encoder",
]
