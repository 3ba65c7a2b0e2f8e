"""Zero-shot estimators: the paper's bilinear model (Algorithm 1), baselines, ConSE and hybrids.

Every estimator follows :class:`zsaudio.model.base.ZeroShotEstimator`:
``fit(X, y, class_embeddings, source=None)``, ``decision_function(X, class_embeddings)``,
``predict``, ``predict_topk``, ``score``; hyper-parameters in the constructor, learned state
ending in ``_``. X is :class:`AudioFeatures`; ``source`` the encoder's label space
(:class:`SourceLabelSpace`, for the methods that rank through it).
:class:`HeldOutClassSearch` chooses a method's hyper-parameters on validation classes held out
of the training classes, then fits.

>>> est = make_estimator("bilinear", epochs=5)
>>> sorted(METHODS)[:4]
['bilinear', 'bilinear-torch', 'calibrated-stacking', 'conse']
"""

from __future__ import annotations

from zsaudio.model.base import ZeroShotEstimator
from zsaudio.model.baselines import ESZSL, SJE, DeViSE
from zsaudio.model.bilinear import BilinearZSL
from zsaudio.model.calibrated import CalibratedStacking
from zsaudio.model.conse import ConSE
from zsaudio.model.features import AudioFeatures, SourceLabelSpace
from zsaudio.model.fewshot import FewShotConSE
from zsaudio.model.hybrid import AnchoredConSE, ConSEMix
from zsaudio.model.registry import METHODS, make_estimator, register_method
from zsaudio.model.search import DEFAULT_SEARCH, HeldOutClassSearch
from zsaudio.model.softmap import SoftMap
from zsaudio.model.softmap_fewshot import MeanPooledSoftMapFewShot, SoftMapFewShot
from zsaudio.model.torch_bilinear import BilinearTorch

__all__ = [
    "DEFAULT_SEARCH",
    "METHODS",
    "AnchoredConSE",
    "AudioFeatures",
    "BilinearTorch",
    "BilinearZSL",
    "CalibratedStacking",
    "ConSE",
    "ConSEMix",
    "DeViSE",
    "ESZSL",
    "FewShotConSE",
    "HeldOutClassSearch",
    "SJE",
    "MeanPooledSoftMapFewShot",
    "SoftMap",
    "SoftMapFewShot",
    "SourceLabelSpace",
    "ZeroShotEstimator",
    "make_estimator",
    "register_method",
]
