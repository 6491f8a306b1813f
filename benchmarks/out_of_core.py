"""Out of core: one epoch of a 784-256-64-8 autoencoder on a memory-mapped uint8 .npy of
2,000,000 × 784 (1.5 GB on disk, 6.3 GB as float32), with the peak resident memory of the
training process, beside the in-RAM path on a subset that fits, measured in the same run.

The data: MNIST's 60,000 training images (../shared/data/mnist), repeated with a random shift of
up to 2 pixels per copy, the rows shuffled per copy and uniform noise of 0–15 grey levels added
to every pixel, so no two rows are alike. The file is built under --workdir (default /tmp) and
deleted afterwards.

Each measurement runs in a child process that reports its own peak resident set: VmHWM of
/proc/self/status, the high-water mark of the process's memory since it started (the
memory-mapped pages it touches count in it). Not ``ru_maxrss``: on Linux a child inherits its
parent's maximum across fork and exec, and the parent has just written the 1.5 GB file.

- ``stream 2M``: `aekit.data.files.load_path` with ``memory_budget`` 1 GiB (the file's float32
  values, 6.3 GB, are over it) gives a `StreamedDataset`; ``AutoEncoder.fit`` streams it;
- ``stream 200k``: the same on the first 200,000 rows (a file of its own);
- ``in-RAM 200k``: the first 200,000 rows loaded in memory (``load_path`` within the default
  budget), the in-RAM fast path; measured before and after the streamed runs (the machine is
  shared: the two bracket how its load moved), the ratio taken against their mean.

All: hidden (256, 64), latent 8, batch 256, 1 epoch, validation_fraction 0.1 (the streamed
validation rows are capped at 64 MiB), random_state 0, one torch thread (the machine is shared:
spinning OpenMP threads would measure the other jobs more than aekit). samples/s =
training rows / the trainer's optimization time of the epoch (validation excluded); "fit s" is
the whole fit (the streamed path's scan of the data, the validation read, standardization...).
The 2M-row run's samples/s is compared with the in-RAM run's (target ≥ 0.85×), and its peak
resident set with 1.5 GB (target below).

    .venv/bin/python benchmarks/out_of_core.py --json benchmarks/out/out_of_core.json

--cache cold evicts the file from the page cache (posix_fadvise DONTNEED) before each streamed
run, so every batch comes from the disk; the default (warm) reads it from the page cache, as
after the file was written or after a first epoch.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

MNIST = ROOT.parent / "shared" / "data" / "mnist" / "train-images-idx3-ubyte.gz"
ROWS, SUBSET, FEATURES = 2_000_000, 200_000, 784
RSS_TARGET, SPEED_TARGET = 1.5e9, 0.85


def build(path: Path, rows: int, seed: int = 0) -> float:
    """Write the rows × 784 uint8 .npy (see the module's text); returns the seconds it took."""
    from aekit.data.idx import read_idx

    t0 = time.perf_counter()
    images = np.asarray(read_idx(MNIST)).reshape(-1, 28, 28)
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(rows, FEATURES))
    for start in range(0, rows, len(images)):
        n = min(len(images), rows - start)
        dy, dx = rng.integers(-2, 3, size=2)
        block = np.roll(images[rng.permutation(len(images))[:n]], (int(dy), int(dx)), axis=(1, 2))
        noisy = block.reshape(n, FEATURES).astype(np.uint16) + rng.integers(0, 16, (n, FEATURES), dtype=np.uint16)
        out[start : start + n] = np.minimum(noisy, 255).astype(np.uint8)
    out.flush()
    del out
    return time.perf_counter() - t0


