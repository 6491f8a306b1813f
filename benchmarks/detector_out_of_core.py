"""Out of core for detectors: `AutoEncoderDetector` trained and scoring on a memory-mapped uint8
.npy of 1,000,000 × 784 (784 MB on disk, 3.1 GB as float32) under a 1 GiB memory budget, beside
the same work in memory on its first 100,000 rows, each in a child process that reports its own
peak resident set (VmHWM, as `out_of_core.py` measures it).

The data: `out_of_core.build` (MNIST's training images repeated with shifts, shuffles and noise).
The detector: AutoEncoder 784-64-32-8, batch 256, one epoch, random_state 0, threshold from 20 %
of held-out rows (fpr 0.01); one torch thread per child.

- ``fit``: `AutoEncoderDetector.fit` on the whole file (streamed: trained batch by batch, its
  calibration and training rows scored a block at a time) and on the 100,000-row file in memory;
- ``score``: `decision_function` of the whole file with the detector fitted in memory (streamed, a
  block at a time), and of the 100,000-row file in memory. The streamed scores of the first
  100,000 rows are checked equal to the in-memory ones (to the bit: blocks of whole inference
  batches).

rows/s = rows / the call's wall time. Targets: the streamed runs' peak resident set below the
budget plus what the process holds before (torch, the model), and their rows/s within 0.85× of
the in-memory runs' (the same 2 shared cores; the ratio is of one run).

    .venv/bin/python benchmarks/detector_out_of_core.py --json benchmarks/out/detector_out_of_core.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)
from out_of_core import FEATURES, build, high_water_mark, run_child  # noqa: E402

ROWS, SUBSET, BUDGET = 1_000_000, 100_000, "1GiB"
SPEED_TARGET = 0.85


def detector():
    from aekit import AutoEncoder, AutoEncoderDetector

    return AutoEncoderDetector(AutoEncoder(hidden=(64, 32), latent_dim=8, epochs=1, batch_size=256, random_state=0),
                               random_state=0)


def child(args) -> dict:
    """One measured call in this process (`args.task` on `args.child`); its record as a dict."""
    import torch

    from aekit import AutoEncoderDetector
    from aekit.data.files import load_path
    from aekit.data.limits import memory_budget_scope
    from aekit.data.streamed import is_streamed

    torch.set_num_threads(1)
    with memory_budget_scope(args.budget):
        ds = load_path(args.child)
        base_rss = high_water_mark()
        t0 = time.perf_counter()
        if args.task == "fit":
            det = detector().fit(ds.X)
            det.save(args.out)
            out = {"threshold": det.threshold_}
        else:
            scores = AutoEncoderDetector.load(args.detector).decision_function(ds.X)
            np.save(args.out, scores[:SUBSET])
            out = {}
        seconds = time.perf_counter() - t0
    return {**out, "path": "stream" if is_streamed(ds) else "in-RAM", "rows": len(ds), "seconds": seconds,
            "rows_per_s": len(ds) / seconds, "peak_rss_bytes": high_water_mark(), "rss_before_bytes": base_rss}


def measure(task: str, path: Path, budget: str, out: Path, det: Path | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path), "--task", task, "--budget", budget, "--out", str(out)]
    return run_child(cmd + (["--detector", str(det)] if det is not None else []))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "detector_out_of_core.json")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp"))
    ap.add_argument("--rows", type=int, default=ROWS)
    ap.add_argument("--budget", default=BUDGET, help="the memory budget of the streamed runs")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--task", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--detector", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args)))
        return

    work = args.workdir / f"aekit-detector-out-of-core-{os.getpid()}"
    work.mkdir(parents=True)
    big, small = work / "big.npy", work / "subset.npy"
    try:
        build_s = build(big, args.rows)
        np.save(small, np.ascontiguousarray(np.load(big, mmap_mode="r")[:SUBSET]))
        everything = "64GiB"  # the in-memory runs: a budget the 100,000 rows fit
        runs = {
            "fit, in memory, 100k": measure("fit", small, everything, work / "det-ram"),
            "fit, streamed, whole file": measure("fit", big, args.budget, work / "det-stream"),
            "score, in memory, 100k": measure("score", small, everything, work / "ram.npy", work / "det-ram"),
            "score, streamed, whole file": measure("score", big, args.budget, work / "stream.npy", work / "det-ram"),
        }
        same = bool(np.array_equal(np.load(work / "ram.npy"), np.load(work / "stream.npy")))
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    budget_bytes = _bytes(args.budget)
    result = {
        "benchmark": "detector_out_of_core", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(), "rows": args.rows, "subset": SUBSET, "budget": args.budget, "build_seconds": build_s,
        "runs": runs, "first_100k_scores_equal": same,
        "fit_speed_ratio": runs["fit, streamed, whole file"]["rows_per_s"] / runs["fit, in memory, 100k"]["rows_per_s"],
        "score_speed_ratio": (runs["score, streamed, whole file"]["rows_per_s"]
                              / runs["score, in memory, 100k"]["rows_per_s"]),
    }
    result["rss_within_budget"] = all(r["peak_rss_bytes"] - r["rss_before_bytes"] < budget_bytes
                                      for name, r in runs.items() if "streamed" in name)
    print(f"{args.rows:,} × {FEATURES} uint8 ({(args.rows * FEATURES) / 1e9:.2f} GB, built in {build_s:.0f} s), "
          f"budget {args.budget}, load average {result['machine']['load_avg_1min']}")
    print("| run | data path | rows | seconds | rows/s | peak RSS (GB) | RSS before the call (GB) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        print(f"| {name} | {r['path']} | {r['rows']:,} | {r['seconds']:.1f} | {r['rows_per_s']:,.0f} | "
              f"{r['peak_rss_bytes'] / 1e9:.2f} | {r['rss_before_bytes'] / 1e9:.2f} |")
    print(f"streamed / in memory rows/s: fit {result['fit_speed_ratio']:.2f}×, score {result['score_speed_ratio']:.2f}× "
          f"(target ≥ {SPEED_TARGET}×); streamed peak RSS above what the process held before, within the budget: "
          f"{result['rss_within_budget']}; first 100,000 streamed scores equal to the in-memory ones: {same}")
    write_json(args.json, result)


def _bytes(size: str) -> int:
    from aekit.data.limits import parse_size

    return parse_size(size)


if __name__ == "__main__":
    main()
