"""Colorization PSNR on held-out photos: the L → ab model vs the grey input (and vs mean colour).

Trains `aekit.Colorizer` on random crops of the `--source` photos ("bundled": BUNDLED_TRAIN, the
natural colour photos of scikit-image, scikit-learn and matplotlib; "skimage": SKIMAGE_TRAIN),
each scaled to a longer side of `--max-side` pixels, then colorizes the held-out photos
SKIMAGE_TEST (same scaling) from their L channel. PSNR is in RGB in [0, 1] against the original,
for: the grey image (L with a = b = 0, what the model is given), the training photos' mean ab
everywhere (a constant-colour baseline), and the model.

Without flags it runs the recipe of `aekit train --model colorizer` (the Colorizer's defaults
with that command's epochs 100, batch 128, lr 1e-3, patience 10). `--lopo` adds a
leave-one-photo-out check that uses the training photos only (each trained on the others and
scored on it): the check the default recipe was chosen by.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/colorize.py --json benchmarks/out/colorize.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from aekit.data.photos import PHOTO_SOURCES, lab_scaled_to_rgb, load_photos, rgb_to_lab_scaled, shrink
from aekit.estimators.colorizer import VALIDATIONS, Colorizer
from aekit.metrics import psnr_rgb
from aekit.report.colorize import save_colorize_grid

from _common import write_json  # noqa: E402  (benchmarks/_common.py)

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--source", choices=PHOTO_SOURCES, default="bundled")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--hidden", default="32,64")
    p.add_argument("--crop", type=int, default=32)
    p.add_argument("--n-crops", default="auto")
    p.add_argument("--max-side", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--validation", choices=VALIDATIONS, default="photos")
    p.add_argument("--ab-offset", choices=("zero", "mean"), default="zero")
    p.add_argument("--calibrate", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--loss", choices=("mse", "huber"), default="mse")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads for training (0: the trainer's choice)")
    p.add_argument("--lopo", action="store_true", help="also the leave-one-photo-out check on the training photos")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "colorize.json")
    p.add_argument("--grid", type=Path, default=ROOT / "benchmarks" / "out" / "colorize-grid.png")
    p.add_argument("--verbose", type=int, default=0)
    args = p.parse_args()
    train, test = load_photos(args.source)
    params = dict(hidden=tuple(int(h) for h in args.hidden.split(",")), crop=args.crop,
                  n_crops=args.n_crops if args.n_crops == "auto" else int(args.n_crops), max_side=args.max_side,
                  epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                  validation=args.validation, ab_offset=args.ab_offset, calibrate=args.calibrate, loss=args.loss,
                  weight_decay=args.weight_decay, random_state=args.seed, verbose=args.verbose,
                  num_threads=args.threads or None)
    lopo = leave_one_photo_out(train, params, args.max_side) if args.lopo else None
    est = Colorizer(**params)
    t0 = time.perf_counter()
    est.fit([im for _, im in train])
    seconds = time.perf_counter() - t0
    m = est.evaluate([im for _, im in test], [n for n, _ in test])
    mean_ab = training_mean_ab([im for _, im in train], args.max_side)
    for row, (_, im) in zip(m["photos"], test):
        row["psnr_mean_colour"] = psnr_mean_colour(shrink(im, args.max_side), mean_ab)
    m["psnr_mean_colour"] = float(np.mean([r["psnr_mean_colour"] for r in m["photos"]]))
    save_colorize_grid(est.last_images_, args.grid, [n for n, _ in test])
    result = {
        "machine": {"cores": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
                    "load_avg_1min": round(os.getloadavg()[0], 2)},
        "args": {k: str(v) for k, v in vars(args).items()},
        "train_photos": [n for n, _ in train], "test_photos": [n for n, _ in test],
        "n_crops": est.n_crops_, "epochs_run": est.n_epochs_, "best_epoch": est.best_epoch_,
        "validation_photos": [train[i][0] for i in getattr(est, "validation_photos_", [])],
        "ab_gain": est.model_config_.ab_gain, "ab_offset": est.model_config_.ab_offset,
        "train_seconds": seconds, **m, "lopo": lopo,
    }
    if lopo:
        print("leave-one-photo-out on the training photos (each trained on the others)")
        print(f"{'photo':12s} {'grey':>8s} {'mean ab':>8s} {'model':>8s}   PSNR dB (RGB)   gain")
        for r in lopo["photos"]:
            print(f"{r['name']:12s} {r['psnr_grey']:8.2f} {r['psnr_mean_colour']:8.2f} {r['psnr_model']:8.2f}   "
                  f"{r['ab_gain']:.2f}")
        print(f"{'mean':12s} {lopo['psnr_grey']:8.2f} {lopo['psnr_mean_colour']:8.2f} {lopo['psnr_model']:8.2f}"
              f"   ({lopo['seconds']:.0f} s)")
    val = result["validation_photos"]
    print(f"trained on {len(train)} photos ({est.n_crops_} crops of {args.crop}², {est.n_epochs_} epochs, best "
          f"{est.best_epoch_}, {seconds:.0f} s; validation {args.validation}{' ' + ','.join(val) if val else ''}; "
          f"gain {result['ab_gain']:.3f}); held-out photos, longer side {args.max_side} px")
    print(f"{'photo':12s} {'grey':>8s} {'mean ab':>8s} {'model':>8s}   PSNR dB (RGB)")
    for r in m["photos"]:
        print(f"{r['name']:12s} {r['psnr_grey']:8.2f} {r['psnr_mean_colour']:8.2f} {r['psnr_model']:8.2f}")
    print(f"{'mean':12s} {m['psnr_grey']:8.2f} {m['psnr_mean_colour']:8.2f} {m['psnr_model']:8.2f}")
    write_json(args.json, result)
    print(f"json → {args.json}; grid → {args.grid}")


def training_mean_ab(photos, max_side) -> np.ndarray:
    """The constant-colour baseline: the mean scaled ab over all pixels of the (scaled) training photos."""
    labs = [rgb_to_lab_scaled(shrink(im, max_side)) for im in photos]
    return np.mean(np.concatenate([lab[1:].reshape(2, -1) for lab in labs], 1), 1)


def psnr_mean_colour(rgb: np.ndarray, mean_ab: np.ndarray) -> float:
    L = rgb_to_lab_scaled(rgb)[0]
    return psnr_rgb(lab_scaled_to_rgb(L, np.broadcast_to(mean_ab[:, None, None], (2, *L.shape))), rgb / 255.0)


def leave_one_photo_out(train, params, max_side) -> dict:
    """Each training photo colorized by the recipe trained on the other training photos."""
    t0 = time.perf_counter()
    rows = []
    for k, (name, im) in enumerate(train):
        others = [p for i, (_, p) in enumerate(train) if i != k]
        est = Colorizer(**params).fit(others)
        r = est.evaluate([im], [name])["photos"][0]
        r["psnr_mean_colour"] = psnr_mean_colour(shrink(im, max_side), training_mean_ab(others, max_side))
        r["ab_gain"] = est.model_config_.ab_gain
        r["best_epoch"] = est.best_epoch_
        rows.append(r)
    return {"photos": rows, "seconds": time.perf_counter() - t0,
            **{k: float(np.mean([r[k] for r in rows])) for k in ("psnr_grey", "psnr_mean_colour", "psnr_model")}}


if __name__ == "__main__":
    main()
