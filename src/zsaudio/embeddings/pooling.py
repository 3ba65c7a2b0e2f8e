"""Clip pooling of per-patch encoder outputs: the plain mean (the paper's rule) and a
silence-gated mean for few-shot prototypes.

ESC-50 clips are zero-padded to 5 s, so many of their patches are digital silence; in a plain
mean those patches pull every short clip towards one "silence" point. The silence-gated
pooling weights each patch by how little the encoder thinks it is silence,

    w_p = (1 - s_silence(p)) ** gamma,     e = sum_p w_p x_p / sum_p w_p,

then applies a signed square root and L2 normalisation (power normalisation, which evens out
the heavy-tailed ReLU features of YAMNet's embedding). An encoder without a silence class
gets the plain mean, square-rooted and normalised the same way.

Pooling works on the cached patch outputs (:class:`zsaudio.embeddings.base.ClipEmbedding`):
the cache stores patches, never pooled vectors, so poolings cannot mix; results of another
pooling say so in their ``encoder_config`` (``"pooling"``).

Example
-------
>>> import numpy as np
>>> emb = np.array([[4.0, 0.0], [0.0, 4.0]])     # a sound patch, then a silent one
>>> silence = np.array([[0.0], [1.0]])           # the encoder's silence score per patch
>>> silence_gated_pool(emb, silence, silence_index=0).round(3)
array([1., 0.], dtype=float32)
"""

from __future__ import annotations

import numpy as np

__all__ = ["POOLINGS", "SILENCE_CLASS", "DEFAULT_SILENCE_GAMMA", "silence_gated_pool",
           "silence_class_index"]

#: Clip poolings :func:`zsaudio.embeddings.extract.embed_files` knows.
POOLINGS = ("mean", "silence-gated")
#: The display name of the silence class in AudioSet-trained encoders (YAMNet output 494).
SILENCE_CLASS = "Silence"
#: Exponent of the gate, fixed a priori (1: the gate is the non-silence probability itself).
DEFAULT_SILENCE_GAMMA = 1.0


def silence_class_index(class_names: list[str] | None) -> int | None:
    """Output index of the encoder's silence class, or None (no classifier or no such class).

    >>> silence_class_index(["Speech", "Silence"]), silence_class_index(None)
    (1, None)
    """
    if not class_names or SILENCE_CLASS not in class_names:
        return None
    return class_names.index(SILENCE_CLASS)


def silence_gated_pool(patch_embeddings: np.ndarray, patch_scores: np.ndarray | None,
                       silence_index: int | None, gamma: float = DEFAULT_SILENCE_GAMMA
                       ) -> np.ndarray:
    """One clip's silence-gated, power-normalised embedding.

    Parameters
    ----------
    patch_embeddings : np.ndarray, shape (p, D)
        The clip's per-patch embeddings (YAMNet: 0.96 s patches, hop 0.48 s).
    patch_scores : np.ndarray, shape (p, K), or None
        The per-patch class scores (probabilities in [0, 1]).
    silence_index : int or None
        Column of the silence class in ``patch_scores``; None (or no scores): a plain mean.
    gamma : float, default :data:`DEFAULT_SILENCE_GAMMA`
        Exponent of the gate (>= 0; 0 is the plain mean).

    Returns
    -------
    np.ndarray, shape (D,), float32
        ``l2_normalise(sign(e) * sqrt(|e|))`` of the gated mean e; when every patch is silence
        (all weights ~0) the plain mean is used instead.
    """
    if not (np.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be >= 0, got {gamma!r}")
    emb = np.asarray(patch_embeddings, np.float64)
    weights = np.ones(emb.shape[0])
    if silence_index is not None and patch_scores is not None:
        silence = np.clip(np.asarray(patch_scores, np.float64)[:, silence_index], 0.0, 1.0)
        weights = (1.0 - silence) ** gamma
        if weights.sum() <= 1e-8:  # a silent clip: nothing to gate towards
            weights = np.ones(emb.shape[0])
    pooled = weights @ emb / weights.sum()
    pooled = np.sign(pooled) * np.sqrt(np.abs(pooled))
    norm = np.linalg.norm(pooled)
    return (pooled / norm if norm > 0 else pooled).astype(np.float32)
