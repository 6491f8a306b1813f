"""Reading a 100,000 × 785 MNIST-like CSV: aekit's reader beside pandas and numpy (issue 13).

The file: a header row (label, pixel0 … pixel783), then the 60,000 MNIST training images, the
10,000 test images and the first 30,000 training images again (100,000 rows), each a label and
784 integer pixels 0-255 (about 183 MB). It is written once under /tmp (--csv to choose).

Each reader runs in its own child process, one after the other, --repeat times:

- aekit: ``aekit.data.files.load_path(csv, label_column="label")`` (pandas' C parser in chunks, straight
  into float32, then the Dataset's checks and value range);
- pandas: ``pandas.read_csv(csv)`` (its defaults: int64 columns);
- pandas float32: ``pandas.read_csv(csv, dtype=float32 for the pixels)``, then ``to_numpy``;
- pandas pyarrow: ``pandas.read_csv(csv, engine="pyarrow")``;
- numpy: ``np.loadtxt(csv, delimiter=",", skiprows=1, dtype=float32)``.

Seconds are the read call alone (imports excluded); peak RSS is the child's
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, with the RSS before the read beside it (imports
such as torch differ between readers), so "added" is what the read itself cost.

    .venv/bin/python benchmarks/csv_read.py --json benchmarks/out/csv_read.json
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

READERS = ("aekit", "pandas", "pandas-float32", "pandas-pyarrow", "numpy-loadtxt")


def write_csv(path: Path, data_dir: Path, rows: int) -> None:
    """The MNIST-like CSV: a header, then `rows` rows of a label and 784 pixels (train, test,
    train again as needed)."""
    import pandas as pd

    from aekit.data.idx import read_idx

    mnist = data_dir / "mnist"
    X = np.concatenate([read_idx(mnist / "train-images-idx3-ubyte.gz"), read_idx(mnist / "t10k-images-idx3-ubyte.gz")])
    y = np.concatenate([read_idx(mnist / "train-labels-idx1-ubyte.gz"), read_idx(mnist / "t10k-labels-idx1-ubyte.gz")])
    reps = -(-rows // len(X))
    X, y = np.concatenate([X] * reps)[:rows].reshape(rows, -1), np.concatenate([y] * reps)[:rows]
    df = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    df.insert(0, "label", y)
    tmp = path.with_suffix(".partial")
    df.to_csv(tmp, index=False)
    tmp.replace(path)


def rss_mib() -> float:
    """This process's resident memory now (MiB), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(reader: str, path: str) -> dict:
    """Read the CSV once with `reader` in this (fresh) process; time, memory and the array's shape."""
    if reader == "aekit":
        from aekit.data.files import load_path

        def read():
            ds = load_path(path, label_column="label")
            return ds.X, ds.y
    elif reader.startswith("pandas"):
        import pandas as pd

        def read():
            if reader == "pandas":
                df = pd.read_csv(path)
            elif reader == "pandas-pyarrow":
                df = pd.read_csv(path, engine="pyarrow")
            else:
                df = pd.read_csv(path, dtype={f"pixel{i}": np.float32 for i in range(784)})
                return df.iloc[:, 1:].to_numpy(np.float32), df["label"].to_numpy()
            return df.iloc[:, 1:], df["label"]
    else:
        def read():
            return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32), None
    before = rss_mib()
    t0 = time.perf_counter()
    X, y = read()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"reader": reader, "seconds": seconds, "rss_before_mib": before, "peak_rss_mib": peak,
            "added_mib": peak - before, "shape": list(np.shape(X)), "dtype": str(getattr(X, "dtype", "mixed"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", default="/tmp/aekit_mnist_100k.csv")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--readers", default=",".join(READERS))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", default="benchmarks/out/csv_read.json")
    ap.add_argument("--child", nargs=2, metavar=("READER", "CSV"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    path = Path(args.csv)
    if not path.exists():
        write_csv(path, Path(args.data_dir), args.rows)
    readers = [r for r in args.readers.split(",") if r]
    runs: dict[str, list[dict]] = {r: [] for r in readers}
    for _ in range(args.repeat):  # interleaved: the machine's load falls on every reader alike
        for reader in readers:
            out = subprocess.run([sys.executable, __file__, "--child", reader, str(path)], check=True,
                                 capture_output=True, text=True, cwd=ROOT)
            runs[reader].append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = []
    for reader, rs in runs.items():
        rows.append({"reader": reader, "seconds": statistics.median(r["seconds"] for r in rs),
                     "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in rs),
                     "added_mib": statistics.median(r["added_mib"] for r in rs),
                     "shape": rs[0]["shape"], "dtype": rs[0]["dtype"], "runs": rs})
    base = next((r["seconds"] for r in rows if r["reader"] == "pandas"), None)
    print(f"{path} ({path.stat().st_size / 2**20:.0f} MiB), median of {args.repeat}")
    print(f"{'reader':<16} {'seconds':>8} {'vs pandas':>9} {'peak RSS MiB':>13} {'added MiB':>10}  array")
    for r in rows:
        ratio = f"{r['seconds'] / base:.2f}×" if base else "—"
        print(f"{r['reader']:<16} {r['seconds']:>8.2f} {ratio:>9} {r['peak_rss_mib']:>13.0f} {r['added_mib']:>10.0f}"
              f"  {'×'.join(map(str, r['shape']))} {r['dtype']}")
    write_json(args.json, {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                           "csv": str(path), "bytes": path.stat().st_size, "repeat": args.repeat, "rows": rows})


if __name__ == "__main__":
    main()
