"""Candidate labels of a classification: the checks every entry point applies (the classifier,
long-recording timelines, the server).

>>> check_candidate_labels(["dog barking", "rain"])
['dog barking', 'rain']
"""

from __future__ import annotations

from collections.abc import Sequence

from zsaudio.labels.base import label_text

__all__ = ["LabelError", "check_candidate_labels"]


class LabelError(ValueError):
    """Candidate labels that cannot be used (empty list, blank or duplicate labels)."""


def check_candidate_labels(labels: Sequence[str]) -> list[str]:
    """Validate the candidate labels of a ``classify`` call.

    Parameters
    ----------
    labels : sequence of str
        At least one label; labels must not be blank, and no two may be the same once case,
        ``_`` vs space and extra whitespace are ignored (``"Dog"`` and ``"dog"`` are duplicates).

    Returns
    -------
    list of str
        The labels as given.

    Raises
    ------
    LabelError
        Naming the problem (all blank or duplicate labels at once).

    Example
    -------
    >>> check_candidate_labels(["dog", "Dog "])
    Traceback (most recent call last):
    ...
    zsaudio.labels.candidates.LabelError: duplicate labels: 'dog' = 'Dog '
    """
    if isinstance(labels, (str, bytes)):
        raise LabelError(f"labels must be a list of strings, not one string: {labels!r}")
    labels = list(labels)
    if not labels:
        raise LabelError("no candidate labels given: pass at least one label")
    bad = [x for x in labels if not isinstance(x, str)]
    if bad:
        raise LabelError(f"labels must be strings; got {bad[:5]!r}")
    blank = [x for x in labels if not x.strip()]
    if blank:
        raise LabelError(f"{len(blank)} blank label(s): every label needs some text")
    seen: dict[str, str] = {}
    dups = []
    for x in labels:
        key = label_text(x).casefold()
        if key in seen:
            dups.append(f"{seen[key]!r} = {x!r}")
        else:
            seen[key] = x
    if dups:
        raise LabelError("duplicate labels: " + "; ".join(dups))
    return labels
