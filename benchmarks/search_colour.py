"""Similar-image search with and without colour: precision@10 by label, `--colour keep` vs `drop`.

Labelled colour data made offline: 32×32 crops of the 8 natural colour photos bundled with
scikit-image, scikit-learn and matplotlib (BUNDLED_TRAIN and SKIMAGE_TEST, each at half size),
labelled by the photo they come from. Each photo is cut in two (`split_strips`): crops of its
larger part are the collection (and what the models train on, without labels), crops of the
other part are the queries, so no query overlaps an indexed crop. Two conditions:

  original   the photos' own colours: colour tells the photos apart (each has its palette);
  jittered   every crop (collection, queries, training) with its Lab a*b* plane rotated by a
             random angle: its colour is drawn independently of its label, its lightness L is
             unchanged (up to clipping to the RGB cube). Colour and label disagree, as with the
             green frog and the deer on green grass.

For each condition, four ways to search (every index built with `aekit.ImageIndex.build`):
  keep                   a colour run (trained on the condition's colour crops), colour kept
  drop / colour run      the same run given the luminance repeated in its 3 channels
  drop / grey run        a run trained on the luminance of the same crops
  PCA colour / PCA grey  PCA codes of the same size, on colour or on luminance (linear reference)
Precision@10 by label: the share of each query's 10 nearest indexed crops from the query's photo.

`--cifar DIR` adds CIFAR-10 (the binary release in DIR, as `aekit data download cifar10` leaves
it): runs trained on --cifar-train training images, the same images indexed, --cifar-queries
test images as queries, labels = the 10 classes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/search_colour.py --json benchmarks/out/search_colour.json
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aekit import AutoEncoder, ImageIndex
from aekit.data.photos import BUNDLED_TRAIN, SKIMAGE_TEST, skimage_photo, split_strips, with_scales
from aekit.metrics import precision_at_k
from aekit.models.pca import fit_pca
from aekit.tasks.index import luminance

from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

ROOT = Path(__file__).resolve().parents[1]


def crops(photos: list[np.ndarray], per_photo: int, size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """per_photo random size×size RGB crops of each photo (N×3×size×size in [0, 1]) and the photo's index."""
    X, y = [], []
    for label, p in enumerate(photos):
        for _ in range(per_photo):
            r = rng.integers(0, p.shape[0] - size + 1)
            c = rng.integers(0, p.shape[1] - size + 1)
            X.append(p[r : r + size, c : c + size].transpose(2, 0, 1) / 255.0)
            y.append(label)
    return np.asarray(X, np.float32), np.asarray(y, np.int64)


def rotate_colour(X: np.ndarray, rng) -> np.ndarray:
    """Each image's Lab a*b* plane rotated by its own random angle; L kept (clipped to RGB after)."""
    from skimage.color import lab2rgb, rgb2lab

    lab = rgb2lab(X.transpose(0, 2, 3, 1))
    theta = rng.uniform(0, 2 * np.pi, len(X))[:, None, None]
    a, b = lab[..., 1].copy(), lab[..., 2].copy()
    lab[..., 1] = a * np.cos(theta) - b * np.sin(theta)
    lab[..., 2] = a * np.sin(theta) + b * np.cos(theta)
    return np.clip(lab2rgb(lab), 0, 1).transpose(0, 3, 1, 2).astype(np.float32)


def fit_run(X: np.ndarray, path: Path, args) -> Path:
    hidden = tuple(int(h) for h in args.hidden.split(","))
    est = AutoEncoder(arch="resnet", hidden=hidden, blocks=args.blocks, latent_dim=args.code, epochs=args.epochs,
                      batch_size=64, lr=1e-3, validation_fraction=0, random_state=args.seed).fit(X)
    return est.save(path)


def precision(index: ImageIndex, queries: np.ndarray, labels: np.ndarray, k: int) -> float:
    _, pos = index.search_positions(index.encode(queries), k)
    return precision_at_k(index.labels[pos], labels)