def evict(path: Path) -> None:
    """Drop the file's pages from the page cache (clean pages: no privilege needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def high_water_mark() -> int:
    """This process's peak resident set in bytes (VmHWM), since its exec."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def child(args) -> dict:
    """One measured fit in this process; prints its record as JSON."""
    import torch

    from aekit import AutoEncoder
    from aekit.data.files import load_path
    from aekit.data.streamed import is_streamed

    torch.set_num_threads(1)  # the trainer keeps it: auto_threads never raises the count
    base_rss = high_water_mark()
    t0 = time.perf_counter()
    ds = load_path(args.path, memory_budget=args.budget)
    load_s = time.perf_counter() - t0
    est = AutoEncoder(hidden=(256, 64), latent_dim=8, epochs=1, batch_size=256, random_state=0)
    t1 = time.perf_counter()
    est.fit(ds.X)
    fit_s = time.perf_counter() - t1
    row = est.history_[-1]
    n_train = len(ds) - int(round(len(ds) * est.validation_fraction))
    return {
        "path": "stream" if is_streamed(ds) else "in-RAM", "rows": len(ds), "train_rows": n_train,
        "samples_per_s": n_train / row["train_seconds"], "train_seconds": row["train_seconds"],
        "load_seconds": load_s, "fit_seconds": fit_s, "loss": row["loss"], "val_loss": row["val_loss"],
        "peak_rss_bytes": high_water_mark(), "rss_after_imports_bytes": base_rss, "threads": torch.get_num_threads(),
        "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # inherits the parent's
    }


def run_child(cmd: list[str]) -> dict:
    """Run one measuring child process; the JSON record it prints last."""
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"child failed: {' '.join(cmd)}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(script: Path, path: Path, budget: str | None, cold: bool) -> dict:
    if cold:
        evict(path)
    return run_child([sys.executable, str(script), "--child", str(path)] + (["--budget", budget] if budget else []))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "out_of_core.json")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp"))
    ap.add_argument("--rows", type=int, default=ROWS)
    ap.add_argument("--subset", type=int, default=SUBSET)
    ap.add_argument("--cache", choices=("warm", "cold"), default="warm")
    ap.add_argument("--keep", action="store_true", help="keep the built files")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--budget", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        args.path = args.child
        print(json.dumps(child(args)))
        return

    work = args.workdir / f"aekit-out-of-core-{os.getpid()}"
    work.mkdir(parents=True)
    big, small = work / "mnist-2m.npy", work / "mnist-200k.npy"
    try:
        build_s = build(big, args.rows)
        sub = np.load(big, mmap_mode="r")[: args.subset]
        np.save(small, np.ascontiguousarray(sub))
        del sub
        cold = args.cache == "cold"
        runs = {
            "in-RAM 200k (before)": measure(Path(__file__), small, None, False),
            "stream 200k": measure(Path(__file__), small, "16MiB", cold),
            "stream 2M": measure(Path(__file__), big, "1GiB", cold),
            "in-RAM 200k (after)": measure(Path(__file__), small, None, False),
        }
    finally:
        if not args.keep:
            for p in (big, small):
                p.unlink(missing_ok=True)
            work.rmdir() if not any(work.iterdir()) else None
    stream = runs["stream 2M"]
    ram_speed = (runs["in-RAM 200k (before)"]["samples_per_s"] + runs["in-RAM 200k (after)"]["samples_per_s"]) / 2
    ratio = stream["samples_per_s"] / ram_speed
    result = {
        "benchmark": "out_of_core", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(), "rows": args.rows, "subset": args.subset, "cache": args.cache,
        "file_bytes": args.rows * FEATURES + 128, "build_seconds": build_s, "runs": runs,
        "stream_vs_ram_samples_per_s": ratio, "speed_target": SPEED_TARGET, "rss_target_bytes": RSS_TARGET,
        "speed_target_met": ratio >= SPEED_TARGET, "rss_target_met": stream["peak_rss_bytes"] < RSS_TARGET,
    }
    print(f"{args.rows:,} × {FEATURES} uint8 ({result['file_bytes'] / 1e9:.2f} GB, built in {build_s:.0f} s), "
          f"page cache {args.cache}, load average {result['machine']['load_avg_1min']}")
    print("| run | data path | rows | samples/s | epoch s | fit s | peak RSS (GB) | val loss |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        print(f"| {name} | {r['path']} | {r['rows']:,} | {r['samples_per_s']:,.0f} | {r['train_seconds']:.1f} | "
              f"{r['fit_seconds']:.1f} | {r['peak_rss_bytes'] / 1e9:.2f} | {r['val_loss']:.5f} |")
    print(f"stream 2M / in-RAM 200k (mean of the two) samples/s: {ratio:.2f}× (target ≥ {SPEED_TARGET}×: "
          f"{'met' if result['speed_target_met'] else 'MISSED'}); peak RSS {stream['peak_rss_bytes'] / 1e9:.2f} GB "
          f"(target < 1.5 GB: {'met' if result['rss_target_met'] else 'MISSED'})")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
