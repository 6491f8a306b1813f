"""MNIST deep autoencoder, the Hinton & Salakhutdinov (2006) setting, against PCA-30.

784-1000-500-250-30 (linear 30-d code), mirrored decoder, sigmoid output. Error = mean over the
10,000 test images of the squared error summed over the 784 pixels (pixels in [0, 1]).
Anchor: 3.00 (PCA-30 on the same split: about 13.87).

Training goes through aekit's real estimator and trainer (`AutoEncoder.fit`) on the 60,000
training images ("train+val"), without a validation split and with early stopping off. To see
the test error after every epoch, a trainer callback (`TestSetMonitor`, installed for the
`fit` with `aekit.train.callbacks.use_callbacks`) measures the model on the test images at the
end of each epoch and adds "test_sse" to that epoch's history row; nothing reads it back, so
nothing is selected or tuned on the test set: the model ends with its last epoch's weights.
"train seconds" are the trainer's own per-epoch training time (the optimization, as its
`max_seconds` budget counts it), summed: the test evaluations are left out.

    .venv/bin/python benchmarks/mnist_deep_ae.py --epochs 60 --out benchmarks/out/deep_ae --json benchmarks/out/deep_ae.json
    .venv/bin/python benchmarks/mnist_deep_ae.py --evaluate benchmarks/out/deep_ae   # re-measure a run folder
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from aekit.data import load
from aekit.estimators import AutoEncoder
from aekit.metrics import reconstruction_errors
from aekit.models.pca import fit_pca, pca_reconstruct
from aekit.train.callbacks import Callback, use_callbacks

ROOT = Path(__file__).resolve().parents[1]
TARGET = 3.00
ANCHOR_PCA = 13.87


from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)


def test_sse(ae: AutoEncoder, X: np.ndarray) -> float:
    return reconstruction_errors(X, ae.reconstruct(X))["sse_per_sample"]


class TestSetMonitor(Callback):
    """After each epoch of `stage`: the model's test squared error per image (summed over the
    pixels, mean over the images), added to the epoch's history row as "test_sse" with
    "eval_seconds" and "load_avg_1min", kept in `rows` with the cumulative training seconds, and
    printed on stderr; at the end of the stage it records whether the time budget stopped it."""

    def __init__(self, X_test: np.ndarray, stage: str = "train", batch_size: int = 2000, verbose: bool = True):
        self.X_test, self.stage, self.batch_size, self.verbose = X_test, stage, batch_size, verbose
        self.rows: list[dict] = []
        self.stopped_at_budget = False
        self._X: torch.Tensor | None = None

    def on_stage_start(self, trainer) -> None:
        if trainer.stage == self.stage:  # the test images on the trainer's device, in its dtype, once
            self._X = torch.from_numpy(self.X_test).to(device=trainer.config.device,
                                                       dtype=trainer.config.torch_dtype)

    def on_stage_end(self, trainer) -> None:
        if trainer.stage == self.stage:
            self.stopped_at_budget = trainer.stopped_at_budget  # the trainer's max_seconds ended it

    @torch.inference_mode()
    def _sse(self, model: torch.nn.Module) -> float:
        was_training = model.training
        model.eval()
        total = torch.zeros((), dtype=torch.float64, device=self._X.device)
        for start in range(0, len(self._X), self.batch_size):
            x = self._X[start : start + self.batch_size]
            total += (model(x) - x).square().flatten(1).sum(1).double().sum()
        model.train(was_training)
        return float(total) / len(self._X)

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        if trainer.stage != self.stage:
            return
        t0 = time.perf_counter()
        row["test_sse"] = self._sse(trainer.model)
        row["eval_seconds"] = time.perf_counter() - t0
        row["load_avg_1min"] = round(os.getloadavg()[0], 2)
        train_seconds = sum(r["train_seconds"] for r in trainer.history if r["stage"] == self.stage)
        self.rows.append({"epoch": epoch, "train_seconds": train_seconds, "test_sse": row["test_sse"],
                          "eval_seconds": row["eval_seconds"], "load_avg_1min": row["load_avg_1min"],
                          "train_loss": row["loss"], "lr": row["lr"]})
        if self.verbose:
            print(f"  epoch {epoch:>3}: train {train_seconds:8.1f} s  test SSE/image {row['test_sse']:.4f}  "
                  f"(load {row['load_avg_1min']})", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--minutes", type=float, default=15.0, help="training-time budget the target must be reached in")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-schedule", default="cosine",
                   help="none | cosine | step:EVERY:GAMMA | exponential:GAMMA | plateau (watches the training loss)")
    p.add_argument("--loss", default="bce", choices=["bce", "mse"])
    p.add_argument("--activation", default="relu")
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, default=None, help="train on the first N images only (smoke tests)")
    p.add_argument("--n-test", type=int, default=None, help="measure on the first N test images only (smoke tests)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", default=None, help="keep the trained run folder here")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--evaluate", default=None, metavar="RUN_DIR", help="only re-measure a saved run folder")
    p.add_argument("--verbose", type=int, default=0)
    p.add_argument("--no-stop-at-budget", dest="stop_at_budget", action="store_false",
                   help="train all --epochs even past the --minutes budget")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    test = load("mnist", split="test", data_dir=args.data_dir)
    X_test = test.X[: args.n_test]
    if args.evaluate:
        ae = AutoEncoder.load(args.evaluate)
        print(f"{args.evaluate}: test squared error per image {test_sse(ae, X_test):.4f}  (target {TARGET:.2f})")
        return 0

    train = load("mnist", split="train+val", data_dir=args.data_dir)
    X_train = train.X[: args.n_train]
    machine_start = machine()
    print(f"MNIST: {len(X_train)} training, {len(X_test)} test images; {machine_start}", flush=True)

    t0 = time.perf_counter()
    pca = fit_pca(X_train, 30, seed=args.seed)
    pca_err = reconstruction_errors(X_test, pca_reconstruct(pca, X_test))["sse_per_sample"]
    print(f"PCA-30: test squared error per image {pca_err:.4f} ({time.perf_counter() - t0:.1f} s)", flush=True)

    ae = AutoEncoder(
        hidden=(1000, 500, 250), latent_dim=30, activation=args.activation, code_activation="linear",
        output_activation="sigmoid", loss=args.loss, epochs=args.epochs, batch_size=args.batch_size,
        optimizer=args.optimizer, lr=args.lr, lr_schedule=None if args.lr_schedule == "none" else args.lr_schedule,
        validation_fraction=0.0, early_stopping=False, random_state=args.seed, verbose=args.verbose,
        # the trainer stops after the epoch in which its training time reaches the budget
        max_seconds=args.minutes * 60.0 if args.stop_at_budget else None,
    )
    budget = args.minutes * 60.0
    monitor = TestSetMonitor(X_test)
    t_fit = time.perf_counter()
    with use_callbacks(monitor):
        ae.fit(X_train)
    fit_wall = time.perf_counter() - t_fit
    stopped_at_budget = monitor.stopped_at_budget

    rows, reached = monitor.rows, None
    for r in rows:
        if reached is None and r["test_sse"] <= TARGET:
            reached = r
    cum = rows[-1]["train_seconds"] if rows else 0.0
    print(f"\n{'epoch':>5} {'train s (cum)':>13} {'test SSE/img':>12} {'PCA-30':>8} {'load':>5}")
    for r in rows:
        mark = "  *" if r is reached else ("  (over budget)" if r["train_seconds"] > budget else "")
        print(f"{r['epoch']:>5} {r['train_seconds']:>13.1f} {r['test_sse']:>12.4f} {pca_err:>8.4f} "
              f"{r['load_avg_1min']:>5.2f}{mark}")
    within = [r for r in rows if r["train_seconds"] <= budget]
    best_within = min(within, key=lambda r: r["test_sse"]) if within else None
    final = test_sse(ae, X_test)  # re-measured through the public API on the final weights
    what = (f"stopped at the {args.minutes:g}-min budget after {len(rows)} epochs" if stopped_at_budget
            else f"after {len(rows)} epochs")
    print(f"\nfinal test squared error per image: {final:.4f} {what}, {cum:.1f} s training "
          f"({fit_wall:.1f} s wall incl. per-epoch test evaluation)")
    if reached is not None and reached["train_seconds"] <= budget:
        verdict = (f"reached {TARGET:.2f} at epoch {reached['epoch']} after {reached['train_seconds']:.1f} s "
                   f"({reached['train_seconds'] / 60:.2f} min) of training: {reached['test_sse']:.4f}")
    elif best_within is not None:
        verdict = (f"not reached in {args.minutes:g} min: best {best_within['test_sse']:.4f} at epoch "
                   f"{best_within['epoch']} ({best_within['train_seconds']:.1f} s)")
        if reached is not None:
            verdict += f"; reached {TARGET:.2f} only after {reached['train_seconds']:.1f} s"
    else:
        verdict = f"not reached: no epoch finished within {args.minutes:g} min"
    print(verdict)

    result = {
        "benchmark": "mnist_deep_ae", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": machine_start,
        "load_avg_1min_end": round(os.getloadavg()[0], 2), "args": vars(args),
        "target": TARGET, "pca30_test_sse": pca_err, "pca30_anchor": ANCHOR_PCA,
        "final_test_sse": final, "stopped_at_budget": stopped_at_budget, "train_seconds": cum, "fit_wall_seconds": fit_wall,
        "reached_target": bool(reached is not None and reached["train_seconds"] <= budget),
        "time_to_target_seconds": reached["train_seconds"] if reached else None,
        "epoch_to_target": reached["epoch"] if reached else None,
        "best_within_budget": best_within, "verdict": verdict, "epochs": rows,
    }
    if args.out:
        ae.save(args.out, data={"dataset": "mnist", "split": "train+val", "monitored_per_epoch": "test (no selection)"},
                metrics={"test_sse_per_image": final, "pca30_test_sse_per_image": pca_err})
        print(f"run folder: {args.out}")
    if args.json:
        write_json(Path(args.json), result)
        print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
