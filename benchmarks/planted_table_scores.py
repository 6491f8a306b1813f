"""The detector's scores on a planted-column table: where ``score="mse+code"`` (the table default
since the second round) loses to the plain reconstruction error.

The table of `benchmarks/table_explain.py` (numeric and categorical columns, tests/estimators/
test_detector_tables.py): 1,200 normal rows plus 10 % rows with one changed cell (a numeric cell
moved by 4-6 standard deviations, or a category swapped for another level), labelled; the
detector is fitted on all of them without labels (the changed rows included, as in
tests/tasks/test_table_anomaly.py) and scores a fresh table built the same way (other seeds).
The anomalies are off the manifold by construction: the case the reconstruction error is made
for. ROC-AUC and average precision of ``score="mse"`` and ``score="mse+code"`` on the same
network (one fit per seed and model: the parts come from the same reconstruction).

    .venv/bin/python benchmarks/planted_table_scores.py [--seeds 3] [--json benchmarks/out/planted_table_scores.json]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "estimators"))
from _common import machine, write_json  # noqa: E402
from test_detector_tables import plant, planted_table  # noqa: E402  (the table the tests use)

from aekit import AutoEncoder, AutoEncoderDetector  # noqa: E402

MODELS = {"default (RobustAutoEncoder)": lambda: None,
          "small (32, code 3, 60 epochs)": lambda: AutoEncoder(hidden=(32,), latent_dim=3, epochs=60, batch_size=64)}


def labelled(n_normal: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """n_normal rows and 10 % more with one changed cell, shuffled; (rows, 0/1 labels)."""
    normal = planted_table(n_normal, seed)
    changed, _ = plant(planted_table(max(1, n_normal // 9), seed + 1), normal, seed=seed + 2)
    df = pd.concat([normal.assign(label=0), changed.assign(label=1)]).sample(frac=1.0, random_state=seed)
    return df.drop(columns="label").reset_index(drop=True), df["label"].to_numpy()


def main() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1200)
    ap.add_argument("--json", default="benchmarks/out/planted_table_scores.json")
    args = ap.parse_args()
    results = []
    for name, make in MODELS.items():
        for seed in range(args.seeds):
            train, _ = labelled(args.rows, 100 + 10 * seed)
            test, y = labelled(args.rows // 2, 500 + 10 * seed)
            t0 = time.perf_counter()
            det = AutoEncoderDetector(make(), score="mse+code", random_state=seed).fit(train)
            fit_s = time.perf_counter() - t0
            scores = {"mse+code": det.decision_function(test)}
            scores["mse"] = det.set_params(score="mse").decision_function(test)  # the same network's error
            row = {"model": name, "seed": seed, "fit_s": fit_s}
            for s, v in scores.items():
                row[s] = {"roc_auc": roc_auc_score(y, v), "ap": average_precision_score(y, v)}
            results.append(row)
            print(f"{name:32s} seed {seed}: mse {row['mse']['roc_auc']:.3f}/{row['mse']['ap']:.3f}  "
                  f"mse+code {row['mse+code']['roc_auc']:.3f}/{row['mse+code']['ap']:.3f}  fit {fit_s:.1f} s",
                  flush=True)
    print("\n| model | `mse` ROC-AUC / AP | `mse+code` ROC-AUC / AP |")
    print("|---|---|---|")
    for name in MODELS:
        rs = [r for r in results if r["model"] == name]
        cell = {s: f"{np.mean([r[s]['roc_auc'] for r in rs]):.3f} / {np.mean([r[s]['ap'] for r in rs]):.3f}"
                for s in ("mse", "mse+code")}
        print(f"| {name} | {cell['mse']} | {cell['mse+code']} |")
    write_json(args.json, {"machine": machine(), "args": vars(args), "results": results})


if __name__ == "__main__":
    main()
