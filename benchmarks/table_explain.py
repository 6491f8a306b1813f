"""Explanation accuracy on a planted-column table (issue 14): one column of each test row is
changed (a numeric cell moved by 4-6 standard deviations, or a category swapped for another
level); how often does `AutoEncoderDetector.explain` name that column first?

Compared: aekit's explanation (each column's own error plus the error it causes in the others,
found by hiding it) and the plain split of the squared error by column, for the default
detector model and a small one, over several seeds.

    python benchmarks/table_explain.py [--seeds 3] [--json benchmarks/out/table_explain.json]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "estimators"))
from _common import machine, write_json  # noqa: E402
from test_detector_tables import plant, planted_table  # noqa: E402  (the table the test uses)

from aekit import AutoEncoder, AutoEncoderDetector  # noqa: E402

MODELS = {"default (the table default: RobustAutoEncoder)": lambda: None,
          "small (32, code 3, 60 epochs)": lambda: AutoEncoder(hidden=(32,), latent_dim=3, epochs=60, batch_size=64)}


def plain_first(det, rows) -> np.ndarray:
    """The column with the largest share of the row's squared error (no hiding)."""
    enc = det.table_encoder_
    X, observed = enc.transform(rows)
    sq = np.where(observed, (X - det.estimator_.reconstruct(X)) ** 2, 0.0)
    return np.asarray(enc.encoded_columns_)[enc.sum_by_column(sq).argmax(1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--train-rows", type=int, default=3000)
    ap.add_argument("--test-rows", type=int, default=1000)
    ap.add_argument("--json", default="benchmarks/out/table_explain.json")
    args = ap.parse_args()
    results = []
    for name, make in MODELS.items():
        for seed in range(args.seeds):
            train = planted_table(args.train_rows, 100 + seed)
            test = planted_table(args.test_rows, 200 + seed)
            changed, truth = plant(test, train, seed=300 + seed)
            t0 = time.perf_counter()
            det = AutoEncoderDetector(make(), random_state=seed).fit(train)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            ex = det.explain(changed, top=1)
            explain_s = time.perf_counter() - t0
            first = ex.set_index("row")["column"].reindex(changed.index).to_numpy()
            numeric = np.isin(truth, ["n0", "n1", "n2", "n3", "n4", "n5", "n_items"])
            hit, plain = first == truth, plain_first(det, changed) == truth
            results.append({"model": name, "seed": seed, "accuracy": hit.mean(), "numeric": hit[numeric].mean(),
                            "categorical": hit[~numeric].mean(), "plain_split": plain.mean(), "fit_s": fit_s,
                            "explain_rows_per_s": len(changed) / explain_s})
            r = results[-1]
            print(f"{name:38s} seed {seed}: named first {r['accuracy']:.3f} (numeric {r['numeric']:.3f}, "
                  f"categorical {r['categorical']:.3f}); plain split {r['plain_split']:.3f}; fit {fit_s:.1f} s; "
                  f"explain {r['explain_rows_per_s']:.0f} rows/s", flush=True)
    print("\n| model | named first (mean ± sd) | numeric | categorical | plain error split |")
    print("|---|---|---|---|---|")
    for name in MODELS:
        rs = [r for r in results if r["model"] == name]
        a = np.array([r["accuracy"] for r in rs])
        print(f"| {name} | {a.mean():.3f} ± {a.std():.3f} | {np.mean([r['numeric'] for r in rs]):.3f} | "
              f"{np.mean([r['categorical'] for r in rs]):.3f} | {np.mean([r['plain_split'] for r in rs]):.3f} |")
    write_json(args.json, {"machine": machine(), "args": vars(args), "results": results})


if __name__ == "__main__":
    main()
