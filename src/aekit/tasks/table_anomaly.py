"""Anomaly detection on table files (CSV, Parquet): fitting a detector on a file, and scoring or
explaining a file of any size in chunks, so that memory does not grow with the file."""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from aekit.data.tabular import TableEncoder, read_table, table_format
from aekit.errors import AekitWarning, ConfigError, DataError
from aekit.kinds import anomaly_labels, table_splits
from aekit.runs import DataRecord, RunRecord, check_output_file
from aekit.specs import positive_int

# Rows per chunk when a file is scored: memory is this many rows' encodings and reconstructions.
CHUNK_ROWS = 50_000
OUTPUT_SUFFIXES = (".csv", ".parquet")


def is_table_file(source) -> bool:
    """Whether `source` names a CSV or Parquet file (by its suffix), read as a table.

    Examples
    --------
    >>> is_table_file("data/t.csv"), is_table_file("x.parquet"), is_table_file("digits")
    (True, True, False)
    """
    try:
        table_format(str(source))
    except DataError:
        return False
    return True


def table_encoder_options(label_column: str | None = None, ignore_columns: str | None = None,
                          datetime: str = "refuse", errors: str = "raise", scaling: str = "standard") -> TableEncoder:
    """An unfitted TableEncoder from command-line values (`ignore_columns` comma-separated)."""
    ignored = [c.strip() for c in (ignore_columns or "").split(",") if c.strip()]
    return TableEncoder(label_column=label_column, ignore_columns=ignored, datetime=datetime, errors=errors,
                        scaling=scaling)


def fit_table_detector(det, path, out, *, encoder: TableEncoder, seed: int = 0, normal: list | None = None,
                       overwrite: bool = False) -> tuple[object, Path, int]:
    """Fit `det` on the training part of a table file and write its run folder.

    Parameters
    ----------
    det : AutoEncoderDetector
        Unfitted.
    path : str or path-like
        A CSV or Parquet file (read whole: training happens in memory).
    out : str or path-like
        The run folder.
    encoder : TableEncoder
        Unfitted; its options (label and ignored columns, datetimes, bad cells) are used.
    seed : int, default 0
        Seed of the train/test split and of the detector.
    normal : list or None, default None
        Train only on rows whose label (in ``encoder.label_column``) is one of these.
    overwrite : bool, default False
        Replace an existing run folder.

    Returns
    -------
    (detector, run folder, training rows)
    """
    record = RunRecord(out)
    record.check_writable(overwrite=overwrite)
    df = read_table(path)
    train_rows, _ = table_splits(len(df), seed)
    train = df.iloc[train_rows]
    if normal is not None:
        is_anomaly = anomaly_labels(train, encoder.label_column, normal)
        if is_anomaly is None:
            raise ConfigError("--normal-label on a table needs --label-column naming the label column")
        train = train.iloc[np.flatnonzero(~is_anomaly)]
    data = DataRecord.of(path, None, seed, label_column=encoder.label_column, table=True, n_rows=len(df),
                         **({"normal_labels": normal} if normal is not None else {}))
    with record.lock(), record.replacing(overwrite):  # a fit that fails puts the earlier run back
        det.fit(train, table_encoder=encoder)
        run = det.save(out, data=data.to_dict())
    return det, run, len(train)


