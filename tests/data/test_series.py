"""Time series: reading tables and arrays, time-order and gap rules, NaN rules, frame/overlap-add
identity, and the per-channel scaler."""
from __future__ import annotations

import contextlib
import doctest
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import aekit.data.series as series
import aekit.data.windows as windows
from aekit.data.series import read_series
from aekit.data.windows import ChannelScaler, frame, n_frames, overlap_add, window_weights
from aekit.errors import AekitWarning, ConfigError, DataError


@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_doctests():
    assert doctest.testmod(series).failed == 0
    assert doctest.testmod(windows).failed == 0


# ---------------------------------------------------------------- reading
def test_csv_with_time_column(tmp_path):
    (tmp_path / "s.csv").write_text("time,a,b\n0,1,10\n1,2,20\n2,3,30\n3,4,40\n")
    with no_warnings():
        s = read_series(tmp_path / "s.csv", time_column="time")
    assert s.values.shape == (1, 2, 4) and s.values.dtype == np.float32
    assert s.values[0].tolist() == [[1, 2, 3, 4], [10, 20, 30, 40]]
    assert s.channels == ["a", "b"] and s.mask is None and s.step == 1.0
    assert s.time.tolist() == [0, 1, 2, 3] and s.source.endswith("s.csv")


def test_parquet_with_datetime_column_and_chosen_columns(tmp_path):
    t = pd.date_range("2024-01-01", periods=5, freq="250ms")
    df = pd.DataFrame({"when": t, "x": np.arange(5.0), "y": np.ones(5), "label": list("abcde")})
    df.to_parquet(tmp_path / "s.parquet")
    s = read_series(tmp_path / "s.parquet", time_column="when", columns=["y", "x"])
    assert s.channels == ["y", "x"] and s.values.shape == (1, 2, 5)
    assert s.values[0, 1].tolist() == [0, 1, 2, 3, 4]
    assert s.step == pytest.approx(0.25)
    assert s.time.dtype == np.dtype("datetime64[ns]") and s.time[0] == np.datetime64("2024-01-01T00:00:00")


def test_csv_iso_dates_and_time_zones(tmp_path):
    (tmp_path / "s.csv").write_text(
        "t,v\n2024-03-01T00:00:00+01:00,1\n2024-03-01T00:00:10+01:00,2\n2024-03-01T00:00:20+01:00,3\n")
    s = read_series(tmp_path / "s.csv", time_column="t")
    assert s.step == 10.0 and s.time[0] == np.datetime64("2024-02-29T23:00:00")  # converted to UTC


def test_dataframe_without_time_column_takes_rows_in_order():
    s = read_series(pd.DataFrame({"a": [3, 1, 2]}))
    assert s.values[0, 0].tolist() == [3, 1, 2] and s.time is None and s.step is None and s.source == "DataFrame"


@pytest.mark.parametrize("shape,expected", [((50,), (1, 1, 50)), ((3, 50), (1, 3, 50)), ((4, 3, 50), (4, 3, 50))])
def test_npy_shapes(tmp_path, shape, expected):
    arr = np.random.default_rng(0).standard_normal(shape)
    np.save(tmp_path / "a.npy", arr)
    s = read_series(tmp_path / "a.npy")
    assert s.values.shape == expected and s.values.dtype == np.float32
    np.testing.assert_allclose(s.values.reshape(arr.shape), arr, rtol=1e-6)
    assert s.channels == [str(i) for i in range(expected[1])]


def test_array_channel_selection():
    s = read_series(np.arange(24.0).reshape(2, 3, 4), columns=[2, 0])
    assert s.channels == ["2", "0"] and s.values[0, 0].tolist() == [8, 9, 10, 11]
    with pytest.raises(ConfigError, match="channel numbers"):
        read_series(np.zeros((2, 3, 4)), columns=["a"])


# ---------------------------------------------------------------- time order and gaps
@pytest.mark.parametrize("times,match", [
    ([0, 1, 2, 1.5, 4], "goes back at data row 4 \\(2 then 1.5\\)"),
    ([0, 1, 1, 2, 3], "repeats at data row 3"),
])
def test_non_monotonic_time_names_the_row(tmp_path, times, match):
    pd.DataFrame({"t": times, "v": np.arange(5.0)}).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(DataError, match=f"s.csv: time column 't' {match}"):
        read_series(tmp_path / "s.csv", time_column="t")


