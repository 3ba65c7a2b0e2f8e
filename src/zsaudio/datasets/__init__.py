"""Labelled audio data sets: ESC-50 (:mod:`.esc50`) and any csv / folder of ``path,label``
(:mod:`.labelled`). They sit on the audio layer only; the model, the user API and the
experiments read them, never the other way round."""

from zsaudio.datasets.esc50 import CATEGORIES, Esc50, load_esc50
from zsaudio.datasets.labelled import LabelledAudio, from_esc50, load_labelled_audio

__all__ = ["CATEGORIES", "Esc50", "LabelledAudio", "from_esc50", "load_esc50", "load_labelled_audio"]
