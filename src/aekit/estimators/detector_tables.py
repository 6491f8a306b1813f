"""The table side of `AutoEncoderDetector` (a mixin): scoring a DataFrame's rows on the cells they
have, and `explain`, each column's share of a row's score.

A row is scored on the cells it has: its missing cells are filled with the model's own
reconstruction (`IMPUTE_PASSES` passes), and the score is the mean squared error over its
observed encoded values, so a missing cell neither raises nor raises the score.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from aekit.errors import ConfigError, DataError
from aekit.estimators.detector_models import TABLE_SCORES
from aekit.estimators.manifold_score import MANIFOLD_SCORE
from aekit.estimators.tabular import (column_shares, hide_column, is_table, observed_mean, squared_errors, top_columns,
                                      unseen_cells)

IMPUTE_PASSES = 3  # reconstructions that fill a table's missing cells before its row is scored


class TableScores:
    """Scores and explanations of a table's rows, for `AutoEncoderDetector` (which holds the fitted
    networks `estimators_`, their `manifolds_` and the score in use `score_`)."""

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

    def _table_errors(self, X, inputs: bool = False, k: int = 0) -> tuple[np.ndarray, ...]:
        """(encoded X, squared error per encoded value with missing cells zeroed, observed mask), and with
        `inputs` the model's input (missing cells imputed) and its reconstruction, by network k."""
        if not is_table(X):
            cols = [s.name for s in self.table_encoder_.columns_]
            raise DataError(f"this detector was fitted on a table: pass a pandas DataFrame with its columns "
                            f"({', '.join(cols[:8])}{', ...' if len(cols) > 8 else ''}), matched by name")
        est = self.estimators_[k]
        Xe, observed = est.table_encoder_.transform(X)
        if len(Xe) == 0:
            return (Xe, np.zeros(Xe.shape), observed) + ((Xe, Xe) if inputs else ())
        R = est.reconstruct(Xe)
        # A missing cell's input is the column's center; for a model that saw few missing cells that
        # is an unusual row, which disturbs the others. So missing cells are filled with the model's
        # own reconstruction (a few passes, rows with missing cells only) before the row is scored.
        imputed = ~observed & (np.asarray(self.table_encoder_.feature_roles_) != "missing")
        rows, model_input = np.flatnonzero(imputed.any(1)), Xe.copy()
        if len(rows):
            filled = Xe[rows]
            for _ in range(IMPUTE_PASSES):
                filled = np.where(imputed[rows], R[rows], Xe[rows]).astype(np.float32)
                R[rows] = est.reconstruct(filled)
            model_input[rows] = filled
        return (Xe, squared_errors(Xe, R, observed), observed) + ((model_input, R) if inputs else ())

    def _table_scores(self, X) -> np.ndarray:
        """The detector's score of a table's rows: the mean of its networks'."""
        return sum(self._member_table_scores(X, k) for k in range(len(self.estimators_))) / len(self.estimators_)

    def _member_table_scores(self, X, k: int, views: bool = False) -> np.ndarray:
        if self.score_ == MANIFOLD_SCORE:  # + the distance along the manifold (aekit.estimators.manifold_score)
            _, sq, observed, model_input, R = self._table_errors(X, inputs=True, k=k)
            parts = (observed_mean(sq, observed), self.estimators_[k].transform(model_input), R)
            return parts if views else self.manifolds_[k].score(*parts)
        _, sq, observed = self._table_errors(X, k=k)
        if self.score_ == "max":
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
        of the error by column often names a column the change merely disturbed. With
        ``score="mse+code"`` the shares are those of the reconstruction error part (the code part
        has no split by column); the "wide" form's ``score`` is the whole score.

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
        >>> from aekit import AutoEncoder, AutoEncoderDetector
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
        shares = column_shares(self._column_parts(Xe, sq, observed))
        for k in range(1, len(self.estimators_)):  # an ensemble: each network's shares, averaged
            shares = shares + column_shares(self._column_parts(*self._table_errors(X, k=k), k=k))
        names = np.asarray(encoder.encoded_columns_, dtype=object)
        rows = X.index.to_numpy()
        order, shares = top_columns(shares / len(self.estimators_), top)
        if form == "wide":
            out = {"row": rows, "score": self._table_scores(X)}
            for r in range(order.shape[1]):
                out[f"column_{r + 1}"] = np.where(shares[:, r] > 0, names[order[:, r]], None)
                out[f"share_{r + 1}"] = shares[:, r]
            return pd.DataFrame(out)
        i, r = np.nonzero(shares > 0)
        unseen = unseen_cells(encoder, Xe)
        return pd.DataFrame({"row": rows[i], "rank": r + 1, "column": names[order[i, r]], "share": shares[i, r],
                             "unseen": unseen[i, order[i, r]]})

    def _column_parts(self, Xe: np.ndarray, sq: np.ndarray, observed: np.ndarray, k: int = 0) -> np.ndarray:
        """Per row and encoded column: its own error plus the error it causes in the other columns
        (what of theirs goes away when it is hidden, if anything), by network k."""
        encoder = self.table_encoder_
        own = encoder.sum_by_column(sq) if len(Xe) else np.zeros((0, len(encoder.encoded_columns_)))
        others = own.sum(1, keepdims=True) - own  # each column's "rest of the row" before hiding it
        parts = own.copy()
        for c, name in enumerate(encoder.encoded_columns_):
            hidden, kept = hide_column(encoder, Xe, observed, name)
            after = squared_errors(Xe, self.estimators_[k].reconstruct(hidden), kept).sum(1) if len(Xe) else 0.0
            parts[:, c] += np.maximum(others[:, c] - after, 0.0)
        # a missing cell is already hidden: any difference is rounding, and it explains nothing
        return np.where(encoder.sum_by_column(observed) > 0, parts, 0.0) if len(Xe) else parts


__all__ = ["IMPUTE_PASSES", "TableScores"]