def test_gap_is_an_error_by_default():
    df = pd.DataFrame({"t": [0, 1, 2, 5, 6, 7], "v": np.arange(6.0)})
    match = "1 gap.*after data row 3 \\(a step of 3 where the series steps 1\\).*gaps='mask'"
    with pytest.raises(DataError, match=match):
        read_series(df, time_column="t")


def test_gap_mask_fills_the_grid():
    df = pd.DataFrame({"t": [0.0, 0.5, 1.0, 2.5, 3.0], "v": [1.0, 2.0, 3.0, 4.0, 5.0]})
    s = read_series(df, time_column="t", gaps="mask")
    assert s.values[0, 0].tolist() == [1, 2, 3, 0, 0, 4, 5]
    assert s.mask[0, 0].tolist() == [True, True, True, False, False, True, True]
    assert s.time.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_gap_mask_with_datetimes_stays_exact():
    t = pd.to_datetime(["2024-01-01 00:00:00", "2024-01-01 00:00:01", "2024-01-01 00:00:04",
                        "2024-01-01 00:00:05"])
    s = read_series(pd.DataFrame({"t": t, "v": [1.0, 2.0, 3.0, 4.0]}), time_column="t", gaps="mask")
    assert s.values.shape == (1, 1, 6) and s.mask[0, 0].tolist() == [True, True, False, False, True, True]
    assert s.time[2] == np.datetime64("2024-01-01T00:00:02") and s.step == 1.0


def test_gap_ignore_warns_and_joins_rows():
    df = pd.DataFrame({"t": [0, 1, 2, 10, 11], "v": np.arange(5.0)})
    with pytest.warns(AekitWarning, match="1 gap.*joined back to back"):
        s = read_series(df, time_column="t", gaps="ignore")
    assert s.values[0, 0].tolist() == [0, 1, 2, 3, 4] and s.mask is None


def test_gap_fill_refuses_an_absurd_length():
    df = pd.DataFrame({"t": [0, 1, 2, 3, 1_000_000], "v": np.arange(5.0)})
    with pytest.raises(DataError, match="would make the series 1000001 steps long"):
        read_series(df, time_column="t", gaps="mask")


def test_jitter_is_not_a_gap():
    df = pd.DataFrame({"t": [0.0, 1.1, 1.9, 3.05, 4.0], "v": np.arange(5.0)})
    with no_warnings():
        assert read_series(df, time_column="t").values.shape == (1, 1, 5)


# ---------------------------------------------------------------- NaN and inf
def test_nan_is_an_error_naming_row_and_channel(tmp_path):
    (tmp_path / "s.csv").write_text("a,b\n1,2\n3,\n5,6\n")
    with pytest.raises(DataError, match="1 NaN value.*channel 'b', data row 2.*nan='mask'"):
        read_series(tmp_path / "s.csv")


def test_nan_mask(tmp_path):
    (tmp_path / "s.csv").write_text("t,a,b\n0,1,2\n1,3,\n2,5,6\n4,7,8\n")
    s = read_series(tmp_path / "s.csv", time_column="t", nan="mask", gaps="mask")
    assert s.values[0].tolist() == [[1, 3, 5, 0, 7], [2, 0, 6, 0, 8]]
    assert s.mask[0].tolist() == [[True, True, True, False, True], [True, False, True, False, True]]


def test_nan_in_array():
    arr = np.zeros((2, 2, 5))
    arr[1, 0, 3] = np.nan
    with pytest.raises(DataError, match="series 1, channel '0', step 3"):
        read_series(arr)
    s = read_series(arr, nan="mask")
    assert s.mask.sum() == arr.size - 1 and not s.mask[1, 0, 3] and s.values[1, 0, 3] == 0


def test_inf_is_always_an_error():
    with pytest.raises(DataError, match="1 inf value"):
        read_series(pd.DataFrame({"a": [1.0, np.inf]}), nan="mask")


# ---------------------------------------------------------------- other bad input
@pytest.mark.parametrize("text,kwargs,match", [
    ("t,a\n0,1\n1,x\n", {}, "column 'a' is not numeric \\(holds 'x'\\)"),
    ("t,a\n0,1\n", {"time_column": "time"}, "time column 'time' not found"),
    ("t,a\n0,1\n", {"columns": ["b"]}, "column\\(s\\) \\['b'\\] not found"),
    ("t,a\n0,1\nnoon,2\n", {"time_column": "t"}, "holds 'noon' at data row 2, neither a number nor"),
    ("t,a\n0,1\n2024-01-01,2\n", {"time_column": "t"}, "time column 't' mixes numbers and date-times"),
    ("t,a\n0,1\n,2\n", {"time_column": "t"}, "time column 't' is missing or not finite at data row 2"),
    ("t,a\n", {}, "empty table"),
    ("", {}, "empty file"),
])
def test_bad_tables(tmp_path, text, kwargs, match):
    (tmp_path / "s.csv").write_text(text)
    with pytest.raises(DataError, match=match):
        read_series(tmp_path / "s.csv", **kwargs)


