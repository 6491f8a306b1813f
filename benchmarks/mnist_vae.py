"""MNIST VAE, the Burda et al. (2016) one-stochastic-layer setting: test log-likelihood, plus
conditional-sample accuracy of a conditional VAE.

784-200-200-50 (tanh hidden units, Gaussian q(z|x) with mean and log-variance heads, Bernoulli
decoder), dynamic binarization (each batch Bernoulli-sampled afresh from the grey levels), Adam,
trained on the 60,000 training images through aekit's `VariationalAutoEncoder.fit` (no
validation split, no early stopping: nothing is selected on the test set).

Measured:
  * test ELBO (β = 1, the true bound) on the 10,000 test images, binarized once with a seed;
  * test log-likelihood: the k-sample importance-weighted estimate (k = 5000 as in the paper) on
    the first `--n-ll` test images (the full 10,000 at k = 5000 would take hours on this 2-core
    CPU), with the ELBO of the same images beside it. Anchor: −86.76 nats (Burda et al. 2016,
    VAE, k = 1, after 3,280 epochs).
  * conditional samples: a conditional VAE of the same size (one-hot labels joined to the encoder
    input and to z) draws 100 samples per class (the decoder's pixel probabilities); a classifier
    trained on the real MNIST training images (sklearn MLPClassifier, 784-256-10) labels them.
    Target: ≥ 95 % of them classified as the class they were drawn for.

    .venv/bin/python benchmarks/mnist_vae.py --minutes 11 --cvae-minutes 4 --json benchmarks/out/vae.json
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from aekit.data import load
from aekit.errors import AekitWarning
from aekit.estimators import VariationalAutoEncoder
from aekit.train.callbacks import Callback, use_callbacks

ROOT = Path(__file__).resolve().parents[1]
ANCHOR_LL = -86.76
TARGET_ACC = 0.95


from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)


class LastEpochThatFits(Callback):
    """Stops after the last epoch that fits in `budget_s` seconds of wall time, judged at each
    epoch's start from the mean epoch time so far: the epoch starting fits, the one after it would
    not. (The trainer's own max_seconds stops after the epoch that *reaches* the budget instead.)"""

    def __init__(self, budget_s: float):
        self.budget_s = budget_s
        self.start: float | None = None
        self.last: int | None = None

    def on_epoch_start(self, trainer, epoch: int) -> None:
        now = time.perf_counter()
        if self.start is None:
            self.start = now
        elif self.last is None:
            spent = now - self.start
            if spent + 2 * spent / (epoch - 1) > self.budget_s:
                self.last = epoch

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        if epoch == self.last:
            trainer.stop(f"budget: epoch {epoch + 1} would not fit in {self.budget_s:g} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--minutes", type=float, default=11.0,
                   help="training-time budget of the VAE: it stops after the last epoch that fits")
    p.add_argument("--cvae-minutes", type=float, default=4.0, help="training-time budget of the conditional VAE")
    p.add_argument("--epochs", type=int, default=None, help="fixed epochs instead of the time budgets")
    p.add_argument("--skip", choices=["vae", "cvae"], default=None, help="leave out one of the two parts")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--activation", default="tanh")
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--n-ll", type=int, default=1000, help="test images for the k-sample estimate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, default=None, help="train on the first N images only (smoke tests)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads for training (1: on this shared 2-core machine 2 threads ran 7× slower)")
    p.add_argument("--clf-iter", type=int, default=15, help="epochs of the judging classifier")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "vae"))
    p.add_argument("--json", default=None)
    args = p.parse_args()
    warnings.simplefilter("ignore", AekitWarning)

    def log(msg: str) -> None:
        print(msg, flush=True)

    train = load("mnist", split="train+val", data_dir=args.data_dir)
    test = load("mnist", split="test", data_dir=args.data_dir)
    X, y = train.flat()[: args.n_train], train.y[: args.n_train]
    Xt, yt = test.flat(), test.y
    # One fixed binarization of the test set (seeded), used for every test number below.
    Xt_bin = (np.random.default_rng(12345).random(Xt.shape, dtype=np.float32) < Xt).astype(np.float32)
    log(f"MNIST: {len(X)} train, {len(Xt)} test; machine {machine()}")

    # The trainer runs on torch's current thread count for models of this size (auto_threads), so
    # setting it here decides the training threads too.
    torch.set_num_threads(args.threads)

    def make(epochs: int, conditional: bool = False) -> VariationalAutoEncoder:
        return VariationalAutoEncoder(
            hidden=(200, 200), latent_dim=50, activation=args.activation, likelihood="bernoulli",
            binarize="dynamic", conditional=conditional, epochs=epochs, batch_size=args.batch_size, lr=args.lr,
            validation_fraction=0.0, early_stopping=False, random_state=args.seed, verbose=0,
        )

    result: dict = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                    "args": vars(args)}

    # -- unconditional VAE: log-likelihood ----------------------------------------------------
    if args.skip != "vae":
        log("VAE 784-200-200-50, dynamic binarization:")
        vae = make(args.epochs or 100_000)
        t0 = time.perf_counter()
        with use_callbacks(*([] if args.epochs else [LastEpochThatFits(args.minutes * 60)])):
            vae.fit(X)
        train_s = time.perf_counter() - t0
        vae.save(args.out)
        h = vae.history_
        log(f"  trained {len(h)} epochs in {train_s:.0f} s; last training −ELBO {h[-1]['loss']:.2f} nats")
        t0 = time.perf_counter()
        elbo_all = vae.elbo(Xt_bin, binarize=False, random_state=1)
        n_ll = min(args.n_ll, len(Xt))
        t1 = time.perf_counter()
        ll = vae.log_likelihood(Xt_bin[:n_ll], k=args.k, batch_size=20, binarize=False, random_state=2)
        ll_s = time.perf_counter() - t1
        elbo_sub = elbo_all[:n_ll]
        log(f"  test ELBO (10,000 images): {elbo_all.mean():.2f} nats")
        log(f"  first {n_ll} test images: ELBO {elbo_sub.mean():.2f}, log p(x) (k={args.k}) {ll.mean():.2f} ± "
            f"{ll.std(ddof=1) / np.sqrt(n_ll):.2f} nats ({ll_s:.0f} s); anchor {ANCHOR_LL}, gap {ll.mean() - ANCHOR_LL:+.2f}")
        result["vae"] = {
            "epochs": len(h), "train_seconds": round(train_s, 1), "final_train_neg_elbo": h[-1]["loss"],
            "test_elbo_10k": float(elbo_all.mean()), "n_ll": n_ll, "k": args.k,
            "test_elbo_subset": float(elbo_sub.mean()), "test_ll_subset": float(ll.mean()),
            "test_ll_subset_sem": float(ll.std(ddof=1) / np.sqrt(n_ll)), "ll_seconds": round(ll_s, 1),
            "eval_seconds": round(time.perf_counter() - t0, 1), "anchor": ANCHOR_LL, "gap": float(ll.mean() - ANCHOR_LL),
            "history_neg_elbo": [round(r["loss"], 3) for r in h],
        }

    # -- conditional VAE: samples per class, judged by a classifier on real digits ------------
    if args.skip != "cvae":
        log("classifier on real MNIST (MLP 784-256-10):")
        from sklearn.neural_network import MLPClassifier

        t0 = time.perf_counter()
        clf = MLPClassifier(hidden_layer_sizes=(256,), max_iter=args.clf_iter, batch_size=200, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X, y)
        clf_acc = float(clf.score(Xt, yt))
        log(f"  test accuracy {clf_acc:.4f} ({time.perf_counter() - t0:.0f} s)")
        log("conditional VAE 784(+10)-200-200-50(+10):")
        cvae = make(args.epochs or 100_000, conditional=True)
        t0 = time.perf_counter()
        with use_callbacks(*([] if args.epochs else [LastEpochThatFits(args.cvae_minutes * 60)])):
            cvae.fit(X, y)
        ctrain_s = time.perf_counter() - t0
        cvae.save(args.out + "-cvae")
        labels = np.repeat(np.arange(10), 100)
        samples = cvae.sample(len(labels), y=labels, random_state=3)
        pred = clf.predict(samples)
        acc = float((pred == labels).mean())
        per_class = [float((pred[labels == c] == c).mean()) for c in range(10)]
        log(f"  trained {len(cvae.history_)} epochs in {ctrain_s:.0f} s; conditional-sample accuracy {acc:.4f} "
            f"(target {TARGET_ACC}); per class {[round(a, 2) for a in per_class]}")
        from aekit.report.grid import save_image_grid

        grid = save_image_grid(cvae.sample(100, y=np.repeat(np.arange(10), 10), random_state=4).reshape(100, 1, 28, 28),
                               Path(args.out + "-cvae") / "samples.png", ncols=10)
        result["cvae"] = {"epochs": len(cvae.history_), "train_seconds": round(ctrain_s, 1),
                          "classifier_test_accuracy": clf_acc, "sample_accuracy": acc, "per_class": per_class,
                          "target": TARGET_ACC, "grid": str(grid)}
    result["machine_end"] = machine()
    if args.json:
        write_json(Path(args.json), result)
    log(json.dumps({k: v for k, v in result.get("vae", {}).items() if k != "history_neg_elbo"}))
    log(json.dumps(result.get("cvae", {})))


if __name__ == "__main__":
    main()
