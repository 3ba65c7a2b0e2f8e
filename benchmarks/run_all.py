"""Run every benchmark, then write ``benchmarks/results/SUMMARY.md`` from their results.

One command for all the figures of the README: embedding extraction (``bench_embed.py``:
``embed_files`` cold and warm vs the reference pipeline, VGGish random weights and YAMNet),
Algorithm 1 fit time (``bench_fit.py``: vectorised vs the literal loop), ``zsaudio
reproduce`` on cached embeddings (``bench_reproduce.py``), a warm ``classify`` of 200 clips
against the code before issue 13 (``bench_classify.py``), a load test of ``zsaudio serve``
against the in-process Python API (``bench_serve.py``) and embedding on a local Ray cluster
vs ``embed_files`` (``bench_cluster.py``, needs the ``cluster`` extra) and long recordings
streamed vs whole-file (``bench_segments.py``). Each writes its JSON file (with the
machine's CPU count, load average at start and library versions) into ``--results``; the
summary is rebuilt from those files, so ``--summary-only`` rewrites it without rerunning.

Usage::

    python benchmarks/run_all.py                      # everything (tens of minutes on 2 cores)
    python benchmarks/run_all.py --only embed fit     # some of them
    python benchmarks/run_all.py --all-clips          # + YAMNet cold/warm on all ESC-50 clips
    python benchmarks/run_all.py --summary-only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("embed", "fit", "reproduce", "classify", "serve", "cluster", "segments")


def run(name: str, args: argparse.Namespace) -> float:
    """Run ``bench_<name>.py`` in its own process (output streamed); returns seconds."""
    cmd = [sys.executable, str(HERE / f"bench_{name}.py"), "--out",
           str(args.results / f"bench_{name}.json")]  # fmt: skip
    if name == "embed":
        cmd += ["--clips", str(args.clips)] + (["--all-clips"] if args.all_clips else [])
    if name == "classify":
        cmd += ["--baseline", args.classify_baseline]
    if name == "segments":
        cmd += ["--minutes", str(args.segments_minutes)]
    if name == "reproduce":
        cmd += ["--configs", *args.reproduce_configs, "--timeout", str(args.reproduce_timeout)]
        if args.reproduce_baseline:
            cmd += ["--baseline", args.reproduce_baseline, "--baseline-configs",
                    *args.reproduce_baseline_configs]
    print(f"\n=== {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _machine_line(m) -> str:
    if not isinstance(m, dict):
        return f"machine: {m} (recorded before machine facts were)"
    return (f"{m.get('date_utc', '?')}, {m.get('cpus_usable', m.get('cpus'))} CPUs, load average "
            f"at start {m.get('load_average_at_start')}, torch {m.get('torch', '?')}, numpy "
            f"{m.get('numpy')}, commit {m.get('git_commit', '?')}")  # fmt: skip


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def summary(results: Path) -> str:
    """The Markdown summary of the JSON results in ``results``."""
    md = ["# Benchmark results", "",
          "Written by `python benchmarks/run_all.py` from the JSON files in this folder (each "
          "benchmark's own command is in its docstring). Machine: the shared 2-core development "
          "machine unless stated; the load average at the start of each benchmark is given "
          "because other work ran beside it.", ""]  # fmt: skip

    embed = _load(results / "bench_embed.json")
    if embed:
        md += ["## Embedding extraction (`bench_embed.py`)", "", _machine_line(embed.get("machine")),
               "", "Seconds for the whole batch (clips per second); `warm` reads the pack the "
               "cold run wrote, `warm (entries)` one per-clip file per clip (packs deleted).",
               ""]  # fmt: skip
        rows = []
        for key, r in embed.items():
            if not isinstance(r, dict) or "cold" not in r:
                continue

            def cell(k, r=r):
                return f"{r[k]['seconds']:.2f} ({r[k]['clips_per_s']:.0f}/s)" if k in r else "—"

            ref = r.get("speedup_cold_vs_reference")
            rows.append([key, r.get("clips", embed.get("clips")), cell("reference"), cell("cold"),
                         cell("warm"), cell("warm_entries"),
                         f"{ref:.2f}×" if ref else "—", f"{r['speedup_warm_vs_cold']:.0f}×",
                         f"{r['speedup_warm_entries_vs_cold']:.0f}×"
                         if "speedup_warm_entries_vs_cold" in r else "—"])  # fmt: skip
        md += _table(["encoder", "clips", "reference s", "cold s", "warm s", "warm (entries) s",
                      "cold vs reference", "warm vs cold", "warm (entries) vs cold"], rows)  # fmt: skip
        md += ["", "Targets (issue 2): cold ≥ 3× the reference for VGGish; warm ≥ 50× faster "
               "than cold.", ""]  # fmt: skip

    fit = _load(results / "bench_fit.json")
    if fit:
        v = fit["vectorised_vs_literal"]
        md += ["## Algorithm 1 fit time (`bench_fit.py`)", "", _machine_line(fit.get("machine")),
               "", f"ESC-50-sized synthetic data ({fit['data']['n_train']} × {fit['data']['D']} "
               f"audio, {fit['data']['C']} classes × {fit['data']['d']}), {v['epochs']} epoch(s): "
               f"literal loop {v['literal_s']:.2f} s, vectorised {v['vectorised_s']:.3f} s, "
               f"**{v['ratio']:.0f}×** (target ≥ 20×); max |ΔW| {v['max_abs_W_diff']:.1e}.", "",
               "Full fits (default hyper-parameters):", ""]  # fmt: skip
        md += _table(["method", "fit s", "CPU s", "unseen top-1"],
                     [[k, f"{f['fit_s']:.3f}", f"{f['cpu_s']:.3f}", f"{f['unseen_top1']:.3f}"]
                      for k, f in fit.get("fits", {}).items()])  # fmt: skip
        md.append("")
        k = fit.get("kernel_throughput")
        if k:
            md += [f"Algorithm 1's loop as the reports run it ({k.get('dtype', 'float64')}, no "
                   f"risk tracking), one thread, {k['epochs']} epochs of n = {k['n']}, "
                   f"D = {k['D']}, C = {k['C']}: {k['loop_s']:.3f} s. The n·D·C multiply-adds "
                   "per epoch it cannot skip (score every sample; the updates add up to n·D·C "
                   "more, fewer as the losses vanish, and the block Gram matrices n·b·D/2) take "
                   f"{k['floor_s']:.3f} s at the speed of the product X @ M on this core "
                   f"({k['gemm_gmacs_per_s']:.1f} GMAC/s): that floor is "
                   f"**{k['floor_fraction']:.0%}** of the loop's time.", ""]  # fmt: skip

    rep = _load(results / "bench_reproduce.json")
    if rep:
        md += ["## `zsaudio reproduce` on cached embeddings (`bench_reproduce.py`)", "",
               _machine_line(rep.get("machine")), "",
               f"Embedding cache brought up to date first: {rep['cache_prepare']['ok']} clips in "
               f"{rep['cache_prepare']['seconds']:.1f} s. Each configuration in a fresh process "
               "(imports and label-encoder loading included); MiniLM label embeddings, YAMNet "
               "audio embeddings.", ""]  # fmt: skip
        base = rep.get("baseline", {})
        rows = []
        for name, r in rep.get("configs", {}).items():
            c = r["configuration"]
            what = (f"methods {c.get('methods') or 'all default'}, settings "
                    f"{c.get('settings', [1, 2, 3, 4])}, GZSL {c.get('gzsl', True)}, 50-way "
                    f"{c.get('fifty_way', True)}, seeds {c.get('seeds')}")  # fmt: skip
            runs = [(name, r)]
            if name in base.get("configs", {}):
                runs.insert(0, (f"{name} at {base['commit'][:7]} (baseline)", base["configs"][name]))
            target = rep.get("targets_s", {}).get(name)
            for label, x in runs:
                if x["finished"]:
                    t = x["seconds_total"]
                    ratio = x.get("baseline_over_current")
                    met = "—" if target is None else f"< {target:.0f} s: {'yes' if t < target else 'no'}"
                    rows.append([label, what, f"{t:.1f}", f"{x['seconds_imports']:.1f}",
                                 x.get("load_average_at_start", "—"), f"{ratio:.2f}×" if ratio else "—", met])
                else:
                    rows.append([label, what, f"not finished in {x['timeout_s']:.0f} s (stopped)",
                                 "—", x.get("load_average_at_start", "—"), "—", "no"])
        md += _table(["configuration", "what runs", "wall s", "of which imports s",
                      "load average at start", "baseline / current", "target"], rows)
        md.append("")

    cls = _load(results / "bench_classify.json")
    if cls:
        b, c = cls["baseline"], cls["current"]
        md += ["## Warm `classify` (`bench_classify.py`)", "", _machine_line(cls.get("machine")), "",
               f"{cls['what']}; medians of {len(c['runs'])} rounds, baseline commit "
               f"{cls['baseline_commit'][:7]}; same rankings and scores: "
               f"{cls['same_rankings_and_scores']}.", ""]
        key = "seconds_load_and_classify_min_in_process"
        md += _table(["version", "process s (imports, load, classify)", "classify call s",
                      "load + classify, warm process, min of 5 s"],
                     [["baseline", f"{b['seconds_total']:.2f}", f"{b['seconds_classify']:.2f}",
                       f"{b[key]:.3f}"],
                      ["current", f"{c['seconds_total']:.2f}", f"{c['seconds_classify']:.2f}",
                       f"{c[key]:.3f}"],
                      ["baseline / current", f"{cls['baseline_over_current_seconds_total']:.2f}×",
                       f"{cls['baseline_over_current_seconds_classify']:.2f}×",
                       f"{cls['baseline_over_current_' + key]:.2f}×"]])
        md.append("")
    serve = _load(results / "bench_serve.json")
    if serve:
        s, loc = serve["server"], serve["in_process"]
        md += ["## `zsaudio serve` under load (`bench_serve.py`)", "",
               _machine_line(serve.get("machine")) + f"; load average at the end "
               f"{serve.get('load_average_at_end')}", "",
               f"{serve['clips']}, {len(serve['labels'])} candidate labels, model: {serve['model']}. "
               f"Server on 127.0.0.1 in its own process, {serve['concurrency']} concurrent clients; "
               f"reference: {loc['what']}.", ""]  # fmt: skip
        md += _table(["", "requests", "errors", "per second", "p50 ms", "p95 ms"], [
            ["server (HTTP)", serve["requests"], s["errors"], f"{s['requests_per_s']:.2f}",
             f"{s['p50_s'] * 1000:.0f}", f"{s['p95_s'] * 1000:.0f}"],
            ["in-process API", serve["requests"], 0, f"{loc['calls_per_s']:.2f}",
             f"{loc['p50_s'] * 1000:.0f}", f"{loc['p95_s'] * 1000:.0f}"]])  # fmt: skip
        md += ["", f"Throughput server / in-process: **{serve['throughput_server_over_in_process']:.2f}×**; "
               f"same ranking as in-process for {serve['same_ranking_as_in_process']} of "
               f"{serve['requests']} clips.", ""]  # fmt: skip
    clu = _load(results / "bench_cluster.json")
    if clu:
        loc, ray_, est = clu["local_embed_files"], clu["ray_local_cluster"], \
            clu["estimate_2M_clips_10s_100_nodes_16_cores"]
        md += ["## Embedding on a local Ray cluster (`bench_cluster.py`)", "",
               _machine_line(clu.get("machine")), "",
               f"{clu['clips']} ESC-50 clips, YAMNet, cold; a Ray cluster of two 1-CPU nodes on this "
               "machine (127.0.0.1); wall time of the whole job (actor start-up included) and the "
               "steady rate between first and last shard.", ""]  # fmt: skip
        rows = [[f"local `embed_files`, {w} worker(s)", f"{loc[f'workers_{w}']['seconds']:.1f}",
                 f"{loc[f'workers_{w}']['clips_per_s']:.1f}", "—", "—"] for w in (1, 2)]
        rows += [[f"Ray, {w} actor(s) on {w} CPU(s)", f"{ray_[f'cpus_{w}']['seconds']:.1f}",
                  f"{ray_[f'cpus_{w}']['clips_per_s']:.1f}", f"{ray_[f'cpus_{w}']['steady_clips_per_s']:.1f}",
                  ray_[f"cpus_{w}"]["embeddings_bit_equal_to_local"]] for w in (1, 2)]
        md += _table(["run", "wall s", "clips/s", "steady clips/s", "bit-equal to local"], rows)
        md += ["", f"Estimate: {est['clips']:,} clips of {est['clip_seconds']:g} s on {est['nodes']} × "
               f"{est['cores_per_node']} cores at the slower measured per-core rate "
               f"({est['per_core_audio_s_per_s']:.0f} s of audio per core-second): "
               f"**{est['wall_min']:.1f} min** ({est['wall_min_at_the_faster_rate']:.1f} min at the "
               "faster one), reading "
               f"{est['read_MB_per_s_compressed_like_esc50']:.0f} MB/s (Ogg/FLAC like ESC-50) or "
               f"{est['read_MB_per_s_wav_16bit_44k1_mono']:.0f} MB/s (16-bit WAV) in all.", ""]  # fmt: skip
    seg = _load(results / "bench_segments.json")
    if seg:
        rec = seg["recording"]
        md += ["## Long recordings (`bench_segments.py`)", "", _machine_line(seg.get("machine")), "",
               f"A {rec['seconds'] / 60:.0f}-minute recording of {rec['clips']} ESC-50 clips "
               f"({rec['format']}, {rec['rate']} Hz), {len(seg['labels'])} labels, "
               f"{seg['window']} s windows every {seg['hop']} s, YAMNet; each variant in a fresh "
               "process (its own peak RSS); seconds exclude imports and model loading.", ""]
        rows = []
        for name, r in seg["variants"].items():
            rows.append([name, f"{r['seconds']:.1f}", f"{r.get('cpu_seconds', float('nan')):.1f}",
                         f"{r['realtime_factor']:.0f}×",
                         f"{r.get('audio_seconds_per_cpu_second', float('nan')):.0f}",
                         f"{r['peak_rss_mib']:.0f}",
                         r["windows"], r.get("load_average_at_start", "—")])
        md += _table(["variant", "wall s", "CPU s", "real-time factor", "audio s per CPU s",
                      "peak RSS MiB", "windows",
                      "load average at start"], rows)
        setup = [r["peak_rss_after_setup_mib"] for r in seg["variants"].values()
                 if "peak_rss_after_setup_mib" in r]
        if setup:
            md += ["", f"Peak RSS after imports and model loading, before the work: "
                   f"{min(setup):.0f}–{max(setup):.0f} MiB (the libraries, the label vectors, YAMNet)."]
        cmp_ = seg.get("streamed_vs_whole_file")
        if cmp_:
            md += ["", f"Streamed vs whole file: max |Δ probability| "
                   f"{cmp_['max_abs_probability_difference']:.1e}, whole-file / streamed time "
                   f"{cmp_['speed_ratio']:.2f}×, peak memory {cmp_['memory_ratio']:.2f}×."]
        md += ["", "Targets (issue 15): streamed ≥ 100× real time with YAMNet on 2 cores; peak "
               "memory < 1 GiB.", ""]
    return "\n".join(md)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--clips", type=int, default=100, help="bench_embed clips (default 100)")
    parser.add_argument("--all-clips", action="store_true",
                        help="bench_embed: also YAMNet on every ESC-50 clip")
    parser.add_argument("--reproduce-configs", nargs="+", default=["default", "paper"])
    parser.add_argument("--reproduce-timeout", type=float, default=1200.0)
    parser.add_argument("--reproduce-baseline", metavar="COMMIT",
                        help="bench_reproduce: also time configurations at this commit")
    parser.add_argument("--reproduce-baseline-configs", nargs="+", default=["default", "paper"])
    parser.add_argument("--classify-baseline", default="c37b1ea",
                        help="bench_classify: the commit to compare with (default c37b1ea)")
    parser.add_argument("--segments-minutes", type=float, default=60.0,
                        help="bench_segments: length of the recording (default one hour)")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.summary_only:
        for name in args.only:
            print(f"bench_{name}: {run(name, args):.0f} s", flush=True)
    out = args.results / "SUMMARY.md"
    out.write_text(summary(args.results))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
