"""Loaders on files the tests write, and each kind of bad input ending in one DataError."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from aekit.data import Dataset, load
from aekit.data.files import load_path, read_image
from aekit.data.idx import read_idx
from aekit.errors import AekitError, ConfigError, DataError

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    code = CODES[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path, arr, gz=False):
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def all_of(path, **kw) -> Dataset:
    return load(path, "all", **kw)


# ---------------------------------------------------------------- npz / npy
def test_npz_with_labels(tmp_path):
    X = np.arange(40, dtype=np.float64).reshape(10, 4)
    y = np.arange(10) % 3
    np.savez(tmp_path / "d.npz", X=X, y=y)
    ds = all_of(tmp_path / "d.npz")
    assert ds.X.dtype == np.float32 and ds.X.shape == (10, 4)
    assert ds.y.dtype == np.int64 and list(ds.y) == list(y)
    assert ds.value_range == (0.0, 39.0)
    assert ds.name == "d" and ds.split == "all"


@pytest.mark.parametrize("xkey,ykey", [("x", "labels"), ("data", None), ("whatever", None)])
def test_npz_key_names(tmp_path, xkey, ykey):
    arrays = {xkey: np.ones((5, 3))}
    if ykey:
        arrays[ykey] = np.zeros(5, dtype=np.int32)
    np.savez(tmp_path / "d.npz", **arrays)
    ds = all_of(tmp_path / "d.npz")
    assert ds.X.shape == (5, 3)
    assert (ds.y is None) == (ykey is None)


def test_npz_ambiguous_keys(tmp_path):
    np.savez(tmp_path / "d.npz", a=np.ones((5, 3)), b=np.ones((5, 3)))
    with pytest.raises(DataError, match="d.npz.*which array"):
        all_of(tmp_path / "d.npz")


def test_npz_label_count_mismatch(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.ones((5, 3)), y=np.zeros(4))
    with pytest.raises(DataError, match="5 samples but 4 labels"):
        all_of(tmp_path / "d.npz")


def test_npy_uint8_images_nhwc(tmp_path):
    X = np.random.default_rng(0).integers(0, 256, (6, 5, 4, 3), dtype=np.uint8)
    np.save(tmp_path / "im.npy", X)
    ds = all_of(tmp_path / "im.npy")
    assert ds.X.shape == (6, 3, 5, 4)
    assert ds.value_range == (0.0, 1.0)
    np.testing.assert_allclose(ds.X, X.transpose(0, 3, 1, 2) / 255.0, rtol=1e-6)


def test_npy_3d_becomes_single_channel(tmp_path):
    np.save(tmp_path / "im.npy", np.random.default_rng(0).random((7, 6, 5)))
    ds = all_of(tmp_path / "im.npy")
    assert ds.X.shape == (7, 1, 6, 5) and ds.is_image and ds.value_range == (0.0, 1.0)


def test_npy_nchw_kept(tmp_path):
    np.save(tmp_path / "im.npy", np.zeros((4, 3, 8, 8), np.float32))
    assert all_of(tmp_path / "im.npy").X.shape == (4, 3, 8, 8)


def test_nan_and_inf(tmp_path):
    X = np.ones((10, 3))
    X[4, 1] = np.nan
    X[7, 2] = np.inf
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(DataError, match=r"bad\.npy: 2 NaN or inf.*row 4"):
        all_of(tmp_path / "bad.npy")


def test_empty_npy(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((0, 3)))
    with pytest.raises(DataError, match="e.npy: empty"):
        all_of(tmp_path / "e.npy")


def test_empty_file(tmp_path):
    (tmp_path / "e.npz").write_bytes(b"")
    with pytest.raises(DataError, match="e.npz"):
        all_of(tmp_path / "e.npz")


def test_corrupt_npz(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.ones((50, 50)))
    raw = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "d.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="d.npz"):
        all_of(tmp_path / "d.npz")


def test_object_npy_refused(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="o.npy"):
        all_of(tmp_path / "o.npy")


# ---------------------------------------------------------------- CSV
def test_csv_header_and_label_column(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,label,b\n1,0,2.5\n3,1,4\n5,1,-6e0\n\n")
    ds = all_of(p, label_column="label")
    np.testing.assert_array_equal(ds.X, [[1, 2.5], [3, 4], [5, -6]])
    assert list(ds.y) == [0, 1, 1]
    assert ds.value_range == (-6.0, 5.0)
    assert ds.meta["columns"] == ["a", "b"]


def test_csv_no_header_label_index(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("1,2,0\n3,4,1\n")
    ds = all_of(p, label_column=-1)
    assert ds.X.shape == (2, 2) and list(ds.y) == [0, 1]
    ds = all_of(p)
    assert ds.X.shape == (2, 3) and ds.y is None


def test_csv_string_labels_become_classes(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("x,kind\n1,cat\n2,dog\n3,cat\n")
    ds = all_of(p, label_column="kind")
    assert ds.classes == ["cat", "dog"] and list(ds.y) == [0, 1, 0]


def test_csv_unknown_label_column(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="label column 'zz' not found.*'a', 'b'"):
        all_of(p, label_column="zz")


def test_csv_ragged(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(DataError, match=r"t\.csv, line 3: ragged CSV: 2 columns where the header has 3"):
        all_of(p)


def test_csv_non_numeric(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,c\n1,2,3\n4,oops,6\n")
    with pytest.raises(DataError, match=r"t\.csv, line 3, column 2 \('b'\): non-numeric value 'oops'"):
        all_of(p)


def test_csv_nan(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("1,2\n3,nan\n")
    with pytest.raises(DataError, match=r"t\.csv: 1 NaN or inf.*line 2"):
        all_of(p)


@pytest.mark.parametrize("text", ["", "\n\n", "a,b,c\n"])
def test_csv_empty(tmp_path, text):
    p = tmp_path / "t.csv"
    p.write_text(text)
    with pytest.raises(DataError, match="t.csv"):
        all_of(p)


# ---------------------------------------------------------------- IDX
@pytest.mark.parametrize("gz", [False, True])
def test_idx_images_with_sibling_labels(tmp_path, gz):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (12, 5, 4), dtype=np.uint8)
    labels = rng.integers(0, 10, 12).astype(np.uint8)
    sfx = ".gz" if gz else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{sfx}", imgs, gz)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{sfx}", labels, gz)
    ds = all_of(tmp_path / f"train-images-idx3-ubyte{sfx}")
    assert ds.X.shape == (12, 1, 5, 4) and ds.value_range == (0.0, 1.0)
    np.testing.assert_allclose(ds.X[:, 0], imgs / 255.0, rtol=1e-6)
    assert list(ds.y) == list(labels)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_dtypes(tmp_path, dtype):
    arr = (np.arange(24) - 5).reshape(4, 6).astype(dtype)
    p = write_idx(tmp_path / "x.idx", arr)
    got = read_idx(p)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)
    ds = all_of(p)
    assert ds.X.shape == (4, 6)


def test_idx_wrong_magic(tmp_path):
    p = tmp_path / "x-idx3-ubyte"
    p.write_bytes(b"\x01\x02\x08\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(DataError, match="x-idx3-ubyte: wrong IDX magic number 01 02 08 01"):
        all_of(p)


def test_idx_unknown_dtype(tmp_path):
    p = tmp_path / "x.idx"
    p.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(DataError, match="unknown IDX data type 0x07"):
        all_of(p)


def test_idx_size_mismatch(tmp_path):
    p = tmp_path / "x-idx3-ubyte"
    data = idx_bytes(np.zeros((10, 4, 4), np.uint8))
    p.write_bytes(data[:-5])
    with pytest.raises(DataError, match=r"x-idx3-ubyte: IDX header declares shape \(10, 4, 4\).*155 bytes"):
        all_of(p)


def test_idx_truncated_gzip(tmp_path):
    p = tmp_path / "x-idx3-ubyte.gz"
    full = gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 255, (50, 8, 8), dtype=np.uint8)))
    p.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match="x-idx3-ubyte.gz: truncated or corrupt gzip"):
        all_of(p)


def test_idx_corrupt_gzip(tmp_path):
    p = tmp_path / "x-idx3-ubyte.gz"
    full = bytearray(gzip.compress(idx_bytes(np.zeros((50, 8, 8), np.uint8))))
    full[20:30] = b"\xff" * 10
    p.write_bytes(bytes(full))
    with pytest.raises(DataError, match="x-idx3-ubyte.gz"):
        all_of(p)


def test_idx_not_gzip_but_gz_name(tmp_path):
    p = tmp_path / "x-idx3-ubyte.gz"
    p.write_bytes(idx_bytes(np.zeros((2, 2, 2), np.uint8)))
    with pytest.raises(DataError, match="not a gzip file"):
        all_of(p)


def test_idx_label_count_mismatch(tmp_path):
    write_idx(tmp_path / "a-images-idx3-ubyte", np.zeros((5, 3, 3), np.uint8))
    write_idx(tmp_path / "a-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="has 5 images but .*a-labels-idx1-ubyte has 4 labels"):
        all_of(tmp_path / "a-images-idx3-ubyte")


def test_idx_empty(tmp_path):
    p = write_idx(tmp_path / "x.idx", np.zeros((0, 3, 3), np.uint8))
    with pytest.raises(DataError, match="empty"):
        all_of(p)
    (tmp_path / "y.idx").write_bytes(b"")
    with pytest.raises(DataError, match="y.idx: empty file"):
        all_of(tmp_path / "y.idx")


# ---------------------------------------------------------------- image folders
def save(path, arr, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode=mode).save(path)


def test_image_folder_grey_loose(tmp_path):
    rng = np.random.default_rng(0)
    arrs = [rng.integers(0, 256, (6, 5), dtype=np.uint8) for _ in range(3)]
    for i, a in enumerate(arrs):
        save(tmp_path / "imgs" / f"{i}.png", a)
    ds = all_of(tmp_path / "imgs")
    assert ds.X.shape == (3, 1, 6, 5) and ds.y is None and ds.classes is None
    np.testing.assert_allclose(ds.X[1, 0], arrs[1] / 255.0, rtol=1e-6)
    assert ds.paths[2].endswith("2.png") and ds.value_range == (0.0, 1.0)


def test_image_folder_classes_rgb_rgba_mixed(tmp_path):
    rng = np.random.default_rng(1)
    save(tmp_path / "f" / "zebra" / "a.png", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    save(tmp_path / "f" / "zebra" / "b.png", rng.integers(0, 256, (4, 4, 4), dtype=np.uint8))  # RGBA
    grey = rng.integers(0, 256, (4, 4), dtype=np.uint8)
    save(tmp_path / "f" / "ant" / "c.png", grey)
    save(tmp_path / "f" / "ant" / "d.jpg", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    ds = all_of(tmp_path / "f")
    assert ds.classes == ["ant", "zebra"]
    assert ds.X.shape == (4, 3, 4, 4)
    assert list(ds.y) == [0, 0, 1, 1]
    # the grey image was replicated into 3 equal channels
    np.testing.assert_allclose(ds.X[0], np.repeat(grey[None] / 255.0, 3, axis=0), rtol=1e-6)


def test_image_folder_rgb(tmp_path):
    a = np.random.default_rng(2).integers(0, 256, (3, 7, 3), dtype=np.uint8)
    save(tmp_path / "f" / "x.png", a)
    ds = all_of(tmp_path / "f")
    np.testing.assert_allclose(ds.X[0], a.transpose(2, 0, 1) / 255.0, rtol=1e-6)


def test_image_folder_different_sizes(tmp_path):
    save(tmp_path / "f" / "a.png", np.zeros((4, 4), np.uint8))
    save(tmp_path / "f" / "b.png", np.zeros((5, 4), np.uint8))
    with pytest.raises(DataError, match=r"different sizes: .*a\.png is 4×4 but .*b\.png is 4×5"):
        all_of(tmp_path / "f")


def test_image_folder_unreadable(tmp_path):
    save(tmp_path / "f" / "a.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "f" / "b.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"b\.png: unreadable image"):
        all_of(tmp_path / "f")


def test_image_folder_empty(tmp_path):
    (tmp_path / "f" / "sub").mkdir(parents=True)
    (tmp_path / "f" / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="no images found"):
        all_of(tmp_path / "f")


# ---------------------------------------------------------------- one image file
def test_read_image_modes(tmp_path):
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    rgba = rng.integers(0, 256, (5, 6, 4), dtype=np.uint8)
    save(tmp_path / "g.png", grey)
    save(tmp_path / "a.png", rgba)
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), grey)
    np.testing.assert_array_equal(read_image(str(tmp_path / "a.png")), rgba[..., :3])  # alpha dropped
    Image.fromarray(grey).convert("P").save(tmp_path / "p.gif")  # a palette image reads as colour
    assert read_image(tmp_path / "p.gif").shape == (5, 6, 3)
    deep = (grey.astype(np.uint16) * 257)
    Image.fromarray(deep).save(tmp_path / "d.png")  # 16-bit grey: float32 in [0, 1]
    a16 = read_image(tmp_path / "d.png")
    assert a16.dtype == np.float32 and a16.shape == (5, 6)
    np.testing.assert_allclose(a16, grey / 255.0, rtol=1e-6)


def test_read_image_as_float_and_channel_check(tmp_path):
    grey = np.arange(30, dtype=np.uint8).reshape(5, 6) * 8
    save(tmp_path / "g.png", grey)
    save(tmp_path / "c.png", np.zeros((5, 6, 3), np.uint8))
    a = read_image(tmp_path / "g.png", channels=1, as_float=True)
    assert a.dtype == np.float32
    np.testing.assert_allclose(a, grey / 255.0, rtol=1e-6)
    assert read_image(tmp_path / "c.png", channels=3).shape == (5, 6, 3)
    with pytest.raises(DataError, match=r"c\.png: the image has 3 channels \(RGB\) but 1 is expected"):
        read_image(tmp_path / "c.png", channels=1)
    with pytest.raises(DataError, match="has 1 channel .* but 3 are expected"):
        read_image(tmp_path / "g.png", channels=3)
    with pytest.raises(ConfigError, match="channels"):
        read_image(tmp_path / "g.png", channels=2)


def test_read_image_missing_and_unreadable(tmp_path):
    with pytest.raises(DataError, match=r"nope\.png: no such image file"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"bad\.png: unreadable image"):
        read_image(tmp_path / "bad.png")


# ---------------------------------------------------------------- misc
def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nothere.npz: no such file"):
        load(tmp_path / "nothere.npz")


def test_unknown_dataset_name_lists_known():
    with pytest.raises(DataError, match="unknown dataset 'cifar'.*digits, mnist, fashion-mnist"):
        load("cifar")


def test_unknown_file_type(tmp_path):
    (tmp_path / "a.xyz").write_text("hello")
    with pytest.raises(DataError, match="unknown file type .xyz"):
        load(tmp_path / "a.xyz")


def test_unknown_split():
    with pytest.raises(DataError, match="unknown split 'training'"):
        load("digits", "training")


def test_generic_splits(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.arange(200, dtype=np.float32).reshape(100, 2))
    parts = {s: load(tmp_path / "d.npz", s, seed=3) for s in ("train", "val", "test", "train+val", "all")}
    assert [len(parts[s]) for s in ("train", "val", "test", "train+val", "all")] == [70, 10, 20, 80, 100]
    ids = {s: set(parts[s].X[:, 0].tolist()) for s in parts}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    assert ids["train"] | ids["val"] == ids["train+val"]
    # value range is that of the whole file, the same for every split
    assert parts["val"].value_range == parts["all"].value_range == (0.0, 199.0)


def test_errors_are_aekit_errors():
    assert issubclass(DataError, AekitError)


def test_load_path_direct(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 2)))
    assert len(load_path(tmp_path / "a.npy")) == 3


def test_read_image_docstring_example():
    import doctest

    import aekit.data.files as files

    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(files.read_image, globs=vars(files).copy()):
        runner.run(test)
    assert runner.summarize(verbose=False).attempted >= 4 and runner.summarize(verbose=False).failed == 0
