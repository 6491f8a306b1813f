"""Anomalies in multivariate time series: aekit's series detector beside PCA and IsolationForest
on the same windows.

The series are made with numpy (no download). Each seed draws C = 5 channels mixed from two
latent oscillations (periods 50 and 23 steps, random phases; a random 5×2 mixing matrix) plus
AR(1) noise. A clean training series of 5,000 steps, then a test series of 5,000 steps from the
same process with known anomalies of four kinds, placed at random without overlap:

- ``spike``: one step of one channel moved by ±5 of its standard deviations (4 per series);
- ``level``: a level shift, 40–80 steps of one channel moved by 1.5 standard deviations (3);
- ``frequency``: 100–150 steps of one channel whose first latent oscillates with period 30
  instead of 50 (3);
- ``decouple``: 100–150 steps of one channel replaced by its own signal taken 17 steps later:
  the same values and rhythm, out of step with the other channels (3).

Every method is an `AutoEncoderDetector(window=64, hop=16)` fitted on the training series with
the same rule: per-channel standardization learned on the training part, the last 20 % of the
training series held out, threshold = its per-step scores' 0.99 quantile (fpr = 0.01), windows
framed alike and each window's errors spread back over its steps (a step's score: the mean
over its covering windows and channels). Only the model inside differs:

- ``aekit``: the default series model (`DEFAULT_SERIES_MODEL`: an MLP on the flattened windows);
- ``aekit-conv1d``: the conv1d-ae preset's network (32-32-16-8 channels, code at 1/16 of the
  length) with the same training budget (2,000 updates of batch 64);
- ``PCA``: PCA on the flattened windows with as many components as the MLP's code (16),
  its reconstruction error spread back as the autoencoders' is (`series_detector.PCAWindows`,
  what `aekit report` stands beside a series detector);
- ``IsolationForest``: scikit-learn's (100 trees) on the flattened windows; a window has one
  score, spread back as a constant error over its values, so a step's score is the mean of its
  covering windows' scores (`series_detector.IsolationForestWindows`).

Metrics on the test series: per-step ROC-AUC (all anomalies, and each kind against the normal
steps), and range-based precision / recall / F1 (Tatbul et al. 2018, `aekit.metrics_ranges`,
α = 0.5, flat bias, cardinality 1/x) of the steps flagged above each method's threshold.

    .venv/bin/python benchmarks/series_anomaly.py --json benchmarks/out/series_anomaly.json
    .venv/bin/python benchmarks/series_anomaly.py --seeds 1       # a quick look
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

KINDS = ("spike", "level", "frequency", "decouple")
COUNTS = {"spike": 4, "level": 3, "frequency": 3, "decouple": 3}
N_CHANNELS, N_STEPS, WINDOW, HOP = 5, 5000, 64, 16
METHODS = ("aekit", "aekit-conv1d", "PCA", "IsolationForest")


def _latents(t: np.ndarray, phases: np.ndarray, period1: float = 50.0) -> np.ndarray:
    return np.stack([np.sin(2 * np.pi * t / period1 + phases[0]), np.sin(2 * np.pi * t / 23.0 + phases[1])])


def _ar_noise(rng, shape, phi: float = 0.5, scale: float = 0.1) -> np.ndarray:
    e = rng.normal(scale=scale, size=shape)
    out = np.empty(shape)
    out[..., 0] = e[..., 0]
    for i in range(1, shape[-1]):  # T steps of a vectorized recursion over the channels
        out[..., i] = phi * out[..., i - 1] + e[..., i]
    return out


def make_series(seed: int) -> dict:
    """Training series (C×T), test series (C×T), per-step anomaly kind of the test series ("" = normal)."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(N_CHANNELS, 2))
    phases = rng.uniform(0, 2 * np.pi, 2)
    t_train, t_test = np.arange(N_STEPS), np.arange(N_STEPS, 2 * N_STEPS)
    train = mixing @ _latents(t_train, phases) + _ar_noise(rng, (N_CHANNELS, N_STEPS))
    clean_test = mixing @ _latents(t_test, phases)
    test = clean_test + _ar_noise(rng, (N_CHANNELS, N_STEPS))
    std = train.std(axis=1)
    kind = np.full(N_STEPS, "", dtype=object)
    taken = np.zeros(N_STEPS, bool)
    lengths = {"spike": (1, 1), "level": (40, 80), "frequency": (100, 150), "decouple": (100, 150)}
    for name in KINDS:
        for _ in range(COUNTS[name]):
            lo, hi = lengths[name]
            length = int(rng.integers(lo, hi + 1))
            while True:  # a free place, 100 steps from any other anomaly and from the ends
                start = int(rng.integers(100, N_STEPS - length - 100))
                if not taken[max(0, start - 100):start + length + 100].any():
                    break
            span = slice(start, start + length)
            c = int(rng.integers(N_CHANNELS))
            if name == "spike":
                test[c, span] += rng.choice([-5.0, 5.0]) * std[c]
            elif name == "level":
                test[c, span] += 1.5 * std[c]
            elif name == "frequency":
                changed = mixing[c] @ _latents(t_test[span], phases, period1=30.0)
                test[c, span] += changed - clean_test[c, span]
            else:
                later = slice(start + 17, start + 17 + length)
                test[c, span] = clean_test[c, later] + (test[c, span] - clean_test[c, span])
            kind[span] = name
            taken[span] = True
    return {"train": train.astype(np.float32), "test": test.astype(np.float32), "kind": kind}


