"""Tables as users have them: reading CSV/Parquet files, and the column encoding learned on
training data that turns a DataFrame into the float32 matrix a model sees.

Modules: `reading` (read_table), `encoder` (TableEncoder), `specs` (the learned state and its
JSON validation), `cells` (reading one column's cells), `stats` (fitting over chunks).

`read_table` reads a .csv (.tsv, compressed .csv.gz/.bz2/.xz/.zip) or .parquet file whole or
in chunks. `TableEncoder` learns, per input column, how to encode it and stores that as a
plain JSON-able dict (never pickle), so scoring a new file matches columns by name.

Output layout. Each encoded input column gives a contiguous group of output features, in
training column order (`TableEncoder.feature_roles_` gives each feature's role):

* numeric: ``col`` = (x - center) / scale, missing cells imputed (role ``value``);
* categorical: ``col=level`` for each kept level, most frequent first (``level``), then
  ``col=__other__`` when rare or over-cap levels were pooled (``other``), then
  ``col=__unseen__`` for a category never seen in training (``unseen``);
* boolean: ``col=False`` and/or ``col=True`` (those seen in training), ``col=__unseen__``;
* datetime (with ``datetime="expand"``): ``col.elapsed_days``, ``col.year_sin``,
  ``col.year_cos``, ``col.week_sin``, ``col.week_cos``, ``col.day_sin``, ``col.day_cos``
  (``value``; parts constant in training are left out);
* any kind: a last ``col__missing`` feature when training had missing cells (``missing``).

The observed mask. `TableEncoder.transform` returns ``(X, observed)``; ``observed[i, j]`` is
True when feature j of row i carries an observed cell of the table, i.e. it belongs in a
masked reconstruction loss and in per-column scores:

* value features: True where the cell was observed, False where it was missing (or coerced
  to missing) and the imputed value stands in;
* a one-hot group (levels, other, unseen): all True when the cell was observed (an unseen
  category included), all False when it was missing (the group is then all zeros);
* missing-indicator features: always False. They are inputs that tell the model which cells
  were imputed; reconstructing them would make missingness itself raise the anomaly score,
  so a row with missing cells is scored on the cells it has.

A column that shows missing values for the first time at scoring (no indicator was learned)
is imputed the same way and its cells are masked out; nothing raises.

Rows in error messages are the DataFrame's index labels; frames from `read_table` are
numbered 0, 1, ... from the first data row (the header not counted), across chunks.
"""
from aekit.data.tabular.encoder import TableEncoder
from aekit.data.tabular.reading import read_table, table_format
from aekit.data.tabular.specs import (
    DATETIME_PARTS,
    KINDS,
    OTHER,
    UNSEEN,
    CategoricalSpec,
    ColumnSpec,
    DatetimeSpec,
    DroppedSpec,
    EncodedTable,
    NumericSpec,
)

__all__ = [
    "DATETIME_PARTS", "KINDS", "OTHER", "UNSEEN", "CategoricalSpec", "ColumnSpec", "DatetimeSpec",
    "DroppedSpec", "EncodedTable", "NumericSpec", "TableEncoder", "read_table", "table_format",
]
