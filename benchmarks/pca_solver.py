"""PCA baseline solvers on 30,000 × 784 MNIST: covariance_eigh vs the full SVD (issue 13, item 4).

`aekit.models.pca.fit_pca` picks scikit-learn's ``covariance_eigh`` solver where samples far
outnumber features (n ≥ 10·d and d ≤ 1000), on the data centred in float64; else the full SVD.
This script fits PCA-k on the first --samples MNIST training images (float32 in [0, 1], as
aekit loads them) with each route, interleaved --repeat times in one process, and reports the
median fit seconds and the test squared error per image (Σ over the 784 pixels, mean over the
10,000 test images: the error of the anchors' table) with its relative difference to the SVD's.
Rows: aekit's default (covariance_eigh), aekit with solver="full" (the SVD, what it used before),
and scikit-learn's covariance_eigh on the float32 data as it stands, for reference.

    .venv/bin/python benchmarks/pca_solver.py --json benchmarks/out/pca_solver.json
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)


def images(path: Path, n: int | None) -> np.ndarray:
    from aekit.data.idx import read_idx

    X = read_idx(path)
    X = X[:n] if n else X
    return (X.reshape(len(X), -1).astype(np.float32) * np.float32(1 / 255)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=30_000)
    ap.add_argument("--components", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--json", default="benchmarks/out/pca_solver.json")
    args = ap.parse_args()
    from sklearn.decomposition import PCA

    from aekit.models.pca import fit_pca, pca_reconstruct

    mnist = Path(args.data_dir) / "mnist"
    X = images(mnist / "train-images-idx3-ubyte.gz", args.samples)
    T = images(mnist / "t10k-images-idx3-ubyte.gz", None)
    k = args.components
    routes = {
        "aekit fit_pca (covariance_eigh)": lambda: fit_pca(X, k),
        "aekit fit_pca solver=full (SVD)": lambda: fit_pca(X, k, solver="full"),
        "sklearn covariance_eigh, float32 as is": lambda: PCA(k, svd_solver="covariance_eigh").fit(X),
    }
    seconds: dict[str, list[float]] = {name: [] for name in routes}
    errors: dict[str, float] = {}
    for _ in range(args.repeat):  # interleaved: the machine's load falls on each route alike
        for name, fit in routes.items():
            t0 = time.perf_counter()
            pca = fit()
            seconds[name].append(time.perf_counter() - t0)
            R = pca_reconstruct(pca, T).astype(np.float64)
            errors[name] = float(((R - T) ** 2).sum(1).mean())
    svd = errors["aekit fit_pca solver=full (SVD)"]
    rows = [{"route": name, "seconds": statistics.median(s), "all_seconds": s, "test_error": errors[name],
             "relative_to_svd": errors[name] / svd - 1.0} for name, s in seconds.items()]
    print(f"PCA-{k} on {len(X)} × {X.shape[1]} MNIST, median of {args.repeat}; test squared error per image")
    print(f"{'route':<40} {'seconds':>8} {'error':>12} {'rel. to SVD':>12}")
    for r in rows:
        print(f"{r['route']:<40} {r['seconds']:>8.2f} {r['test_error']:>12.6f} {r['relative_to_svd']:>12.1e}")
    write_json(args.json, {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                           "samples": len(X), "features": int(X.shape[1]), "components": k,
                           "repeat": args.repeat, "rows": rows})


if __name__ == "__main__":
    main()
