"""What classification returns, and the errors a user's input can raise.

>>> c = Classification("bark.wav", [Prediction("dog", 0.9, 0.8), Prediction("rain", 0.1, 0.2)])
>>> c.label, c.to_dict()["ranking"][0]
('dog', {'label': 'dog', 'score': 0.9, 'probability': 0.8})
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from zsaudio.labels.candidates import LabelError, check_candidate_labels

__all__ = ["Classification", "LabelError", "ModelMismatchError", "Prediction", "check_candidate_labels"]


class ModelMismatchError(ValueError):
    """A model used with an audio encoder, label encoder or method it was not trained with."""



@dataclass(frozen=True)
class Prediction:
    """One candidate label for one clip.

    Attributes
    ----------
    label : str
        The candidate label as given.
    score : float
        The method's compatibility score (higher = better; scale depends on the method).
    probability : float
        ``softmax(scores / T)`` over the call's candidates, in [0, 1].
    """

    label: str
    score: float
    probability: float


@dataclass
class Classification:
    """The result for one input file.

    Attributes
    ----------
    path : str
        The file as given (or found in a given folder).
    ranking : list of Prediction
        The ``top_k`` best labels, best first; empty when ``error`` is set.
    error : str or None
        Why the file could not be classified (missing, unreadable audio, ...).
    """

    path: str
    ranking: list[Prediction] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def label(self) -> str | None:
        """The best label, or None for a failed file."""
        return self.ranking[0].label if self.ranking else None

    def to_dict(self) -> dict[str, Any]:
        """``{"path", "ranking": [{"label", "score", "probability"}], "error"}``."""
        return {"path": self.path, "ranking": [asdict(p) for p in self.ranking], "error": self.error}
