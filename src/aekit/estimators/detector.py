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
`explain(df)` gives each column's share of a row's score.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from aekit.errors import ConfigError, DataError, RunFolderError
from aekit.estimators.tabular import (column_shares, hide_column, is_table, observed_mean, squared_errors,
                                      top_columns, unseen_cells)
from aekit.runs import RunRecord, atomic_write_bytes
from aekit.specs import finite_number, positive_int

SCORES = ("mse", "max", "ssim", "elbo", "loglik")
TABLE_SCORES = ("mse", "max")
IMPUTE_PASSES = 3  # reconstructions that fill a table's missing cells before its row is scored
DETECTOR_FILE = "detector.json"
TRAIN_SCORES_FILE = "train_scores.npy"


# The plain preset's network inside a detector when no size is given: small, as for tables.
DEFAULT_MODEL = {"hidden": (64, 32), "latent_dim": 8}
# The default for flat rows (tables): a RobustAutoEncoder (winsorized training rows, a code of ⌈√D⌉,
# 1,000 updates of batch 32, no validation split: the budget, not early stopping, ends training).
# Measured on the ODDS tables against PyOD's AutoEncoder and IsolationForest: benchmarks/RESULTS.md,
# "Detector default on tables". Images (N×C×H×W) keep DEFAULT_MODEL with the data-size training rule.
DEFAULT_TABLE_MODEL = {"hidden": (64, 32), "latent_dim": "auto", "winsorize": 3.0, "updates": 1000,
                       "batch_size": 32, "validation_fraction": 0.0}


def _default_estimator(random_state, images: bool = False):
    if images:
        return detector_model("ae", random_state=random_state)
    from aekit.estimators.robust import RobustAutoEncoder

    return RobustAutoEncoder(**DEFAULT_TABLE_MODEL, random_state=random_state)


def detector_model(preset: str = "ae", *, table: bool = False, **params):
    """The model a detector holds: an autoencoder or VAE preset, with `params` overriding it; the
    plain preset "ae" gets DEFAULT_MODEL's sizes unless `params` give them, or for a `table` the
    default table model (`DEFAULT_TABLE_MODEL`, a RobustAutoEncoder) with `params` overriding it."""
    from aekit.estimators.presets import PRESETS, make_preset, preset_class

    if preset_class(preset).__name__ not in ("AutoEncoder", "VariationalAutoEncoder"):
        raise ConfigError(f"a detector holds an autoencoder or a VAE, not --model {preset}; choose one of "
                          + ", ".join(p for p, spec in PRESETS.items() if spec.estimator != "Colorizer"))
    if preset == "ae" and table:
        from aekit.estimators.robust import RobustAutoEncoder

        return RobustAutoEncoder(**{**DEFAULT_TABLE_MODEL, **params})
    if preset == "ae":
        params = {**DEFAULT_MODEL, **params}
    return make_preset(preset, **params)


