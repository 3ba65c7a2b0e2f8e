"""Throughput of ``zsaudio.cluster.embed_on_ray`` on a local Ray cluster vs local ``embed_files``.

Same ESC-50 clips (spread over the folder: Ogg and FLAC, 44.1 and 48 kHz), YAMNet, in one run:

- local ``embed_files`` (what ``zsaudio embed`` runs), cold (fresh cache folder), with 1 and 2
  decoding/embedding processes;
- a local Ray cluster of two nodes with 1 CPU each (head + second node, 127.0.0.1 only), with a
  pool of 1 and of 2 actors (``workers=1`` / ``workers=2``), each into a fresh output folder;
  wall time of the whole job (listing, actor start and YAMNet load, writing shards) and the
  steady rate between the first and the last shard written (actor start-up excluded);
- in-process split of one clip's time into decoding (``load_audio``) and model
  (``embed_waveform``), the clips' sizes and durations;
- an estimate on paper, from the measured per-core rate, of 2 million 10-second clips on 100
  nodes of 16 cores (written into the JSON and the README).

    python benchmarks/bench_cluster.py [--clips 200] [--out benchmarks/results/bench_cluster.json]

The machine is a shared 2-core one: the driver, the two raylets and the actors share its two
cores, and the load average at the start is recorded.
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray: 127.0.0.1 only
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from bench_embed import clip_paths  # noqa: E402
from machine import machine_facts  # noqa: E402

CLIPS_2M = 2_000_000
CLIP_SECONDS_2M = 10.0
NODES, CORES_PER_NODE = 100, 16
NODE = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 80 * 2**20}


def local_runs(paths: list[str]) -> tuple[dict, np.ndarray]:
    from zsaudio.embeddings.extract import embed_files

    out, emb = {}, None
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as cache:
            t0 = time.perf_counter()
            res = embed_files(paths, cache_dir=cache, workers=workers, progress=False)
            seconds = time.perf_counter() - t0
        out[f"workers_{workers}"] = {"seconds": seconds, "clips_per_s": len(paths) / seconds,
                                     "ok": int(res.ok.sum())}
        emb = res.embeddings
        print(f"local embed_files, {workers} worker(s): {seconds:.1f} s", flush=True)
    return out, emb


def cluster_runs(paths: list[str], local_emb: np.ndarray, batch_size: int) -> dict:
    import ray
    from ray.cluster_utils import Cluster

    from zsaudio.cluster import embed_on_ray, read_results

    out = {}
    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    try:
        cluster.add_node(**NODE)
        ray.init(address=cluster.address, logging_level="WARNING")
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as folder:
                summary = embed_on_ray(paths, folder, workers=workers, batch_size=batch_size,
                                       progress=False)
                shards = sorted(Path(folder).glob("results/part-*.parquet"), key=lambda p: p.stat().st_mtime)
                times = [p.stat().st_mtime for p in shards]
                table = read_results(folder)
                rows = {p: i for i, p in enumerate(table.column("path").to_pylist())}
                emb = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
                same = bool(np.array_equal(emb[[rows[p] for p in paths]], local_emb))
                first_rows = batch_size * workers  # the first shard of each actor: start-up
                steady = (len(paths) - first_rows) / max(times[-1] - times[workers - 1], 1e-9)
                bytes_per_row = sum(p.stat().st_size for p in shards) / table.num_rows
            out[f"cpus_{workers}"] = {
                "workers": summary.workers, "seconds": summary.seconds,
                "clips_per_s": len(paths) / summary.seconds, "steady_clips_per_s": steady,
                "ok": summary.n_written, "failures": len(summary.failures),
                "embeddings_bit_equal_to_local": same, "shard_bytes_per_row": bytes_per_row,
            }
            print(f"ray, {workers} worker(s): {summary.seconds:.1f} s, steady {steady:.1f} clips/s, "
                  f"bit-equal to local: {same}", flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
    return out


def split_decode_model(paths: list[str]) -> dict:
    from zsaudio.audio.io import load_audio
    from zsaudio.embeddings import get_audio_encoder

    enc = get_audio_encoder("yamnet")
    enc.embed_waveform(load_audio(paths[0]))  # model loaded before timing
    decode = model = 0.0
    seconds_audio, sizes = [], []
    for path in paths:
        t0 = time.perf_counter()
        wave = load_audio(path)
        t1 = time.perf_counter()
        enc.embed_waveform(wave)
        t2 = time.perf_counter()
        decode, model = decode + t1 - t0, model + t2 - t1
        seconds_audio.append(len(wave) / 16000)
        sizes.append(os.path.getsize(path))
    n = len(paths)
    return {"clips": n, "decode_s_per_clip": decode / n, "model_s_per_clip": model / n,
            "decode_fraction": decode / (decode + model), "audio_s_per_clip": float(np.mean(seconds_audio)),
            "file_bytes_per_clip": float(np.mean(sizes)),
            "file_bytes_per_audio_s": float(np.sum(sizes) / np.sum(seconds_audio))}


def estimate(cluster: dict, split: dict) -> dict:
    """2 million 10-s clips on 100 x 16 cores, from the measured rate of one actor on one core."""
    from zsaudio.cluster.jobs import DEFAULT_BATCH_SIZE

    # Two measures of one core's rate on this shared machine (they differ with the load of the
    # moment): one actor's steady rate on the cluster, and decode + model timed in-process. The
    # estimate takes the slower.
    rates = {"ray_one_actor_steady": cluster["cpus_1"]["steady_clips_per_s"],
             "in_process_decode_plus_model": 1 / (split["decode_s_per_clip"] + split["model_s_per_clip"])}
    per_core_clips = min(rates.values())
    audio_s_per_core_s = per_core_clips * split["audio_s_per_clip"]  # real-time factor per core
    cores = NODES * CORES_PER_NODE
    total_audio_s = CLIPS_2M * CLIP_SECONDS_2M
    wall_s = total_audio_s / (audio_s_per_core_s * cores)
    rate = CLIPS_2M / wall_s
    wav_bytes_per_audio_s = 44100 * 2  # 16-bit mono 44.1 kHz WAV
    return {
        "clips": CLIPS_2M, "clip_seconds": CLIP_SECONDS_2M, "nodes": NODES, "cores_per_node": CORES_PER_NODE,
        "per_core_clips_per_s_measured": rates, "per_core_clips_per_s_used": per_core_clips,
        "per_core_audio_s_per_s": audio_s_per_core_s,
        "per_core_10s_clips_per_s": audio_s_per_core_s / CLIP_SECONDS_2M,
        "cluster_clips_per_s": rate, "wall_s": wall_s, "wall_min": wall_s / 60,
        "read_MB_per_s_compressed_like_esc50": rate * CLIP_SECONDS_2M * split["file_bytes_per_audio_s"] / 1e6,
        "read_MB_per_s_wav_16bit_44k1_mono": rate * CLIP_SECONDS_2M * wav_bytes_per_audio_s / 1e6,
        "decode_fraction": split["decode_fraction"],
        "shards": CLIPS_2M / DEFAULT_BATCH_SIZE,
        "output_GB": CLIPS_2M * cluster["cpus_1"]["shard_bytes_per_row"] / 1e9,
        "wall_min_at_the_faster_rate": CLIPS_2M * CLIP_SECONDS_2M
        / (max(rates.values()) * split["audio_s_per_clip"] * cores) / 60,
        "assumptions": "rate scales with audio duration (decode and YAMNet patches are linear in it); "
                       "cluster cores as fast as this machine's; one actor per core; actor start-up "
                       "(seconds) and listing ignored",
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_cluster.json")
    args = parser.parse_args(argv)
    facts = machine_facts()
    paths = clip_paths(args.clips)
    local, local_emb = local_runs(paths)
    cluster = cluster_runs(paths, local_emb, args.batch_size)
    split = split_decode_model(paths[:50])
    result = {
        "machine": facts, "clips": len(paths), "encoder": "yamnet", "batch_size": args.batch_size,
        "local_embed_files": local, "ray_local_cluster": cluster, "decode_vs_model": split,
        "ratios": {
            "ray_1cpu_vs_local_1worker": local["workers_1"]["seconds"] / cluster["cpus_1"]["seconds"],
            "ray_2cpu_vs_local_2workers": local["workers_2"]["seconds"] / cluster["cpus_2"]["seconds"],
            "ray_2cpu_vs_ray_1cpu": cluster["cpus_1"]["seconds"] / cluster["cpus_2"]["seconds"],
            "ray_steady_2cpu_vs_1cpu": cluster["cpus_2"]["steady_clips_per_s"]
            / cluster["cpus_1"]["steady_clips_per_s"],
        },
        "estimate_2M_clips_10s_100_nodes_16_cores": estimate(cluster, split),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    shown = ("ratios", "estimate_2M_clips_10s_100_nodes_16_cores")
    print(json.dumps({k: result[k] for k in shown}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