def _chunks(path, chunksize: int, notices: list[str]):
    """The file's chunks; the notices the encoder gives on each (an extra column ignored...) are
    collected once each, not repeated per chunk."""
    for chunk in read_table(path, chunksize=chunksize):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AekitWarning)
            yield chunk
        for w in caught:
            if issubclass(w.category, AekitWarning) and str(w.message) not in notices:
                notices.append(str(w.message))
            elif not issubclass(w.category, AekitWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _output(out) -> tuple[Path, str]:
    out = check_output_file(out)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(f"--out {out}: write scores to a .csv or .parquet file")
    return out, suffix


class _Writer:
    """Appends DataFrames to a CSV or Parquet file, written under a temporary name and renamed at
    the end, so a half-written file never stands under the requested name."""

    def __init__(self, out: Path, suffix: str):
        self.out, self.suffix = out, suffix
        self.tmp = out.with_name(f".{out.name}.partial")
        self.parquet = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if self.suffix == ".csv":
            frame.to_csv(self.tmp, mode="w" if self.rows == 0 else "a", header=self.rows == 0, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.tmp, table.schema)
            self.parquet.write_table(table.cast(self.parquet.schema))
        self.rows += len(frame)

    def close(self, ok: bool) -> None:
        if self.parquet is not None:
            self.parquet.close()
        if ok:
            self.tmp.replace(self.out)
        else:
            self.tmp.unlink(missing_ok=True)


METRIC_ROWS = 1_000_000  # labelled rows whose scores are kept for ROC-AUC (9 bytes each, and sklearn's sort): bounded


def score_table_file(det, path, out, *, top: int = 3, chunksize: int = CHUNK_ROWS, errors: str | None = None,
                     normal: list | None = None, metrics: bool = True) -> dict:
    """Score a table file in chunks: per row its score, the 0/1 label and its top columns.

    Parameters
    ----------
    det : AutoEncoderDetector
        Fitted on a table.
    path : str or path-like
        A CSV or Parquet file with the training columns (matched by name; extra ones ignored).
    out : str or path-like
        A .csv or .parquet file: ``row`` (from 0, the header not counted), ``score``,
        ``anomaly`` (1 above the threshold), ``column_1``, ``share_1``, ... (the explanation's
        wide form, `top` columns), and ``label`` when the file has the label column.
    top : int, default 3
        Columns named per row (0: scores and labels only).
    chunksize : int, default CHUNK_ROWS
        Rows read, scored and written at a time; memory holds one chunk.
    errors : {"raise", "coerce"} or None, default None
        Cells that do not parse (text in a numeric column): an error naming the row and column,
        or missing values; None keeps the encoder's setting.
    normal : list or None, default None
        The label column's values that are normal (None: 0, as in the ODDS tables).
    metrics : bool, default True
        Keep each labelled row's score and label for the metrics (up to METRIC_ROWS rows; above
        that, a notice and no metrics); False: memory holds one chunk whatever the file.

    Returns
    -------
    dict
        "rows", "flagged", "chunks", "seconds", "rows_per_second", "out", "notices" (what the
        encoder noted once, such as extra columns ignored), and when the file has the label
        column (and at most METRIC_ROWS rows) "metrics": ROC-AUC, PR-AUC and the rates at the threshold
        (`aekit.metrics.detection_metrics`; one score and one flag per row are kept for them).
    """
    from aekit.metrics import detection_metrics

    encoder = det.table_encoder_
    if encoder is None:
        raise ConfigError("this detector was fitted on arrays, not a table: score it with --split, not a table file")
    chunksize = positive_int(chunksize, "--chunk-rows", "rows per chunk")
    top = int(top)
    if top < 0:
        raise ConfigError(f"--top must be 0 or more, got {top}")
    out, suffix = _output(out)
    saved_errors = encoder.errors
    if errors is not None:
        TableEncoder(errors=errors)  # checks the value
        encoder.errors = errors
    t0 = time.perf_counter()
    writer = _Writer(out, suffix)
    flagged = chunks = 0
    notices: list[str] = []
    scores, truth, kept = [], [], 0  # for the metrics, when the file has labels
    ok = False
    try:
        for chunk in _chunks(path, chunksize, notices):
            chunks += 1
            if top:
                frame = det.explain(chunk, top=top, form="wide")
            else:
                frame = pd.DataFrame({"row": chunk.index.to_numpy(), "score": det.decision_function(chunk)})
            frame.insert(2, "anomaly", (frame["score"].to_numpy() > det.threshold_).astype(np.int8))
            for r in range(1, top + 1):  # one type per column across chunks, whatever a chunk holds
                frame[f"column_{r}"] = frame[f"column_{r}"].astype(object)
            if encoder.label_column is not None and encoder.label_column in chunk.columns:
                frame["label"] = chunk[encoder.label_column].astype(str).to_numpy()
                if metrics and kept + len(frame) <= METRIC_ROWS:  # a copy: a view would keep the chunk's frame alive
                    scores.append(np.array(frame["score"], dtype=np.float64))
                    truth.append(anomaly_labels(chunk, encoder.label_column, normal))
                kept += len(frame)
            flagged += int(frame["anomaly"].sum())
            writer.write(frame)
        ok = True
    finally:
        encoder.errors = saved_errors
        writer.close(ok)
    seconds = time.perf_counter() - t0
    result = {"rows": writer.rows, "flagged": flagged, "chunks": chunks, "seconds": seconds,
              "rows_per_second": writer.rows / seconds if seconds > 0 else float("nan"), "out": str(out),
              "notices": notices}
    if scores and kept == writer.rows <= METRIC_ROWS:  # every row labelled, every score kept
        result["metrics"] = detection_metrics(np.concatenate(scores), np.concatenate(truth), det.threshold_)
    elif metrics and kept > METRIC_ROWS:
        notices.append(f"no ROC-AUC: the file has over {METRIC_ROWS:,} labelled rows, and memory stays bounded "
                       "(compute it from the scores file's score and label columns)")
    return result


def explain_table_file(det, path, out, *, top: int = 5, chunksize: int = CHUNK_ROWS) -> dict:
    """Write `det.explain` of every row of a table file (long form: row, rank, column, share,
    unseen) to a .csv or .parquet file, in chunks.

    Returns
    -------
    dict
        "rows" (explained), "lines" (written), "out", "notices".
    """
    if det.table_encoder_ is None:
        what = ("a time series: its scores are per time step (aekit detect score writes them)"
                if getattr(det, "series_", None) is not None else "arrays")
        raise ConfigError(f"explain names the columns of a table: this detector was fitted on {what}")
    chunksize = positive_int(chunksize, "--chunk-rows", "rows per chunk")
    out, suffix = _output(out)
    writer = _Writer(out, suffix)
    rows = 0
    notices: list[str] = []
    ok = False
    try:
        for chunk in _chunks(path, chunksize, notices):
            writer.write(det.explain(chunk, top=top))
            rows += len(chunk)
        ok = True
    finally:
        writer.close(ok)
    return {"rows": rows, "lines": writer.rows, "out": str(out), "notices": notices}


__all__ = ["CHUNK_ROWS", "METRIC_ROWS", "explain_table_file", "fit_table_detector", "is_table_file", "score_table_file",
           "table_encoder_options"]
