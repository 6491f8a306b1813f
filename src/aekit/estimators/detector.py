"""Anomaly detection with autoencoders, in the PyOD detector style.

`AutoEncoderDetector(contamination=None | float)`: fit(X), decision_function(X) (higher =
more anomalous), predict(X) (0 normal / 1 anomaly), predict_proba(X), and the fitted
`decision_scores_`, `threshold_`, `labels_`. Any aekit model sits inside.

The threshold, without guessing the contamination: by default a share of the training data
(`calibration_fraction`, or an explicit `X_calib`) is held out from training, scored, and the
threshold is the (1 − fpr) quantile of those scores — so on data like the training data
about a fraction `fpr` is flagged. Setting `contamination` uses PyOD's rule instead: the
(1 − contamination) percentile of the training scores.

Tables: `fit(df)` takes a pandas DataFrame (mixed numeric, categorical, boolean columns, missing
cells); the AutoEncoder inside learns its column encoding (`aekit.estimators.tabular`), and later
DataFrames are matched by column name. A row is scored on the cells it has: its missing cells
are filled with the model's own reconstruction, and the score is the mean squared error over
its observed encoded values, so a missing cell neither raises nor raises the score.
`explain(df)` gives each column's share of a row's score (`aekit.estimators.detector_tables`).

Data left on disk (a `aekit.data.sources.RowSource`) over the memory budget is trained on and
scored a block of rows at a time, with the same network, threshold and scores as in memory (up to
float rounding where the model standardizes its inputs, whose moments are summed block by block,
or where the budget is too small for blocks of whole inference batches: `inference_blocks`);
only the "mse+code" score needs the training rows in memory (`check_fit_data`).

Time series: with `window` set, `fit` takes one multivariate series (DataFrame, CSV/Parquet file,
T×C array) and every method scores time steps; the window logic is in
`aekit.estimators.series_detector`.
"""
from __future__ import annotations

import io
from functools import partial
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from aekit.data.sources import is_row_source, over_budget, read_into_memory
from aekit.errors import ConfigError, DataError, RunFolderError
from aekit.estimators.detector_models import (AUTO_SCORE, DEFAULT_MODEL, SAMPLED_SCORES, SCORES, default_estimator,
                                              detector_model, loaded_score, resolve_score)
from aekit.estimators.detector_tables import TableScores
from aekit.estimators.ensemble import (AUTO, complement, crossfit_folds, load_members, member_estimator,
                                       recorded_count, resolve_n_estimators, save_members, share_table_encoder)
from aekit.estimators.series_detector import SeriesLayout, check_series_params, fit_series, series_scores
from aekit.estimators.streaming import inference_blocks, row_blocks
from aekit.estimators.manifold_score import MANIFOLD_SCORE, ManifoldScore
from aekit.estimators.tabular import fit_table_encoder, is_table, take_rows
from aekit.runs import RunRecord, atomic_write_bytes
from aekit.specs import finite_number, positive_int
from aekit.train.callbacks import progress_label

DETECTOR_FILE = "detector.json"
TRAIN_SCORES_FILE = "train_scores.npy"


