"""Anomaly detection with autoencoders, in the PyOD detector style.

`AutoEncoderDetector(contamination=None | float)`: fit(X), decision_function(X) (higher =
more anomalous), predict(X) (0 normal / 1 anomaly), predict_proba(X), and the fitted
`decision_scores_`, `threshold_`, `labels_`. Any aekit model sits inside.

The threshold, without guessing the contamination: by default a share of the training data
(`calibration_fraction`, or an explicit `X_calib`) is held out from training, scored, and the
threshold is the (1 − fpr) quantile of those scores — so on data like the training data
about a fraction `fpr` is flagged. Setting `contamination` uses PyOD's rule instead: the
(1 − contamination) percentile of the training scores.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from aekit.errors import ConfigError, DataError, RunFolderError
from aekit.runs import RunRecord, atomic_write_bytes
from aekit.specs import finite_number, positive_int

SCORES = ("mse", "max", "ssim", "elbo", "loglik")
DETECTOR_FILE = "detector.json"
TRAIN_SCORES_FILE = "train_scores.npy"


# The plain preset's network inside a detector when no size is given: small, as for tables.
DEFAULT_MODEL = {"hidden": (64, 32), "latent_dim": 8}


def _default_estimator(random_state):
    return detector_model("ae", random_state=random_state)


def detector_model(preset: str = "ae", **params):
    """The model a detector holds: an autoencoder or VAE preset, with `params` overriding it; the
    plain preset "ae" gets DEFAULT_MODEL's sizes unless `params` give them."""
    from aekit.estimators.presets import PRESETS, make_preset, preset_class

    if preset_class(preset).__name__ not in ("AutoEncoder", "VariationalAutoEncoder"):
        raise ConfigError(f"a detector holds an autoencoder or a VAE, not --model {preset}; choose one of "
                          + ", ".join(p for p, spec in PRESETS.items() if spec.estimator != "Colorizer"))
    if preset == "ae":
        params = {**DEFAULT_MODEL, **params}
    return make_preset(preset, **params)


