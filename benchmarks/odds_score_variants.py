"""Score variants of aekit's default table detector, from one fit per table and seed (issue 14, item 3).

The search behind ``AutoEncoderDetector(score="mse+code")``: the default detector
(``AutoEncoderDetector(random_state=seed)``, its RobustAutoEncoder) is fitted once per table and
seed with the protocol of ``odds_detectors.py`` (60/40 split, not stratified, seeds 0-4), and
every variant below scores the test part from the same network: its codes, its reconstructions and
its reconstruction errors (standardized units). A part's reference values come from the rows the
network was trained on (the detector's training part without its 20 % calibration rows, the
same rows ``ManifoldScore.fit`` uses).

Parts: ``mse`` the mean squared reconstruction error; ``rw`` the same with each column's
residual divided by its median absolute residual; ``code_emp`` / ``code_mcd`` the squared
Mahalanobis distance of the code under the training codes' plain / robust (MinCovDet)
covariance; ``code_clip`` / ``code_mcd(clip)`` the same with the covariance of the codes of the
winsorized training rows (what the network trained on); ``along`` the mean squared distance of
the reconstruction from the training rows' median reconstruction (``mean c``: their mean);
``norm`` the standardized row's mean square (a reference, no network). Combinations: ``a+b``
each part divided by its median on the training rows, then added; ``(q90)`` divided by the 90 %
quantile instead; ``log`` the sum of the logs of those ratios (``log mse+mcd+along`` is
``score="mse+code"``); ``z`` (x − median) / IQR, added; ``tail`` −log of the share of training
rows scoring at least as high, added; ``sqrt`` square roots of the ratios, added; ``max`` the
larger ratio; ``ppca`` D × mse ratio + the code distance (a probabilistic-PCA-like weighting).
With ``--second-model``, a second network per split (model seed + 100, its own calibration rows)
gives the ``[b]`` rows and the two averaged, ``[ens2]``.

    .venv/bin/python benchmarks/odds_score_variants.py --second-model --json benchmarks/out/odds_score_variants.json
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)
from odds_detectors import HELD_OUT_TABLES, ODDS_TABLES, held_out_table, odds_table  # noqa: E402


def network_views(X_train: np.ndarray, X_test: np.ndarray, seed: int) -> dict:
    """Fit the default detector; codes, standardized residuals and reconstructions of its training
    rows (``fit``), of their winsorized copy (``clip``) and of the test rows (``te``)."""
    from aekit import AutoEncoderDetector
    from aekit.estimators.robust import winsorize_bounds

    det = AutoEncoderDetector(random_state=seed).fit(X_train)
    est = det.estimator_
    perm = np.random.default_rng(seed).permutation(len(X_train))  # the detector's own calibration split
    n_cal = int(round(len(X_train) * det.calibration_fraction))
    X_fit = X_train[np.sort(perm[n_cal:])].astype(np.float32)
    low, high = winsorize_bounds(X_fit, 3.0)
    scale = est.model_.input_scale.cpu().numpy().astype(np.float64)
    shift = est.model_.input_shift.cpu().numpy().astype(np.float64)
    out = {}
    for key, A in (("fit", X_fit), ("te", X_test.astype(np.float32)),
                   ("clip", np.clip(X_fit, low, high).astype(np.float32))):
        recon = est.reconstruct(A).astype(np.float64)
        out["Z" + key] = est.transform(A).astype(np.float64)
        out["R" + key] = (A - recon) / scale  # residual, standardized units
        out["H" + key] = recon / scale  # reconstruction, standardized units (up to a shift)
        out["S" + key] = (A - shift) / scale  # the standardized row
    return out


def variants(v: dict, seed: int) -> dict[str, np.ndarray]:
    """Every variant's test scores from one network's views."""
    from sklearn.covariance import EmpiricalCovariance, MinCovDet

    def ratio(t, f, q=0.5):
        return t / np.quantile(f, q)

    def log(t, f):
        return np.log(ratio(t, f))

    def z(t, f):
        q1, q3 = np.percentile(f, [25, 75])
        return (t - np.median(f)) / (q3 - q1)

    def tail(t, f):
        fs = np.sort(f)
        return -np.log((len(fs) - np.searchsorted(fs, t, side="left") + 1) / (len(fs) + 1))

    def maha(cov, fit_key):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = cov.fit(v["Z" + fit_key])
        return c.mahalanobis(v["Zfit"]), c.mahalanobis(v["Zte"])

    mse = ((v["Rfit"] ** 2).mean(1), (v["Rte"] ** 2).mean(1))
    mad = np.median(np.abs(v["Rfit"]), 0) + 1e-12
    rw = (((v["Rfit"] / mad) ** 2).mean(1), ((v["Rte"] / mad) ** 2).mean(1))
    emp, clip = maha(EmpiricalCovariance(), "fit"), maha(EmpiricalCovariance(), "clip")
    mcd, mcd_clip = maha(MinCovDet(random_state=seed), "fit"), maha(MinCovDet(random_state=seed), "clip")
    centre, mean_centre = np.median(v["Hfit"], 0), v["Hfit"].mean(0)
    along = (((v["Hfit"] - centre) ** 2).mean(1), ((v["Hte"] - centre) ** 2).mean(1))
    D = v["Rfit"].shape[1]
    t = {  # name: test scores (higher = more anomalous)
        "mse": mse[1], "rw": rw[1], "code_emp": emp[1], "code_clip": clip[1], "code_mcd": mcd[1],
        "code_mcd(clip)": mcd_clip[1], "along": along[1], "norm (ref)": (v["Ste"] ** 2).mean(1),
        "mse+emp": ratio(mse[1], mse[0]) + ratio(emp[1], emp[0]),
        "mse+clip": ratio(mse[1], mse[0]) + ratio(clip[1], clip[0]),
        "mse+mcd": ratio(mse[1], mse[0]) + ratio(mcd[1], mcd[0]),
        "mse+mcd(q90)": ratio(mse[1], mse[0], 0.9) + ratio(mcd[1], mcd[0], 0.9),
        "ppca mse+mcd": D * ratio(mse[1], mse[0]) + mcd[1],
        "max(mse,mcd)": np.maximum(ratio(mse[1], mse[0]), ratio(mcd[1], mcd[0])),
        "max(mse,clip)": np.maximum(ratio(mse[1], mse[0]), ratio(clip[1], clip[0])),
        "rw+mcd": ratio(rw[1], rw[0]) + ratio(mcd[1], mcd[0]),
        "rw+clip": ratio(rw[1], rw[0]) + ratio(clip[1], clip[0]),
        "mse+along (same units)": mse[1] + along[1],
        "mse+along (same units, mean c)": mse[1] + ((v["Hte"] - mean_centre) ** 2).mean(1),
        "mse+along": ratio(mse[1], mse[0]) + ratio(along[1], along[0]),
        "sqrt mse+mcd": np.sqrt(ratio(mse[1], mse[0])) + np.sqrt(ratio(mcd[1], mcd[0])),
        "z mse+mcd": z(mse[1], mse[0]) + z(mcd[1], mcd[0]),
        "z mse+emp": z(mse[1], mse[0]) + z(emp[1], emp[0]),
        "tail mse+mcd": tail(mse[1], mse[0]) + tail(mcd[1], mcd[0]),
        "tail mse+emp": tail(mse[1], mse[0]) + tail(emp[1], emp[0]),
        "log mse+mcd": log(mse[1], mse[0]) + log(mcd[1], mcd[0]),
        "log mse+emp": log(mse[1], mse[0]) + log(emp[1], emp[0]),
        "log mse+mcd(clip)": log(mse[1], mse[0]) + log(mcd_clip[1], mcd_clip[0]),
        "log rw+mcd": log(rw[1], rw[0]) + log(mcd[1], mcd[0]),
        "log mse+along": log(mse[1], mse[0]) + log(along[1], along[0]),
        "log mse+mcd+along (= mse+code)": log(mse[1], mse[0]) + log(mcd[1], mcd[0]) + log(along[1], along[0]),
    }
    return t


ENSEMBLED = ("mse", "log mse+mcd", "log mse+mcd+along (= mse+code)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--tables", nargs="*", default=list(ODDS_TABLES + HELD_OUT_TABLES))
    p.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "odds")
    p.add_argument("--second-model", action="store_true", help="also a second network per split: [b] and [ens2]")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    import torch
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    per: dict[str, dict[str, list]] = {}
    for name in args.tables:
        X, y = odds_table(name, args.data_dir) if name in ODDS_TABLES else held_out_table(name)
        for seed in range(args.seeds):
            X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.4, random_state=seed)
            scores = variants(network_views(X_train, X_test, seed), seed)
            if args.second_model:
                second = variants(network_views(X_train, X_test, seed + 100), seed)
                for k in ENSEMBLED:
                    scores[f"{k} [b]"], scores[f"{k} [ens2]"] = second[k], scores[k] + second[k]
            for k, s in scores.items():
                per.setdefault(k, {}).setdefault(name, []).append(
                    (roc_auc_score(y_test, s), average_precision_score(y_test, s)))
        print(f"{name} done", flush=True)
    table = {k: {t: np.mean(v, 0).tolist() for t, v in tabs.items()} for k, tabs in per.items()}
    odds = [t for t in args.tables if t in ODDS_TABLES]
    held = [t for t in args.tables if t in HELD_OUT_TABLES]
    print(f"{'variant':34s}" + "".join(f"{t[:9]:>10s}" for t in odds) + "  ODDS AUC/AP "
          + "".join(f"{t[:9]:>10s}" for t in held) + "  held-out")
    summary = {}
    for k, tabs in table.items():
        o = np.mean([tabs[t] for t in odds], 0) if odds else [np.nan, np.nan]
        h = np.mean([tabs[t] for t in held], 0) if held else [np.nan, np.nan]
        summary[k] = {"odds_mean": list(map(float, o)), "held_out_mean": list(map(float, h))}
        print(f"{k:34s}" + "".join(f"{tabs[t][0]:10.3f}" for t in odds) + f"  {o[0]:.3f}/{o[1]:.3f} "
              + "".join(f"{tabs[t][0]:10.3f}" for t in held) + f"  {h[0]:.3f}/{h[1]:.3f}")
    if args.json:
        write_json(args.json, {"command": " ".join(sys.argv), "machine": machine(), "seeds": list(range(args.seeds)),
                               "tables": table, "summary": summary})


if __name__ == "__main__":
    main()