def make_detector(method: str, seed: int):
    from aekit import AutoEncoderDetector
    from aekit.estimators.robust import RobustAutoEncoder
    from aekit.estimators.series_detector import DEFAULT_SERIES_MODEL, IsolationForestWindows, PCAWindows

    model = {
        "aekit": None,
        "aekit-conv1d": RobustAutoEncoder(**{**DEFAULT_SERIES_MODEL, "arch": "conv1d", "hidden": (32, 32, 16, 8),
                                             "latent_dim": None}, random_state=seed),
        "PCA": PCAWindows(16, random_state=seed),
        "IsolationForest": IsolationForestWindows(random_state=seed),
    }[method]
    return AutoEncoderDetector(model, window=WINDOW, hop=HOP, fpr=0.01, random_state=seed)


def evaluate(scores: np.ndarray, threshold: float, kind: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score

    from aekit.metrics_ranges import range_precision_recall

    is_anomaly = kind != ""
    out = {"roc_auc": float(roc_auc_score(is_anomaly, scores))}
    for name in KINDS:
        part = (kind == name) | ~is_anomaly
        out[f"roc_auc_{name}"] = float(roc_auc_score(is_anomaly[part], scores[part]))
    flagged = scores > threshold
    r = range_precision_recall(is_anomaly, flagged)
    out.update({"range_precision": r["precision"], "range_recall": r["recall"], "range_f1": r["f1"],
                "flagged_normal_steps": float(flagged[~is_anomaly].mean())})
    for name in KINDS:  # which kinds are found: range recall of that kind's ranges alone
        out[f"range_recall_{name}"] = range_precision_recall(kind == name, flagged)["recall"]
    return out


def run(seeds: list[int], methods=METHODS) -> dict:
    import pandas as pd

    results: dict[str, list[dict]] = {m: [] for m in methods}
    for seed in seeds:
        data = make_series(seed)
        columns = [f"ch{i}" for i in range(N_CHANNELS)]
        train = pd.DataFrame(data["train"].T, columns=columns)
        test = pd.DataFrame(data["test"].T, columns=columns)
        for method in methods:
            t0 = time.perf_counter()
            det = make_detector(method, seed).fit(train)
            seconds = time.perf_counter() - t0
            m = evaluate(det.decision_function(test), det.threshold_, data["kind"])
            m["fit_seconds"] = seconds
            results[method].append(m)
            print(f"seed {seed} {method:16s} ROC-AUC {m['roc_auc']:.3f}  range P {m['range_precision']:.3f} "
                  f"R {m['range_recall']:.3f}  ({seconds:.1f} s)", flush=True)
    means = {m: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for m, rs in results.items()}
    return {"seeds": seeds, "per_seed": results, "mean": means}


def table(means: dict) -> str:
    cols = ["roc_auc"] + [f"roc_auc_{k}" for k in KINDS] + ["range_precision", "range_recall", "range_f1",
                                                           "flagged_normal_steps", "fit_seconds"]
    heads = ["ROC-AUC", *[f"AUC {k}" for k in KINDS], "range P", "range R", "range F1", "FPR steps", "fit s"]
    lines = ["| method | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    for method, m in means.items():
        lines.append(f"| {method} | " + " | ".join(f"{m[c]:.3f}" if c != "fit_seconds" else f"{m[c]:.1f}"
                                                   for c in cols) + " |")
    recall = ["", "| method | " + " | ".join(f"range R {k}" for k in KINDS) + " |", "|---|" + "---|" * len(KINDS)]
    for method, m in means.items():
        recall.append(f"| {method} | " + " | ".join(f"{m[f'range_recall_{k}']:.3f}" for k in KINDS) + " |")
    return "\n".join(lines + recall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 … N−1")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "series_anomaly.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    result = run(list(range(args.seeds)), [m.strip() for m in args.methods.split(",") if m.strip()])
    result["machine"] = machine()
    result["command"] = " ".join(["benchmarks/series_anomaly.py", *sys.argv[1:]])
    print(table(result["mean"]))
    write_json(args.json, result)
    print(f"written {args.json}")


if __name__ == "__main__":
    main()