class AutoEncoderDetector(TableScores, BaseEstimator):
    """Flags inputs an autoencoder trained on normal data reconstructs badly.

    Parameters
    ----------
    estimator : an unfitted aekit model (AutoEncoder, conv preset, VariationalAutoEncoder);
        default for flat rows (tables): RobustAutoEncoder(hidden=(64, 32), latent_dim="auto",
        winsorize=3.0, updates=1000, batch_size=32, validation_fraction=0), whose training keeps
        the outliers in the training rows from being learned (`aekit.estimators.robust`); for
        images (N×C×H×W): AutoEncoder(hidden=(64, 32), latent_dim=8) with the data-size training
        rule. Tables outside [0, 1] are standardized per feature on the training data (as PyOD
        does), images are not.
    score : "auto" (the default: "mse+code" when the model is the table default, a RobustAutoEncoder,
        which flat rows and DataFrames get when no `estimator` is given; "mse" for any other model,
        images and time series; the fitted `score_` says which), "mse" (mean squared error per
        feature, in the standardized units for tables),
        "max" (largest squared error of any feature), "ssim" (1 − SSIM, images),
        "elbo" (negative ELBO, VAE), "loglik" (negative importance-weighted log-likelihood, VAE) or
        "mse+code" (the error plus the row's distance along the learned manifold: its code's robust
        Mahalanobis distance and its reconstruction's distance from the training rows' median one,
        each as the log of its ratio to its median on the training rows, summed; the state is saved
        in detector.json; `explain` splits the error part by column; see
        `aekit.estimators.manifold_score`; measured on tables only, where it is the default: see
        benchmarks/RESULTS.md, "Detector default on tables").
    contamination : None, or the expected share of anomalies in the training data, in (0, 0.5].
    fpr : target false-positive rate for the held-out threshold (used when contamination is None).
    calibration_fraction : share of the training data held out to set the threshold (one network).
    n_estimators : "auto" or int, default "auto"
        Networks in the detector. K > 1: a cross-fitted ensemble (`aekit.estimators.ensemble`):
        network k trains on all but the k-th of K folds of the training rows, the threshold is set
        on each row's score by the network that did not see it (`calibration_fraction` is then
        unused), and a row's score is the mean of the K networks'. "auto": 5 for the table
        default (a RobustAutoEncoder), 1 for images, time series and a model the caller gives.
    nan_policy : "raise" (NaN/inf rows are an error) or "flag" (such rows score +inf: anomalies).
    window : int or None
        Time series: steps per window. Set, the detector takes one multivariate series (a
        DataFrame or CSV/Parquet file in time order, one column per channel; a T×C array) and
        scores every time step (`aekit.estimators.series_detector`); the calibration part is
        the series' last `calibration_fraction`. Default model: `DEFAULT_SERIES_MODEL`.
    hop : int or None
        Series: steps between windows (None: a quarter window).
    time_column, label_column : str or None
        Series: the time column (strictly increasing) and a 0/1 label column (not a channel).
    gaps : "error", "mask" or "ignore"
        Series: gaps in the time column, as `aekit.data.series.read_series` treats them.
    """

    def __init__(self, estimator=None, *, score=AUTO_SCORE, contamination=None, fpr=0.01, calibration_fraction=0.2,
                 n_estimators=AUTO, nan_policy="raise", k=100, random_state=None, window=None, hop=None,
                 time_column=None, label_column=None, gaps="error"):
        self.estimator, self.n_estimators, self.score, self.contamination = estimator, n_estimators, score, contamination
        self.fpr, self.calibration_fraction, self.nan_policy = fpr, calibration_fraction, nan_policy
        self.k, self.random_state = k, random_state
        self.window, self.hop, self.time_column, self.label_column, self.gaps = window, hop, time_column, label_column, gaps

    @property
    def score_(self) -> str:
        """The score in use: `score`, or for "auto" what it resolved to at fit (`resolve_score`)."""
        return self.auto_score_ if self.score == AUTO_SCORE else self.score

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
        if resolve_n_estimators(self.n_estimators, False) > 1 and self.window is not None:
            raise ConfigError("a time-series detector holds one network: n_estimators must be 'auto' or 1")
        if self.nan_policy not in ("raise", "flag"):
            raise ConfigError(f"nan_policy must be 'raise' or 'flag', got {self.nan_policy!r}")
        if self.window is not None:
            check_series_params(self)

    def _rows(self, X, *, fitting: bool) -> tuple[np.ndarray, np.ndarray]:
        """(X as float32 array, mask of rows holding NaN/inf); a source left on disk is read into
        memory when it fits the memory budget (else a DataError that says the sizes)."""
        X = read_into_memory(X, "an AutoEncoderDetector") if is_row_source(X) else X
        X = np.asarray(X, dtype=np.float32) if not hasattr(X, "dtype") or X.dtype != np.float32 else np.asarray(X)
        if X.ndim not in (2, 4) or len(X) == 0:
            raise DataError(f"X must be a non-empty N×D or N×C×H×W array, got shape {X.shape}")
        if not fitting:
            expected = self.n_features_in_
            got = int(np.prod(X.shape[1:]))
            if got != expected:
                raise DataError(f"X has {got} features, but the detector was fitted with {expected}")
        # a row's float64 sum is finite exactly when its float32 values are (no N×D boolean copy)
        with np.errstate(invalid="ignore"):  # inf − inf in a row's sum: NaN, which marks it as it should
            bad = ~np.isfinite(X.reshape(len(X), -1).sum(1, dtype=np.float64))
        if bad.any():
            if self.nan_policy == "raise" or fitting:
                raise DataError(
                    f"X contains NaN or inf in {int(bad.sum())} rows (first row {int(np.flatnonzero(bad)[0])})"
                    + ("; pass nan_policy='flag' to score such rows as anomalies" if not fitting else "")
                )
        return X, bad

    # -- scores ------------------------------------------------------------------------------
    def _scores(self, X: np.ndarray) -> np.ndarray:
        """The detector's score: the mean of its networks' (one network: its own)."""
        return sum(self._member_scores(X, k) for k in range(len(self.estimators_))) / len(self.estimators_)

    def _member_scores(self, X: np.ndarray, k: int, views: bool = False) -> np.ndarray:
        est = self.estimators_[k]
        Xin = X if is_row_source(X) or X.ndim == 2 or getattr(est, "input_ndim_", 2) == 4 else X.reshape(len(X), -1)
        if self.score_ in SAMPLED_SCORES:
            if not hasattr(est, "elbo"):
                raise ConfigError(f"score={self.score_!r} needs a VariationalAutoEncoder")
            if self.score_ == "elbo":
                return -np.asarray(est.elbo(Xin), dtype=np.float64)
            return -np.asarray(est.log_likelihood(Xin, k=int(self.k)), dtype=np.float64)
        R = np.asarray(est.reconstruct(Xin), dtype=np.float64).reshape(len(X), -1)
        flat = X.reshape(len(X), -1).astype(np.float64)
        if self.score_ == "ssim":
            shape = est.model_config_.input_shape
            if len(shape) != 3:
                raise ConfigError("score='ssim' needs image data (a model fitted on N×C×H×W)")
            from aekit.metrics import ssim

            lo, hi = est.model_config_.value_range
            return 1.0 - ssim(flat.reshape(-1, *shape), R.reshape(-1, *shape), hi - lo)
        # errors in standardized units, so every feature counts alike
        scale = est.model_.input_scale.cpu().numpy().astype(np.float64) if est.model_config_.standardize else 1.0
        sq = np.subtract(flat, R, out=flat)  # in place: a batch's float64 temporaries cost page faults
        sq /= scale
        np.square(sq, out=sq)
        if self.score_ == MANIFOLD_SCORE:  # + the distance along the manifold (aekit.estimators.manifold_score)
            parts = (sq.mean(1), est.transform(Xin), R / scale)
            return parts if views else self.manifolds_[k].score(*parts)
        return sq.max(1) if self.score_ == "max" else sq.mean(1)

    # -- the PyOD-style API ------------------------------------------------------------------
    def fit(self, X, y=None, *, X_calib=None, table_encoder=None):
        """Fit on (mostly) normal data. `y` is ignored (unsupervised), as in PyOD.

        X may be a pandas DataFrame (a table; `X_calib` then one too): `table_encoder`, an
        unfitted `aekit.data.tabular.TableEncoder`, gives the options of the column encoding
        (label and ignored columns, robust scaling, datetimes, bad cells); see the module docstring.
        """
        self._check_params()
        self.estimators_, self.manifolds_ = [], []  # the networks, filled by _fit_member
        if self.window is not None:  # one time series: windows, a score per step
            self.auto_score_, self.n_estimators_ = resolve_score(AUTO_SCORE, self.estimator, series=True), 1
            fit_series(self, X, X_calib)
            self.estimators_ = [self.estimator_]
            return self
        table = is_table(X)
        if table:
            self._check_table_fit(X, X_calib)
        elif table_encoder is not None:
            raise ConfigError("table_encoder is for tables: pass X as a pandas DataFrame")
        elif over_budget(X):  # rows left on disk: read a block at a time
            self.check_fit_data(X)
        else:
            X, _ = self._rows(X, fitting=True)
        seed = 0 if self.random_state is None else int(self.random_state)
        est = clone(self.estimator) if self.estimator is not None else default_estimator(
            self.random_state, images=not table and X.ndim == 4)
        self.auto_score_ = resolve_score(AUTO_SCORE, est)
        if table and not getattr(est, "_accepts_tables", False):
            raise ConfigError(f"a detector of tables holds an AutoEncoder (its loss skips missing cells), "
                              f"not a {type(est).__name__}")
        self.n_features_in_ = len(X.columns) if table else int(np.prod(X.shape[1:]))
        self.n_estimators_ = resolve_n_estimators(self.n_estimators, self.auto_score_ == MANIFOLD_SCORE)
        if self.n_estimators_ > 1:
            return self._fit_ensemble(est, X, X_calib, table_encoder, seed)
        if self.contamination is None and X_calib is None:
            perm = np.random.default_rng(seed).permutation(len(X))
            n_cal = int(round(len(X) * float(self.calibration_fraction)))
            if n_cal < 10 or len(X) - n_cal < 2:
                raise DataError(
                    f"{len(X)} samples are too few to hold out a calibration set for the threshold; "
                    "give more data, X_calib, or a contamination"
                )
            X_calib, X_fit = take_rows(X, np.sort(perm[:n_cal])), take_rows(X, np.sort(perm[n_cal:]))
        else:
            X_fit = X
        self._fit_member(est, X_fit, table_encoder, seed)
        return self._finish_fit(X) if self.contamination is not None else self._held_out_fit(X, X_calib)

    def check_fit_data(self, X) -> None:
        """Raise, before any training, the DataError `fit(X)` gives for rows left on disk (a row
        source) over the memory budget that this detector cannot read a block at a time: with the
        "mse+code" score (the default for flat rows), whose statistics need every training row's
        code in memory. Any other detector trains and scores on such rows block by block."""
        if not over_budget(X):
            return
        if X.ndim not in (2, 4):  # (an empty source fits any budget: the in-memory checks refuse it)
            raise DataError(f"X must be an N×D or N×C×H×W source, got shape {X.shape}")
        est = self.estimator if self.estimator is not None else default_estimator(self.random_state, X.ndim == 4)
        if (resolve_score(AUTO_SCORE, est) if self.score == AUTO_SCORE else self.score) == MANIFOLD_SCORE:
            read_into_memory(X, f"an AutoEncoderDetector with score={MANIFOLD_SCORE!r} (the default for flat rows)")

    def _scores_in_blocks(self, X, k: int | None = None) -> np.ndarray:
        """Network k's scores (None: the detector's), a block of whole inference batches at a time,
        of rows on disk (`inference_blocks`) or in memory (`row_blocks`: 19× faster on 100,000
        MNIST-size rows, the same scores). A VAE's sampled scores take all rows in one call: one
        stream of draws."""
        fn = self._scores if k is None else partial(self._member_scores, k=k)
        if self.score_ in SAMPLED_SCORES:
            return fn(X)
        return inference_blocks(fn, X) if is_row_source(X) else row_blocks(lambda start, stop: fn(X[start:stop]), len(X))

    def _fit_member(self, est, X_fit, table_encoder, seed: int) -> None:
        """Train one more network on X_fit (and, for "mse+code", learn its parts' medians there)."""
        k = len(self.estimators_)
        table = is_table(X_fit)
        self.estimators_.append(est.fit(X_fit, table_encoder=table_encoder) if table else est.fit(X_fit))
        self.estimator_ = self.estimators_[0]
        if self.score_ == MANIFOLD_SCORE:  # its parts' medians: the rows the network was trained on
            views = self._member_table_scores(X_fit, k, views=True) if table else self._member_scores(X_fit, k, views=True)
            self.manifolds_.append(ManifoldScore.fit(*views, random_state=seed + k))
            self.manifold_ = self.manifolds_[0]
        if table:
            self.n_features_in_ = int(self.estimator_.n_features_in_)  # the encoded width

    def _fit_ensemble(self, est, X, X_calib, table_encoder, seed: int):
        """K networks cross-fitted on K folds of X (`aekit.estimators.ensemble`)."""
        K, table = self.n_estimators_, is_table(X)
        if len(X) < max(10, 2 * K):
            raise DataError(f"{len(X)} samples are too few for {K} cross-fitted networks and a threshold; "
                            "give more data, or n_estimators=1")
        if table:  # one column encoding for all networks, learned on all the training rows
            table_encoder, _ = fit_table_encoder(X, table_encoder)
        folds = crossfit_folds(len(X), K, seed)
        try:
            for k, fold in enumerate(folds):
                with progress_label(f"network {k + 1}/{K}"):  # which network a progress bar is of
                    self._fit_member(est if k == 0 else member_estimator(est, k), take_rows(X, complement(len(X), fold)),
                                     table_encoder, seed)
        except BaseException:  # a network that fails (or Ctrl-C) leaves no half-built ensemble behind
            for name in ("estimator_", "estimators_", "manifold_", "manifolds_", "threshold_"):
                self.__dict__.pop(name, None)
            raise
        share_table_encoder(self.estimators_)
        if self.contamination is not None:
            return self._finish_fit(X)
        if X_calib is not None:
            return self._held_out_fit(X, X_calib)
        cal = np.empty(len(X))
        for k, fold in enumerate(folds):  # each row scored by the network that did not train on it
            rows = take_rows(X, fold)
            cal[fold] = self._member_table_scores(rows, k) if table else self._scores_in_blocks(rows, k)
        return self._finish_fit(X, cal, f"{len(cal)} out-of-fold scores (each row scored by the one of {K} "
                                        "networks that did not train on it)")

    def _held_out_fit(self, X, X_calib):
        """The threshold from the scores of held-out rows (`X_calib`)."""
        if is_table(X):
            cal = self._table_scores(X_calib)
        elif over_budget(X_calib):  # checked and scored block by block
            cal = self.decision_function(X_calib)
        else:
            cal = self._scores_in_blocks(self._rows(X_calib, fitting=False)[0])
        return self._finish_fit(X, cal, f"{len(cal)} held-out scores")

    def _finish_fit(self, X, cal=None, what: str = ""):
        """Training scores, the threshold (from `cal`, else the contamination) and labels."""
        self.decision_scores_ = self._table_scores(X) if is_table(X) else self._scores_in_blocks(X)
        if cal is None:
            self.threshold_ = float(np.percentile(self.decision_scores_, 100 * (1 - float(self.contamination))))
            self.threshold_source_ = f"contamination={float(self.contamination):g} of the training scores"
        else:
            self.calibration_scores_ = cal
            self.threshold_ = float(np.quantile(cal, 1 - float(self.fpr), method="higher"))
            self.threshold_source_ = f"the {1 - float(self.fpr):g} quantile of {what} (fpr={float(self.fpr):g})"
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score per row: higher means more anomalous. Data left on disk (a row source)
        over the memory budget is scored a block of rows at a time (`inference_blocks`)."""
        check_is_fitted(self, "estimator_")
        if getattr(self, "series_", None) is not None:
            return series_scores(self, X)[0]
        if self.table_encoder_ is not None:
            return self._table_scores(X)
        if over_budget(X):
            return self._scores_in_blocks(X) if self.score_ in SAMPLED_SCORES else inference_blocks(self._array_scores, X)
        return self._array_scores(X)

    def _array_scores(self, X) -> np.ndarray:
        X, bad = self._rows(X, fitting=False)
        scores = np.full(len(X), np.inf)
        if (~bad).any():
            scores[~bad] = self._scores_in_blocks(X[~bad] if bad.any() else X)
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
        """The inner model's run folder (an ensemble's other networks in ``members/<k>``) plus
        detector.json (parameters, threshold) and the training scores (train_scores.npy)."""
        check_is_fitted(self, "estimator_")
        members = self.estimators_
        run = self.estimator_.save(path, data=data)
        save_members(members, run, data)
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "estimator"}
        manifold = self.score_ == MANIFOLD_SCORE
        RunRecord(run).write_json(DETECTOR_FILE, {
            "params": params, "threshold": self.threshold_, "threshold_source": self.threshold_source_,
            "n_features_in": self.n_features_in_, "estimator": type(self.estimator_).__name__,
            "score": self.score_,  # the score in use ("auto" resolved)
            "n_estimators": len(members),  # networks: this folder's and members/1 … members/K-1
            **({"manifold": self.manifold_.to_dict()} if manifold else {}),
            **({"manifolds": [m.to_dict() for m in self.manifolds_]} if manifold and len(members) > 1 else {}),
            **({"series": self.series_.to_dict()} if getattr(self, "series_", None) is not None else {}),
        })
        buf = io.BytesIO()
        np.save(buf, self.decision_scores_, allow_pickle=False)
        atomic_write_bytes(run / TRAIN_SCORES_FILE, buf.getvalue())
        return run

    def export(self, path, format: str = "onnx", part: str | None = None, *, opset: int | None = None,
               metadata: dict | None = None) -> Path:
        """Write the fitted detector (raw x → anomaly score and 0/1 label, threshold inside) or
        a part of its model as an ONNX or TorchScript file, JSON metadata beside it
        (`aekit.estimators.export`).

        Parameters
        ----------
        path : str or Path
            The file to write; the metadata goes to ``path + ".json"``.
        format : {"onnx", "torchscript"}, default "onnx"
        part : {"detector", "encoder", "decoder", "autoencoder"} or None
            None: the detector. Scores "elbo" and "loglik" are random draws: only the model's
            parts export for them.
        opset : int or None
            ONNX opset (default 18).
        metadata : dict or None
            Extra entries for the metadata.

        Returns
        -------
        Path
            The written file.

        Examples
        --------
        >>> import numpy as np, tempfile, os, torch
        >>> from aekit import AutoEncoder, AutoEncoderDetector
        >>> X = np.random.default_rng(0).normal(size=(80, 5)).astype(np.float32)
        >>> det = AutoEncoderDetector(AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0)).fit(X)
        >>> path = det.export(os.path.join(tempfile.mkdtemp(), "det.pt"), "torchscript")
        >>> score, label = torch.jit.load(path)(torch.from_numpy(X))
        >>> bool(np.allclose(score.numpy(), det.decision_function(X))), bool((label.numpy() == det.predict(X)).all())
        (True, True)
        """
        from aekit.estimators.export import export_estimator

        if getattr(self, "series_", None) is not None and part is None:
            raise ConfigError("a time-series detector exports its model only (part='autoencoder', 'encoder' or "
                              "'decoder'): the windowing and per-step scores are not in the exported graph")
        return export_estimator(self, path, format, part, opset=opset, metadata=metadata)

    @classmethod
    def load(cls, path, device: str = "cpu") -> "AutoEncoderDetector":
        """Read a detector's run folder; every field of detector.json is checked before use."""
        from aekit.estimators.presets import estimator_classes

        run = RunRecord(path)
        meta_path = run.file(DETECTOR_FILE)
        if not run.path.is_dir():
            raise RunFolderError(f"{run.path}: no such run folder")
        if not meta_path.exists():
            raise RunFolderError(f"{run.path}: no {DETECTOR_FILE}; this run folder holds no detector "
                                 "(train one with `aekit detect fit`)")
        meta = run.read_json(DETECTOR_FILE)
        from aekit.estimators.robust import RobustAutoEncoder

        allowed = {k: v for k, v in estimator_classes().items() if k != "Colorizer"}
        allowed[RobustAutoEncoder.__name__] = RobustAutoEncoder  # the default for tables (not a preset)
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
            in_use = loaded_score(det.score, meta.get("score"), series=det.window is not None)
            count = recorded_count(meta)
            det.manifolds_ = []
            if in_use == MANIFOLD_SCORE:  # "manifold" is network 0's state, also for an ensemble
                states = meta.get("manifolds") if count > 1 else [meta.get("manifold")]
                if not isinstance(states, list) or len(states) != count:
                    raise ValueError(f"'manifolds' must list the {count} networks' states")
                det.manifolds_ = [ManifoldScore.from_dict(m, str(meta_path)) for m in states]
                det.manifold_ = det.manifolds_[0]
            if det.window is not None:
                det.series_ = SeriesLayout.from_dict(meta.get("series"), str(meta_path))
        except (KeyError, TypeError, ValueError) as exc:
            raise RunFolderError(f"{meta_path}: not a valid detector description ({exc})") from None
        det.estimator_ = allowed[name].load(run.path, device=device)
        det.estimators_ = [det.estimator_, *load_members(allowed[name], run.path, count, device)]
        det.n_estimators_ = count
        share_table_encoder(det.estimators_)
        det.auto_score_ = in_use if det.score == AUTO_SCORE else resolve_score(
            AUTO_SCORE, det.estimator_, series=det.window is not None)
        det.threshold_ = threshold
        det.threshold_source_ = str(meta.get("threshold_source", ""))
        try:
            det.decision_scores_ = np.load(run.file(TRAIN_SCORES_FILE), allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise RunFolderError(f"{run.file(TRAIN_SCORES_FILE)}: unreadable ({exc})") from None
        det.labels_ = (det.decision_scores_ > det.threshold_).astype(int)
        return det


__all__ = ["AUTO_SCORE", "AutoEncoderDetector", "DEFAULT_MODEL", "DETECTOR_FILE", "SCORES", "detector_model",
           "loaded_score", "resolve_score"]