def test_bad_files(tmp_path):
    (tmp_path / "s.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="s.parquet: not a readable Parquet file"):
        read_series(tmp_path / "s.parquet")
    (tmp_path / "s.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match="s.npy: not a readable .npy file"):
        read_series(tmp_path / "s.npy")
    with pytest.raises(DataError, match="unknown file type .txt"):
        read_series(tmp_path / "s.txt")
    with pytest.raises(DataError, match="file not found"):
        read_series(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="T, C×T or N×C×T"):
        read_series(np.zeros((1, 2, 3, 4)))


@pytest.mark.parametrize("kwargs,match", [
    ({"nan": "drop"}, "nan must be one of"),
    ({"gaps": "fill"}, "gaps must be one of"),
    ({"time_column": "t"}, "an array has no time column"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        read_series(np.zeros((2, 5)), **kwargs)


# ---------------------------------------------------------------- frame and overlap_add
@pytest.mark.parametrize("length,hop", [(1, 1), (4, 1), (16, 5), (16, 16), (32, 8), (7, 3), (50, 49)])
@pytest.mark.parametrize("window", ["rect", "hann"])
def test_overlap_add_inverts_frame(length, hop, window):
    rng = np.random.default_rng(length * 100 + hop)
    for t in (length, length + 1, 137):
        x = rng.standard_normal((3, t)).astype(np.float32)
        frames = frame(x, length, hop)
        assert frames.shape == (n_frames(t, length, hop), 3, length)
        y = overlap_add(frames, hop, t, window=window)
        assert y.shape == x.shape and y.dtype == np.float32
        np.testing.assert_allclose(y, x, rtol=1e-6, atol=1e-6)


def test_frame_and_overlap_add_batched():
    x = np.random.default_rng(1).standard_normal((5, 2, 100))
    frames = frame(x, 20, 7)
    assert frames.shape == (5, n_frames(100, 20, 7), 2, 20)
    np.testing.assert_allclose(frames[3, 2, 1], x[3, 1, 14:34])
    np.testing.assert_allclose(overlap_add(frames, 7, 100), x, rtol=1e-12, atol=1e-12)


def test_frame_pads_the_tail_with_zeros_and_a_mask_with_false():
    x = np.arange(1.0, 11.0)[None]  # T = 10
    frames = frame(x, 4, 3)
    assert frames[:, 0].tolist() == [[1, 2, 3, 4], [4, 5, 6, 7], [7, 8, 9, 10]]
    frames = frame(x, 4, 4)
    assert frames[-1, 0].tolist() == [9, 10, 0, 0]
    assert frame(np.ones((1, 10), dtype=bool), 4, 4)[-1, 0].tolist() == [True, True, False, False]


def test_overlap_add_averages_overlapping_frames():
    frames = np.array([[[1.0, 1.0, 1.0, 1.0]], [[3.0, 3.0, 3.0, 3.0]]])  # two frames, hop 2
    assert overlap_add(frames, 2, 6, window="rect")[0].tolist() == [1, 1, 2, 2, 3, 3]
    y = overlap_add(frames, 2, 6, window="hann")[0]
    w = window_weights("hann", 4)
    # in the overlap each frame counts by its window weight at that position
    assert y[2] == pytest.approx((w[2] * 1 + w[0] * 3) / (w[2] + w[0]))


def test_window_longer_than_series():
    with pytest.raises(DataError, match="window \\(64 samples\\) is longer than the series \\(50 samples\\)"):
        frame(np.zeros((1, 50)), 64, 16)


@pytest.mark.parametrize("length,hop,match", [(0, 1, "frame length"), (4, 0, "hop"), (4, 5, "must not exceed"),
                                              (4.0, 2, "frame length")])
def test_frame_bad_options(length, hop, match):
    with pytest.raises(ConfigError, match=match):
        frame(np.zeros((1, 50)), length, hop)


def test_overlap_add_bad_input():
    frames = frame(np.zeros((1, 20)), 8, 4)
    with pytest.raises(DataError, match="cover 20 samples, fewer than length_total=21"):
        overlap_add(frames, 4, 21)
    with pytest.raises(DataError, match="\\(..., F, C, L\\)"):
        overlap_add(np.zeros((3, 8)), 4, 12)
    with pytest.raises(ConfigError, match="gives sample 0 no weight"):
        overlap_add(frames, 4, 20, window=np.hanning(8))  # numpy's Hann is 0 at both ends
    with pytest.raises(ConfigError, match="unknown window"):
        overlap_add(frames, 4, 20, window="kaiser")
    with pytest.raises(ConfigError, match="frame length 8"):
        overlap_add(frames, 4, 20, window=np.ones(5))


# ---------------------------------------------------------------- ChannelScaler
def test_scaler_per_channel_over_signals_of_different_lengths():
    rng = np.random.default_rng(0)
    a = rng.normal([[1.0], [-5.0]], [[2.0], [0.1]], (2, 300))
    b = rng.normal([[1.0], [-5.0]], [[2.0], [0.1]], (2, 500))
    scaler = ChannelScaler().fit([a, b])
    both = np.concatenate([a, b], axis=1)
    np.testing.assert_allclose(scaler.mean_, both.mean(axis=1))
    np.testing.assert_allclose(scaler.std_, both.std(axis=1))
    z = scaler.transform(b)
    assert z.dtype == np.float64 and z.shape == b.shape
    np.testing.assert_allclose(scaler.inverse_transform(z), b)
    za, zb = scaler.fit_transform([a.astype(np.float32), b.astype(np.float32)])
    assert za.dtype == np.float32 and zb.shape == (2, 500)


def test_scaler_applies_to_frames_and_sets():
    x = np.random.default_rng(1).standard_normal((4, 3, 64)) * [[[1.0], [10.0], [100.0]]]
    scaler = ChannelScaler().fit(x)
    frames = frame(x, 16, 8)  # (4, F, 3, 16): channels still second to last
    np.testing.assert_allclose(scaler.transform(frames), frame(scaler.transform(x), 16, 8), rtol=1e-5, atol=1e-5)


def test_scaler_with_mask_ignores_masked_values():
    x = np.array([[1.0, 2.0, 3.0, 1000.0, np.nan]])
    mask = np.array([[True, True, True, False, False]])
    scaler = ChannelScaler().fit(x, mask=mask)
    assert scaler.mean_.tolist() == [2.0] and scaler.std_[0] == pytest.approx(np.std([1, 2, 3]))


def test_scaler_constant_channel_is_only_shifted():
    scaler = ChannelScaler().fit(np.array([[3.0, 3.0, 3.0], [0.0, 1.0, 2.0]]))
    assert scaler.std_[0] == 1.0
    assert scaler.transform(np.array([[4.0], [1.0]])).ravel().tolist() == [1.0, 0.0]


def test_scaler_json_round_trip():
    scaler = ChannelScaler().fit(np.random.default_rng(2).standard_normal((3, 40)))
    back = ChannelScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert np.array_equal(back.mean_, scaler.mean_) and np.array_equal(back.std_, scaler.std_)


@pytest.mark.parametrize("state,match", [
    ({"mean": [0.0]}, "exactly the keys"),
    ({"mean": [0.0, 1.0], "std": [1.0]}, "equal, non-empty"),
    ({"mean": [0.0], "std": [0.0]}, "std finite and > 0"),
    ({"mean": ["a"], "std": [1.0]}, "lists of numbers"),
    ([0.0], "exactly the keys"),
])
def test_scaler_bad_state(state, match):
    with pytest.raises(ConfigError, match=match):
        ChannelScaler.from_dict(state)


def test_scaler_bad_use():
    with pytest.raises(ConfigError, match="not fitted"):
        ChannelScaler().transform(np.zeros((2, 5)))
    with pytest.raises(ConfigError, match="not fitted"):
        ChannelScaler().to_dict()
    scaler = ChannelScaler().fit(np.zeros((2, 5)))
    with pytest.raises(DataError, match="expected \\(..., 2, T\\)"):
        scaler.transform(np.zeros((3, 5)))
    with pytest.raises(DataError, match="signal 1 has shape \\(3, 5\\)"):
        ChannelScaler().fit([np.zeros((2, 5)), np.zeros((3, 5))])
    with pytest.raises(DataError, match="NaN or inf"):
        ChannelScaler().fit(np.array([[1.0, np.nan]]))
    with pytest.raises(DataError, match="channel 0 has no observed value"):
        ChannelScaler().fit(np.zeros((1, 3)), mask=np.zeros((1, 3), dtype=bool))
    with pytest.raises(DataError, match="no signals"):
        ChannelScaler().fit([])
