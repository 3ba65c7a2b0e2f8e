"""Cluster jobs on a real local Ray cluster: a head and a second node, 127.0.0.1 only.

One cluster for the module (1 CPU per node, so 2 actors); 100 ESC-50 clips plus broken files
(empty, not audio, truncated, missing) are embedded and classified and compared with the local
path (``embed_files`` / ``ZeroShotClassifier.classify``); a rerun skips what is written; a
worker process killed mid-run costs a retry, never a lost or duplicated row.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

# conftest.py sets RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before Ray is imported: every address Ray
# resolves for "this machine" is then 127.0.0.1 (otherwise the driver turns 127.0.0.1 into the
# host's outward address, where nothing listens).
ray = pytest.importorskip("ray", reason='needs the cluster extra: pip install -e ".[cluster]"')
from ray._private import ray_constants  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from zsaudio.assets import find_asset  # noqa: E402
from zsaudio.classifier import ZeroShotClassifier  # noqa: E402
from zsaudio.cli.main import main  # noqa: E402
from zsaudio.cluster import (  # noqa: E402
    ClusterJobError,
    classify_on_ray,
    embed_on_ray,
    read_failures,
    read_results,
)
from zsaudio.datasets.labelled import from_esc50  # noqa: E402
from zsaudio.embeddings.extract import embed_files  # noqa: E402

N_CLIPS = 100
NODE = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 80 * 2**20}
LABELS = ["dog barking", "rain", "crying baby", "clock ticking", "rooster", "sea waves",
          "helicopter", "chainsaw", "crackling fire", "sneezing"]
TRAIN = ["cat", "hen", "wind", "thunderstorm", "laughing", "keyboard_typing", "clock_alarm", "siren",
         "train", "cow", "church_bells", "airplane"]


@pytest.fixture(scope="module")
def cluster():
    if ray_constants.ENABLE_RAY_CLUSTER:
        pytest.fail("ray was imported before this module could keep it on 127.0.0.1; "
                    "run with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0")
    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    try:
        c.add_node(**NODE)
        ray.init(address=c.address, logging_level="WARNING")
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    clips = [str(p) for p in sorted(find_asset("esc50/audio").iterdir())[:N_CLIPS]]
    bad = tmp_path_factory.mktemp("broken")
    (bad / "empty.wav").write_bytes(b"")
    (bad / "not_audio.wav").write_bytes(b"this is not a sound file\n" * 40)
    (bad / "truncated.ogg").write_bytes(Path(clips[0]).read_bytes()[:300])
    broken = [str(bad / n) for n in ("empty.wav", "not_audio.wav", "truncated.ogg", "missing.flac")]
    return clips, broken


@pytest.fixture(scope="module")
def local(files, tmp_path_factory):
    clips, broken = files
    return embed_files(clips + broken, cache_dir=tmp_path_factory.mktemp("cache"), workers=1,
                       progress=False)


@pytest.fixture(scope="module")
def embedded(cluster, files, tmp_path_factory):
    out = tmp_path_factory.mktemp("embed-out")
    clips, broken = files
    return out, embed_on_ray(clips + broken, out, batch_size=8, progress=False)


def _rows_on_disk(out: Path) -> list[str]:
    return [p for shard in sorted(out.glob("results/part-*.parquet"))
            for p in pq.read_table(shard, columns=["path"]).column(0).to_pylist()]


def _as_array(table, column: str) -> np.ndarray:
    return np.stack(table.column(column).to_numpy(zero_copy_only=False))


def test_embeddings_equal_the_local_path_and_failures_are_reported(embedded, files, local):
    out, summary = embedded
    clips, broken = files
    assert summary.workers == 2 and summary.n_written == N_CLIPS and summary.n_skipped == 0
    assert set(summary.failures) == set(local.failures) == set(broken)
    assert read_failures(out) == summary.failures
    for path in broken[:2]:  # decoder's own reasons, worded as embed_files words them
        assert summary.failures[path] == local.failures[path]
    assert "no such file" in summary.failures[broken[3]]
    table = read_results(out)
    paths = table.column("path").to_pylist()
    assert paths == sorted(clips) and sorted(_rows_on_disk(out)) == paths  # one row per file
    # Bit-equal: the same load_audio and YAMNet code, one patch per TFLite call either way.
    row = {p: i for i, p in enumerate(local.paths)}
    idx = [row[p] for p in paths]
    assert np.array_equal(_as_array(table, "embedding"), local.embeddings[idx])
    assert np.array_equal(_as_array(table, "scores"), local.scores[idx])


def test_rerun_skips_what_is_written_and_retries_failures(embedded, files, tmp_path):
    out, _ = embedded
    clips, broken = files
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("results/part-*.parquet")}
    again = embed_on_ray(clips + broken, out, batch_size=8, progress=False)
    assert again.n_skipped == N_CLIPS and again.n_written == 0 and set(again.failures) == set(broken)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("results/part-*.parquet")} == before
    with pytest.raises(ClusterJobError, match="another job"):  # other encoder options, same folder
        embed_on_ray(clips, out, encoder_options={"patch_hop_seconds": 0.48}, progress=False)


def _descendants(root: int) -> dict[int, str]:
    """pid -> command line of every process below ``root`` (this test's Ray processes only)."""
    parent, cmd = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmd[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = {}, [root]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier and p not in found]
        found.update({p: cmd.get(p, "") for p in kids})
        frontier = kids
    return found


def test_a_worker_killed_mid_run_costs_a_retry_not_a_row(cluster, files, embedded, tmp_path):
    clips, _ = files
    out = tmp_path / "out"
    killed: list[int] = []
    job_done = threading.Event()

    def kill_one_worker_once_shards_appear() -> None:
        deadline = time.monotonic() + 120  # bounded: gives up rather than outliving the test
        while time.monotonic() < deadline and not killed and not job_done.is_set():
            if any(out.glob("results/part-*.parquet")):
                workers = [p for p, c in _descendants(os.getpid()).items() if "MapBatches(EmbedWorker)" in c]
                if workers:
                    os.kill(workers[0], signal.SIGKILL)
                    killed.append(workers[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker_once_shards_appear, daemon=True)
    killer.start()
    summary = embed_on_ray(clips, out, batch_size=4, progress=False)
    job_done.set()
    killer.join(timeout=5)
    # Killed while the job ran, with both actors busy (each always has batches queued), so the
    # killed one had a batch in flight.
    assert killed, "no worker was killed: the run ended before one could be"
    assert summary.failures == {} and summary.n_written == N_CLIPS
    on_disk = _rows_on_disk(out)
    assert len(on_disk) == len(set(on_disk)) == N_CLIPS  # nothing lost, nothing twice
    reference = read_results(embedded[0])
    assert np.array_equal(_as_array(read_results(out), "embedding"), _as_array(reference, "embedding"))


def test_classification_equals_the_local_path(cluster, files, tmp_path):
    clips, broken = files
    data = from_esc50(classes=TRAIN, max_per_class=4)
    clf = ZeroShotClassifier(label_encoder="glove", cache_dir=tmp_path / "cache", workers=1)
    clf.fit(data.paths, data.labels).save(tmp_path / "model.npz")
    summary = classify_on_ray(clips + broken, tmp_path / "model.npz", LABELS, tmp_path / "out",
                              top_k=3, batch_size=8, progress=False)
    assert set(summary.failures) == set(broken) and summary.n_written == N_CLIPS
    local = {r.path: r for r in clf.classify(clips + broken, LABELS, top_k=3)}
    assert {p for p, r in local.items() if not r.ok} == set(broken)
    table = read_results(tmp_path / "out").to_pylist()
    assert [r["path"] for r in table] == sorted(clips)
    for row in table:
        ranking = local[row["path"]].ranking
        assert row["labels"] == [p.label for p in ranking]
        # The same (bit-equal) features and the same score_features code, but its matrix
        # products run on 8 rows here and 100 there, and BLAS picks kernels, hence summation
        # orders, by shape: equal to float64 round-off (seen: 1 ulp), not bit for bit.
        np.testing.assert_allclose(row["scores"], [p.score for p in ranking], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(row["probabilities"], [p.probability for p in ranking],
                                   rtol=1e-12, atol=1e-12)
    # The command line, on the same cluster: the same rankings (one batch of 5 rows this time).
    assert main(["classify", *clips[:5], "--model", str(tmp_path / "model.npz"), "--labels", *LABELS,
                 "--ray", "--out", str(tmp_path / "cli")]) == 0
    by_path = {r["path"]: r for r in table}
    for row in read_results(tmp_path / "cli").to_pylist():
        assert row["labels"] == by_path[row["path"]]["labels"]
        np.testing.assert_allclose(row["scores"], by_path[row["path"]]["scores"], rtol=1e-12, atol=1e-12)


def test_cli_embed_and_classify_with_ray(cluster, files, tmp_path, capsys):
    clips, broken = files
    code = main(["embed", *clips[:3], broken[0], "--ray", cluster.address, "--out", str(tmp_path / "e"),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "3/4 files embedded with yamnet on Ray" in err and "empty file" in err
    assert read_results(tmp_path / "e").num_rows == 3
    code = main(["classify", clips[0], "--model", "m.npz", "--labels", "dog", "--ray"])
    assert code == 2 and "--ray needs --out" in capsys.readouterr().err
    code = main(["classify", clips[0], "--model", str(tmp_path / "none.npz"), "--labels", "dog",
                 "--ray", "--out", str(tmp_path / "c")])
    assert code == 2 and "model file not found" in capsys.readouterr().err


@pytest.mark.parametrize("n_workers", [1, 2])
def test_a_batch_that_keeps_killing_its_worker_becomes_failures_not_a_crash(cluster, files, tmp_path,
                                                                           n_workers):
    # One worker holding every batch is the case where a dying actor could take innocent batches
    # queued behind the poisoned one down with it; each must then cost only its own files.
    from zsaudio.cluster.jobs import EmbedWorker, _canonical, _run
    from zsaudio.embeddings import get_audio_encoder

    clips, _ = files
    paths = clips[:12]
    poison = paths[5]

    class DiesOnOneFile(EmbedWorker):  # a local class: Ray ships it by value to the workers
        def __call__(self, batch):
            if poison in [str(p) for p in batch["path"]]:
                os._exit(1)  # as a decoder crashing the process would
            return super().__call__(batch)

    config = _canonical(get_audio_encoder("yamnet").config())
    kwargs = {"encoder": "yamnet", "options": {}, "expected_config": config}
    summary = _run("embed", paths, str(tmp_path / "out"), {"kind": "test"}, DiesOnOneFile, kwargs,
                   None, n_workers, 4, 1.0, 1, False)
    lost = paths[4:8]  # the poisoned batch of 4
    assert set(summary.failures) == set(lost) and summary.n_written == 8
    assert all(r.startswith("not processed") for r in summary.failures.values())
    assert read_failures(tmp_path / "out") == summary.failures
    assert read_results(tmp_path / "out").column("path").to_pylist() == sorted(set(paths) - set(lost))


def test_vggish_on_the_cluster_matches_the_local_path_to_float32_round_off(cluster, files, tmp_path):
    clips, _ = files
    paths = clips[:6]
    options = {"weights": "random"}  # seeded: the same network in every process
    summary = embed_on_ray(paths, tmp_path / "out", "vggish", options, batch_size=3, progress=False)
    local = embed_files(paths, "vggish", options, cache_dir=tmp_path / "cache", workers=0, progress=False)
    assert summary.n_written == len(paths) and not summary.failures
    table = read_results(tmp_path / "out")
    row = {p: i for i, p in enumerate(local.paths)}
    ours = _as_array(table, "embedding")
    theirs = local.embeddings[[row[p] for p in table.column("path").to_pylist()]]
    # Locally embed_files batches patches across files and torch uses every core; on the cluster
    # each clip is one batch in a 1-CPU actor: other summation orders, float32 round-off only.
    # (Measured: max |difference| 5.6e-9 for entries up to 0.023, i.e. 2.4e-7 of the scale.)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * float(np.abs(theirs).max()))
