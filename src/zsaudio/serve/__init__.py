"""``zsaudio serve``: a JSON API and a web page for zero-shot audio classification.

- :mod:`zsaudio.serve.core` (no web framework needed): request limits, label parsing, the
  ``classify --json`` document, and :class:`~zsaudio.serve.core.ClassifierService`, which
  holds one shared classifier, validates uploads in a temporary folder and classifies them.
- :mod:`zsaudio.serve.app` (FastAPI, the ``serve`` extra): ``create_app(classifier, limits, model_name)``, the
  versioned routes under ``/api/v1``, JSON errors, and the page in ``static/``.

Nothing here imports FastAPI at package import time, so ``zsaudio classify`` can share
:func:`zsaudio.serve.core.classification_document` without the extra installed.
"""