def pca_precision(coll: np.ndarray, coll_y, queries: np.ndarray, q_y, code: int, k: int) -> float:
    pca = fit_pca(coll, code)
    index = ImageIndex.from_codes(pca.transform(coll.reshape(len(coll), -1)), labels=coll_y, kind="flat")
    _, pos = index.search_positions(pca.transform(queries.reshape(len(queries), -1)), k)
    return precision_at_k(index.labels[pos], q_y)


def compare(name: str, coll, coll_y, queries, q_y, args, tmp: Path) -> dict:
    """Precision@k of the four ways to search, on one collection and its queries."""
    t0 = time.perf_counter()
    colour_run = fit_run(coll, tmp / f"{name}-colour", args)
    grey_run = fit_run(luminance(coll), tmp / f"{name}-grey", args)
    k = args.k
    row = {
        "data": name, "collection": len(coll), "queries": len(queries), "labels": int(len(np.unique(coll_y))),
        "keep": precision(ImageIndex.build(colour_run, coll, labels=coll_y, colour="keep"), queries, q_y, k),
        "drop_colour_run": precision(ImageIndex.build(colour_run, coll, labels=coll_y, colour="drop"), queries, q_y, k),
        "drop_grey_run": precision(ImageIndex.build(grey_run, coll, labels=coll_y, colour="drop"), queries, q_y, k),
        "pca_colour": pca_precision(coll, coll_y, queries, q_y, args.code, k),
        "pca_grey": pca_precision(luminance(coll), coll_y, luminance(queries), q_y, args.code, k),
        "chance": float(np.mean([np.mean(coll_y == c) for c in q_y])),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(row, flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--scale", type=float, default=0.5, help="photo scale before cropping")
    p.add_argument("--collection-per-photo", type=int, default=256)
    p.add_argument("--queries-per-photo", type=int, default=32)
    p.add_argument("--query-fraction", type=float, default=0.3, help="share of each photo's longer side kept for queries")
    p.add_argument("--hidden", default="16,32,64")
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--code", type=int, default=64)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cifar", type=Path, default=None, help="a folder holding CIFAR-10's binary release")
    p.add_argument("--cifar-train", type=int, default=10000)
    p.add_argument("--cifar-queries", type=int, default=1000)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "search_colour.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    rng = np.random.default_rng(args.seed)
    photos = with_scales([skimage_photo(n) for n in BUNDLED_TRAIN + SKIMAGE_TEST], (args.scale,), args.size)
    coll_part, query_part = split_strips(photos, args.query_fraction, args.size)
    if len(query_part) != len(coll_part):
        raise SystemExit("a photo is too small to cut into a collection part and a query part at this size")
    coll, coll_y = crops(coll_part, args.collection_per_photo, args.size, rng)
    queries, q_y = crops(query_part, args.queries_per_photo, args.size, rng)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows.append(compare("photos, original colours", coll, coll_y, queries, q_y, args, tmp))
        rows.append(compare("photos, colours rotated at random", rotate_colour(coll, rng), coll_y,
                            rotate_colour(queries, rng), q_y, args, tmp))
        if args.cifar is not None:
            from aekit.data import load

            train = load("cifar10", split="train", data_dir=args.cifar)
            test = load("cifar10", split="test", data_dir=args.cifar)
            n, m = min(args.cifar_train, len(train)), min(args.cifar_queries, len(test))
            rows.append(compare("CIFAR-10", np.asarray(train.X[:n], np.float32), np.asarray(train.y[:n]),
                                np.asarray(test.X[:m], np.float32), np.asarray(test.y[:m]), args, tmp))
    cols = ["data", "keep", "drop_colour_run", "drop_grey_run", "pca_colour", "pca_grey", "chance"]
    print(f"\nprecision@{args.k} by label")
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols))
    write_json(args.json, {"args": {k: str(v) for k, v in vars(args).items()}, "machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
