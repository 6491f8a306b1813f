"""Row sources (data that stays on disk): what they read equals what the in-RAM loader gives, bad
files end in one DataError naming the file, and load_path streams only what is over the budget."""
import mmap
import os
import pickle

import numpy as np
import pytest

from aekit.data import load
from aekit.data.files import array_to_dataset, load_path
from aekit.data.limits import check_batch_fits, memory_budget_scope, resolve_memory_budget
from aekit.data.shards import ShardSource
from aekit.data.sources import MemmapSource, RowView, is_row_source
from aekit.data.streamed import StreamedDataset, in_memory, is_streamed
from aekit.errors import ConfigError, DataError


def uint8_images(n=40, shape=(5, 6), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


@pytest.mark.parametrize("shape", [(30, 7), (30, 5, 6), (30, 2, 5, 6), (30, 5, 6, 3)])
def test_memmap_rows_equal_the_in_ram_loader_bit_for_bit(tmp_path, shape):
    X = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    np.save(tmp_path / "x.npy", X)
    src = MemmapSource(tmp_path / "x.npy")
    ref = array_to_dataset(X, None, name="x", source="x.npy")
    assert src.shape == ref.X.shape and src.value_range == ref.value_range
    index = np.array([29, 0, 3, 3, 17])
    out = src.read(index)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, ref.X[index])  # the same scaling: bitwise equal


def test_float_memmap_keeps_values_and_finds_the_range(tmp_path):
    X = np.random.default_rng(2).normal(size=(50, 4)).astype(np.float64)
    np.save(tmp_path / "x.npy", X)
    src = MemmapSource(tmp_path / "x.npy")
    np.testing.assert_array_equal(src.read(np.arange(50)), X.astype(np.float32))
    assert src.value_range == (float(X.astype(np.float32).min()), float(X.astype(np.float32).max()))


def test_a_truncated_npy_is_one_data_error_naming_the_file(tmp_path):
    path = tmp_path / "cut.npy"
    np.save(path, uint8_images())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(DataError, match=r"cut\.npy.*declares shape \(40, 5, 6\).*truncated"):
        MemmapSource(path)


def test_a_header_that_lies_about_its_shape_is_refused(tmp_path):
    path = tmp_path / "lies.npy"
    np.save(path, uint8_images(n=40))
    header_says_fewer = path.read_bytes().replace(b"(40, 5, 6)", b"(20, 5, 6)")
    path.write_bytes(header_says_fewer)
    with pytest.raises(DataError, match=r"lies\.npy.*\(20, 5, 6\).*does not match the data"):
        MemmapSource(path)


def test_nan_in_a_float_file_names_the_file_and_row(tmp_path):
    X = np.zeros((10, 3), np.float32)
    X[7, 1] = np.nan
    np.save(tmp_path / "nan.npy", X)
    src = MemmapSource(tmp_path / "nan.npy")
    with pytest.raises(DataError, match=r"nan\.npy: NaN.*row 7"):
        src.read(np.array([1, 7]))
    with pytest.raises(DataError, match="out of range"):
        src.read(np.array([10]))


def test_a_source_pickles_without_its_mapping_and_reads_after(tmp_path):
    np.save(tmp_path / "x.npy", uint8_images())
    src = MemmapSource(tmp_path / "x.npy")
    before = src.read(np.arange(5))
    clone = pickle.loads(pickle.dumps(src))
    np.testing.assert_array_equal(clone.read(np.arange(5)), before)


@pytest.mark.skipif(not hasattr(mmap.mmap, "madvise"), reason="needs mmap.madvise")
@pytest.mark.parametrize("order", ["sequential", "random"])
def test_pages_are_dropped_as_rows_are_read(tmp_path, order):
    """Reading all of an 8 MiB mapping with drops every 1 MiB leaves little of it resident, also
    when scattered 256-byte rows each touch a 4 KiB page of their own."""
    X = np.random.default_rng(3).integers(0, 256, (32768, 256), dtype=np.uint8)
    np.save(tmp_path / "big.npy", X)

    def rss_kib():
        with open(f"/proc/{os.getpid()}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    src = MemmapSource(tmp_path / "big.npy", drop_every=1 << 20)
    rows = np.arange(32768) if order == "sequential" else np.random.default_rng(0).permutation(32768)
    base = peak = rss_kib()
    for start in range(0, 32768, 64):
        src.read(rows[start : start + 64])
        peak = max(peak, rss_kib())
    assert peak - base < 3 * 1024  # without drops the mapping alone would add 8 MiB


def test_npy_shards_read_as_one_array_across_boundaries(tmp_path):
    parts = [uint8_images(n, (4,), seed=n) for n in (3, 5, 2)]
    for i, part in enumerate(parts):
        np.save(tmp_path / f"part-{i}.npy", part)
    src = ShardSource(tmp_path)
    whole = np.concatenate(parts).astype(np.float32) / np.float32(255)
    index = np.array([9, 0, 3, 2, 8, 5])
    np.testing.assert_allclose(src.read(index), whole[index], rtol=0, atol=1e-7)
    assert src.shape == (10, 4) and src.describe()["kind"] == "npy-shards"


def test_an_npy_shard_of_another_shape_is_named(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 4), np.float32))
    np.save(tmp_path / "b.npy", np.zeros((3, 5), np.float32))
    with pytest.raises(DataError, match=r"b\.npy: samples of shape \(5,\).*first shard's \(4,\)"):
        ShardSource(tmp_path)


