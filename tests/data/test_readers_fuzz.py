"""Property-based fuzzing: arbitrary or corrupted bytes either parse or raise DataError."""
from __future__ import annotations

import gzip
import io
import struct
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aekit.data import load
from aekit.data.idx import parse_idx
from aekit.errors import DataError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DTYPE_CODES = [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07, 0x0A]


def parse_or_dataerror(fn):
    try:
        return fn()
    except DataError:
        return None


def load_bytes(data: bytes, name: str, **kw):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        return parse_or_dataerror(lambda: load(p, "all", **kw))


@st.composite
def idx_like(draw):
    """Mostly well-formed IDX headers with data of random (often wrong) length, plus noise."""
    code = draw(st.sampled_from(DTYPE_CODES))
    ndim = draw(st.integers(0, 4))
    shape = draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim))
    head = bytes([0, 0, code, ndim]) + b"".join(struct.pack(">I", s) for s in shape)
    body = draw(st.binary(max_size=300))
    data = bytearray(head + body)
    for pos, val in draw(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=3)):
        if pos < len(data):
            data[pos] = val
    return bytes(data)


@FUZZ
@given(st.one_of(idx_like(), st.binary(max_size=200)), st.booleans())
def test_idx_fuzz(data, gz):
    got = parse_or_dataerror(lambda: parse_idx(data, "fuzz"))
    if got is not None:
        assert isinstance(got, np.ndarray)
    payload = gzip.compress(data) if gz else data
    load_bytes(payload, "f-idx3-ubyte.gz" if gz else "f-idx3-ubyte")


@FUZZ
@given(st.binary(min_size=1, max_size=200), st.integers(0, 10_000))
def test_idx_gzip_corruption(data, cut):
    z = gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", len(data)) + data)
    load_bytes(z[: cut % (len(z) + 1)], "c-idx1-ubyte.gz")


csv_cell = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789.e-+ ,abc\"'\n\r\x00", max_size=6),
)


@FUZZ
@given(st.lists(st.lists(csv_cell, min_size=1, max_size=4), max_size=6), st.booleans(),
       st.sampled_from([None, "a", 0, -1, "zz", 7]))
def test_csv_fuzz(rows, header, label_column):
    text = "\n".join(",".join(r) for r in rows)
    if header:
        text = "a,b,c,d\n" + text
    ds = load_bytes(text.encode("utf-8", "surrogatepass"), "f.csv", label_column=label_column)
    if ds is not None:
        assert ds.X.dtype == np.float32 and np.isfinite(ds.X).all()


@FUZZ
@given(st.binary(max_size=300))
def test_csv_random_bytes(data):
    load_bytes(data, "r.csv")


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


arrays = st.sampled_from([
    {"X": np.arange(12, dtype=np.float32).reshape(3, 4)},
    {"x": np.zeros((2, 3, 3), np.uint8), "y": np.array([0, 1])},
    {"data": np.ones((4, 2)), "labels": np.array([0.0, 1.0, 2.0, 1.5])},
    {"a": np.ones(3), "b": np.ones(3)},
    {"X": np.array([[np.nan, 1.0]])},
    {"X": np.array(["a", "b"])},
])


@FUZZ
@given(arrays, st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=4),
       st.integers(0, 100_000))
def test_npz_fuzz(arrs, flips, cut):
    data = bytearray(_npz_bytes(arrs))
    for pos, val in flips:
        data[pos % len(data)] = val
    data = bytes(data[: max(0, len(data) - cut % 50)]) if cut % 3 == 0 else bytes(data)
    ds = load_bytes(data, "f.npz")
    if ds is not None:
        assert np.isfinite(ds.X).all()
    load_bytes(data, "f.npy")


@FUZZ
@given(st.binary(max_size=300))
def test_npz_random_bytes(data):
    load_bytes(b"PK\x03\x04" + data, "z.npz")
    load_bytes(b"\x93NUMPY" + data, "z.npy")
