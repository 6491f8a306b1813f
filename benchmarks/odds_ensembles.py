"""One network or several: the table detector with one network, one network on all training rows,
five averaged, and the cross-fitted ensembles (`AutoEncoderDetector(n_estimators=K)`), on the ODDS
and held-out tables of `odds_detectors.py`, with its protocol (60/40 split per seed, trained
without labels, ROC-AUC and average precision on the test part; IsolationForest beside).

Variants (each the table default model, RobustAutoEncoder with score "auto" = mse+code):
- ``one``: ``n_estimators=1``: one network on 80 % of the training rows, 20 % held out for the
  threshold (the default before cross-fitting);
- ``one_all``: one network on all the training rows (``X_calib`` = the training rows: the threshold
  is then set on rows the network saw, so only the ranking is comparable);
- ``five_all``: five such networks (seeds 100·s + k), their scores averaged;
- ``cf3``, ``cf5``: ``n_estimators=3`` / ``5`` (5 = the default): network k on all but fold k.

    .venv/bin/python benchmarks/odds_ensembles.py --json benchmarks/out/odds_ensembles.json
    .venv/bin/python benchmarks/odds_ensembles.py --tables wbc pima --seeds 2     # a quick look
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)
from odds_detectors import HELD_OUT_TABLES, ODDS_TABLES, held_out_table, odds_table  # noqa: E402

VARIANTS = ("one", "one_all", "five_all", "cf3", "cf5", "iforest")


def variant_scores(Xtr: np.ndarray, Xte: np.ndarray, seed: int) -> dict[str, tuple[np.ndarray, float]]:
    """Each variant's test scores and seconds to fit and score."""
    from sklearn.ensemble import IsolationForest

    from aekit import AutoEncoderDetector

    out = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out[name] = (fn(), time.perf_counter() - t0)

    timed("one", lambda: AutoEncoderDetector(n_estimators=1, random_state=seed).fit(Xtr).decision_function(Xte))
    all_rows = []

    def five_all():
        for k in range(5):
            det = AutoEncoderDetector(n_estimators=1, random_state=100 * seed + k).fit(Xtr, X_calib=Xtr)
            all_rows.append(det.decision_function(Xte))
        return np.mean(all_rows, 0)

    timed("five_all", five_all)
    out["one_all"] = (all_rows[0], out["five_all"][1] / 5)
    timed("cf3", lambda: AutoEncoderDetector(n_estimators=3, random_state=seed).fit(Xtr).decision_function(Xte))
    timed("cf5", lambda: AutoEncoderDetector(random_state=seed).fit(Xtr).decision_function(Xte))
    timed("iforest", lambda: -IsolationForest(random_state=seed).fit(Xtr).score_samples(Xte))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--tables", nargs="*", help=f"any of {', '.join(ODDS_TABLES + HELD_OUT_TABLES)} (default all)")
    p.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "odds")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    import torch
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    tables = args.tables or list(ODDS_TABLES + HELD_OUT_TABLES)
    print("ROC-AUC per variant, mean over seeds 0 …", args.seeds - 1)
    print(f"{'table':14s} " + " ".join(f"{v:>9s}" for v in VARIANTS), flush=True)
    results = {}
    for name in tables:
        X, y = odds_table(name, args.data_dir) if name in ODDS_TABLES else held_out_table(name)
        per = {v: {"roc_auc": [], "ap": [], "seconds": []} for v in VARIANTS}
        for seed in range(args.seeds):
            Xtr, Xte, _, yte = train_test_split(X, y, test_size=0.4, random_state=seed)
            for v, (s, sec) in variant_scores(Xtr, Xte, seed).items():
                per[v]["roc_auc"].append(float(roc_auc_score(yte, s)))
                per[v]["ap"].append(float(average_precision_score(yte, s)))
                per[v]["seconds"].append(sec)
        results[name] = {"group": "odds" if name in ODDS_TABLES else "held_out", "per_seed": per,
                         "mean": {v: {k: float(np.mean(x)) for k, x in per[v].items()} for v in VARIANTS}}
        print(f"{name:14s} " + " ".join(f"{results[name]['mean'][v]['roc_auc']:9.3f}" for v in VARIANTS), flush=True)
    summary = {}
    for group in ("odds", "held_out"):
        names = [n for n, r in results.items() if r["group"] == group]
        if names:
            summary[group] = {v: {k: float(np.mean([results[n]["mean"][v][k] for n in names]))
                                  for k in ("roc_auc", "ap", "seconds")} for v in VARIANTS}
            print(f"{'MEAN ' + group:14s} " + " ".join(f"{summary[group][v]['roc_auc']:9.3f}" for v in VARIANTS))
    if args.json:
        write_json(args.json, {"command": " ".join(sys.argv), "machine": machine(), "seeds": args.seeds,
                               "tables": results, "mean": summary})


if __name__ == "__main__":
    main()
