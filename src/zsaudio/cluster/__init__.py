"""Embed and classify large collections on a Ray cluster (``pip install "zsaudio[cluster]"``).

:func:`~zsaudio.cluster.jobs.embed_on_ray` and :func:`~zsaudio.cluster.jobs.classify_on_ray`
run the same per-file code as :func:`zsaudio.embeddings.extract.embed_files` and
:meth:`zsaudio.classifier.ZeroShotClassifier.classify` (``load_audio`` then the encoder's
``embed_waveform``; the classifier's ``score_features``) in a pool of Ray Data actors that each
load the audio encoder (and the model) once. Results land as Parquet shards in an output
folder, named by a hash of their input batch and written atomically, so a retried batch
overwrites its own shard and a rerun skips what is already written
(:func:`~zsaudio.cluster.jobs.read_results` reads them back, one row per file).

Ray is imported only when a job runs: the base install does not need it.

Example
-------
>>> from zsaudio.cluster import embed_on_ray, read_results          # doctest: +SKIP
>>> summary = embed_on_ray(["s3://bucket/sounds/"], "s3://bucket/emb/", address="auto")  # doctest: +SKIP
>>> read_results("s3://bucket/emb/").num_rows                        # doctest: +SKIP
"""

from zsaudio.cluster.inputs import list_inputs
from zsaudio.cluster.jobs import (
    ClusterJobError,
    JobSummary,
    classify_on_ray,
    embed_on_ray,
    read_failures,
    read_results,
    require_ray,
)

__all__ = [
    "ClusterJobError",
    "JobSummary",
    "classify_on_ray",
    "embed_on_ray",
    "list_inputs",
    "read_failures",
    "read_results",
    "require_ray",
]
