"""The CSV reader: pandas' fast path and the csv module read every valid file alike, and files the
fast path refuses still get the csv module's line-and-column messages."""
from __future__ import annotations

import numpy as np
import pytest

from aekit.data import csv_reader
from aekit.data.csv_reader import read_csv_arrays
from aekit.data.files import load_path
from aekit.errors import DataError


@pytest.fixture
def no_fallback(monkeypatch):
    """Fail if the csv module is asked to read: the fast path must take the file."""
    def refuse(*a, **k):
        raise AssertionError("the file fell back to the csv module")
    monkeypatch.setattr(csv_reader, "_read_with_csv_module", refuse)


def both(path, label_column=None):
    """(fast path's arrays, csv module's arrays) of the file."""
    fast = read_csv_arrays(path, label_column)
    with pytest.MonkeyPatch().context() as mp:
        mp.setattr(csv_reader, "_read_with_pandas", lambda *a, **k: None)
        slow = read_csv_arrays(path, label_column)
    return fast, slow


def assert_same(fast, slow):
    np.testing.assert_array_equal(fast.X, slow.X.astype(np.float32))
    assert (fast.y is None) == (slow.y is None)
    if fast.y is not None:
        np.testing.assert_array_equal(fast.y, slow.y)
    assert fast.classes == slow.classes and fast.columns == slow.columns


VALID = {
    "header, numeric labels": ("a,label,b\n1,0,2.5\n3,1,4\n5,1,-6e0\n\n", "label"),
    "no header, label by number": ("1,2,0\n3,4,1\n", -1),
    "string labels": ("x,kind\n1,cat\n2,dog\n3, cat \n", "kind"),
    "BOM, CRLF, blank and space-only lines": ("\ufeffa,b\r\n\r\n1,2\r\n   \r\n3,4\r\n", None),
    "BOM without header": ("\ufeff1,2\n3,4\n", None),
    "quoted cells and header": ('"a","b"\n"1",2\n3,"4"\n', None),
    "blank lines first": ("\n\n1,2\n3,4", None),
    "spaces around numbers": ("a,b\n 1 , 2\n3 ,4 \n", None),
    "one column": ("v\n1\n2\n3\n", None),
}


@pytest.mark.parametrize("name", list(VALID))
def test_the_fast_path_takes_valid_files(tmp_path, name, no_fallback):
    text, label = VALID[name]
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    assert read_csv_arrays(path, label).X.dtype == np.float32  # pandas' float32, not the csv module's float64


@pytest.mark.parametrize("name", list(VALID))
def test_both_readers_agree(tmp_path, name):
    text, label = VALID[name]
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    assert_same(*both(path, label))


def test_random_floats_are_read_to_the_same_float32(tmp_path, no_fallback):
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(size=3000) * 10.0 ** rng.integers(-30, 30, 3000),
                             rng.integers(-10**6, 10**6, 1000).astype(float)]).reshape(-1, 8)
    path = tmp_path / "f.csv"
    path.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in values) + "\n")
    got = read_csv_arrays(path)
    np.testing.assert_array_equal(got.X, values.astype(np.float32))


def test_large_file_in_many_chunks(tmp_path, monkeypatch, no_fallback):
    monkeypatch.setattr(csv_reader, "CHUNK_BYTES", 4 * 3 * 100)  # 100 rows of 3 columns a chunk
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (2345, 3))
    labels = rng.choice(["cat", "dog", "eel"], 2345)
    path = tmp_path / "big.csv"
    path.write_text("a,b,c,kind\n" + "".join(f"{a},{b},{c},{k}\n" for (a, b, c), k in zip(X, labels)))
    got = read_csv_arrays(path, "kind")
    np.testing.assert_array_equal(got.X, X.astype(np.float32))
    assert got.classes == ["cat", "dog", "eel"] and list(np.array(got.classes)[got.y]) == list(labels)
    assert got.X.flags.c_contiguous and got.X.shape == (2345, 3)


BAD = {
    "non-numeric cell": ("a,b,c\n1,2,3\n4,oops,6\n", None,
                         r"t\.csv, line 3, column 2 \('b'\): non-numeric value 'oops'"),
    "ragged long row": ("a,b,c\n1,2,3\n4,5,6,7\n", None, r"t\.csv, line 3: ragged CSV: 4 columns where the header has 3"),
    "ragged short row, label last": ("a,b,k\n1,2,x\n4,5\n", "k", r"line 3: ragged CSV: 2 columns"),
    "empty cell": ("1,2\n3,\n", None, r"t\.csv, line 2, column 2: non-numeric value ''"),
    "nan": ("1,2\n3,nan\n", None, r"t\.csv: 1 NaN or inf.*line 2"),
    "inf": ("1,2\n3,inf\n", None, r"t\.csv: 1 NaN or inf.*line 2"),
    "beyond float32": ("1,2\n3,1e300\n", None, r"t\.csv: 1 value\(s\) too large for float32"),
    "not utf-8": (b"a,b\n1,2\n\xff,3\n", None, r"t\.csv: not UTF-8 text \(bad byte at offset 8\)"),
    "unknown label": ("a,b\n1,2\n", "zz", r"label column 'zz' not found.*'a', 'b'"),
    "label without header": ("1,2\n3,4\n", "zz", r"the file has no header row"),
    "label out of range": ("1,2\n3,4\n", 5, r"label column 5 out of range \(2 columns\)"),
    "header only": ("a,b,c\n", None, r"t\.csv: CSV has a header row but no data rows"),
    "empty": ("\n\n", None, r"t\.csv: empty CSV file"),
    "only the label": ("k\n1\n", "k", r"no feature columns left"),
    "non-integer labels": ("a,k\n1,0.5\n", "k", r"labels must be whole numbers"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_refused_files_get_the_csv_modules_message(tmp_path, name):
    text, label, match = BAD[name]
    path = tmp_path / "t.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DataError, match=match):
        load_path(path, label_column=label)


def test_empty_labels_read_as_before(tmp_path):
    """An empty label cell is a class named '' (as the csv module reads it)."""
    path = tmp_path / "t.csv"
    path.write_text("a,k\n1,x\n2,\n")
    ds = load_path(path, label_column="k")
    assert ds.classes == ["", "x"] and list(ds.y) == [1, 0]


def test_quoted_line_break_in_the_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('"a\nb",c\n1,2\n')
    ds = load_path(path)
    assert ds.meta["columns"] == ["a\nb", "c"] and ds.X.tolist() == [[1.0, 2.0]]