def test_parquet_shards_read_by_row_across_row_groups(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    frames = [pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"]) for n in (7, 4)]
    for i, frame in enumerate(frames):
        frame.to_parquet(tmp_path / f"part-{i}.parquet", row_group_size=3)
    src = ShardSource(tmp_path)
    whole = np.concatenate([f.to_numpy() for f in frames]).astype(np.float32)
    index = np.array([10, 0, 6, 7, 2])
    np.testing.assert_array_equal(src.read(index), whole[index])
    assert src.describe()["columns"] == ["a", "b", "c"]
    assert src.value_range == (float(whole.min()), float(whole.max()))


def test_a_parquet_shard_with_other_columns_is_named(tmp_path):
    pd = pytest.importorskip("pandas")
    pd.DataFrame({"a": [1.0], "b": [2.0]}).to_parquet(tmp_path / "part-0.parquet")
    pd.DataFrame({"a": [1.0], "z": [2.0]}).to_parquet(tmp_path / "part-1.parquet")
    with pytest.raises(DataError, match=r"part-1\.parquet: columns \['a', 'z'\] differ from the first shard's"):
        ShardSource(tmp_path)


def test_a_row_view_reads_its_rows_flat_and_slices(tmp_path):
    np.save(tmp_path / "x.npy", uint8_images(10, (2, 3)))
    view = RowView(MemmapSource(tmp_path / "x.npy"), np.array([4, 2, 9]), flat=True)
    assert view.shape == (3, 6) and is_row_source(view)
    np.testing.assert_array_equal(view[1:3], MemmapSource(tmp_path / "x.npy").read(np.array([2, 9])).reshape(2, 6))


# -- load_path and the memory budget ---------------------------------------------------------------
def test_load_path_streams_only_data_over_the_budget(tmp_path):
    np.save(tmp_path / "x.npy", uint8_images(100, (8, 8)))  # 25.6 KB as float32
    in_ram = load_path(tmp_path / "x.npy")
    streamed = load_path(tmp_path / "x.npy", memory_budget="20KiB")
    assert not is_streamed(in_ram) and is_streamed(streamed)
    assert streamed.sample_shape == in_ram.sample_shape == (1, 8, 8)
    np.testing.assert_array_equal(streamed.X.read(np.arange(100)), in_ram.X)


def test_load_splits_a_streamed_file_like_the_in_ram_one(tmp_path):
    np.save(tmp_path / "x.npy", uint8_images(100, (8, 8)))
    for split in ("train", "val", "test"):
        ram = load(str(tmp_path / "x.npy"), split=split, seed=3)
        disk = load(str(tmp_path / "x.npy"), split=split, seed=3, memory_budget="20KiB")
        assert isinstance(disk, StreamedDataset) and len(disk) == len(ram)
        np.testing.assert_array_equal(in_memory(disk).X, ram.X)


def test_in_memory_draws_rows_that_fit(tmp_path):
    np.save(tmp_path / "x.npy", uint8_images(100, (8, 8)))
    ds = load_path(tmp_path / "x.npy", memory_budget="20KiB")
    small = in_memory(ds, max_bytes=10 * 256)
    assert len(small) == 10 and small.meta["drawn_from"] == 100


def test_a_shard_folder_loads_in_ram_when_it_fits(tmp_path):
    for i in range(2):
        np.save(tmp_path / f"part-{i}.npy", uint8_images(5, (4,), seed=i))
    assert not is_streamed(load_path(tmp_path))
    assert is_streamed(load_path(tmp_path, memory_budget=100))


def test_a_budget_smaller_than_a_batch_is_a_config_error():
    with pytest.raises(ConfigError, match="smaller than one batch of 128 rows"):
        check_batch_fits(128, 3136, memory_budget="100KiB")


def test_memory_budget_scope_sets_and_restores_the_budget(monkeypatch):
    monkeypatch.delenv("AEKIT_MEMORY_BUDGET", raising=False)
    with memory_budget_scope("3MiB"):
        assert resolve_memory_budget().limit == 3 << 20
    assert "AEKIT_MEMORY_BUDGET" not in os.environ
    with pytest.raises(ConfigError, match="--memory-budget"):
        with memory_budget_scope("lots"):
            pass


def test_a_fortran_order_file_reads_the_same_rows(tmp_path):
    X = np.asfortranarray(np.random.default_rng(5).integers(0, 256, (30, 7), dtype=np.uint8))
    np.save(tmp_path / "f.npy", X)
    src = MemmapSource(tmp_path / "f.npy")
    assert src.fortran
    np.testing.assert_array_equal(src.read(np.array([3, 29, 3])), MemmapSource(tmp_path / "f.npy").read_all()[[3, 29, 3]])
    np.testing.assert_array_equal(src.read(np.arange(30)), array_to_dataset(X, None, name="f", source="f").X)
