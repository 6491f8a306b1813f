"""MNIST deep autoencoder, the Hinton & Salakhutdinov (2006) setting, against PCA-30.

784-1000-500-250-30 (linear 30-d code), mirrored decoder, sigmoid output. Error = mean over the
10,000 test images of the squared error summed over the 784 pixels (pixels in [0, 1]).
Anchor: 3.00 (PCA-30 on the same split: about 13.87).

Training goes through aekit's real estimator and trainer (`AutoEncoder.fit`) on the 60,000
training images ("train+val"). To see the test error after every epoch, the test images are
handed to the trainer as its validation set, with early stopping OFF and no plateau schedule
(so nothing is ever selected or tuned on them: the model ends with its last epoch's weights).
The model's `validation_terms` is wrapped, on this one instance, to add the summed squared
error per image and to time itself; "train seconds" (perf_counter) run from the start of
`fit` to the start of each evaluation, evaluations excluded: training time only.

    .venv/bin/python benchmarks/mnist_deep_ae.py --epochs 60 --out benchmarks/out/deep_ae --json benchmarks/out/deep_ae.json
    .venv/bin/python benchmarks/mnist_deep_ae.py --evaluate benchmarks/out/deep_ae   # re-measure a run folder
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import types
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from aekit.data import load
from aekit.estimators import AutoEncoder
from aekit.metrics import reconstruction_errors
from aekit.models.pca import fit_pca, pca_reconstruct
from aekit.train.trainer import TrainingInterrupted

ROOT = Path(__file__).resolve().parents[1]
TARGET = 3.00
ANCHOR_PCA = 13.87


from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

def test_sse(ae: AutoEncoder, X: np.ndarray) -> float:
    return reconstruction_errors(X, ae.reconstruct(X))["sse_per_sample"]


class TestMonitor:
    """Wraps the estimator's model (this instance only) so that each validation pass, which
    here runs on the test set, also yields the summed squared error per image, and records per
    epoch: training seconds (from the end of the previous evaluation, or the start of `fit`, to
    the start of this one: the trainer's whole epoch, evaluation excluded), test SSE/image and
    evaluation seconds. With a budget, it stops training (as Ctrl-C would) once the training
    seconds pass it; the model then holds the last epoch finished within the trainer's loop."""

    def __init__(self, ae: AutoEncoder, n_test: int, budget_seconds: float | None, verbose: bool = True):
        self.n_test, self.budget, self.verbose = n_test, budget_seconds, verbose
        self.rows: list[dict] = []
        self.model = None
        self.train_seconds = 0.0
        self.mark = time.perf_counter()
        self._eval_start = None
        self._sum, self._count = 0.0, 0
        self.stopped_at_budget = False
        build = ae._build_model

        def build_with_monitor(est, config, seed):
            model = build(config, seed)
            original = model.validation_terms

            def validation_terms(x: torch.Tensor) -> dict[str, torch.Tensor]:
                return self._terms(model, original, x)

            model.validation_terms = validation_terms  # weights and state dict are unchanged
            self.model = model
            return model

        ae._build_model = types.MethodType(build_with_monitor, ae)

    def start(self) -> None:
        self.mark = time.perf_counter()

    def _terms(self, model, original, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if not torch.is_inference_mode_enabled():
            # not the trainer's evaluation pass (which runs under inference_mode), e.g. the
            # trainer's one-sample probe that picks the thread count: not counted
            return original(x)
        now = time.perf_counter()
        if self._count == 0:  # first batch of this epoch's evaluation: the epoch's training ended
            self._eval_start = now
            self.train_seconds += now - self.mark
        terms = original(x)
        terms["sse"] = (model(x) - x).square().flatten(1).sum(1).mean()
        self._sum += float(terms["sse"]) * x.shape[0]
        self._count += x.shape[0]
        if self._count >= self.n_test:
            end = time.perf_counter()
            row = {"epoch": len(self.rows) + 1, "train_seconds": self.train_seconds,
                   "test_sse": self._sum / self._count, "eval_seconds": end - self._eval_start,
                   "load_avg_1min": round(os.getloadavg()[0], 2)}
            self.rows.append(row)
            if self.verbose:
                print(f"  epoch {row['epoch']:>3}: train {row['train_seconds']:8.1f} s  test SSE/image "
                      f"{row['test_sse']:.4f}  (load {row['load_avg_1min']})", file=sys.stderr, flush=True)
            self._sum, self._count = 0.0, 0
            self.mark = time.perf_counter()
            if self.budget is not None and self.train_seconds >= self.budget:
                self.stopped_at_budget = True
                raise KeyboardInterrupt  # the trainer stops cleanly, as on Ctrl-C
        return terms


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--minutes", type=float, default=15.0, help="training-time budget the target must be reached in")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-schedule", default="cosine", help="none | cosine | step:EVERY:GAMMA | exponential:GAMMA")
    p.add_argument("--loss", default="bce", choices=["bce", "mse"])
    p.add_argument("--activation", default="relu")
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--seed", type=int, default=0)
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
    if args.lr_schedule.startswith("plateau"):
        p.error("plateau would watch the test error (the monitored set here); use cosine, step or exponential")

    test = load("mnist", split="test", data_dir=args.data_dir)
    X_test = test.X
    if args.evaluate:
        ae = AutoEncoder.load(args.evaluate)
        print(f"{args.evaluate}: test squared error per image {test_sse(ae, X_test):.4f}  (target {TARGET:.2f})")
        return 0

    train = load("mnist", split="train+val", data_dir=args.data_dir)
    X_train = train.X
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
    monitor = TestMonitor(ae, len(X_test), None, verbose=True)
    t_fit = time.perf_counter()
    monitor.start()
    try:
        ae.fit(X_train, X_val=X_test)
        fitted = True
        monitor.stopped_at_budget = len(ae.history_) < args.epochs  # the trainer's max_seconds ended it
    except TrainingInterrupted:
        if not monitor.stopped_at_budget:
            raise
        fitted = False
    fit_wall = time.perf_counter() - t_fit

    losses = {int(h["epoch"]): h for h in getattr(ae, "history_", [])} if fitted else {}
    rows, reached = monitor.rows, None
    for r in rows:
        h = losses.get(r["epoch"])
        r["train_loss"] = h["loss"] if h else None
        r["lr"] = h["lr"] if h else None
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
    if fitted:
        final = test_sse(ae, X_test)  # re-measured through the public API on the final weights
        what = f"after {len(rows)} epochs"
    else:  # stopped at the budget: the trainer restored the last epoch it had finished
        with torch.inference_mode():
            Xt = torch.from_numpy(X_test)
            final = reconstruction_errors(X_test, monitor.model.eval()(Xt).numpy())["sse_per_sample"]
        what = f"stopped at the {args.minutes:g}-min budget after {len(rows)} evaluated epochs (weights of epoch {len(rows) - 1})"
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
        "final_test_sse": final, "fitted": fitted, "stopped_at_budget": monitor.stopped_at_budget, "train_seconds": cum, "fit_wall_seconds": fit_wall,
        "reached_target": bool(reached is not None and reached["train_seconds"] <= budget),
        "time_to_target_seconds": reached["train_seconds"] if reached else None,
        "epoch_to_target": reached["epoch"] if reached else None,
        "best_within_budget": best_within, "verdict": verdict, "epochs": rows,
    }
    if args.out and fitted:
        ae.save(args.out, data={"dataset": "mnist", "split": "train+val", "monitored_as_val": "test (no selection)"},
                metrics={"test_sse_per_image": final, "pca30_test_sse_per_image": pca_err})
        print(f"run folder: {args.out}")
    if args.json:
        write_json(Path(args.json), result)
        print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
