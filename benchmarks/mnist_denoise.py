"""Denoising on MNIST and Fashion-MNIST: noisy input vs PCA denoising vs MLP DAE vs conv DAE.

Noises: Gaussian σ = 0.5 clipped to [0, 1] (the seeds' setting) and salt-and-pepper 20 %. Each
model is trained with the noise it is tested on (fresh noise per batch, clean target) and early
stopping on the validation split (5,000 images, patience `--patience`, best weights restored).
The test split (10,000 images) is corrupted once with a fixed seed; PSNR and SSIM are the mean
per image against the clean images, through `aekit.tasks.denoise.denoise_split`, which also
gives the two PCA baselines: PCA with the model's code size (MLP only; the conv code is larger
than the image) and PCA with the component count in {2, ..., 256} that denoises the validation
split best ("PCA tuned", the stronger one, which the target is judged against). PCA is always
fitted on the FULL 55,000-image training split, even when the models train on a subsample
(`--train-size`), so a subsample can only favour PCA.

Target: the conv DAE beats tuned PCA by at least 3 dB PSNR on both datasets and both noises.

    .venv/bin/python benchmarks/mnist_denoise.py --epochs mlp=3,conv=4 --train-size 5000 --val-size 500 --threads 1 \
        --out benchmarks/out/denoise --json benchmarks/out/denoise.json
    aekit denoise benchmarks/out/denoise/mnist_gaussian-0.5_conv --data mnist --data-dir ../shared/data --noise gaussian:0.5
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
from aekit.data.noise import parse_noise
from aekit.estimators import AutoEncoder
from aekit.metrics import psnr
from aekit.metrics import ssim
from aekit.models.pca import pca_reconstruct, truncate_pca
from aekit.models.pca import fit_pca as _fit_pca
from aekit.tasks.denoise import PCA_CANDIDATES, denoise_split

ROOT = Path(__file__).resolve().parents[1]
TARGET_DB = 3.0
MODELS = ("mlp", "conv")


from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

def parse_epochs(text: str) -> dict[str, int]:
    """"8" (both models) or "mlp=10,conv=6"."""
    if "=" not in text:
        return {m: int(text) for m in MODELS}
    out = {}
    for part in text.split(","):
        k, v = part.split("=")
        if k.strip() not in MODELS:
            raise SystemExit(f"--epochs: unknown model {k!r}; use {', '.join(MODELS)}")
        out[k.strip()] = int(v)
    return out


def build(model: str, noise: str, args, epochs: int) -> AutoEncoder:
    common = dict(noise=noise, epochs=epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                  random_state=args.seed, verbose=args.verbose)
    if model == "mlp":
        return AutoEncoder.from_preset("dae", hidden=(1000, 500, 250), latent_dim=args.latent_dim, loss="bce", **common)
    return AutoEncoder.from_preset("conv-dae", **common)


def full_pca(train: Dataset):
    """PCA of the training split with every component the baselines may need, fitted once per data set
    (with svd_solver="full" the leading k components of a larger fit are exactly those of a k-component
    fit, so this changes no number; it saves the SVDs denoise_split would repeat for each noise)."""
    return _fit_pca(train.flat(), min(max(PCA_CANDIDATES), train.n_features - 1, len(train) - 1))


def denoise_split_same_size(pca, noisy: np.ndarray, test: Dataset, k: int) -> dict:
    """The same-size PCA baseline of denoise_split, for a second model with another code size."""
    rec = np.clip(pca_reconstruct(truncate_pca(pca, k), noisy), *test.value_range)
    return {"n_components": k, "psnr": float(psnr(test.X, rec, 1.0).mean()), "ssim": float(ssim(test.X, rec, 1.0).mean())}


def subsample(ds: Dataset, n: int | None, seed: int) -> Dataset:
    if n is None or n >= len(ds):
        return ds
    idx = np.sort(np.random.default_rng(seed).permutation(len(ds))[:n])
    return Dataset(ds.X[idx], None if ds.y is None else ds.y[idx], ds.name, ds.value_range)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="mnist,fashion-mnist")
    p.add_argument("--noises", default="gaussian:0.5,salt-pepper:0.2")
    p.add_argument("--models", default="mlp,conv")
    p.add_argument("--epochs", default="mlp=10,conv=6", help='epochs per model: "8" or "mlp=10,conv=6"')
    p.add_argument("--train-size", type=int, default=None, help="subsample of the 55,000 training images (default all)")
    p.add_argument("--val-size", type=int, default=None,
                   help="subsample of the 5,000 validation images used for early stopping (default all; PCA tuning always uses all)")
    p.add_argument("--latent-dim", type=int, default=32, help="code size of the MLP DAE 784-1000-500-250-code")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None, help="save each model's run folder here")
    p.add_argument("--grids", type=Path, default=ROOT / "benchmarks" / "out" / "denoise_grids")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads (0: torch's default; 1 is kinder on a machine shared with other jobs)")
    p.add_argument("--verbose", type=int, default=0)
    args = p.parse_args(argv)
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    noises = [parse_noise(n.strip()) for n in args.noises.split(",") if n.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in MODELS:
            raise SystemExit(f"--models: unknown model {m!r}; use {', '.join(MODELS)}")
    epochs = {**{m: 10 for m in MODELS}, **parse_epochs(args.epochs)}
    torch.set_flush_denormal(True)
    if args.threads:
        torch.set_num_threads(args.threads)

    started = datetime.now(timezone.utc)
    result = {"started": started.isoformat(timespec="seconds"), "machine": machine(), "args": {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "epochs": epochs, "runs": []}
    rows = []
    for ds_name in datasets:
        train_full = load(ds_name, split="train", data_dir=args.data_dir)
        pca = full_pca(train_full)
        val = load(ds_name, split="val", data_dir=args.data_dir)
        test = load(ds_name, split="test", data_dir=args.data_dir)
        train = subsample(train_full, args.train_size, args.seed)
        val_es = subsample(val, args.val_size, args.seed + 1)
        for noise in noises:
            tag = f"{ds_name}_{str(noise).replace(':', '-')}"
            grid_rows, grid_labels, pca_row = {}, {}, None
            base = None
            for model in models:
                est = build(model, str(noise), args, epochs[model])
                t0 = time.perf_counter()
                est.fit(train.X, X_val=val_es.X)
                secs = time.perf_counter() - t0
                t1 = time.perf_counter()
                if base is None:
                    metrics, arrays = denoise_split(est, train_full, val, test, noise, seed=args.seed, pca=pca)
                    base, base_arrays = metrics, arrays
                else:
                    # same corrupted test images (same seed) and the same PCA baselines: only the
                    # model's output is new, scored with the same aekit.metrics functions
                    denoised = np.asarray(est.reconstruct(base_arrays["noisy"])).reshape(test.X.shape)
                    arrays = {**base_arrays, "denoised": denoised}
                    metrics = {k: v for k, v in base.items() if k != "pca_same_size"}
                    metrics["model"] = {"psnr": float(psnr(test.X, denoised, 1.0).mean()),
                                        "ssim": float(ssim(test.X, denoised, 1.0).mean())}
                    if est.model_config_.code_size < test.n_features:
                        metrics["pca_same_size"] = denoise_split_same_size(pca, base_arrays["noisy"], test,
                                                                           est.model_config_.code_size)
                eval_secs = time.perf_counter() - t1
                run = {"dataset": ds_name, "noise": str(noise), "model": model, "train_size": len(train),
                       "epochs_max": epochs[model], "epochs_run": int(est.n_epochs_), "best_epoch": int(est.best_epoch_),
                       "train_seconds": round(secs, 1), "eval_seconds": round(eval_secs, 1),
                       "load_avg_1min": round(os.getloadavg()[0], 2), "metrics": metrics}
                if args.out is not None:
                    folder = args.out / f"{tag}_{model}"
                    est.save(folder, data={"source": ds_name, "data_dir": str(Path(args.data_dir).resolve()),
                                           "seed": 0, "train_size": len(train), "name": ds_name, "sample_shape": [1, 28, 28],
                                           "value_range": [0.0, 1.0], "label_column": None},
                             metrics={"denoise": metrics, "train_seconds": secs})
                    run["run_folder"] = str(folder)
                result["runs"].append(run)
                if args.json is not None:  # partial results survive an interrupted run
                    write_json(args.json, result)
                k = metrics["pca_tuned"]["n_components"]
                pca_row = (f"PCA-{k}", arrays[f"pca_{k}"][:10])
                grid_rows["noisy"] = arrays["noisy"][:10]
                grid_rows[model] = arrays["denoised"][:10]
                grid_rows["clean"] = arrays["clean"][:10]
                delta = metrics["model"]["psnr"] - metrics["pca_tuned"]["psnr"]
                rows.append((ds_name, str(noise), f"{model} DAE" + (f" (code {args.latent_dim})" if model == "mlp" else ""),
                             metrics["model"]["psnr"], metrics["model"]["ssim"], delta, secs,
                             f"{est.n_epochs_} ep (best {est.best_epoch_})"))
                print(f"[{ds_name} {noise} {model}] PSNR {metrics['model']['psnr']:.2f} SSIM {metrics['model']['ssim']:.3f} "
                      f"Δ vs PCA-tuned {delta:+.2f} dB, train {secs:.0f}s, eval {eval_secs:.0f}s", flush=True)
            # one row each for the input and the PCA baselines (same corruption seed for every model)
            pt = base["pca_tuned"]
            rows.append((ds_name, str(noise), "noisy input", base["noisy"]["psnr"], base["noisy"]["ssim"],
                         base["noisy"]["psnr"] - pt["psnr"], None, ""))
            for r in result["runs"]:
                if r["dataset"] == ds_name and r["noise"] == str(noise) and "pca_same_size" in r["metrics"]:
                    ps = r["metrics"]["pca_same_size"]
                    rows.append((ds_name, str(noise), f"PCA-{ps['n_components']} (code size)", ps["psnr"], ps["ssim"],
                                 ps["psnr"] - pt["psnr"], None, ""))
            rows.append((ds_name, str(noise), f"PCA-{pt['n_components']} (tuned on val)", pt["psnr"], pt["ssim"], 0.0, None, ""))
            order = ["noisy", "pca"] + [m for m in MODELS if m in grid_rows] + ["clean"]
            labels = {"noisy": "noisy", "pca": pca_row[0], "mlp": "MLP DAE", "conv": "conv DAE", "clean": "clean"}
            grid_rows["pca"] = pca_row[1]
            from aekit.report.grid import save_image_rows

            args.grids.mkdir(parents=True, exist_ok=True)
            save_image_rows([grid_rows[k] for k in order], args.grids / f"{tag}.png",
                            labels=[labels[k] for k in order], value_range=test.value_range)

    # summary: the target per dataset/noise
    targets = []
    for r in result["runs"]:
        if r["model"] == "conv":
            d = r["metrics"]["model"]["psnr"] - r["metrics"]["pca_tuned"]["psnr"]
            targets.append({"dataset": r["dataset"], "noise": r["noise"], "delta_db": round(d, 3), "met": d >= TARGET_DB})
    result["target"] = {"conv_minus_pca_tuned_db_at_least": TARGET_DB, "cases": targets,
                        "all_met": bool(targets) and all(t["met"] for t in targets)}
    result["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")

    hdr = f"{'dataset':<14} {'noise':<16} {'method':<24} {'PSNR dB':>8} {'SSIM':>6} {'Δ PCA':>7} {'train s':>8}  epochs"
    print("\n" + hdr + "\n" + "-" * len(hdr))
    for ds, nz, meth, ps, ss, d, secs, ep in sorted(rows, key=lambda r: (r[0], r[1], r[3])):
        print(f"{ds:<14} {nz:<16} {meth:<24} {ps:8.2f} {ss:6.3f} {d:+7.2f} {'' if secs is None else f'{secs:8.0f}':>8}  {ep}")
    for t in targets:
        print(f"target conv DAE ≥ PCA-tuned + {TARGET_DB:g} dB on {t['dataset']} {t['noise']}: "
              f"{t['delta_db']:+.2f} dB → {'MET' if t['met'] else 'MISSED'}")
    if args.json is not None:
        write_json(args.json, result)
        print(f"json → {args.json}")
    return result


if __name__ == "__main__":
    main()
