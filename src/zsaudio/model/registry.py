"""The registry of zero-shot methods: name -> estimator class.

>>> sorted(METHODS)[:4]
['bilinear', 'bilinear-torch', 'calibrated-stacking', 'conse']
>>> make_estimator("eszsl", alpha=0.5)
ESZSL(alpha=0.5, gamma=1.0, normalize=True)
"""

from __future__ import annotations

from typing import Any

from zsaudio.model.base import ZeroShotEstimator
from zsaudio.model.baselines import ESZSL, SJE, DeViSE
from zsaudio.model.bilinear import BilinearZSL
from zsaudio.model.calibrated import CalibratedStacking
from zsaudio.model.conse import ConSE
from zsaudio.model.fewshot import FewShotConSE
from zsaudio.model.hybrid import AnchoredConSE, ConSEMix
from zsaudio.model.softmap import SoftMap
from zsaudio.model.softmap_fewshot import MeanPooledSoftMapFewShot, SoftMapFewShot
from zsaudio.model.torch_bilinear import BilinearTorch

__all__ = ["METHODS", "make_estimator", "register_method"]

#: Registry: method name -> estimator class (the name is also the class's ``method_name``).
METHODS: dict[str, type[ZeroShotEstimator]] = {
    cls.method_name: cls
    for cls in (BilinearZSL, ESZSL, SJE, DeViSE, BilinearTorch, ConSE, ConSEMix, AnchoredConSE,
                FewShotConSE, SoftMap, SoftMapFewShot, MeanPooledSoftMapFewShot, CalibratedStacking)
}


def register_method(cls: type[ZeroShotEstimator]) -> type[ZeroShotEstimator]:
    """Add an estimator class to :data:`METHODS` under its ``method_name`` (usable as a
    class decorator). Raises ValueError if the name is empty or taken by another class."""
    name = cls.method_name
    if not name:
        raise ValueError(f"{cls.__name__}.method_name must be set to register it")
    if METHODS.get(name, cls) is not cls:
        raise ValueError(f"method name {name!r} is already registered to {METHODS[name]}")
    METHODS[name] = cls
    return cls


def make_estimator(name: str, **params: Any) -> ZeroShotEstimator:
    """A new estimator of registered method ``name`` with the given hyper-parameters.

    >>> make_estimator("eszsl", alpha=0.5)
    ESZSL(alpha=0.5, gamma=1.0, normalize=True)
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {sorted(METHODS)}")
    cls = METHODS[name]
    unknown = set(params) - set(cls._param_names())
    if unknown:
        raise ValueError(
            f"{name}: unknown hyper-parameter(s) {sorted(unknown)}; "
            f"valid: {cls._param_names()}"
        )
    return cls(**params)
