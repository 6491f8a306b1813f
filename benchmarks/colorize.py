"""Colorization PSNR on held-out photos: the L → ab model vs the grey input (and vs mean colour).

Trains `aekit.Colorizer` (conv blocks `--hidden`, tanh ab output, MSE) on random crops of
scikit-image's bundled colour photos SKIMAGE_TRAIN (each scaled to a longer side of
`--max-side` pixels), then colorizes the held-out photos SKIMAGE_TEST (same scaling) from their
L channel. PSNR is in RGB in [0, 1] against the original, for: the grey image (L with a = b = 0,
what the model is given), the training photos' mean ab everywhere (a constant-colour baseline),
and the model.

    .venv/bin/python benchmarks/colorize.py --epochs 15 --json benchmarks/out/colorize.json
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

from aekit.models.colorizer import lab_scaled_to_rgb, rgb_to_lab_scaled
from aekit.tasks.colorize import Colorizer, load_photos, psnr_rgb, save_colorize_grid, shrink

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--hidden", default="32,64")
    p.add_argument("--crop", type=int, default=32)
    p.add_argument("--n-crops", default="auto")
    p.add_argument("--max-side", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads for training (0: the trainer's choice)")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "colorize.json")
    p.add_argument("--grid", type=Path, default=ROOT / "benchmarks" / "out" / "colorize-grid.png")
    p.add_argument("--verbose", type=int, default=0)
    args = p.parse_args()
    train, test = load_photos("skimage")
    est = Colorizer(hidden=tuple(int(h) for h in args.hidden.split(",")), crop=args.crop,
                    n_crops=args.n_crops if args.n_crops == "auto" else int(args.n_crops), max_side=args.max_side,
                    epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, random_state=args.seed,
                    verbose=args.verbose, num_threads=args.threads or None)
    t0 = time.perf_counter()
    est.fit([im for _, im in train])
    seconds = time.perf_counter() - t0
    m = est.evaluate([im for _, im in test], [n for n, _ in test])
    # constant-colour baseline: the mean ab of the (scaled) training photos
    labs = [rgb_to_lab_scaled(shrink(im, args.max_side)) for _, im in train]
    mean_ab = np.mean(np.concatenate([lab[1:].reshape(2, -1) for lab in labs], 1), 1)
    for row, (_, im) in zip(m["photos"], test):
        rgb = shrink(im, args.max_side)
        L = rgb_to_lab_scaled(rgb)[0]
        ab = np.broadcast_to(mean_ab[:, None, None], (2, *L.shape))
        row["psnr_mean_colour"] = psnr_rgb(lab_scaled_to_rgb(L, ab), rgb / 255.0)
    m["psnr_mean_colour"] = float(np.mean([r["psnr_mean_colour"] for r in m["photos"]]))
    save_colorize_grid(est.last_images_, args.grid, [n for n, _ in test])
    result = {
        "machine": {"cores": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
                    "load_avg_1min": round(os.getloadavg()[0], 2)},
        "args": {k: str(v) for k, v in vars(args).items()},
        "train_photos": [n for n, _ in train], "test_photos": [n for n, _ in test],
        "n_crops": est.n_crops_, "epochs_run": est.n_epochs_, "best_epoch": est.best_epoch_,
        "train_seconds": seconds, **m,
    }
    print(f"trained on {len(train)} photos ({est.n_crops_} crops of {args.crop}², {est.n_epochs_} epochs, "
          f"{seconds:.0f} s); held-out photos, longer side {args.max_side} px")
    print(f"{'photo':12s} {'grey':>8s} {'mean ab':>8s} {'model':>8s}   PSNR dB (RGB)")
    for r in m["photos"]:
        print(f"{r['name']:12s} {r['psnr_grey']:8.2f} {r['psnr_mean_colour']:8.2f} {r['psnr_model']:8.2f}")
    print(f"{'mean':12s} {m['psnr_grey']:8.2f} {m['psnr_mean_colour']:8.2f} {m['psnr_model']:8.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=float))
    print(f"json → {args.json}; grid → {args.grid}")


if __name__ == "__main__":
    main()