class AutoEncoderDetector(BaseEstimator):
    """Flags inputs an autoencoder trained on normal data reconstructs badly.

    Parameters
    ----------
    estimator : an unfitted aekit model (AutoEncoder, conv preset, VariationalAutoEncoder);
        default AutoEncoder(hidden=(64, 32), latent_dim=8, epochs=100). Tables outside [0, 1]
        are standardized per feature on the training data (as PyOD does), images are not.
    score : "mse" (mean squared error per feature, in the standardized units for tables),
        "max" (largest squared error of any feature), "ssim" (1 − SSIM, images),
        "elbo" (negative ELBO, VAE) or "loglik" (negative importance-weighted log-likelihood, VAE).
    contamination : None, or the expected share of anomalies in the training data, in (0, 0.5].
    fpr : target false-positive rate for the held-out threshold (used when contamination is None).
    calibration_fraction : share of the training data held out to set the threshold.
    nan_policy : "raise" (NaN/inf rows are an error) or "flag" (such rows score +inf: anomalies).
    """

    def __init__(self, estimator=None, *, score="mse", contamination=None, fpr=0.01, calibration_fraction=0.2,
                 nan_policy="raise", k=100, random_state=None):
        self.estimator = estimator
        self.score = score
        self.contamination = contamination
        self.fpr = fpr
        self.calibration_fraction = calibration_fraction
        self.nan_policy = nan_policy
        self.k = k
        self.random_state = random_state

    # -- checks ------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.score not in SCORES:
            raise ConfigError(f"unknown score {self.score!r}; choose one of {', '.join(SCORES)}")
        if self.contamination is not None:
            finite_number(self.contamination, "contamination (the expected anomaly share)", 0.0, 0.5, low_open=True)
        if finite_number(self.fpr, "fpr (the target false-positive rate)", 0.0, low_open=True) >= 1:
            raise ConfigError(f"fpr (the target false-positive rate) must be below 1, got {self.fpr}")
        if finite_number(self.calibration_fraction, "calibration_fraction", 0.0, low_open=True) >= 1:
            raise ConfigError(f"calibration_fraction must be below 1, got {self.calibration_fraction}")
        positive_int(self.k, "k", "importance samples for score='loglik'")
        if self.nan_policy not in ("raise", "flag"):
            raise ConfigError(f"nan_policy must be 'raise' or 'flag', got {self.nan_policy!r}")

    def _rows(self, X, *, fitting: bool) -> tuple[np.ndarray, np.ndarray]:
        """(X as float32 array, mask of rows holding NaN/inf)."""
        X = np.asarray(X, dtype=np.float32) if not hasattr(X, "dtype") or X.dtype != np.float32 else np.asarray(X)
        if X.ndim not in (2, 4) or len(X) == 0:
            raise DataError(f"X must be a non-empty N×D or N×C×H×W array, got shape {X.shape}")
        if not fitting:
            expected = self.n_features_in_
            got = int(np.prod(X.shape[1:]))
            if got != expected:
                raise DataError(f"X has {got} features, but the detector was fitted with {expected}")
        bad = ~np.isfinite(X.reshape(len(X), -1)).all(1)
        if bad.any():
            if self.nan_policy == "raise" or fitting:
                raise DataError(
                    f"X contains NaN or inf in {int(bad.sum())} rows (first row {int(np.flatnonzero(bad)[0])})"
                    + ("; pass nan_policy='flag' to score such rows as anomalies" if not fitting else "")
                )
        return X, bad

    # -- scores ------------------------------------------------------------------------------
    def _scores(self, X: np.ndarray) -> np.ndarray:
        est = self.estimator_
        Xin = X if X.ndim == 2 or getattr(est, "input_ndim_", 2) == 4 else X.reshape(len(X), -1)
        if self.score in ("elbo", "loglik"):
            if not hasattr(est, "elbo"):
                raise ConfigError(f"score={self.score!r} needs a VariationalAutoEncoder")
            if self.score == "elbo":
                return -np.asarray(est.elbo(Xin), dtype=np.float64)
            return -np.asarray(est.log_likelihood(Xin, k=int(self.k)), dtype=np.float64)
        R = np.asarray(est.reconstruct(Xin), dtype=np.float64).reshape(len(X), -1)
        flat = X.reshape(len(X), -1).astype(np.float64)
        if self.score == "ssim":
            shape = est.model_config_.input_shape
            if len(shape) != 3:
                raise ConfigError("score='ssim' needs image data (a model fitted on N×C×H×W)")
            from aekit.metrics import ssim

            lo, hi = est.model_config_.value_range
            return 1.0 - ssim(flat.reshape(-1, *shape), R.reshape(-1, *shape), hi - lo)
        diff = flat - R
        cfg = est.model_config_
        if cfg.standardize:  # errors in standardized units, so every feature counts alike
            diff = diff / est.model_.input_scale.cpu().numpy().astype(np.float64)
        sq = diff**2
        return sq.max(1) if self.score == "max" else sq.mean(1)

    # -- the PyOD-style API ------------------------------------------------------------------
    def fit(self, X, y=None, *, X_calib=None):
        """Fit on (mostly) normal data. `y` is ignored (unsupervised), as in PyOD."""
        self._check_params()
        X, _ = self._rows(X, fitting=True)
        seed = 0 if self.random_state is None else int(self.random_state)
        est = clone(self.estimator) if self.estimator is not None else _default_estimator(self.random_state)
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        if self.contamination is None and X_calib is None:
            perm = np.random.default_rng(seed).permutation(len(X))
            n_cal = int(round(len(X) * float(self.calibration_fraction)))
            if n_cal < 10 or len(X) - n_cal < 2:
                raise DataError(
                    f"{len(X)} samples are too few to hold out a calibration set for the threshold; "
                    "give more data, X_calib, or a contamination"
                )
            X_calib, X_fit = X[np.sort(perm[:n_cal])], X[np.sort(perm[n_cal:])]
        else:
            X_fit = X
        self.estimator_ = est.fit(X_fit)
        self.decision_scores_ = self._scores(X)
        if self.contamination is not None:
            self.threshold_ = float(np.percentile(self.decision_scores_, 100 * (1 - float(self.contamination))))
            self.threshold_source_ = f"contamination={float(self.contamination):g} of the training scores"
        else:
            X_calib, _ = self._rows(X_calib, fitting=False)
            cal = self._scores(X_calib)
            self.calibration_scores_ = cal
            self.threshold_ = float(np.quantile(cal, 1 - float(self.fpr), method="higher"))
            self.threshold_source_ = f"the {1 - float(self.fpr):g} quantile of {len(cal)} held-out scores (fpr={float(self.fpr):g})"
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score per row: higher means more anomalous."""
        check_is_fitted(self, "estimator_")
        X, bad = self._rows(X, fitting=False)
        scores = np.full(len(X), np.inf)
        if (~bad).any():
            scores[~bad] = self._scores(X[~bad])
        return scores

    def predict(self, X) -> np.ndarray:
        """1 for an anomaly (score above threshold_), 0 for normal."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def predict_proba(self, X) -> np.ndarray:
        """[P(normal), P(anomaly)] per row by PyOD's "linear" method: the score min-max scaled by the
        training scores, clipped to [0, 1]."""
        scores = self.decision_function(X)
        train = self.decision_scores_[np.isfinite(self.decision_scores_)]
        lo, hi = float(train.min()), float(train.max())
        p = np.clip((scores - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
        return np.column_stack([1.0 - p, p])

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_

    # -- run folders -------------------------------------------------------------------------
    def save(self, path, *, data: dict | None = None) -> Path:
        """The inner model's run folder plus detector.json (parameters, threshold) and the training
        scores (train_scores.npy)."""
        check_is_fitted(self, "estimator_")
        run = self.estimator_.save(path, data=data)
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "estimator"}
        RunRecord(run).write_json(DETECTOR_FILE, {
            "params": params, "threshold": self.threshold_, "threshold_source": self.threshold_source_,
            "n_features_in": self.n_features_in_, "estimator": type(self.estimator_).__name__,
        })
        buf = io.BytesIO()
        np.save(buf, self.decision_scores_, allow_pickle=False)
        atomic_write_bytes(run / TRAIN_SCORES_FILE, buf.getvalue())
        return run

    @classmethod
    def load(cls, path, device: str = "cpu") -> "AutoEncoderDetector":
        """Read a detector's run folder; every field of detector.json is checked before use."""
        from aekit.estimators.presets import estimator_classes

        run = RunRecord(path)
        meta_path = run.file(DETECTOR_FILE)
        if not meta_path.exists():
            raise RunFolderError(f"{run.path}: no {DETECTOR_FILE}; this run folder holds no detector "
                                 "(train one with `aekit detect fit`)")
        meta = run.read_json(DETECTOR_FILE)
        allowed = {k: v for k, v in estimator_classes().items() if k != "Colorizer"}
        name = meta.get("estimator", "AutoEncoder") if isinstance(meta, dict) else None
        if name not in allowed:
            raise RunFolderError(f"{meta_path}: unknown estimator {name!r}; a detector holds one of {', '.join(allowed)}")
        try:
            params = meta["params"]
            if not isinstance(params, dict) or "estimator" in params:
                raise TypeError("params must be an object of the detector's parameters")
            det = cls(**params)
            det._check_params()
            threshold = float(meta["threshold"])
            if not np.isfinite(threshold):
                raise ValueError(f"threshold {threshold} is not finite")
            det.n_features_in_ = int(meta["n_features_in"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RunFolderError(f"{meta_path}: not a valid detector description ({exc})") from None
        det.estimator_ = allowed[name].load(run.path, device=device)
        det.threshold_ = threshold
        det.threshold_source_ = str(meta.get("threshold_source", ""))
        try:
            det.decision_scores_ = np.load(run.file(TRAIN_SCORES_FILE), allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise RunFolderError(f"{run.file(TRAIN_SCORES_FILE)}: unreadable ({exc})") from None
        det.labels_ = (det.decision_scores_ > det.threshold_).astype(int)
        return det


__all__ = ["AutoEncoderDetector", "DEFAULT_MODEL", "DETECTOR_FILE", "SCORES", "detector_model"]
