"""aekit's defaults on the digits, beside PCA and logistic regression (issue 19).

The split of the issue: scikit-learn's `load_digits()` / 16, `train_test_split(test_size=0.3,
stratify=y, random_state=0)` (1,257 training images, 540 test). Every model is built with the
library's defaults except the arguments named in the table, `random_state=0`, and the overrides
given with `--set` (to measure a candidate default without editing the library):

* plain AE ``AutoEncoder(hidden=(128, 64), latent_dim=k)`` for k = 2, 4, 8, 16, against PCA-k;
* greedy ``AutoEncoder(hidden=(128, 64), latent_dim=16, pretrain="greedy")`` against PCA-16;
* RBM ``AutoEncoder(hidden=(128, 64), latent_dim=16, pretrain="rbm", activation="sigmoid")``;
* few labels: ``AutoEncoderClassifier(AutoEncoder(hidden=(128, 64), latent_dim=16))`` with 10
  labels per class (draws 0..4, the rest unlabelled) against `LogisticRegression(max_iter=1000)`
  on the raw pixels of the same labelled images.

Test MSE is the mean squared error per pixel on the test split (pixels in [0, 1]).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/digits_defaults.py --json benchmarks/out/digits_defaults.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/digits_defaults.py --parts plain --set '{"weight_decay": 1e-4}'
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone

import numpy as np
import torch

from aekit.estimators import AutoEncoder
from aekit.estimators.classifier import AutoEncoderClassifier, few_labels

from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

PARTS = ("plain", "greedy", "rbm", "classifier")
CODES = (2, 4, 8, 16)
DRAWS = 5


def digits_split():
    """(X_train, X_test, y_train, y_test): the issue's 70/30 stratified split, seed 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split((X / 16.0).astype(np.float32), y, test_size=0.3, stratify=y, random_state=0)


def pca_mse(X, Xt, k: int) -> float:
    from sklearn.decomposition import PCA

    pca = PCA(k, random_state=0).fit(X)
    return float(((pca.inverse_transform(pca.transform(Xt)) - Xt) ** 2).mean())


def ae_row(name: str, params: dict, X, Xt, overrides: dict) -> dict:
    t0 = time.perf_counter()
    ae = AutoEncoder(**{**params, "random_state": 0, **overrides}).fit(X)
    mse = float(((ae.reconstruct(Xt) - Xt) ** 2).mean())
    pca = pca_mse(X, Xt, params["latent_dim"])
    return {"model": name, "test_mse": mse, "pca_mse": pca, "ratio": mse / pca, "epochs_run": int(ae.n_epochs_),
            "best_epoch": int(ae.best_epoch_), "seconds": time.perf_counter() - t0}


def classifier_rows(X, Xt, y, yt, overrides: dict, clf_overrides: dict) -> list[dict]:
    from sklearn.linear_model import LogisticRegression

    rows = []
    for draw in range(DRAWS):
        t0 = time.perf_counter()
        y_few = few_labels(y, 10, random_state=draw)
        lab = y_few != -1
        clf = AutoEncoderClassifier(AutoEncoder(hidden=(128, 64), latent_dim=16, **overrides), random_state=draw,
                                    **clf_overrides).fit(X, y_few)
        acc = float((clf.predict(Xt) == yt).mean())
        lr = LogisticRegression(max_iter=1000).fit(X[lab], y[lab])
        raw = float((lr.predict(Xt) == yt).mean())
        rows.append({"draw": draw, "accuracy": acc, "raw_logistic": raw, "wins": acc > raw,
                     "seconds": time.perf_counter() - t0})
    return rows


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    p.add_argument("--set", default="{}", help="JSON overrides for every AutoEncoder (a candidate default)")
    p.add_argument("--set-clf", default="{}", help="JSON overrides for AutoEncoderClassifier")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="write the result here (e.g. benchmarks/out/digits_defaults.json)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides, clf_overrides = json.loads(args.set), json.loads(args.set_clf)
    parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    X, Xt, y, yt = digits_split()
    rows: list[dict] = []
    if "plain" in parts:
        rows += [ae_row(f"plain AE, code {k}", {"hidden": (128, 64), "latent_dim": k}, X, Xt, overrides)
                 for k in CODES]
    if "greedy" in parts:
        rows.append(ae_row("greedy-pretrained AE, code 16",
                           {"hidden": (128, 64), "latent_dim": 16, "pretrain": "greedy"}, X, Xt, overrides))
    if "rbm" in parts:
        rows.append(ae_row("RBM-pretrained AE, code 16", {"hidden": (128, 64), "latent_dim": 16, "pretrain": "rbm",
                                                          "activation": "sigmoid"}, X, Xt, overrides))
    print(f"digits: {len(X)} train / {len(Xt)} test; overrides {overrides or 'none'}")
    print(f"{'model':34s} {'test MSE':>9s} {'PCA':>8s} {'ratio':>6s} {'epochs':>6s} {'best':>5s} {'s':>5s}")
    for r in rows:
        print(f"{r['model']:34s} {r['test_mse']:9.4f} {r['pca_mse']:8.4f} {r['ratio']:6.2f} {r['epochs_run']:6d} "
              f"{r['best_epoch']:5d} {r['seconds']:5.1f}")
    clf = classifier_rows(X, Xt, y, yt, overrides, clf_overrides) if "classifier" in parts else []
    for r in clf:
        print(f"few labels (10/class), draw {r['draw']}: encoder {r['accuracy']:.3f} vs raw + logistic "
              f"{r['raw_logistic']:.3f} ({'wins' if r['wins'] else 'loses'}, {r['seconds']:.0f} s)")
    if clf:
        print(f"few labels: wins {sum(r['wins'] for r in clf)} of {len(clf)}; mean "
              f"{np.mean([r['accuracy'] for r in clf]):.3f} vs {np.mean([r['raw_logistic'] for r in clf]):.3f}")
    result = {"benchmark": "digits_defaults", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "overrides": overrides, "classifier_overrides": clf_overrides,
              "reconstruction": rows, "few_labels": clf}
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
