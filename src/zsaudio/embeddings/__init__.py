"""Audio encoders (VGGish, YAMNet) behind one interface, and cached batch extraction.

>>> import numpy as np
>>> from zsaudio.embeddings import get_audio_encoder
>>> wave = np.zeros(16000, np.float32)  # 1 s of silence at 16 kHz
>>> get_audio_encoder("yamnet").embed_waveform(wave).embedding.shape
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
