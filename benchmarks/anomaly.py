"""Anomaly detection benchmarks: one-class MNIST / Fashion-MNIST and breast cancer.

One-class protocol (Ruff et al. 2018): for each class c, train on the training images of c
only, score the whole test set (10,000 images), and measure ROC-AUC with "not c" as the
anomaly; report the mean over the 10 classes. Beside the autoencoder, on the same split:
PCA reconstruction error (same number of components as the code) and scikit-learn's
IsolationForest.

Tabular: scikit-learn's breast cancer set, benign = normal, malignant = anomaly subsampled
to 5 % of the data; each seed draws the subsample and a stratified 60/40 split, the
detectors are fitted unsupervised on the (contaminated) training part and scored on the
test part. Mean ± std over seeds.

    .venv/bin/python benchmarks/anomaly.py --json benchmarks/out/anomaly.json
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from aekit.data import load  # noqa: E402
from aekit.estimators import AutoEncoderDetector  # noqa: E402
from aekit.estimators import AutoEncoder  # noqa: E402
from aekit.models.pca import fit_pca, pca_reconstruct  # noqa: E402

from _common import write_json  # noqa: E402  (benchmarks/_common.py)


def ae_for(args, seed: int) -> AutoEncoder:
    if args.model == "conv":
        return AutoEncoder.from_preset("conv-ae", hidden=(16, 8), latent_dim=args.latent, loss="mse",
                                       epochs=args.epochs, batch_size=128, lr=1e-3, random_state=seed)
    return AutoEncoder(hidden=tuple(args.hidden), latent_dim=args.latent, epochs=args.epochs, batch_size=128,
                       lr=1e-3, random_state=seed)


def one_class(args, name: str) -> dict:
    train = load(name, split="train+val", data_dir=args.data_dir)
    test = load(name, split="test", data_dir=args.data_dir)
    rows = []
    for c in args.classes:
        normal = train.subset(np.flatnonzero(train.y == c))
        is_anomaly = test.y != c
        t0 = time.perf_counter()
        X = normal.X if args.model == "conv" else normal.flat()
        Xt = test.X if args.model == "conv" else test.flat()
        det = AutoEncoderDetector(ae_for(args, args.seed), score="mse", calibration_fraction=0.1,
                                  random_state=args.seed).fit(X)
        s_ae = det.decision_function(Xt)
        seconds = time.perf_counter() - t0
        pca = fit_pca(normal.flat(), args.latent)
        s_pca = ((pca_reconstruct(pca, test.flat()) - test.flat()) ** 2).mean(1)
        forest = IsolationForest(n_estimators=100, random_state=args.seed).fit(normal.flat())
        s_if = -forest.score_samples(test.flat())
        row = {"class": int(c), "n_train": len(normal), "train_seconds": seconds,
               "autoencoder": roc_auc_score(is_anomaly, s_ae), f"pca_{args.latent}": roc_auc_score(is_anomaly, s_pca),
               "isolation_forest": roc_auc_score(is_anomaly, s_if)}
        rows.append(row)
        print(f"{name} class {c}: AE {row['autoencoder']:.4f}  PCA-{args.latent} {row[f'pca_{args.latent}']:.4f}  "
              f"IF {row['isolation_forest']:.4f}  ({seconds:.0f} s)", flush=True)
    keys = ["autoencoder", f"pca_{args.latent}", "isolation_forest"]
    return {"rows": rows, "mean": {k: float(np.mean([r[k] for r in rows])) for k in keys}}


def breast_cancer(args) -> dict:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    d = load_breast_cancer()
    benign, malignant = d.data[d.target == 1], d.data[d.target == 0]
    n_mal = int(round(0.05 / 0.95 * len(benign)))
    res = {"autoencoder": [], "pca": [], "isolation_forest": [], "ae_pr": [], "pca_pr": [], "if_pr": []}
    for seed in range(args.tabular_seeds):
        rng = np.random.default_rng(seed)
        X = np.vstack([benign, malignant[rng.choice(len(malignant), n_mal, replace=False)]])
        y = np.r_[np.zeros(len(benign)), np.ones(n_mal)]
        Xtr, Xte, _, yte = train_test_split(X, y, test_size=0.4, stratify=y, random_state=seed)
        det = AutoEncoderDetector(AutoEncoder(hidden=(16, 8), latent_dim=4, epochs=200, batch_size=32,
                                              random_state=seed), contamination=0.05, random_state=seed).fit(Xtr)
        s_ae = det.decision_function(Xte)
        mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-12  # PCA on standardized features, as the AE sees them
        pca = fit_pca((Xtr - mu) / sd, 4)
        Z = (Xte - mu) / sd
        s_pca = ((pca_reconstruct(pca, Z) - Z) ** 2).mean(1)
        s_if = -IsolationForest(random_state=seed).fit(Xtr).score_samples(Xte)
        for k, s in (("autoencoder", s_ae), ("pca", s_pca), ("isolation_forest", s_if)):
            res[k].append(roc_auc_score(yte, s))
        res["ae_pr"].append(average_precision_score(yte, s_ae))
        res["pca_pr"].append(average_precision_score(yte, s_pca))
        res["if_pr"].append(average_precision_score(yte, s_if))
    summary = {k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in res.items()}
    print("breast cancer (5 % malignant), ROC-AUC mean ± std over", args.tabular_seeds, "seeds:")
    for k in ("autoencoder", "pca", "isolation_forest"):
        print(f"  {k:18s} {summary[k]['mean']:.4f} ± {summary[k]['std']:.4f}")
    return {"n_malignant": n_mal, "n_benign": len(benign), "summary": summary}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="*", default=["mnist", "fashion-mnist"])
    p.add_argument("--classes", nargs="*", type=int, default=list(range(10)))
    p.add_argument("--model", choices=["mlp", "conv"], default="mlp")
    p.add_argument("--hidden", nargs="*", type=int, default=[256, 64])
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tabular-seeds", type=int, default=10)
    p.add_argument("--skip-tabular", action="store_true")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    import torch

    out = {"command": " ".join(sys.argv), "machine": platform.processor() or platform.machine(),
           "torch": torch.__version__, "threads": torch.get_num_threads(), "args": vars(args) | {"json": str(args.json)}}
    for name in args.datasets:
        out[name] = one_class(args, name)
    if not args.skip_tabular:
        out["breast_cancer"] = breast_cancer(args)
    print("\nmean ROC-AUC over classes (target on MNIST: ≥ 0.948, Deep SVDD; conv AE baseline 0.897)")
    print(f"{'dataset':15s} {'autoencoder':>12s} {'PCA-' + str(args.latent):>10s} {'IsolationForest':>16s}")
    for name in args.datasets:
        m = out[name]["mean"]
        print(f"{name:15s} {m['autoencoder']:12.4f} {m[f'pca_{args.latent}']:10.4f} {m['isolation_forest']:16.4f}")
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    main()
