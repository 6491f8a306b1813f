"""Tables (pandas DataFrames) in the network estimators: the learned column encoding, stored in
the run folder as JSON, and per-column errors for scores and explanations.

An estimator fitted on a DataFrame holds ``table_encoder_`` (an `aekit.data.tabular.TableEncoder`
learned on the training rows). DataFrames given to it later are encoded by column name; numeric
arrays given to it are taken as already encoded (``table_encoder_.n_features_out_`` wide). The
model trains on the encoded matrix with the reconstruction loss restricted to the observed cells
(missing cells and missing indicators do not count; see the `aekit.data.tabular` docstring).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from aekit.data.sources import RowView, is_row_source
from aekit.data.tabular import EncodedTable, TableEncoder
from aekit.errors import ConfigError, DataError
from aekit.runs import RunRecord

TABLE_ENCODER_FILE = "table_encoder.json"


def is_table(X) -> bool:
    """Whether X is a table the column encoding applies to (a pandas DataFrame).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> is_table(pd.DataFrame({"a": [1.0]})), is_table(np.zeros((1, 1)))
    (True, False)
    """
    return isinstance(X, pd.DataFrame)


def take_rows(X, rows: np.ndarray):
    """Rows of an array or a DataFrame, by position (of rows left on disk: a view that reads them)."""
    if is_row_source(X):
        return RowView(X, rows)
    return X.iloc[rows] if is_table(X) else X[rows]


def fit_table_encoder(df: pd.DataFrame, template: TableEncoder | None = None) -> tuple[TableEncoder, EncodedTable]:
    """Learn a column encoding on `df` and encode it.

    Parameters
    ----------
    df : pandas.DataFrame
        The training table.
    template : TableEncoder or None, default None
        An unfitted encoder whose options are used (it is not changed); a fitted one, used as it
        is (a copy, not refitted: the members of a detector's ensemble share one encoding learned
        on all the training rows); None: the defaults.

    Returns
    -------
    (TableEncoder, EncodedTable)
        The fitted encoder and ``(X, observed)`` of `df`.

    Raises
    ------
    ConfigError
        `template` is not a TableEncoder.
    DataError
        An empty table, or what `TableEncoder.fit` refuses.
    """
    if template is not None and not isinstance(template, TableEncoder):
        raise ConfigError(f"table_encoder must be an aekit.data.tabular.TableEncoder, got {type(template).__name__}")
    if len(df) == 0:
        raise DataError("the training table has no rows")
    if template is not None and hasattr(template, "columns_"):  # fitted: kept as it is
        encoder = TableEncoder.from_json(template.to_json())
        return encoder, encoder.transform(df)
    encoder = TableEncoder(**(template.options() if template is not None else {}))
    encoder.fit(df)
    return encoder, encoder.transform(df)


def save_table_encoder(est, run: str | Path) -> None:
    """Write the estimator's column encoding (if it was fitted on a table) into the run folder."""
    encoder = getattr(est, "table_encoder_", None)
    if encoder is not None:
        RunRecord(run).write_json(TABLE_ENCODER_FILE, encoder.to_json())


def load_table_encoder(run: str | Path) -> TableEncoder | None:
    """The column encoding stored in a run folder, validated (None when the run has none)."""
    record = RunRecord(run)
    path = record.file(TABLE_ENCODER_FILE)
    if not path.exists():
        return None
    return TableEncoder.from_json(record.read_json(TABLE_ENCODER_FILE), source=str(path))


def squared_errors(X: np.ndarray, R: np.ndarray, observed: np.ndarray | None = None) -> np.ndarray:
    """Squared reconstruction error per value (float64), zero where not observed.

    Examples
    --------
    >>> squared_errors(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]), np.array([[True, False]])).tolist()
    [[1.0, 0.0]]
    """
    sq = (np.asarray(X, dtype=np.float64) - np.asarray(R, dtype=np.float64)) ** 2
    return sq if observed is None else np.where(observed, sq, 0.0)


def observed_mean(sq: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Per row, the mean of `sq` over the observed values (0 for a row with none observed).

    Examples
    --------
    >>> observed_mean(np.array([[4.0, 0.0], [0.0, 0.0]]), np.array([[True, False], [False, False]])).tolist()
    [4.0, 0.0]
    """
    count = observed.sum(1)
    return np.divide(sq.sum(1), count, out=np.zeros(len(sq)), where=count > 0)


def column_shares(errors: np.ndarray) -> np.ndarray:
    """Each column's share of its row's total error (rows sum to 1; all 0 for a row without error).

    Examples
    --------
    >>> column_shares(np.array([[1.0, 3.0], [0.0, 0.0]])).tolist()
    [[0.25, 0.75], [0.0, 0.0]]
    """
    total = errors.sum(1, keepdims=True)
    return np.divide(errors, total, out=np.zeros_like(errors, dtype=np.float64), where=total > 0)


def top_columns(shares: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The `top` largest shares per row, largest first: (column indices, shares); ties keep the
    columns' order. Shares of 0 stay in the result (callers drop them)."""
    k = min(int(top), shares.shape[1])
    order = np.argsort(-shares, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(shares, order, axis=1)


def hide_column(encoder: TableEncoder, X: np.ndarray, observed: np.ndarray, column: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """Encoded rows with one input column read as missing: its values set to what a missing
    cell encodes as (0: the imputed center, an empty one-hot group; its missing indicator 1),
    and its values out of the observed mask.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Copies of `X` and `observed`.
    """
    sl = encoder.column_slices_[column]
    hidden, kept = X.copy(), observed.copy()
    hidden[:, sl] = 0.0
    for f in range(sl.start, sl.stop):
        if encoder.feature_roles_[f] == "missing":
            hidden[:, f] = 1.0
    kept[:, sl] = False
    return hidden, kept


def unseen_cells(encoder: TableEncoder, X: np.ndarray) -> np.ndarray:
    """Per row and encoded column (`encoder.encoded_columns_` order), whether the cell holds a
    category never seen in training."""
    out = np.zeros((len(X), len(encoder.encoded_columns_)), dtype=bool)
    position = {name: j for j, name in enumerate(encoder.encoded_columns_)}
    for f, role in enumerate(encoder.feature_roles_):
        if role == "unseen":
            out[:, position[encoder.feature_columns_[f]]] = X[:, f] > 0.5
    return out


__all__ = ["TABLE_ENCODER_FILE", "column_shares", "fit_table_encoder", "hide_column", "is_table", "load_table_encoder",
           "observed_mean", "save_table_encoder", "squared_errors", "take_rows", "top_columns",
           "unseen_cells"]
