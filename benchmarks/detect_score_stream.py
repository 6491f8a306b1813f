"""`aekit detect score` on a large CSV (issue 14): rows per second and peak memory while the
file is streamed in chunks.

Writes a CSV of the planted-column table (seven numeric and two categorical columns, 1 % of the
rows with one changed column), fits a detector on 20,000 of its rows, then runs
`aekit detect score RUN --data big.csv --out scores.parquet` in a child process and reads its
wall time and peak resident memory (the child's own getrusage, printed as it exits).

    python benchmarks/detect_score_stream.py [--rows 1000000] [--top 3] [--n-estimators auto|K]
        [--json benchmarks/out/detect_score_stream.json]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "estimators"))
from _common import machine, write_json  # noqa: E402
from test_detector_tables import plant, planted_table  # noqa: E402


def write_csv(path: Path, rows: int, block: int = 100_000) -> None:
    train = planted_table(20_000, 0)
    for k, start in enumerate(range(0, rows, block)):
        part = planted_table(min(block, rows - start), 1000 + k)
        changed, _ = plant(part.iloc[: len(part) // 100], train, seed=k)
        part.iloc[: len(changed)] = changed
        part.to_csv(path, mode="w" if k == 0 else "a", header=k == 0, index=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--chunk-rows", type=int, default=50_000)
    ap.add_argument("--n-estimators", default="auto", help="the detector's networks (aekit detect fit --n-estimators)")
    ap.add_argument("--json", default="benchmarks/out/detect_score_stream.json")
    args = ap.parse_args()
    aekit = str(Path(sys.executable).with_name("aekit"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        big = tmp / "big.csv"
        write_csv(big, args.rows)
        print(f"wrote {args.rows} rows ({big.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s", flush=True)
        small = tmp / "train.csv"
        pd.read_csv(big, nrows=25_000).to_csv(small, index=False)
        subprocess.run([aekit, "detect", "fit", "--data", str(small), "--out", str(tmp / "run"), "--quiet",
                        "--n-estimators", str(args.n_estimators)], check=True)
        t0 = time.perf_counter()
        # the scoring process reports its own peak resident memory when it exits
        wrapper = ("import atexit, resource, sys, aekit.cli; atexit.register(lambda: print('PEAK_RSS_KB', "
                   "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)); aekit.cli.main(sys.argv[1:])")
        done = subprocess.run([sys.executable, "-c", wrapper, "detect", "score", str(tmp / "run"), "--data", str(big),
                               "--out", str(tmp / "scores.parquet"), "--top", str(args.top), "--chunk-rows",
                               str(args.chunk_rows)], check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        peak_mb = int(done.stdout.split("PEAK_RSS_KB")[1].split()[0]) / 1024
        print(done.stdout.split("PEAK_RSS_KB")[0].strip())
        n = len(pd.read_parquet(tmp / "scores.parquet", columns=["score"]))
        result = {"rows": n, "file_mb": big.stat().st_size / 1e6, "top": args.top, "chunk_rows": args.chunk_rows,
                  "n_estimators": args.n_estimators,
                  "seconds": seconds, "rows_per_second": n / seconds, "peak_rss_mb": peak_mb}
    print(f"\n| rows | file | top columns | chunk | wall time | rows/s | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {n:,} | {result['file_mb']:.0f} MB | {args.top} | {args.chunk_rows:,} | {seconds:.0f} s | "
          f"{result['rows_per_second']:,.0f} | {peak_mb:.0f} MB |")
    write_json(args.json, {"machine": machine(), "args": vars(args), "result": result})


if __name__ == "__main__":
    main()
