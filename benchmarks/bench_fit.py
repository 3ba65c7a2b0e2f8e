"""Fit time of Algorithm 1: vectorised implementation vs the literal loop, ESC-50-sized data.

Data: synthetic, from a known bilinear model, at the size of ESC-50 Setting 3 with YAMNet
embeddings (1600 training clips x 1024 dims, 40 training classes x 300-d label embeddings,
10 unseen classes). Both implementations run in the same process on the same data, for the
same number of epochs; the ratio is printed and the two W are checked equal. Then full
fits (default hyper-parameters, 20 epochs) of every method are timed, and the unseen-class
accuracy with and without input normalisation is reported.

With ``--features FILE.npz`` (keys ``emb`` (2000, D) and ``targets`` (2000,): ESC-50 clip
embeddings in the order of the official csv, e.g. YAMNet means from ``zsaudio.embeddings``),
the same comparisons also run on real data: 5 random 40/10 class splits, label embeddings
from ``--label-encoder`` (default GloVe), mean unseen-class top-1 accuracy and fit time.

Usage::

    python benchmarks/bench_fit.py                   # writes benchmarks/results/bench_fit.json
    python benchmarks/bench_fit.py --literal-epochs 1 --repeats 3
    python benchmarks/bench_fit.py --features yamnet_esc50.npz --label-encoder glove

Target (issue 4): vectorised >= 20x faster than the literal loop.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np
from machine import machine_facts

from zsaudio.model import BilinearZSL, make_estimator

ROOT = Path(__file__).resolve().parents[1]


def _load_oracle():
    """The literal Algorithm 1 of the tests (one source of truth for the oracle)."""
    spec = importlib.util.spec_from_file_location(
        "test_model_bilinear", ROOT / "tests" / "test_model_bilinear.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.literal_algorithm1


def esc50_like(seed=0, n_train_classes=40, n_test_classes=10, per_class=40, D=1024, d=300):
    """Non-negative, non-centred features x = relu(P φ(y) + offset + noise), like pooled
    YAMNet embeddings; label embeddings with a shared component, like word vectors."""
    rng = np.random.default_rng(seed)
    C = n_train_classes + n_test_classes
    E = rng.normal(size=(C, d)) + 0.5 * rng.normal(size=d)
    P = rng.normal(size=(D, d)) / np.sqrt(d)
    offset = rng.uniform(0.0, 1.0, size=D)

    def draw(classes):
        y = np.repeat(classes, per_class)
        X = np.maximum(E[y] @ P.T + offset + 1.5 * rng.normal(size=(y.size, D)), 0.0)
        return X, y

    Xtr, ytr = draw(np.arange(n_train_classes))
    Xte, yte = draw(np.arange(n_train_classes, C))
    return Xtr, ytr, E[:n_train_classes], Xte, yte - n_train_classes, E[n_train_classes:]


def real_data(features: Path, label_encoder: str) -> list[dict]:
    """Unseen-class accuracy and fit time on ESC-50 features, 5 random 40/10 class splits."""
    from zsaudio.datasets.esc50 import load_esc50
    from zsaudio.labels import get_label_encoder

    with np.load(features, allow_pickle=False) as data:
        X, t = data["emb"].astype(np.float64), data["targets"]
    E = get_label_encoder(label_encoder).encode(load_esc50().class_names).astype(np.float64)
    print(f"ESC-50 features {X.shape}, label embeddings {label_encoder} {E.shape}")
    perm = np.random.default_rng(0).permutation(50)
    configs = [("bilinear", {"normalize": nz, "learning_rate": lr})
               for nz in (True, False) for lr in (0.001, 0.01, 0.1)]
    configs += [(m, {"normalize": nz}) for m in ("eszsl", "sje", "devise") for nz in (True, False)]
    rows = []
    for name, params in configs:
        accs, cpus = [], []
        for k in range(5):
            test = np.sort(perm[10 * k : 10 * k + 10])
            train = np.setdiff1d(np.arange(50), test)
            tr = np.isin(t, train)
            c0 = time.process_time()
            est = make_estimator(name, **params).fit(
                X[tr], np.searchsorted(train, t[tr]), E[train])
            cpus.append(time.process_time() - c0)
            accs.append(est.score(X[~tr], np.searchsorted(test, t[~tr]), E[test]))
        row = {"method": name, **params, "unseen_top1_mean": float(np.mean(accs)),
               "unseen_top1_std": float(np.std(accs)), "fit_cpu_s": float(np.mean(cpus))}
        print(f"  {name:8s} {params}: top-1 {row['unseen_top1_mean']:.3f} "
              f"± {row['unseen_top1_std']:.3f}, fit cpu {row['fit_cpu_s']:.2f} s")
        rows.append(row)
    return rows


def kernel_throughput(X: np.ndarray, y: np.ndarray, E: np.ndarray, epochs: int = 5) -> dict:
    """Algorithm 1's loop as the reports run it (float32, no risk tracking) against a matrix
    product of the same shapes, one BLAS thread.

    Every epoch scores each sample against the C training classes: n D C multiply-adds that no
    blocking or compilation removes (the updates of M = W Φᵀ (D, C) add up to n D C more,
    fewer as the losses vanish, and the block Gram matrices n·b·D/2). ``floor_fraction`` is
    the time those n D C would take at this core's float32 speed for the product X @ M
    (n, D) x (D, C), divided by the loop's measured time.
    """
    from threadpoolctl import threadpool_limits

    from zsaudio.model.ranking_sgd import ranking_sgd

    est = BilinearZSL(epochs=epochs)
    Xn, En = est._prepare_fit(np.asarray(X, np.float64), np.asarray(E, np.float64))
    n, D = Xn.shape
    C = En.shape[0]
    X32 = Xn.astype(np.float32)
    M = np.random.default_rng(0).normal(size=(D, C)).astype(np.float32)
    with threadpool_limits(1):
        t_loop, _ = _time(lambda: ranking_sgd(Xn, y, En, learning_rate=est.learning_rate,
                                              epochs=epochs, seed=0, dtype="float32",
                                              track_risk=False), 3)
        t_gemm, _ = _time(lambda: [X32 @ M for _ in range(10)], 3)
    gemm_macs_per_s = 10 * n * D * C / t_gemm
    floor_s = n * D * C * epochs / gemm_macs_per_s
    out = {"n": n, "D": D, "C": C, "epochs": epochs, "dtype": "float32", "loop_s": t_loop,
           "gemm_gmacs_per_s": gemm_macs_per_s / 1e9, "floor_s": floor_s,
           "floor_fraction": floor_s / t_loop}
    print(f"kernel: {epochs} epochs {t_loop:.3f} s; its nDC scoring multiply-adds at the product's "
          f"{out['gemm_gmacs_per_s']:.1f} GMAC/s: {floor_s:.3f} s ({out['floor_fraction']:.0%})")
    return out


def _time(fn, repeats):
    """Best wall time of ``repeats`` calls (and the CPU time of that call), last result."""
    best, best_cpu = np.inf, np.inf
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if wall < best:
            best, best_cpu = wall, cpu
    _time.last_cpu = best_cpu
    return best, out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--literal-epochs", type=int, default=1,
                        help="epochs for the vectorised-vs-literal comparison (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N for the fast fits")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/bench_fit.json")
    parser.add_argument("--features", type=Path, default=None,
                        help="npz with ESC-50 'emb' and 'targets' for the real-data section")
    parser.add_argument("--label-encoder", default="glove")
    args = parser.parse_args(argv)

    Xtr, ytr, Etr, Xte, yte, Ete = esc50_like()
    print(f"data: train {Xtr.shape} x classes {Etr.shape}, unseen {Xte.shape} x {Ete.shape}")
    results = {
        "machine": machine_facts(),
        "data": {"n_train": len(Xtr), "D": Xtr.shape[1], "C": len(Etr), "d": Etr.shape[1],
                 "n_unseen_classes": len(Ete)},
    }

    # 1. Vectorised vs literal Algorithm 1, same data, same epochs, same process.
    m = args.literal_epochs
    est = BilinearZSL(epochs=m)
    t_fast, est = _time(lambda: BilinearZSL(epochs=m).fit(Xtr, ytr, Etr), args.repeats)
    Xn = est._transform(Xtr, Etr)
    literal = _load_oracle()
    t0 = time.perf_counter()
    W_lit, _ = literal(Xn[0], ytr, Xn[1], est.learning_rate, m, est.seed)
    t_lit = time.perf_counter() - t0
    max_diff = float(np.abs(W_lit - est.W_).max())
    ratio = t_lit / t_fast
    print(f"Algorithm 1, {m} epoch(s): literal {t_lit:.2f} s, vectorised {t_fast:.3f} s, "
          f"ratio {ratio:.0f}x (target >= 20x), max |W diff| {max_diff:.1e}")
    results["vectorised_vs_literal"] = {
        "epochs": m, "literal_s": t_lit, "vectorised_s": t_fast, "ratio": ratio,
        "max_abs_W_diff": max_diff,
    }

    # 2. Full fits (20 epochs, default hyper-parameters), and unseen-class accuracy.
    chance = 1 / len(Ete)
    results["fits"] = {}
    for name in ("bilinear", "bilinear-torch", "devise", "eszsl", "sje"):
        params = {"batch_size": 64} if name == "bilinear-torch" else {}
        t, fitted = _time(lambda n=name, p=params: make_estimator(n, **p).fit(Xtr, ytr, Etr),
                          args.repeats if name != "bilinear-torch" else 1)
        acc = fitted.score(Xte, yte, Ete)
        cpu = _time.last_cpu
        print(f"{name:15s} fit {t:6.3f} s (cpu {cpu:6.3f} s)   unseen top-1 {acc:.3f} "
              f"(chance {chance:.2f})")
        results["fits"][name] = {"fit_s": t, "cpu_s": cpu, "unseen_top1": acc,
                                 "params": fitted.get_params()}

    # 3. Input normalisation on/off, Algorithm 1, a few learning rates.
    results["normalize"] = []
    for lr in (0.001, 0.01, 0.1):
        for normalize in (True, False):
            est = BilinearZSL(learning_rate=lr, normalize=normalize).fit(Xtr, ytr, Etr)
            acc = est.score(Xte, yte, Ete)
            print(f"normalize={normalize!s:5s} lr={lr:<6} unseen top-1 {acc:.3f}, "
                  f"final risk {est.risk_history_[-1]:.3f}")
            results["normalize"].append({"normalize": normalize, "learning_rate": lr,
                                         "unseen_top1": acc,
                                         "final_risk": float(est.risk_history_[-1])})

    # 4. How close the SGD loop is to the arithmetic it cannot avoid (one thread).
    results["kernel_throughput"] = kernel_throughput(Xtr, ytr, Etr)

    if args.features is not None:
        results["esc50"] = real_data(args.features, args.label_encoder)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
