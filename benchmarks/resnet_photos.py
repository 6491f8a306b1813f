"""Residual conv AE vs the small Keras conv net vs PCA on crops of colour photos: PSNR of
reconstruction and of denoising.

Data (offline): random RGB crops of the natural colour photos bundled with scikit-image,
scikit-learn and matplotlib (`aekit.data.photos.BUNDLED_TRAIN`) to train on, and of the held-out
photos SKIMAGE_TEST (chelsea, motorcycle) to test on; each photo is used at full size and at half
size (more content per crop). Values in [0, 1].

For each crop size, every model is scored on the held-out crops by PSNR (dB, in [0, 1]) of
  recon        the reconstruction of the clean crop;
  σ = 0.1/0.2  the reconstruction of the crop with Gaussian noise of that σ added (clipped to
               [0, 1]), against the clean crop: how much of the noise the code removes;
beside PCA with the same code size (fitted on the clean training crops; denoising = projecting
the noisy crop on its components) and the noisy input itself. Models:
  conv-ae          the texts' Keras net: conv 32-32 + max-pooling, no dense code (code 32·H/4·W/4)
  conv-dense       the same net with a dense code of --code values
  resnet-ae        `aekit.nn.resnet`, by default the resnet-ae preset's widths and blocks
                   (--resnet-hidden, --resnet-blocks), dense code --code
  +dae variants    the two dense models trained as denoising AEs (noise gaussian:--dae-sigma)
All models see the same crops for the same number of epochs; training seconds are reported.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/resnet_photos.py --json benchmarks/out/resnet_photos.json
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from aekit import AutoEncoder
from aekit.data.photos import BUNDLED_TRAIN, SKIMAGE_TEST, skimage_photo, with_scales
from aekit.metrics import psnr
from aekit.models.pca import fit_pca

from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

ROOT = Path(__file__).resolve().parents[1]


def rgb_crops(photos: list[np.ndarray], n: int, size: int, seed: int) -> np.ndarray:
    """n random size×size RGB crops (N×3×size×size float32 in [0, 1]), spread evenly over the photos."""
    rng = np.random.default_rng(seed)
    which = np.arange(n) % len(photos)
    rng.shuffle(which)
    out = np.empty((n, 3, size, size), np.float32)
    for i, j in enumerate(which):
        p = photos[j]
        y = rng.integers(0, p.shape[0] - size + 1)
        x = rng.integers(0, p.shape[1] - size + 1)
        out[i] = p[y : y + size, x : x + size].transpose(2, 0, 1) / 255.0
    return out


def noisy(X: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    return np.clip(X + np.random.default_rng(seed).normal(0, sigma, X.shape).astype(np.float32), 0, 1)


def models(code: int, dae_sigma: float, resnet_hidden: tuple[int, ...], blocks: int) -> dict[str, dict]:
    dense_conv = {"arch": "conv", "hidden": (32, 32), "latent_dim": code}
    resnet = {"arch": "resnet", "hidden": resnet_hidden, "blocks": blocks, "latent_dim": code}
    return {
        "conv-ae": {"arch": "conv", "hidden": (32, 32), "latent_dim": None, "loss": "bce"},  # the conv-ae preset
        "conv-dense": dense_conv,
        "resnet-ae": resnet,
        "conv-dense-dae": {**dense_conv, "noise": f"gaussian:{dae_sigma}"},
        "resnet-dae": {**resnet, "noise": f"gaussian:{dae_sigma}"},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="32,64", help="crop sizes, comma-separated")
    p.add_argument("--train-crops", default="3072,768", help="training crops per size")
    p.add_argument("--test-crops", type=int, default=512)
    p.add_argument("--epochs", default="4,4", help="epochs per size (every model the same)")
    p.add_argument("--code", default="128,256", help="dense code size per size")
    p.add_argument("--sigmas", default="0.1,0.2")
    p.add_argument("--dae-sigma", type=float, default=0.2)
    p.add_argument("--models", default="conv-ae,conv-dense,resnet-ae,conv-dense-dae,resnet-dae")
    p.add_argument("--dae-sizes", default="32", help="sizes at which the denoising variants are trained")
    p.add_argument("--resnet-hidden", default="32,64,128,128", help="the resnet's stage widths (resnet-ae preset's)")
    p.add_argument("--resnet-blocks", type=int, default=2, help="residual blocks per stage (resnet-ae preset's)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: as set by OMP_NUM_THREADS / torch)")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "resnet_photos.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    sizes = [int(s) for s in args.sizes.split(",")]
    per = lambda text, cast: dict(zip(sizes, [cast(v) for v in text.split(",")]))  # noqa: E731
    n_train, epochs, codes = per(args.train_crops, int), per(args.epochs, int), per(args.code, int)
    sigmas = [float(s) for s in args.sigmas.split(",")]
    dae_sizes = {int(s) for s in args.dae_sizes.split(",") if s}
    wanted = args.models.split(",")

    train_photos = [skimage_photo(n) for n in BUNDLED_TRAIN]
    test_photos = [skimage_photo(n) for n in SKIMAGE_TEST]
    rows = []
    for size in sizes:
        tr = rgb_crops(with_scales(train_photos, (1.0, 0.5), size), n_train[size], size, args.seed)
        te = rgb_crops(with_scales(test_photos, (1.0, 0.5), size), args.test_crops, size, args.seed + 1)
        noisy_te = {s: noisy(te, s, args.seed + 2) for s in sigmas}
        base = {"size": size, "train_crops": len(tr), "test_crops": len(te)}
        rows.append({**base, "model": "noisy input", "code": None, "recon": None,
                     **{f"sigma_{s}": float(psnr(te, noisy_te[s]).mean()) for s in sigmas}})
        pca_done = set()
        resnet_hidden = tuple(int(h) for h in args.resnet_hidden.split(","))
        for name, params in models(codes[size], args.dae_sigma, resnet_hidden, args.resnet_blocks).items():
            if name not in wanted or ("dae" in name and size not in dae_sizes):
                continue
            t0 = time.perf_counter()
            ae = AutoEncoder(**params, epochs=epochs[size], batch_size=args.batch_size, lr=args.lr,
                             validation_fraction=0, random_state=args.seed).fit(tr)
            seconds = time.perf_counter() - t0
            code = ae.model_config_.code_size
            row = {**base, "model": name, "code": code, "params": sum(p.numel() for p in ae.model_.parameters()),
                   "epochs": epochs[size], "train_seconds": round(seconds, 1),
                   "recon": float(psnr(te, ae.reconstruct(te)).mean()),
                   **{f"sigma_{s}": float(psnr(te, ae.reconstruct(noisy_te[s])).mean()) for s in sigmas}}
            rows.append(row)
            print(row, flush=True)
            if code not in pca_done:
                pca_done.add(code)
                k = min(code, len(tr), tr[0].size)
                pca = fit_pca(tr, k, seed=args.seed)
                flat = lambda X: X.reshape(len(X), -1)  # noqa: E731
                rec = lambda X: np.clip(pca.inverse_transform(pca.transform(flat(X))), 0, 1).reshape(X.shape)  # noqa: E731
                rows.append({**base, "model": f"PCA-{k}", "code": k, "recon": float(psnr(te, rec(te)).mean()),
                             **{f"sigma_{s}": float(psnr(te, rec(noisy_te[s])).mean()) for s in sigmas}})
    cols = ["size", "model", "code", "recon", *[f"sigma_{s}" for s in sigmas], "train_seconds"]
    print("\nPSNR (dB) on held-out crops; sigma_x: denoising Gaussian noise of that σ")
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join("" if r.get(c) is None else (f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]))
                         for c in cols))
    write_json(args.json, {"args": {k: str(v) for k, v in vars(args).items()}, "machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
