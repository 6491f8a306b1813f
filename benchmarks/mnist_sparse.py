"""MNIST sparse autoencoder (KL penalty, the seeds' / UFLDL's setting) against the plain AE of the same size.

784-200-784 (one layer of sigmoid code units, sigmoid output, MSE loss as in the seeds' squared
error), sparsity "kl:ρ:β" with ρ = 0.05 and β = 3 (aekit divides the penalty by D = 784 because
its reconstruction loss is a mean per value, so β keeps the seeds' meaning). The plain AE is the
same network, sigmoid code units, no penalty, the same epochs, learning rate, batch size and seed.
Both train on the 55,000-image training split (or `--train-size`) with early stopping on the
5,000-image validation split (best weights restored); everything below is on the 10,000-image
test split.

Targets: mean code activation on the test set within 20 % of ρ (in [0.04, 0.06] for ρ = 0.05);
test reconstruction error (MSE per value and squared error summed per image) within 25 % of the
plain AE's (ratio ≤ 1.25).

    .venv/bin/python benchmarks/mnist_sparse.py --epochs 30 --json benchmarks/out/sparse.json
    .venv/bin/python benchmarks/mnist_sparse.py --beta 3,1 --epochs 30     # several β, one plain AE
"""
from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from aekit.data import Dataset, load
from aekit.estimators import AutoEncoder
from aekit.metrics import reconstruction_errors

ROOT = Path(__file__).resolve().parents[1]
ACT_TOL = 0.20
ERR_TOL = 1.25


from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

def subsample(ds: Dataset, n: int | None, seed: int) -> Dataset:
    if n is None or n >= len(ds):
        return ds
    idx = np.sort(np.random.default_rng(seed).permutation(len(ds))[:n])
    return Dataset(ds.X[idx], None if ds.y is None else ds.y[idx], ds.name, ds.value_range)


def measure(est: AutoEncoder, X: np.ndarray) -> dict:
    codes = np.asarray(est.transform(X), dtype=np.float64)
    per_unit = codes.mean(0)
    err = reconstruction_errors(X, est.reconstruct(X))
    return {
        "mean_activation": float(codes.mean()),
        "per_unit_mean_activation": {"min": float(per_unit.min()), "median": float(np.median(per_unit)),
                                     "max": float(per_unit.max())},
        "fraction_codes_above_0.5": float((codes > 0.5).mean()),
        **err,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rho", type=float, default=0.05)
    p.add_argument("--beta", default="3", help="β, or a comma list of β values to try (one plain AE for all)")
    p.add_argument("--code", type=int, default=200, help="number of sigmoid code units")
    p.add_argument("--loss", default="mse", choices=("mse", "bce"))
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--train-size", type=int, default=None, help="subsample of the 55,000 training images (default all)")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="save the run folders here")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--verbose", type=int, default=0)
    args = p.parse_args(argv)
    betas = [float(b) for b in args.beta.split(",") if b.strip()]
    torch.set_flush_denormal(True)

    train = subsample(load("mnist", split="train", data_dir=args.data_dir), args.train_size, args.seed)
    val = load("mnist", split="val", data_dir=args.data_dir)
    test = load("mnist", split="test", data_dir=args.data_dir)
    common = dict(hidden=(), latent_dim=args.code, code_activation="sigmoid", loss=args.loss, epochs=args.epochs,
                  batch_size=args.batch_size, lr=args.lr, patience=args.patience, random_state=args.seed,
                  verbose=args.verbose)
    result = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "train_size": len(train), "models": {}}

    def run(name: str, est: AutoEncoder) -> dict:
        t0 = time.perf_counter()
        est.fit(train.X, X_val=val.X)
        secs = time.perf_counter() - t0
        m = {"sparsity": est.sparsity, "epochs_run": int(est.n_epochs_), "best_epoch": int(est.best_epoch_),
             "train_seconds": round(secs, 1), "test": measure(est, test.X)}
        if args.out is not None:
            est.save(args.out / name, data={"source": "mnist", "data_dir": str(Path(args.data_dir).resolve()), "seed": 0},
                     metrics={"test": m["test"]})
        result["models"][name] = m
        t = m["test"]
        print(f"[{name}] mean activation {t['mean_activation']:.4f}, MSE/value {t['mse_per_value']:.5f}, "
              f"SSE/image {t['sse_per_sample']:.3f}, {m['epochs_run']} epochs (best {m['best_epoch']}), {secs:.0f}s",
              flush=True)
        return m

    plain = run("plain", AutoEncoder(**common))
    rows, cases = [], []
    for beta in betas:
        spec = f"kl:{args.rho:g}:{beta:g}"
        sp = run(f"sparse_beta{beta:g}", AutoEncoder(sparsity=spec, **common))
        act = sp["test"]["mean_activation"]
        ratio_mse = sp["test"]["mse_per_value"] / plain["test"]["mse_per_value"]
        ratio_sse = sp["test"]["sse_per_sample"] / plain["test"]["sse_per_sample"]
        act_ok = abs(act - args.rho) <= ACT_TOL * args.rho + 1e-12
        err_ok = ratio_mse <= ERR_TOL and ratio_sse <= ERR_TOL
        cases.append({"sparsity": spec, "mean_activation": act, "activation_range": [args.rho * (1 - ACT_TOL), args.rho * (1 + ACT_TOL)],
                      "activation_met": bool(act_ok), "error_ratio_mse": ratio_mse, "error_ratio_sse": ratio_sse,
                      "error_met": bool(err_ok), "met": bool(act_ok and err_ok)})
    result["targets"] = cases
    result["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")

    hdr = f"{'model':<22} {'mean act':>9} {'MSE/value':>10} {'SSE/image':>10} {'ratio':>6} {'epochs':>7} {'train s':>8}"
    print("\n" + hdr + "\n" + "-" * len(hdr))
    for name, m in result["models"].items():
        t = m["test"]
        ratio = t["mse_per_value"] / plain["test"]["mse_per_value"]
        print(f"{name + ' ' + (m['sparsity'] or '(no penalty)'):<22} {t['mean_activation']:9.4f} {t['mse_per_value']:10.5f} "
              f"{t['sse_per_sample']:10.3f} {ratio:6.3f} {m['epochs_run']:>7} {m['train_seconds']:8.0f}")
    for c in cases:
        lo, hi = c["activation_range"]
        print(f"{c['sparsity']}: mean activation {c['mean_activation']:.4f} in [{lo:.3f}, {hi:.3f}] → "
              f"{'MET' if c['activation_met'] else 'MISSED'}; error ratio {c['error_ratio_mse']:.3f} ≤ {ERR_TOL} → "
              f"{'MET' if c['error_met'] else 'MISSED'}")
    if args.json is not None:
        write_json(args.json, result)
        print(f"json → {args.json}")
    return result


if __name__ == "__main__":
    main()
