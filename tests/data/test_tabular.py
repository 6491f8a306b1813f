"""Tables: read_table on CSV/Parquet (whole, chunked, each bad file) and TableEncoder (scaling,
one-hot with other/unseen slots, missing cells and the observed mask, column matching by name,
bad cells, datetimes, JSON state and its validation, chunked fitting, speed)."""
from __future__ import annotations

import copy
import doctest
import gzip
import importlib
import json
import time
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.exceptions import NotFittedError

import aekit.data.tabular.stats as tabular_stats
from aekit.data.tabular import DATETIME_PARTS, TableEncoder, read_table, table_format
from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError


def mixed_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Numeric (with gaps), categorical (a rare level), boolean, integer and a label column."""
    rng = np.random.default_rng(seed)
    x = rng.normal(10.0, 3.0, n)
    x[rng.random(n) < 0.1] = np.nan
    colour = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]).astype(object)
    colour[:2] = "mauve"  # rare: 2 cells
    colour[5] = None
    flag = rng.random(n) < 0.3
    return pd.DataFrame({
        "x": x,
        "colour": colour,
        "flag": flag,
        "count": rng.integers(0, 50, n),
        "label": rng.integers(0, 2, n),
    })


def fitted(df=None, **kw) -> TableEncoder:
    kw.setdefault("label_column", "label")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AekitWarning)  # the clean frame must fit without notices
        return TableEncoder(**kw).fit(mixed_frame() if df is None else df)


def col(enc: TableEncoder, X: np.ndarray, name: str) -> np.ndarray:
    return X[:, enc.feature_names_out_.index(name)]


# ======================================================================== read_table
def test_table_format():
    assert table_format("a.CSV") == "csv" and table_format("a.tsv") == "tsv"
    assert table_format("d/a.csv.gz") == "csv" and table_format("a.pq") == "parquet"
    with pytest.raises(DataError, match=r"a\.xlsx: not a table file; supported: \.csv"):
        table_format("a.xlsx")


def test_read_csv_and_parquet_whole(tmp_path):
    df = mixed_frame(50)
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet", index=False)
    a, b = read_table(tmp_path / "t.csv"), read_table(tmp_path / "t.parquet")
    assert list(a.columns) == list(b.columns) == list(df.columns)
    np.testing.assert_array_equal(a["x"].to_numpy(), df["x"].to_numpy())  # floats read back exactly
    assert a["colour"].tolist()[6:] == b["colour"].tolist()[6:] == df["colour"].tolist()[6:]
    sub = read_table(tmp_path / "t.parquet", columns=["x", "flag"])
    assert list(sub.columns) == ["x", "flag"]


def test_read_tsv_and_gzip(tmp_path):
    df = pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]})
    df.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    with gzip.open(tmp_path / "t.csv.gz", "wt") as f:
        df.to_csv(f, index=False)
    pd.testing.assert_frame_equal(read_table(tmp_path / "t.tsv"), read_table(tmp_path / "t.csv.gz"))


def test_chunked_csv_equals_whole(tmp_path):
    df = mixed_frame(2500)
    df.to_csv(tmp_path / "t.csv", index=False)
    chunks = read_table(tmp_path / "t.csv", chunksize=1000)
    assert iter(chunks) is chunks  # an iterator: the file is never loaded whole
    parts = list(chunks)
    assert [len(p) for p in parts] == [1000, 1000, 500]
    assert parts[1].index[0] == 1000  # row numbers continue across chunks
    pd.testing.assert_frame_equal(pd.concat(parts), read_table(tmp_path / "t.csv"))


def test_chunked_parquet_equals_whole(tmp_path):
    df = mixed_frame(2500)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "t.parquet", row_group_size=700)
    assert pq.ParquetFile(tmp_path / "t.parquet").num_row_groups == 4
    parts = list(read_table(tmp_path / "t.parquet", chunksize=600, columns=["x", "colour"]))
    assert max(len(p) for p in parts) <= 600 and sum(len(p) for p in parts) == 2500
    assert parts[1].index[0] == 600
    whole = read_table(tmp_path / "t.parquet", columns=["x", "colour"])
    pd.testing.assert_frame_equal(pd.concat(parts), whole)


@pytest.mark.parametrize("name,content,message", [
    ("e.csv", b"", "empty file"),
    ("e.csv", b"\n \n", "empty file"),
    ("e.parquet", b"", "empty file"),
    ("h.csv", b"a,b,c\n", "header row but no data rows"),
    ("bad.csv", b"a,b\n1,2\n\xff\xfe,3\n", "not UTF-8"),
    ("bad.csv", b"a,b\n1,2\n1,2,3,4\n", "malformed CSV"),
    ("bad.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
])
@pytest.mark.parametrize("chunksize", [None, 2])
def test_bad_files(tmp_path, name, content, message, chunksize):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        out = read_table(tmp_path / name, chunksize=chunksize)
        list(out)  # a malformed line further down raises while iterating
    assert name in str(info.value)


def test_header_only_parquet(tmp_path):
    pd.DataFrame({"a": pd.Series([], dtype=float)}).to_parquet(tmp_path / "h.parquet")
    for chunksize in (None, 10):
        with pytest.raises(DataError, match="h.parquet: the file has columns but no data rows"):
            read_table(tmp_path / "h.parquet", chunksize=chunksize)


def test_read_table_errors(tmp_path):
    with pytest.raises(DataError, match="nope.csv: no such file"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path / "d.csv")
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame({"a": [1], "b": [2]}).to_parquet(tmp_path / "t.parquet")
    for f in ("t.csv", "t.parquet"):
        with pytest.raises(DataError, match=rf"{f}: no column\(s\) 'zz'; the file has \['a', 'b'\]"):
            read_table(tmp_path / f, columns=["a", "zz"])
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="chunksize must be a positive integer"):
            read_table(tmp_path / "t.csv", chunksize=bad)
    with pytest.raises(ConfigError, match="columns must be a list"):
        read_table(tmp_path / "t.csv", columns="a")


# ======================================================================== encoding basics
def test_layout_and_standard_scaling():
    df = mixed_frame()
    enc = fitted(df)
    assert enc.feature_names_out_ == (
        "x", "x__missing",
        "colour=red", "colour=green", "colour=blue", "colour=__other__", "colour=__unseen__", "colour__missing",
        "flag=False", "flag=True", "flag=__unseen__",
        "count",
    )
    assert enc.feature_roles_[:2] == ("value", "missing") and enc.feature_roles_[5:7] == ("other", "unseen")
    assert enc.column_slices_["colour"] == slice(2, 8) and enc.encoded_columns_ == ("x", "colour", "flag", "count")
    X, observed = enc.transform(df)
    assert X.dtype == np.float32 and X.flags.c_contiguous and X.shape == (400, 12)
    assert observed.dtype == bool and observed.shape == X.shape
    seen = df["x"].notna().to_numpy()
    x = col(enc, X, "x")
    assert abs(x[seen].mean()) < 1e-5 and abs(x[seen].std() - 1.0) < 1e-5  # standardized on the observed cells
    np.testing.assert_array_equal(x[~seen], 0.0)  # imputed with the mean
    np.testing.assert_array_equal(col(enc, X, "x__missing"), ~seen)
    spec = enc.columns_[0]
    assert spec.center == pytest.approx(df["x"].mean()) and spec.scale == pytest.approx(df["x"].std(ddof=0))
    assert spec.fill == spec.center and spec.missing_indicator
    # the label column is left out, the integer column is numeric
    assert "label" not in enc.feature_columns_ and enc.columns_[3].kind == "numeric"


def test_observed_mask_semantics():
    df = mixed_frame()
    enc = fitted(df)
    X, observed = enc.transform(df)
    seen_x = df["x"].notna().to_numpy()
    np.testing.assert_array_equal(observed[:, 0], seen_x)
    assert not observed[:, enc.feature_names_out_.index("x__missing")].any()  # indicators: never observed
    group = enc.column_slices_["colour"]
    onehot = slice(group.start, group.stop - 1)
    # a missing categorical cell: the whole one-hot group is zeros and masked out
    assert not observed[5, onehot].any() and not X[5, onehot].any()
    assert X[5, group.stop - 1] == 1.0
    # an observed cell: exactly one slot set, the whole group observed
    rows = np.flatnonzero(df["colour"].notna().to_numpy())
    assert observed[rows, onehot].all()
    np.testing.assert_array_equal(X[rows, onehot].sum(axis=1), 1.0)


def test_robust_scaling_resists_outliers():
    rng = np.random.default_rng(1)
    v = rng.normal(0.0, 1.0, 1001)
    v[:20] = 1e6  # 2 % of wild values
    df = pd.DataFrame({"v": v})
    robust = TableEncoder(scaling="robust").fit(df)
    standard = TableEncoder().fit(df)
    spec = robust.columns_[0]
    q25, q50, q75 = np.quantile(v, [0.25, 0.5, 0.75])
    assert spec.center == pytest.approx(q50) and spec.scale == pytest.approx(q75 - q25)
    typical = np.abs(robust.transform(df).X[20:, 0])
    assert np.median(typical) == pytest.approx(0.5, abs=0.1)  # half an IQR, as for the bulk
    assert np.abs(standard.transform(df).X[20:, 0]).max() < 0.2  # standard scaling squashes the bulk


def test_unseen_category_and_counts():
    enc = fitted()
    new = pd.DataFrame({"x": [1.0, 2.0, 3.0], "colour": ["red", "purple", "purple"],
                        "flag": [True, "maybe", "no"], "count": [1, 2, 3]})
    X, observed = enc.transform(new)
    np.testing.assert_array_equal(col(enc, X, "colour=__unseen__"), [0, 1, 1])
    np.testing.assert_array_equal(col(enc, X, "colour=red"), [1, 0, 0])
    assert observed[:, enc.column_slices_["colour"]][:, :-1].all()  # an unseen category is an observed cell
    np.testing.assert_array_equal(col(enc, X, "flag=__unseen__"), [0, 1, 0])
    np.testing.assert_array_equal(col(enc, X, "flag=False"), [0, 0, 1])  # "no" reads as False
    assert enc.unseen_counts(X) == {"colour": 2, "flag": 1}


def test_cardinality_cap_and_rare_levels_pooled():
    levels = [f"L{i:02d}" for i in range(12)]
    counts = [100 - 5 * i for i in range(11)] + [3]  # L11 is rare
    values = np.repeat(levels, counts)
    df = pd.DataFrame({"c": values})
    enc = TableEncoder(max_categories=4, min_frequency=5).fit(df)
    spec = enc.columns_[0]
    assert spec.levels == ("L00", "L01", "L02", "L03")  # the 4 most frequent
    assert set(spec.pooled) == set(levels[4:])
    X, _ = enc.transform(pd.DataFrame({"c": ["L01", "L07", "L11", "never"]}))
    np.testing.assert_array_equal(X, [
        [0, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 1, 0],  # beyond the cap: other
        [0, 0, 0, 0, 1, 0],  # rare: other
        [0, 0, 0, 0, 0, 1],  # never seen: unseen
    ])
    assert enc.feature_names_out_[4:] == ("c=__other__", "c=__unseen__")
    # a share as min_frequency: L10 (50 of 828 cells, 6.04 %) is kept at 6 %, pooled at 6.5 %
    keep = TableEncoder(max_categories=None, min_frequency=0.06).fit(df).columns_[0]
    drop = TableEncoder(max_categories=None, min_frequency=0.065).fit(df).columns_[0]
    assert keep.levels == tuple(levels[:11]) and keep.pooled == ("L11",)
    assert drop.levels == tuple(levels[:10]) and drop.pooled == ("L10", "L11")


def test_label_and_ignore_columns_excluded_by_name():
    df = mixed_frame()
    enc = TableEncoder(label_column="label", ignore_columns=["count", "flag"]).fit(df)
    assert enc.encoded_columns_ == ("x", "colour")
    # absent when scoring: fine; present: ignored without a notice
    with warnings.catch_warnings():
        warnings.simplefilter("error", AekitWarning)
        a = enc.transform(df[["x", "colour"]]).X
        b = enc.transform(df).X
    np.testing.assert_array_equal(a, b)
    with pytest.raises(DataError, match="label_column: no column 'target' in the training data"):
        TableEncoder(label_column="target").fit(df)
    with pytest.raises(DataError, match="ignore_columns: no column 'idd'"):
        TableEncoder(ignore_columns=["idd"]).fit(df)
    with pytest.raises(DataError, match="no columns left to encode"):
        TableEncoder(label_column="x", ignore_columns=["colour", "flag", "count", "label"]).fit(df)


def test_forced_kinds():
    df = pd.DataFrame({"zip": [10115, 10117, 10115, 20095] * 5, "code": ["1", "2", "3", "4"] * 5})
    enc = TableEncoder(categorical_columns=["zip"], numeric_columns=["code"], min_frequency=1).fit(df)
    assert enc.columns_[0].kind == "categorical" and enc.columns_[0].levels == ("10115", "10117", "20095")
    assert enc.columns_[1].kind == "numeric"
    # a float-typed zip column (gaps in a CSV) maps 10115.0 to the same level
    X, _ = enc.transform(pd.DataFrame({"zip": [10115.0, np.nan], "code": ["2", "3"]}))
    assert col(enc, X, "zip=10115")[0] == 1.0
    with pytest.raises(ConfigError, match="both in numeric_columns and categorical_columns"):
        TableEncoder(numeric_columns=["a"], categorical_columns=["a"])
    with pytest.raises(ConfigError, match="both left out and given a kind"):
        TableEncoder(label_column="a", numeric_columns=["a"])


@pytest.mark.parametrize("kw,message", [
    ({"scaling": "minmax"}, "scaling must be one of standard, robust"),
    ({"max_categories": 0}, "max_categories must be a positive integer"),
    ({"min_frequency": 0}, "min_frequency as a count must be >= 1"),
    ({"min_frequency": 1.5}, r"min_frequency as a share must be in \(0, 1\)"),
    ({"min_frequency": "5"}, "min_frequency must be a count"),
    ({"datetime": "drop"}, "datetime must be one of refuse, expand"),
    ({"errors": "ignore"}, "errors must be one of raise, coerce"),
    ({"ignore_columns": [1, 2]}, "ignore_columns must be a list of column names"),
    ({"label_column": 3}, "label_column must be a column name"),
])
def test_bad_options(kw, message):
    with pytest.raises(ConfigError, match=message):
        TableEncoder(**kw)


def test_bad_training_data():
    with pytest.raises(DataError, match="training data: no rows"):
        TableEncoder().fit(pd.DataFrame({"a": pd.Series([], dtype=float)}))
    with pytest.raises(DataError, match="expected a pandas DataFrame or an iterable"):
        TableEncoder().fit(np.ones((3, 2)))
    with pytest.raises(DataError, match="duplicate column name 'a'"):
        TableEncoder().fit(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(DataError, match="cannot be encoded"):
        TableEncoder().fit(pd.DataFrame({"d": pd.to_timedelta([1, 2], unit="s")}))
    with pytest.raises(NotFittedError):
        TableEncoder().transform(pd.DataFrame({"a": [1]}))


def test_levels_are_canonical_across_dtypes():
    train = pd.DataFrame({"c": pd.Series([1, 2, 2, 3] * 5, dtype=object)})
    enc = TableEncoder(categorical_columns=["c"], min_frequency=1).fit(train)
    assert enc.columns_[0].levels == ("2", "1", "3")
    # the same levels arriving as floats, padded text, a pandas category or nullable ints
    for cells in (
        pd.Series([1.0, 2.0, np.nan]),
        pd.Series([" 1", "2 ", ""], dtype="str"),
        pd.Series(["1", "2", None], dtype="category"),
        pd.Series([1, 2, None], dtype="Int64"),
    ):
        X, observed = enc.transform(pd.DataFrame({"c": cells}))
        np.testing.assert_array_equal(X, [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
        np.testing.assert_array_equal(observed[:, 0], [True, True, False])


def test_nullable_and_non_string_columns():
    df = pd.DataFrame({
        "i": pd.Series([1, None, 3, 4] * 5, dtype="Int64"),
        "b": pd.Series([True, None, False, True] * 5, dtype="boolean"),
        "s": pd.Series(["a", "b", None, "a"] * 5, dtype="string"),
        7: np.arange(20.0),  # a non-string column name matches as "7"
    })
    enc = TableEncoder(min_frequency=1).fit(df)
    assert [s.kind for s in enc.columns_] == ["numeric", "boolean", "categorical", "numeric"]
    assert enc.encoded_columns_[-1] == "7"
    X, observed = enc.transform(df)
    assert np.isfinite(X).all()
    np.testing.assert_array_equal(col(enc, X, "i__missing"), df["i"].isna())
    np.testing.assert_array_equal(col(enc, X, "b__missing"), df["b"].isna())
    np.testing.assert_array_equal(col(enc, X, "s=a"), df["s"].eq("a").fillna(False))


def test_a_scoring_chunk_with_an_empty_column():
    """A CSV chunk whose cells in a text or date column are all empty arrives as float NaN."""
    df = pd.DataFrame({"c": ["a", "b"] * 10, "when": pd.date_range("2024-01-01", periods=20), "v": np.arange(20.0)})
    enc = TableEncoder(datetime="expand", min_frequency=1).fit(df)
    X, observed = enc.transform(pd.DataFrame({"c": [np.nan], "when": [np.nan], "v": ["7"]}))
    assert not observed[0, :-1].any() and observed[0, -1]
    with pytest.raises(DataError, match="column 'when', row 0: 5 is not a date/time"):
        enc.transform(pd.DataFrame({"c": ["a"], "when": [5], "v": [1.0]}))


# ======================================================================== column matching
def test_missing_column_names_it():
    enc = fitted()
    with pytest.raises(DataError, match="missing column\\(s\\) 'colour', 'count' that the encoder was fitted on"):
        enc.transform(mixed_frame().drop(columns=["colour", "count"]))


def test_extra_column_ignored_with_a_warning():
    df = mixed_frame()
    enc = fitted(df)
    with pytest.warns(AekitWarning, match="ignoring column\\(s\\) 'extra' that the encoder was not fitted on"):
        X, observed = enc.transform(df.assign(extra=1.0))
    ref = enc.transform(df)
    np.testing.assert_array_equal(X, ref.X)
    np.testing.assert_array_equal(observed, ref.observed)


def test_reordered_columns_matched_by_name():
    df = mixed_frame()
    enc = fitted(df)
    ref = enc.transform(df)
    shuffled = enc.transform(df[["count", "label", "flag", "x", "colour"]])
    np.testing.assert_array_equal(shuffled.X, ref.X)
    np.testing.assert_array_equal(shuffled.observed, ref.observed)


# ======================================================================== bad cells
def test_numeric_text_cell_names_row_and_column():
    df = mixed_frame()
    enc = fitted(df)
    bad = df.astype({"x": object})
    bad.loc[17, "x"] = "n/a?"
    with pytest.raises(DataError, match=r"column 'x', row 17: 'n/a\?' is not a finite number; pass errors='coerce'"):
        enc.transform(bad)
    X, observed = enc.transform(bad, errors="coerce")
    assert not observed[17, 0] and X[17, 0] == 0.0 and X[17, 1] == 1.0  # read as a missing cell
    ref = enc.transform(df)
    rows = np.arange(len(df)) != 17
    np.testing.assert_array_equal(X[rows], ref.X[rows])
    # the same in training: a numeric column (by its other cells) with a text cell
    with pytest.raises(DataError, match="column 'x', row 17"):
        TableEncoder(label_column="label").fit(bad)
    coerced = TableEncoder(label_column="label", errors="coerce").fit(bad)
    assert coerced.columns_[0].kind == "numeric"


def test_numeric_text_from_a_csv_file(tmp_path):
    enc = fitted()
    df = mixed_frame(30, seed=3)
    df["x"] = df["x"].astype(object)
    df.loc[4, "x"] = "12,5"
    df.loc[9, "x"] = "oops"
    df.to_csv(tmp_path / "score.csv", index=False)
    with pytest.raises(DataError, match=r"column 'x', row 4: '12,5' is not a finite number \(2 such cells"):
        enc.transform(read_table(tmp_path / "score.csv"))


def test_infinite_values_are_bad_cells():
    enc = fitted()
    df = mixed_frame(10, seed=2)
    df.loc[3, "x"] = np.inf
    with pytest.raises(DataError, match="column 'x', row 3: inf is not a finite number"):
        enc.transform(df)
    assert not enc.transform(df, errors="coerce").observed[3, 0]
    huge = pd.DataFrame({"x": [1e300], "colour": ["red"], "flag": [True], "count": [1]})
    with pytest.raises(DataError, match="beyond float32 after scaling"):
        enc.transform(huge)


def test_missing_values_first_seen_at_scoring():
    df = mixed_frame()
    enc = fitted(df)
    assert not enc.columns_[3].missing_indicator  # "count" had no gaps in training
    new = df.astype({"count": float})
    new.loc[[0, 1], "count"] = np.nan
    X, observed = enc.transform(new)
    j = enc.feature_names_out_.index("count")
    assert X.shape[1] == enc.n_features_out_  # no new feature
    np.testing.assert_array_equal(X[:2, j], (enc.columns_[3].fill - enc.columns_[3].center) / enc.columns_[3].scale)
    assert not observed[:2, j].any() and observed[2:, j].all()


def test_all_missing_column_is_left_out():
    df = mixed_frame().assign(empty=np.nan, blank="  ")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        enc = TableEncoder(label_column="label").fit(df)
    assert [str(w.message) for w in record] == [
        "column 'empty' has no values (every cell is missing); it is left out",
        "column 'blank' has no values (every cell is missing); it is left out",
    ]
    assert all(w.category is AekitWarning and w.filename == __file__ for w in record)
    assert [s.kind for s in enc.columns_[-2:]] == ["dropped", "dropped"]
    assert "empty" not in enc.feature_columns_
    with warnings.catch_warnings():
        warnings.simplefilter("error", AekitWarning)
        enc.transform(mixed_frame())  # not required when scoring...
        enc.transform(df)  # ...and no notice when present


def test_constant_column_and_single_category():
    df = mixed_frame().assign(const=7.0, zero=0, one="only")
    with pytest.warns(AekitWarning) as record:
        enc = TableEncoder(label_column="label").fit(df)
    messages = " | ".join(str(w.message) for w in record)
    assert "column 'const' has one value only (7)" in messages
    assert "column 'zero' has one value only (0)" in messages
    assert "column 'one' has one category only ('only')" in messages
    X, observed = enc.transform(df)
    assert np.isfinite(X).all() and observed[:, enc.feature_names_out_.index("const")].all()
    np.testing.assert_array_equal(col(enc, X, "const"), 0.0)
    np.testing.assert_array_equal(col(enc, X, "one=only"), 1.0)
    # a change later reads as a relative change (scale = |value|)
    later = enc.transform(df.assign(const=14.0, zero=2, one="other"))
    np.testing.assert_array_equal(col(enc, later.X, "const"), 1.0)
    np.testing.assert_array_equal(col(enc, later.X, "zero"), 2.0)
    assert later.X[:, enc.feature_names_out_.index("one=__unseen__")].all()


def test_identifier_like_column_warns():
    df = pd.DataFrame({"id": [f"u{i}" for i in range(100)], "v": np.arange(100.0)})
    with pytest.warns(AekitWarning, match="column 'id' has 100 distinct values in 100 rows, so it looks like an identifier"):
        TableEncoder().fit(df)


def test_empty_scoring_frame():
    enc = fitted()
    X, observed = enc.transform(mixed_frame().iloc[:0])
    assert X.shape == (0, enc.n_features_out_) and observed.shape == X.shape


# ======================================================================== datetimes
def times_frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    start = pd.Timestamp("2024-01-01")
    t = pd.Series([start + pd.Timedelta(hours=int(h)) for h in rng.integers(0, 24 * 365, n)])
    t[3] = pd.NaT
    return pd.DataFrame({"when": t, "v": rng.normal(size=n)})


def test_datetime_refused_with_a_clear_message():
    with pytest.raises(DataError, match="column 'when' holds dates/times; pass datetime='expand'.*ignore_columns"):
        TableEncoder().fit(times_frame())
    text = times_frame().assign(when=lambda d: d["when"].dt.strftime("%Y-%m-%dT%H:%M"))
    with pytest.raises(DataError, match="column 'when' holds dates/times"):
        TableEncoder().fit(text)  # ISO 8601 text is recognised too
    enc = TableEncoder(ignore_columns=["when"]).fit(times_frame())
    assert enc.encoded_columns_ == ("v",)


def test_datetime_expanded():
    df = times_frame()
    enc = TableEncoder(datetime="expand").fit(df)
    spec = enc.columns_[0]
    assert spec.kind == "datetime" and tuple(p.name for p in spec.parts) == DATETIME_PARTS
    assert enc.feature_names_out_[:8] == tuple(f"when.{p}" for p in DATETIME_PARTS) + ("when__missing",)
    X, observed = enc.transform(df)
    assert not observed[3, :7].any() and X[3, 7] == 1.0
    elapsed = (df["when"] - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
    expect = (elapsed - elapsed.mean()) / elapsed.std(ddof=0)
    np.testing.assert_allclose(np.delete(X[:, 0], 3), expect.drop(3).to_numpy(), rtol=1e-5, atol=1e-5)
    # text in ISO 8601 and time-zone-aware times (taken in UTC) encode alike
    text = df.assign(when=df["when"].dt.strftime("%Y-%m-%d %H:%M:%S").where(df["when"].notna()))
    np.testing.assert_allclose(enc.transform(text).X, X, atol=1e-6)
    aware = df.assign(when=df["when"].dt.tz_localize("UTC").dt.tz_convert("Asia/Seoul"))
    np.testing.assert_allclose(enc.transform(aware).X, X, atol=1e-6)
    bad = text.copy()
    bad.loc[5, "when"] = "yesterday"
    with pytest.raises(DataError, match="column 'when', row 5: 'yesterday' is not a date/time"):
        enc.transform(bad)


def test_date_only_column_drops_constant_time_of_day():
    df = pd.DataFrame({"d": pd.date_range("2023-01-01", periods=40, freq="D")})
    enc = TableEncoder(datetime="expand").fit(df)
    assert [p.name for p in enc.columns_[0].parts] == ["elapsed_days", "year_sin", "year_cos", "week_sin", "week_cos"]


# ======================================================================== JSON state
def test_json_round_trip_gives_identical_transforms():
    df = mixed_frame().assign(when=times_frame(400)["when"])
    enc = TableEncoder(label_column="label", datetime="expand", scaling="robust", max_categories=2).fit(df)
    state = json.loads(json.dumps(enc.to_json(), allow_nan=False))  # plain, strict JSON
    again = TableEncoder.from_json(state)
    assert again.to_json() == enc.to_json()
    new = mixed_frame(300, seed=9).assign(when=times_frame(300)["when"])
    new.loc[0, "colour"] = "never"
    a, b = enc.transform(new), again.transform(new)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.observed, b.observed)
    assert again.feature_names_out_ == enc.feature_names_out_


def tamper(state: dict, path: tuple, value) -> dict:
    out = copy.deepcopy(state)
    target = out
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


@pytest.mark.parametrize("path,value,message", [
    (("format",), "pickle", "format: must be 'aekit.table-encoder'"),
    (("version",), 2, "version: 2 is not one this aekit reads"),
    (("options", "scaling"), "minmax", "options: scaling must be one of"),
    (("options", "surprise"), 1, "options: unexpected entry surprise"),
    (("n_rows",), KeyError, "state: missing entry n_rows"),
    (("columns",), [], "columns: must be a non-empty list"),
    (("columns", 0, "scale"), -1.0, r"columns\[0\]\.scale: must be a positive finite number, got -1.0"),
    (("columns", 0, "center"), "3", r"columns\[0\]\.center: must be a finite number"),
    (("columns", 0, "missing_indicator"), 1, r"columns\[0\]\.missing_indicator: must be true or false"),
    (("columns", 0, "kind"), "text", r"columns\[0\]\.kind: must be one of"),
    (("columns", 1, "levels"), ["red", "red"], r"columns\[1\]\.levels: has a level twice"),
    (("columns", 1, "pooled"), ["red"], r"columns\[1\]\.pooled: shares level\(s\) \['red'\] with levels"),
    (("columns", 1, "extra"), 0, r"columns\[1\]: unexpected entry extra"),
    (("columns", 2, "levels"), ["True", "False"], r"columns\[2\]: a boolean column has levels among"),
    (("columns", 3, "name"), "x", "columns: column 'x' appears twice"),
    (("columns", 3, "name"), "label", r"columns: column\(s\) \['label'\] are also left out"),
    (("columns", 4, "parts", 0, "name"), "week_sin", r"columns\[4\]\.parts: must be elapsed_days then"),
    (("columns", 4, "parts", 1, "fill"), None, r"columns\[4\]\.parts\[1\]\.fill: must be a finite number"),
])
def test_tampered_state_is_refused(path, value, message):
    df = mixed_frame().assign(when=times_frame(400)["when"])
    state = TableEncoder(label_column="label", datetime="expand").fit(df).to_json()
    with pytest.raises(RunFolderError, match=message):
        TableEncoder.from_json(tamper(state, path, value), source="run/encoder.json")
    with pytest.raises(RunFolderError, match="^run/encoder.json: state: must be a JSON object"):
        TableEncoder.from_json([state], source="run/encoder.json")


def test_too_many_levels_for_the_cap_is_refused():
    state = fitted().to_json()
    state["options"]["max_categories"] = 2
    with pytest.raises(RunFolderError, match=r"columns\[1\]\.levels: 3 levels, more than max_categories=2"):
        TableEncoder.from_json(state)


# ======================================================================== chunks, formats, helpers
@pytest.mark.parametrize("scaling", ["standard", "robust"])
def test_chunked_fit_equals_whole_fit(tmp_path, scaling):
    df = mixed_frame(3000)
    df.to_csv(tmp_path / "t.csv", index=False)
    kw = dict(label_column="label", scaling=scaling)
    whole = TableEncoder(**kw).fit(read_table(tmp_path / "t.csv"))
    chunked = TableEncoder(**kw).fit(read_table(tmp_path / "t.csv", chunksize=700))
    assert whole.feature_names_out_ == chunked.feature_names_out_ and chunked.n_rows_ == 3000
    for a, b in zip(whole.columns_, chunked.columns_):
        if a.kind == "numeric":
            assert (a.center, a.scale) == pytest.approx((b.center, b.scale), rel=1e-12)
        else:
            assert a == b
    X = np.concatenate([chunked.transform(c).X for c in read_table(tmp_path / "t.csv", chunksize=700)])
    np.testing.assert_allclose(X, whole.transform(df).X, rtol=1e-6, atol=1e-6)


def test_robust_sample_is_bounded_and_seeded(monkeypatch):
    monkeypatch.setattr(tabular_stats, "QUANTILE_SAMPLE", 500)
    df = pd.DataFrame({"v": np.random.default_rng(5).standard_normal(4000)})
    chunks = [df.iloc[i:i + 900] for i in range(0, 4000, 900)]
    a = TableEncoder(scaling="robust").fit(df).columns_[0]
    b = TableEncoder(scaling="robust").fit(chunks).columns_[0]
    c = TableEncoder(scaling="robust", random_state=1).fit(df).columns_[0]
    assert a.center == b.center and a.scale == b.scale  # the same sample whatever the chunking
    assert a.center != c.center and abs(a.center) < 0.15 and abs(a.scale - 1.349) < 0.2


def test_chunks_must_share_columns():
    df = mixed_frame()
    with pytest.raises(DataError, match="training chunk 2 has columns"):
        TableEncoder().fit([df.iloc[:100], df.iloc[100:].drop(columns=["x"])])
    with pytest.raises(DataError, match="training chunk 2 is a ndarray"):
        TableEncoder().fit([df, np.ones(3)])


def test_kind_decided_by_the_first_chunk_with_values():
    first = pd.DataFrame({"c": [np.nan] * 3, "v": [1.0, 2.0, 3.0]})
    second = pd.DataFrame({"c": ["x", "y", "x"], "v": [4.0, 5.0, 6.0]}, index=[3, 4, 5])
    enc = TableEncoder(min_frequency=1).fit([first, second])
    assert enc.columns_[0].kind == "categorical" and enc.columns_[0].levels == ("x", "y")
    assert enc.columns_[0].missing_indicator and enc.n_rows_ == 6
    third = pd.DataFrame({"c": ["x"], "v": ["many"]}, index=[6])
    with pytest.raises(DataError, match="column 'v', row 6: 'many' is not a finite number"):
        TableEncoder().fit([first, second, third])


def test_parquet_and_csv_give_the_same_encoding(tmp_path):
    df = mixed_frame(500).assign(when=times_frame(500)["when"])
    df["flag"] = df["flag"].astype(object)
    df.loc[7, "flag"] = None  # a boolean with a gap: object in both readers
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet", index=False)
    kw = dict(label_column="label", datetime="expand")
    from_csv = TableEncoder(**kw).fit(read_table(tmp_path / "t.csv"))
    from_parquet = TableEncoder(**kw).fit(read_table(tmp_path / "t.parquet"))
    assert from_csv.to_json() == from_parquet.to_json()
    a = from_csv.transform(read_table(tmp_path / "t.parquet"))
    b = from_parquet.transform(read_table(tmp_path / "t.csv"))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.observed, b.observed)


def test_sum_by_column_adds_one_hot_groups():
    df = mixed_frame()
    enc = fitted(df)
    X, observed = enc.transform(df)
    per_column = enc.sum_by_column(X * observed)
    assert per_column.shape == (len(df), 4)
    np.testing.assert_array_equal(per_column[:, 1], df["colour"].notna().to_numpy())  # one slot per observed cell
    np.testing.assert_array_equal(per_column[:, 2], 1.0)
    np.testing.assert_array_equal(enc.sum_by_column(np.ones(enc.n_features_out_)), [2, 6, 3, 1])
    np.testing.assert_array_equal(enc.sum_by_column(observed)[5], [1, 0, 3, 1])  # bools are counted
    with pytest.raises(DataError, match="sum_by_column needs 12 values per row"):
        enc.sum_by_column(np.ones((2, 5)))


@pytest.mark.parametrize("module", ["reading", "encoder", "specs", "stats", "cells"])
def test_doctests(module):
    mod = importlib.import_module(f"aekit.data.tabular.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_speed_100k_rows_30_columns():
    n = 100_000
    rng = np.random.default_rng(0)
    cols = {}
    for j in range(15):
        v = rng.normal(j, 1 + j, n)
        v[rng.random(n) < 0.05] = np.nan
        cols[f"num{j}"] = v
    words = np.array([f"level{i}" for i in range(40)], dtype=object)
    for j in range(8):
        cols[f"cat{j}"] = pd.Series(words[rng.integers(0, 10 + 4 * j, n)], dtype="str")
    for j in range(4):
        cols[f"flag{j}"] = rng.random(n) < 0.5
    for j in range(3):
        cols[f"int{j}"] = rng.integers(0, 1000, n)
    df = pd.DataFrame(cols)
    enc = TableEncoder()
    t0 = time.perf_counter()
    enc.fit(df)
    t1 = time.perf_counter()
    X, observed = enc.transform(df)
    t2 = time.perf_counter()
    print(f"\nencode 100,000 x 30 mixed columns -> {X.shape[1]} features: fit {t1 - t0:.2f} s, transform {t2 - t1:.2f} s")
    assert X.shape == (n, enc.n_features_out_) and np.isfinite(X).all()
    assert t1 - t0 < 3.0 and t2 - t1 < 3.0
