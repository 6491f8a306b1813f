"""Stacked autoencoders on MNIST: SdA classification error, RBM pretraining vs none, few-label curves.

Four parts (`--part`, comma-separated), each through aekit's real estimators:

* ``sda``: Vincent et al. (2010)'s stacked denoising autoencoder 784-1000-1000-1000 (sigmoid
  units, masking noise 25 %), greedy layer-wise pretraining (`AutoEncoder(pretrain="greedy",
  epochs=0)`: the stack only), then an `AutoEncoderClassifier` (softmax on the top layer)
  fine-tuned end to end with all labels: 50,000 training / 10,000 validation images of the
  60,000 (early stopping on validation), test error on the 10,000 test images. Target ≤ 1.28 %.
* ``rbm``: the Hinton & Salakhutdinov (2006) deep autoencoder 784-1000-500-250-30 (logistic
  hidden units, linear 30-d code) with stacked-RBM pretraining versus the same network from a
  random start, fine-tuned with the same budget (epochs, optimizer, schedule); test error = mean
  over the test images of the squared error summed over the 784 pixels. Target ≤ 3.00.
* ``fewlabel``: an autoencoder pretrained on the 55,000 training images (labels unused), then
  for 1, 10, 100 labels per class (`--draws` random draws): the encoder + softmax fine-tuned with
  neighbour pseudo-labels, fine-tuned alone, PCA codes + logistic regression, raw pixels +
  logistic regression (`aekit.tasks.classify.few_label_curve`). With `--data digits` it runs on
  scikit-learn's digits (the demo's split).
* ``rbm-sklearn``: aekit's RBM (`aekit.nn.rbm`, trained by `aekit.train.rbm`) against
  scikit-learn's `BernoulliRBM` on the same binarized rows with the same hidden size, learning
  rate, batch and epochs: mean pseudo-likelihood.

    python benchmarks/mnist_stacked.py --part sda,rbm,fewlabel --device cuda --json benchmarks/out/stacked.json
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from aekit.estimators.classifier import AutoEncoderClassifier
from aekit.data import load
from aekit.estimators import AutoEncoder
from aekit.metrics import reconstruction_errors
from aekit.models.pca import fit_pca, pca_reconstruct

ROOT = Path(__file__).resolve().parents[1]

from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)


def save(args, result: dict) -> None:
    write_json(args.json, result)


def sda(args, result: dict) -> None:
    full = load("mnist", split="train+val", data_dir=args.data_dir)
    test = load("mnist", split="test", data_dir=args.data_dir)
    X, y, Xt, yt = full.flat()[: args.limit], full.y[: args.limit], test.flat(), test.y
    out = result.setdefault("sda", {})
    t0 = time.perf_counter()
    stack = AutoEncoder(hidden=(1000, 1000), latent_dim=1000, activation="sigmoid", code_activation="sigmoid",
                        noise=f"masking:{args.sda_noise}", pretrain="greedy", pretrain_epochs=args.sda_pretrain_epochs,
                        pretrain_lr=args.sda_pretrain_lr, epochs=0, batch_size=args.sda_batch, validation_fraction=0,
                        random_state=args.seed, device=args.device, verbose=args.verbose).fit(X)
    out["pretrain_seconds"] = time.perf_counter() - t0
    out["pretrain"] = {"layers": "784-1000-1000-1000", "noise": f"masking:{args.sda_noise}",
                       "epochs_per_layer": args.sda_pretrain_epochs, "lr": args.sda_pretrain_lr, "optimizer": "adam",
                       "batch": args.sda_batch}
    print(f"SdA pretraining: {out['pretrain_seconds']:.0f} s", flush=True)
    save(args, result)
    for name, kw in (("pretrained", {}), ("random start", {"random": True})):
        if name == "random start" and not args.sda_baseline:
            continue
        t0 = time.perf_counter()
        ae = stack
        if kw.get("random"):  # the same network, no pretraining: an untrained stack
            ae = AutoEncoder(hidden=(1000, 1000), latent_dim=1000, activation="sigmoid", code_activation="sigmoid",
                             noise=f"masking:{args.sda_noise}", epochs=0, validation_fraction=0,
                             random_state=args.seed, device=args.device).fit(X[:2])
        clf = AutoEncoderClassifier(ae, pseudo_labels=None, epochs=args.sda_epochs, batch_size=args.sda_batch,
                                    optimizer=args.sda_optimizer, lr=args.sda_lr, weight_decay=args.sda_weight_decay,
                                    lr_schedule=args.sda_schedule,
                                    validation_fraction=10_000 / 60_000, patience=args.sda_patience,
                                    max_seconds=args.max_seconds, random_state=args.seed, device=args.device,
                                    verbose=args.verbose).fit(X, y)
        err = 1.0 - clf.score(Xt, yt)
        fine = [r for r in clf.history_ if r["stage"] == "finetune"]
        best = min(fine, key=lambda r: r.get("val_loss", float("inf")))
        out[name] = {"test_error_percent": 100 * err, "epochs": len(fine), "best_epoch": best["epoch"],
                     "best_val_error_percent": 100 * best.get("val_error", float("nan")),
                     "finetune_seconds": time.perf_counter() - t0, "optimizer": args.sda_optimizer, "lr": args.sda_lr,
                     "schedule": args.sda_schedule,
                     "weight_decay": args.sda_weight_decay, "batch": args.sda_batch}
        print(f"SdA {name}: test error {100 * err:.2f} % ({len(fine)} epochs, best {best['epoch']}, "
              f"{out[name]['finetune_seconds']:.0f} s)", flush=True)
        save(args, result)


def rbm(args, result: dict) -> None:
    train = load("mnist", split="train", data_dir=args.data_dir)
    val = load("mnist", split="val", data_dir=args.data_dir)
    test = load("mnist", split="test", data_dir=args.data_dir)
    X, Xv, Xt = train.flat()[: args.limit], val.flat(), test.flat()
    out = result.setdefault("rbm", {})
    pca = fit_pca(np.concatenate([X, Xv]), 30)
    out["PCA-30"] = float(reconstruction_errors(Xt, pca_reconstruct(pca, Xt))["sse_per_sample"])
    for name, pre in (("RBM-pretrained", "rbm"), ("random start", None)):
        t0 = time.perf_counter()
        ae = AutoEncoder(hidden=(1000, 500, 250), latent_dim=30, activation="sigmoid", pretrain=pre,
                         pretrain_epochs=args.rbm_pretrain_epochs, epochs=args.rbm_epochs, batch_size=args.rbm_batch,
                         lr=args.rbm_lr, lr_schedule=args.rbm_schedule, patience=args.rbm_epochs,  # no early stop
                         max_seconds=args.max_seconds, random_state=args.seed, device=args.device,
                         verbose=args.verbose).fit(X, X_val=Xv)
        seconds = time.perf_counter() - t0
        sse = float(reconstruction_errors(Xt, ae.reconstruct(Xt))["sse_per_sample"])
        fine = [r for r in ae.history_ if r["stage"] in ("finetune", "train")]
        out[name] = {"test_sse_per_image": sse, "finetune_epochs": len(fine), "best_epoch": ae.best_epoch_,
                     "seconds": seconds, "pretrain_epochs_per_layer": args.rbm_pretrain_epochs if pre else 0,
                     "batch": args.rbm_batch, "lr": args.rbm_lr, "schedule": args.rbm_schedule}
        print(f"deep AE {name}: test SSE per image {sse:.3f} ({len(fine)} fine-tuning epochs, {seconds:.0f} s)",
              flush=True)
        save(args, result)


def fewlabel(args, result: dict) -> None:
    from aekit.tasks.classify import few_label_curve
    from aekit.kinds import load_splits

    train, val, test = load_splits(args.data, args.data_dir)
    out = result.setdefault("fewlabel", {}).setdefault(args.data, {})
    t0 = time.perf_counter()
    hidden = tuple(int(h) for h in args.fl_hidden.split(","))
    ae = AutoEncoder(hidden=hidden, latent_dim=args.fl_latent, noise=args.fl_noise, epochs=args.fl_ae_epochs,
                     batch_size=256 if len(train) > 10_000 else 64, random_state=args.seed, device=args.device,
                     verbose=args.verbose).fit(train.flat(), X_val=val.flat())
    out["autoencoder"] = {"hidden": list(hidden), "latent": args.fl_latent, "noise": args.fl_noise,
                          "epochs": ae.n_epochs_, "seconds": time.perf_counter() - t0}
    counts = [int(c) for c in args.fl_counts.split(",")]
    draws = []
    for d in range(args.draws):
        r = few_label_curve(ae, train, test, counts, epochs=args.fl_epochs, seed=args.seed + d, device=args.device,
                            log=lambda s, d=d: print(f"[{args.data} draw {d}] {s}", flush=True))
        draws.append(r["rows"])
        out["draws"] = draws
        save(args, result)
    from aekit.tasks.classify import METHODS

    summary = {}
    for i, n in enumerate(counts):
        summary[n] = {m: {"mean": float(np.mean([dr[i][m] for dr in draws])),
                          "std": float(np.std([dr[i][m] for dr in draws]))} for m in METHODS}
    out["summary"] = summary
    save(args, result)
    print(f"\n{args.data}: test accuracy, mean ± std over {args.draws} draws of the labelled samples")
    print(f"{'labels/class':>12s} " + " ".join(f"{m:>28s}" for m in METHODS))
    for n in counts:
        print(f"{n:12d} " + " ".join(f"{summary[n][m]['mean']:20.4f} ± {summary[n][m]['std']:.4f}" for m in METHODS))


def rbm_vs_sklearn(args, result: dict) -> None:
    """aekit's RBM (aekit.nn.rbm, trained by aekit.train.rbm) against scikit-learn's BernoulliRBM
    on the same binarized data and settings:
    mean pseudo-likelihood (5 sets of random bit flips) of the training rows, and fit seconds."""
    import torch
    from sklearn.neural_network import BernoulliRBM

    from aekit.nn.rbm import RBM
    from aekit.train.rbm import train_rbm

    out = result.setdefault("rbm_vs_sklearn", {})
    for name in args.rbm_sk_data.split(","):
        ds = load(name, split="train", data_dir=args.data_dir)
        X = (ds.flat()[: args.rbm_sk_rows] > 0.5).astype(np.float32)
        n_h, lr, batch, epochs = args.rbm_sk_hidden, args.rbm_sk_lr, args.rbm_sk_batch, args.rbm_sk_epochs
        rows = {"rows": len(X), "n_hidden": n_h, "lr": lr, "batch": batch, "epochs": epochs}
        t0 = time.perf_counter()
        sk = BernoulliRBM(n_components=n_h, learning_rate=lr, batch_size=batch, n_iter=epochs,
                          random_state=args.seed).fit(X)
        rows["sklearn_seconds"] = time.perf_counter() - t0
        rows["sklearn PCD"] = float(np.mean([sk.score_samples(X).mean() for _ in range(5)]))
        Xt = torch.from_numpy(X)
        for label, persistent, momentum in (("aekit PCD", True, (0.5, 0.5)), ("aekit CD-1", False, (0.5, 0.9))):
            torch.manual_seed(args.seed)
            rbm = RBM(X.shape[1], n_h)
            t0 = time.perf_counter()
            train_rbm(rbm, Xt, epochs=epochs, batch_size=batch, lr=lr, momentum=momentum, weight_decay=0.0,
                      persistent=persistent, seed=args.seed, progress=False)
            rows[f"{label} seconds"] = time.perf_counter() - t0
            gen = torch.Generator().manual_seed(args.seed)
            with torch.no_grad():
                rows[label] = float(np.mean([rbm.pseudo_likelihood(Xt, generator=gen).mean().item() for _ in range(5)]))
        with torch.no_grad():
            torch.manual_seed(args.seed)
            rows["untrained"] = float(RBM(X.shape[1], n_h).pseudo_likelihood(Xt).mean())
        out[name] = rows
        print(f"{name}: pseudo-likelihood per row  sklearn PCD {rows['sklearn PCD']:.2f} ({rows['sklearn_seconds']:.1f} s)"
              f"  aekit PCD {rows['aekit PCD']:.2f} ({rows['aekit PCD seconds']:.1f} s)  aekit CD-1 "
              f"{rows['aekit CD-1']:.2f} ({rows['aekit CD-1 seconds']:.1f} s)  untrained {rows['untrained']:.2f}",
              flush=True)
        save(args, result)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", default="sda,rbm,fewlabel")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images (smoke tests)")
    p.add_argument("--max-seconds", type=float, default=None, help="training-time budget per fine-tuning run")
    p.add_argument("--sda-noise", type=float, default=0.25)
    p.add_argument("--sda-pretrain-epochs", type=int, default=30)
    p.add_argument("--sda-pretrain-lr", type=float, default=1e-3)
    p.add_argument("--sda-epochs", type=int, default=200)
    p.add_argument("--sda-batch", type=int, default=100)
    p.add_argument("--sda-optimizer", default="sgd")
    p.add_argument("--sda-lr", type=float, default=0.1)
    p.add_argument("--sda-weight-decay", type=float, default=0.0)
    p.add_argument("--sda-schedule", default=None, help="e.g. cosine")
    p.add_argument("--sda-patience", type=int, default=30)
    p.add_argument("--sda-baseline", action="store_true", help="also fine-tune the same network from a random start")
    p.add_argument("--rbm-pretrain-epochs", type=int, default=20)
    p.add_argument("--rbm-epochs", type=int, default=100)
    p.add_argument("--rbm-batch", type=int, default=256)
    p.add_argument("--rbm-lr", type=float, default=1e-3)
    p.add_argument("--rbm-schedule", default="cosine")
    p.add_argument("--data", default="mnist", help="fewlabel: mnist, fashion-mnist or digits")
    p.add_argument("--draws", type=int, default=3)
    p.add_argument("--fl-hidden", default="512,256")
    p.add_argument("--fl-latent", type=int, default=32)
    p.add_argument("--fl-noise", default="masking:0.25")
    p.add_argument("--fl-ae-epochs", type=int, default=30)
    p.add_argument("--fl-epochs", type=int, default=100)
    p.add_argument("--fl-counts", default="1,10,100")
    p.add_argument("--rbm-sk-data", default="digits,mnist")
    p.add_argument("--rbm-sk-rows", type=int, default=10_000)
    p.add_argument("--rbm-sk-hidden", type=int, default=256)
    p.add_argument("--rbm-sk-lr", type=float, default=0.05)
    p.add_argument("--rbm-sk-batch", type=int, default=20)
    p.add_argument("--rbm-sk-epochs", type=int, default=10)
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "stacked.json")
    args = p.parse_args()
    result = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}}
    parts = args.part.split(",")
    for part, fn in (("sda", sda), ("rbm", rbm), ("fewlabel", fewlabel), ("rbm-sklearn", rbm_vs_sklearn)):
        if part in parts:
            fn(args, result)
    save(args, result)


if __name__ == "__main__":
    main()
