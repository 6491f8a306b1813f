"""Similar-image search: precision@10 of encoder codes vs PCA codes vs raw pixels, and FAISS index speed.

Part 1 (`--part quality`): for MNIST and Fashion-MNIST, `--queries` test images (the first ones
of the 10,000) are queried against the 55,000-image training split; precision@10 = the share of
the 10 exact L2 nearest neighbours with the query's label, averaged over queries. Compared:
codes of an MLP autoencoder 784-512-256-code (ReLU, linear code, sigmoid output, MSE, Adam 1e-3,
batch 256, `--epochs` epochs, no early stopping), PCA codes of the same size (fitted on the
training split), and the raw 784 pixels, at code sizes 2, 8 and 32.

Part 2 (`--part speed`): `--n` random codes of size 32 (standard normal) in flat (exact), IVF
(nlist = √N; nprobe 16 and 64) and HNSW (M 32, efSearch 64) indexes (aekit.ImageIndex): build time,
single-query latency (median and p99 over `--latency-queries` queries of one code, k = 10) and
recall@10 of the approximate indexes against the exact one. FAISS runs with `--threads` threads.

    .venv/bin/python benchmarks/search.py --epochs 2 --threads 1 --json benchmarks/out/search.json
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from aekit.data import load
from aekit.estimators import AutoEncoder
from aekit.models.pca import fit_pca
from aekit.metrics import knn_precision
from aekit.tasks.search import ImageIndex

ROOT = Path(__file__).resolve().parents[1]
NPROBES = (16, 64)  # IVF lists searched per query


from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)


def quality(args, result: dict) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    for name in args.datasets.split(","):
        train = load(name, split="train", data_dir=args.data_dir)
        test = load(name, split="test", data_dir=args.data_dir)
        Xtr, Xq = train.flat(), test.flat()[: args.queries]
        yq = test.y[: args.queries]
        rows = result.setdefault("quality", {}).setdefault(name, {})
        t0 = time.perf_counter()
        rows["raw pixels (784)"] = knn_precision(Xtr, train.y, Xq, yq, k=10)
        print(f"{name}: raw pixels precision@10 {rows['raw pixels (784)']:.4f} ({time.perf_counter() - t0:.1f} s)")
        for d in sizes:
            pca = fit_pca(Xtr, d)
            rows[f"PCA-{d}"] = knn_precision(pca.transform(Xtr), train.y, pca.transform(Xq), yq, k=10)
            t0 = time.perf_counter()
            ae = AutoEncoder(hidden=(512, 256), latent_dim=d, epochs=args.epochs, batch_size=256, lr=1e-3,
                             validation_fraction=0, early_stopping=False, random_state=args.seed,
                             verbose=args.verbose).fit(Xtr)
            seconds = time.perf_counter() - t0
            rows[f"AE-{d}"] = knn_precision(ae.transform(Xtr), train.y, ae.transform(Xq), yq, k=10)
            rows[f"AE-{d} train seconds"] = seconds
            print(f"{name} code {d}: PCA {rows[f'PCA-{d}']:.4f}  AE {rows[f'AE-{d}']:.4f}  "
                  f"(AE {args.epochs} epochs in {seconds:.0f} s)", flush=True)
            save(args, result)
    print()
    print(f"precision@10 by label, {args.queries} test queries vs the 55,000 training images")
    header = f"{'data':14s} {'code':>5s} {'AE':>8s} {'PCA':>8s} {'raw 784':>8s}"
    print(header)
    for name, rows in result["quality"].items():
        for d in sizes:
            print(f"{name:14s} {d:5d} {rows[f'AE-{d}']:8.4f} {rows[f'PCA-{d}']:8.4f} {rows['raw pixels (784)']:8.4f}")


def speed(args, result: dict) -> None:
    import faiss

    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    codes = rng.standard_normal((args.n, 32), dtype=np.float32)
    queries = rng.standard_normal((args.latency_queries, 32), dtype=np.float32)
    out = result.setdefault("speed", {"n": args.n, "code_size": 32, "threads": args.threads, "k": 10})
    exact_ids = None
    for kind in ("flat", "ivf", "hnsw"):
        t0, c0 = time.perf_counter(), time.process_time()
        index = ImageIndex.from_codes(codes, kind=kind, nprobe=16, hnsw_m=32, ef_search=64)
        build, build_cpu = time.perf_counter() - t0, time.process_time() - c0
        for nprobe in (NPROBES if kind == "ivf" else (None,)):
            lat = np.empty(len(queries))
            for i in range(len(queries)):
                t1 = time.perf_counter()
                index.search_positions(queries[i : i + 1], 10, nprobe=nprobe)
                lat[i] = time.perf_counter() - t1
            _, ids = index.search_positions(queries, 10, nprobe=nprobe)
            # CPU seconds beside wall seconds: on a shared machine the wall time of a build grows with the load
            row = {"build_seconds": build, "build_cpu_seconds": build_cpu, "latency_ms_median": float(np.median(lat) * 1e3),
                   "latency_ms_p99": float(np.percentile(lat, 99) * 1e3)}
            name = kind
            if kind == "flat":
                exact_ids = ids
            else:
                row["recall_at_10"] = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ids, exact_ids)]))
            if kind == "ivf":
                row.update(nlist=index.nlist, nprobe=nprobe)
                name = f"ivf nprobe={nprobe}"
            if kind == "hnsw":
                row.update(M=32, efSearch=64)
            out[name] = row
            print(f"{name}: built in {build:.1f} s ({build_cpu:.1f} CPU s); latency median {row['latency_ms_median']:.3f} ms, "
                  f"p99 {row['latency_ms_p99']:.3f} ms"
                  + (f", recall@10 {row['recall_at_10']:.3f}" if kind != "flat" else ""), flush=True)
            save(args, result)
        del index
    print()
    print(f"{args.n:,} random codes of size 32, k=10, {args.latency_queries} single queries, {args.threads} FAISS thread(s)")
    print(f"{'index':15s} {'build s':>8s} {'CPU s':>8s} {'median ms':>10s} {'p99 ms':>8s} {'recall@10':>10s}")
    for kind in ["flat", *(f"ivf nprobe={p}" for p in NPROBES), "hnsw"]:
        r = out[kind]
        rec = f"{r['recall_at_10']:.3f}" if "recall_at_10" in r else "exact"
        print(f"{kind:15s} {r['build_seconds']:8.1f} {r['build_cpu_seconds']:8.1f} {r['latency_ms_median']:10.3f} {r['latency_ms_p99']:8.3f} {rec:>10s}")


def save(args, result: dict) -> None:
    if args.json is not None:
        write_json(args.json, result)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", default="quality,speed")
    p.add_argument("--datasets", default="mnist,fashion-mnist")
    p.add_argument("--sizes", default="2,8,32")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--latency-queries", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1, help="torch threads (AE training) and FAISS threads (part 2)")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=0)
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "search.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)  # the trainer keeps this for models this size
    result = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}}
    parts = args.part.split(",")
    if "quality" in parts:
        quality(args, result)
    if "speed" in parts:
        speed(args, result)
    result["machine"]["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    save(args, result)
    print(f"json → {args.json}")


if __name__ == "__main__":
    main()