class AutoEncoderDetector(BaseEstimator):
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

    # -- tables ------------------------------------------------------------------------------
    @property
    def table_encoder_(self):
        """The column encoding of a detector fitted on a table (None otherwise)."""
        return getattr(getattr(self, "estimator_", None), "table_encoder_", None)

    def _check_table_fit(self, X, X_calib) -> None:
        if self.score not in TABLE_SCORES:
            raise ConfigError(f"score={self.score!r} is not for tables; choose one of {', '.join(TABLE_SCORES)}")
        if X_calib is not None and not is_table(X_calib):
            raise DataError("X is a table (a DataFrame), so X_calib must be one too")
        if len(X) == 0:
            raise DataError("the training table has no rows")

    def _table_errors(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(encoded X, squared error per encoded value with missing cells zeroed, observed mask)."""
        if not is_table(X):
            cols = [s.name for s in self.table_encoder_.columns_]
            raise DataError(f"this detector was fitted on a table: pass a pandas DataFrame with its columns "
                            f"({', '.join(cols[:8])}{', ...' if len(cols) > 8 else ''}), matched by name")
        Xe, observed = self.table_encoder_.transform(X)
        if len(Xe) == 0:
            return Xe, np.zeros(Xe.shape), observed
        R = self.estimator_.reconstruct(Xe)
        # A missing cell's input is the column's center; for a model that saw few missing cells that
        # is an unusual row, which disturbs the others. So missing cells are filled with the model's
        # own reconstruction (a few passes, rows with missing cells only) before the row is scored.
        imputed = ~observed & (np.asarray(self.table_encoder_.feature_roles_) != "missing")
        rows = np.flatnonzero(imputed.any(1))
        if len(rows):
            filled = Xe[rows]
            for _ in range(IMPUTE_PASSES):
                filled = np.where(imputed[rows], R[rows], Xe[rows]).astype(np.float32)
                R[rows] = self.estimator_.reconstruct(filled)
        return Xe, squared_errors(Xe, R, observed), observed

    def _table_scores(self, X) -> np.ndarray:
        _, sq, observed = self._table_errors(X)
        if self.score == "max":
            return sq.max(1) if sq.shape[1] else np.zeros(len(sq))
        return observed_mean(sq, observed)

    def explain(self, X, top: int = 5, *, form: str = "long") -> pd.DataFrame:
        """Each input column's share of each row's anomaly score, the largest first.

        A column's part of a row's error is its own squared error (its one-hot group, unseen
        slot and missing indicator summed back to it) plus the error it causes in the other
        columns: how much of their error goes away when the column is hidden (its cell read as
        missing: imputed, its missing indicator set; the row reconstructed again), if any.
        Shares are the parts over their sum, so a row's shares sum to 1 (all 0 for a row
        without error). The second term is what makes the changed column the one named: an odd
        value moves the code, so the reconstruction of every column suffers, and a plain split
        of the error by column often names a column the change merely disturbed.

        Parameters
        ----------
        X : pandas.DataFrame
            The rows to explain, with the columns the detector was fitted on (matched by name).
        top : int, default 5
            Columns per row (fewer when fewer have a share above 0).
        form : {"long", "wide"}, default "long"
            "long": one line per row and rank, with ``row`` (the DataFrame's index label),
            ``rank`` (1 = the largest share), ``column``, ``share`` and ``unseen`` (the cell
            holds a category never seen in training). "wide": one line per row with ``row``,
            ``score``, then ``column_1``, ``share_1``, ... ``column_<top>``, ``share_<top>``
            (None and 0 where a row has fewer columns with a share).

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        ConfigError
            A detector fitted on arrays (wrap them in a DataFrame and fit on that), or a bad
            `top` or `form`.

        Examples
        --------
        >>> import pandas as pd
        >>> from aekit import AutoEncoder
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
        >>> det = AutoEncoderDetector(AutoEncoder(hidden=(4,), latent_dim=1, epochs=2), random_state=0).fit(df)
        >>> ex = det.explain(df.head(3), top=2)
        >>> list(ex.columns), bool(ex.groupby("row")["share"].sum().round(6).eq(1).all())
        (['row', 'rank', 'column', 'share', 'unseen'], True)
        """
        check_is_fitted(self, "estimator_")
        if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
            raise ConfigError(f"top must be a positive integer, got {top!r}")
        if form not in ("long", "wide"):
            raise ConfigError(f"form must be 'long' or 'wide', got {form!r}")
        encoder = self.table_encoder_
        if encoder is None:
            raise ConfigError("explain names the columns of a table: fit the detector on a pandas DataFrame "
                              "(numeric arrays can be wrapped in one)")
        Xe, sq, observed = self._table_errors(X)
        parts = self._column_parts(Xe, sq, observed)
        names = np.asarray(encoder.encoded_columns_, dtype=object)
        rows = X.index.to_numpy()
        order, shares = top_columns(column_shares(parts), top)
        if form == "wide":
            out = {"row": rows, "score": sq.max(1) if self.score == "max" else observed_mean(sq, observed)}
            for r in range(order.shape[1]):
                out[f"column_{r + 1}"] = np.where(shares[:, r] > 0, names[order[:, r]], None)
                out[f"share_{r + 1}"] = shares[:, r]
            return pd.DataFrame(out)
        i, r = np.nonzero(shares > 0)
        unseen = unseen_cells(encoder, Xe)
        return pd.DataFrame({"row": rows[i], "rank": r + 1, "column": names[order[i, r]], "share": shares[i, r],
                             "unseen": unseen[i, order[i, r]]})

    def _column_parts(self, Xe: np.ndarray, sq: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """Per row and encoded column: its own error plus the error it causes in the other columns
        (what of theirs goes away when it is hidden, if anything)."""
        encoder = self.table_encoder_
        own = encoder.sum_by_column(sq) if len(Xe) else np.zeros((0, len(encoder.encoded_columns_)))
        others = own.sum(1, keepdims=True) - own  # each column's "rest of the row" before hiding it
        parts = own.copy()
        for c, name in enumerate(encoder.encoded_columns_):
            hidden, kept = hide_column(encoder, Xe, observed, name)
            after = squared_errors(Xe, self.estimator_.reconstruct(hidden), kept).sum(1) if len(Xe) else 0.0
            parts[:, c] += np.maximum(others[:, c] - after, 0.0)
        # a missing cell is already hidden: any difference is rounding, and it explains nothing
        return np.where(encoder.sum_by_column(observed) > 0, parts, 0.0) if len(Xe) else parts

    # -- the PyOD-style API ------------------------------------------------------------------
    def fit(self, X, y=None, *, X_calib=None, table_encoder=None):
        """Fit on (mostly) normal data. `y` is ignored (unsupervised), as in PyOD.

        X may be a pandas DataFrame (a table; `X_calib` then one too): `table_encoder`, an
        unfitted `aekit.data.tabular.TableEncoder`, gives the options of the column encoding
        (label and ignored columns, robust scaling, datetimes, bad cells); see the module docstring.
        """
        self._check_params()
        table = is_table(X)
        if table:
            self._check_table_fit(X, X_calib)
        elif table_encoder is not None:
            raise ConfigError("table_encoder is for tables: pass X as a pandas DataFrame")
        else:
            X, _ = self._rows(X, fitting=True)
        seed = 0 if self.random_state is None else int(self.random_state)
        est = clone(self.estimator) if self.estimator is not None else _default_estimator(
            self.random_state, images=not table and X.ndim == 4)
        if table and not getattr(est, "_accepts_tables", False):
            raise ConfigError(f"a detector of tables holds an AutoEncoder (its loss skips missing cells), "
                              f"not a {type(est).__name__}")
        self.n_features_in_ = len(X.columns) if table else int(np.prod(X.shape[1:]))
        if self.contamination is None and X_calib is None:
            perm = np.random.default_rng(seed).permutation(len(X))
            n_cal = int(round(len(X) * float(self.calibration_fraction)))
            if n_cal < 10 or len(X) - n_cal < 2:
                raise DataError(
                    f"{len(X)} samples are too few to hold out a calibration set for the threshold; "
                    "give more data, X_calib, or a contamination"
                )
            X_calib, X_fit = _take(X, np.sort(perm[:n_cal])), _take(X, np.sort(perm[n_cal:]))
        else:
            X_fit = X
        self.estimator_ = est.fit(X_fit, table_encoder=table_encoder) if table else est.fit(X_fit)
        if table:
            self.n_features_in_ = int(self.estimator_.n_features_in_)  # the encoded width
        self.decision_scores_ = self._table_scores(X) if table else self._scores(X)
        if self.contamination is not None:
            self.threshold_ = float(np.percentile(self.decision_scores_, 100 * (1 - float(self.contamination))))
            self.threshold_source_ = f"contamination={float(self.contamination):g} of the training scores"
        else:
            if table:
                cal = self._table_scores(X_calib)
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
        if self.table_encoder_ is not None:
            return self._table_scores(X)
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

        return export_estimator(self, path, format, part, opset=opset, metadata=metadata)

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


def _take(X, rows: np.ndarray):
    """Rows of an array or a DataFrame, by position."""
    return X.iloc[rows] if is_table(X) else X[rows]


__all__ = ["AutoEncoderDetector", "DEFAULT_MODEL", "DETECTOR_FILE", "SCORES", "detector_model"]
