"""Outlier detection on tables: aekit's default detector beside PyOD's AutoEncoder, PCA and IsolationForest.

Protocol (PyOD's benchmark, as ../shared/data/odds/README.md gives it): each table is split 60/40
with ``train_test_split(X, y, test_size=0.4, random_state=seed)`` (not stratified), every
detector is fitted on the training part without its labels (outliers included) and scores the
test part; ROC-AUC and average precision of the scores, and the seconds each fit took, are
averaged over the seeds, then over the tables. All detectors see the same split in the same run.

- aekit: ``AutoEncoderDetector(random_state=seed)``, its default model for tables (no option given).
- PyOD AutoEncoder: ``pyod.models.auto_encoder.AutoEncoder(random_state=seed)``, its defaults.
- PCA: PyOD's PCA detector with ``n_components=0.9`` (the components that explain 90 % of the
  standardized variance). Its default (every component, each weighted by 1 / its variance) gives
  infinite scores on tables with collinear columns (cardio, arrhythmia), so it is not used.
- IsolationForest: scikit-learn's, ``n_estimators=100`` (its default), ``random_state=seed``.

Two groups of tables: the five ODDS tables in ../shared/data/odds (the development set: the
default was chosen on them), and tables built offline from scikit-learn's bundled data that
were never used to choose anything (reported separately): breast-cancer (benign rows, 5 %
malignant), wine (classes 1 and 2, 8 % of class 0) and digits as a 64-column table (digits
1-9, 5 % of the zeros); each held-out table is drawn once (seed 0).

    .venv/bin/python benchmarks/odds_detectors.py --json benchmarks/out/odds_detectors.json
    .venv/bin/python benchmarks/odds_detectors.py --quick          # one seed, three small tables
    .venv/bin/python benchmarks/odds_detectors.py --detectors aekit --score mse+code   # a score of aekit's
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

ODDS_TABLES = ("arrhythmia", "cardio", "pima", "satellite", "wbc")
HELD_OUT_TABLES = ("breast-cancer", "wine", "digits")
QUICK_TABLES = ("cardio", "pima", "wbc")
DETECTORS = ("aekit", "pyod_ae", "pca", "iforest")


def odds_table(name: str, data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    df = pd.read_csv(data_dir / f"{name}.csv")
    return df.drop(columns="label").to_numpy(np.float64), df["label"].to_numpy(int)


def planted(normal: np.ndarray, outliers: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """`normal` rows with a seeded draw of `outliers` making `share` of the table (seed 0)."""
    n_out = max(1, int(round(share / (1 - share) * len(normal))))
    pick = np.random.default_rng(0).choice(len(outliers), n_out, replace=False)
    return np.vstack([normal, outliers[pick]]), np.r_[np.zeros(len(normal), int), np.ones(n_out, int)]


def held_out_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine

    if name == "breast-cancer":
        d = load_breast_cancer()
        return planted(d.data[d.target == 1], d.data[d.target == 0], 0.05)
    if name == "wine":
        d = load_wine()
        return planted(d.data[d.target != 0], d.data[d.target == 0], 0.08)
    if name == "digits":
        d = load_digits()
        return planted(d.data[d.target != 0], d.data[d.target == 0], 0.05)
    raise SystemExit(f"unknown table {name!r}; choose from {', '.join(ODDS_TABLES + HELD_OUT_TABLES)}")


def aekit_model(variant: dict, seed: int):
    """The model of an `--aekit` variant: None (the detector's own default), the former default
    ("former": the "ae" preset 64-32/8 with the data-size training rule), or the default's
    parameters with the variant's overrides."""
    from aekit.estimators.detector_models import DEFAULT_TABLE_MODEL, detector_model
    from aekit.estimators.robust import RobustAutoEncoder

    if not variant:
        return None
    if variant.get("former"):
        return detector_model("ae", random_state=seed)
    return RobustAutoEncoder(**{**DEFAULT_TABLE_MODEL, **variant}, random_state=seed)


def scores_of(detector: str, Xtr: np.ndarray, Xte: np.ndarray, seed: int, variant: dict | None = None,
              score: str | None = None) -> np.ndarray:
    if detector == "aekit":
        from aekit import AutoEncoderDetector

        options = {} if score is None else {"score": score}
        return AutoEncoderDetector(aekit_model(variant or {}, seed), random_state=seed,
                                   **options).fit(Xtr).decision_function(Xte)
    if detector == "pyod_ae":
        from pyod.models.auto_encoder import AutoEncoder as PyodAutoEncoder

        return PyodAutoEncoder(random_state=seed, verbose=0).fit(Xtr).decision_function(Xte)
    if detector == "pca":
        from pyod.models.pca import PCA as PyodPCA

        return PyodPCA(n_components=0.9, random_state=seed).fit(Xtr).decision_function(Xte)
    from sklearn.ensemble import IsolationForest

    return -IsolationForest(n_estimators=100, random_state=seed).fit(Xtr).score_samples(Xte)


def measure(name: str, X: np.ndarray, y: np.ndarray, seeds: list[int], detectors=DETECTORS,
            variant: dict | None = None, score: str | None = None) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    per = {d: {"roc_auc": [], "ap": [], "fit_seconds": []} for d in detectors}
    for seed in seeds:
        Xtr, Xte, _, yte = train_test_split(X, y, test_size=0.4, random_state=seed)
        for d in detectors:
            t0 = time.perf_counter()
            s = scores_of(d, Xtr, Xte, seed, variant, score)
            per[d]["fit_seconds"].append(time.perf_counter() - t0)  # fit + scoring the test part
            per[d]["roc_auc"].append(roc_auc_score(yte, s))
            per[d]["ap"].append(average_precision_score(yte, s))
    out = {"rows": int(len(X)), "columns": int(X.shape[1]), "outlier_share": float(y.mean()),
           "per_seed": per, "mean": {d: {k: float(np.mean(v)) for k, v in per[d].items()} for d in detectors}}
    m = out["mean"]
    print(f"{name:14s} " + "  ".join(f"{m[d]['roc_auc']:.3f}/{m[d]['ap']:.3f} {m[d]['fit_seconds']:5.1f}s"
                                      for d in detectors), flush=True)
    return out


def group_mean(results: dict, detectors=DETECTORS) -> dict:
    return {d: {k: float(np.mean([r["mean"][d][k] for r in results.values()])) for k in ("roc_auc", "ap", "fit_seconds")}
            for d in detectors}


def parse_variant(items: list[str]) -> dict:
    """KEY=VALUE overrides of the default model (values read as JSON when they parse, else text)."""
    import json

    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
        if isinstance(out[key], list):
            out[key] = tuple(out[key])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5, help="seeds 0 … N-1 (default 5)")
    p.add_argument("--tables", nargs="*", help=f"any of {', '.join(ODDS_TABLES + HELD_OUT_TABLES)} (default all)")
    p.add_argument("--quick", action="store_true", help=f"one seed, tables {', '.join(QUICK_TABLES)}")
    p.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "odds")
    p.add_argument("--detectors", nargs="*", choices=DETECTORS, default=list(DETECTORS))
    p.add_argument("--aekit", nargs="*", default=[], metavar="KEY=VALUE",
                   help="a variant of aekit's default model, e.g. winsorize=null latent_dim=8 noise=gaussian:0.5; "
                        "former=true: the former default (the ae preset 64-32/8, data-size training rule)")
    p.add_argument("--score", help="aekit's detector score (default: the detector's own default), e.g. mse+code")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # PyOD's and scikit-learn's FutureWarnings would drown the table
    seeds = [0] if args.quick else list(range(args.seeds))
    tables = args.tables or (list(QUICK_TABLES) if args.quick else list(ODDS_TABLES + HELD_OUT_TABLES))
    print(f"ROC-AUC/AP and seconds per fit, mean over seeds {seeds}")
    detectors, variant = tuple(args.detectors), parse_variant(args.aekit)
    print(f"{'table':14s} " + "  ".join(f"{d:>19s}" for d in detectors))
    groups = {"odds": {}, "held_out": {}}
    for name in tables:
        X, y = odds_table(name, args.data_dir) if name in ODDS_TABLES else held_out_table(name)
        groups["odds" if name in ODDS_TABLES else "held_out"][name] = measure(name, X, y, seeds, detectors, variant, args.score)
    out = {"command": " ".join(sys.argv), "machine": machine(), "seeds": seeds, "detectors": list(detectors),
           "aekit_variant": variant, "aekit_score": args.score}
    for g, results in groups.items():
        if not results:
            continue
        m = group_mean(results, detectors)
        out[g] = {"tables": results, "mean": m}
        print(f"{'MEAN ' + g:14s} " + "  ".join(f"{m[d]['roc_auc']:.3f}/{m[d]['ap']:.3f} {m[d]['fit_seconds']:5.1f}s"
                                                 for d in detectors))
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    main()
