"""Built-in datasets: digits, and the real MNIST / Fashion-MNIST in ../shared/data."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from aekit.data import list_datasets, load
from aekit.data.builtin import FASHION_CLASSES, default_data_dir
from aekit.errors import DataError
from support import SHARED



def need_shared(name: str) -> Path:
    folder = SHARED / name
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real {name} files not found in {folder} (CI always has them)")
    return SHARED


def test_list_datasets():
    assert list_datasets() == ["digits", "mnist", "fashion-mnist", "cifar10", "cifar100"]


def test_digits_shapes_and_splits():
    parts = {s: load("digits", s) for s in ("train", "val", "test", "train+val", "all")}
    full = parts["all"]
    assert full.X.shape == (1797, 1, 8, 8) and full.X.dtype == np.float32
    assert full.value_range == (0.0, 1.0) and 0.0 <= full.X.min() and full.X.max() == 1.0
    assert full.classes == [str(i) for i in range(10)] and full.y.dtype == np.int64
    n = {s: len(d) for s, d in parts.items()}
    assert n["train"] + n["val"] + n["test"] == 1797
    assert n["train"] + n["val"] == n["train+val"]
    assert (n["test"], n["val"]) == (359, 180)
    # disjoint: compare the flattened images as bytes
    keys = {s: {x.tobytes() + bytes([int(yy)]) for x, yy in zip(d.X, d.y)} for s, d in parts.items() if s != "all"}
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"] and not keys["val"] & keys["test"]
    for s in ("train", "val", "test"):
        assert parts[s].split == s


def test_default_source_is_digits():
    assert load().name == "digits"


def test_digits_split_seeds():
    a, b, c = load("digits", "val", seed=1), load("digits", "val", seed=1), load("digits", "val", seed=2)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)


def test_bad_fractions():
    with pytest.raises(DataError, match="val_fraction \\+ test_fraction"):
        load("digits", val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(DataError, match="test_fraction must be in"):
        load("digits", test_fraction=-0.1)


@pytest.mark.slow  # reads the real MNIST / Fashion-MNIST files (make test-slow)
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_mnist_splits(name):
    root = need_shared(name)
    parts = {s: load(name, s, data_dir=root) for s in ("train", "val", "test", "train+val")}
    assert [len(parts[s]) for s in ("train", "val", "test", "train+val")] == [55000, 5000, 10000, 60000]
    for s, d in parts.items():
        assert d.X.shape[1:] == (1, 28, 28) and d.X.dtype == np.float32 and d.split == s
        assert d.y.min() == 0 and d.y.max() == 9
        assert d.X.min() >= 0.0 and d.X.max() <= 1.0 and d.value_range == (0.0, 1.0)
    if name == "fashion-mnist":
        assert parts["test"].classes == FASHION_CLASSES
    # train and val partition train+val (as multisets of (image, label) are hard to compare,
    # use the seeded index sets: they are disjoint and cover 60000)
    from aekit.data.loader import mnist_train_val_indices

    tr, va = mnist_train_val_indices(60000, "train", 0), mnist_train_val_indices(60000, "val", 0)
    assert len(np.intersect1d(tr, va)) == 0 and len(np.union1d(tr, va)) == 60000
    np.testing.assert_array_equal(parts["train+val"].X[va], parts["val"].X)
    np.testing.assert_array_equal(parts["train+val"].X[tr], parts["train"].X)


@pytest.mark.slow  # reads the real MNIST / Fashion-MNIST files (make test-slow)
def test_mnist_split_reproducible_and_seed_dependent():
    root = need_shared("mnist")
    a = load("mnist", "val", data_dir=root, seed=0)
    b = load("mnist", "val", data_dir=root, seed=0)
    c = load("mnist", "val", data_dir=root, seed=1)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.y, c.y)
    # the test split does not depend on the seed
    np.testing.assert_array_equal(load("mnist", "test", data_dir=root, seed=5).y[:20],
                                  load("mnist", "test", data_dir=root).y[:20])


@pytest.mark.slow  # reads the real MNIST / Fashion-MNIST files (make test-slow)
def test_mnist_all_and_env(monkeypatch):
    root = need_shared("mnist")
    monkeypatch.setenv("AEKIT_DATA_DIR", str(root))
    assert default_data_dir() == root
    d = load("mnist", "all")
    assert len(d) == 70000 and d.y[:5].tolist() == [5, 0, 4, 1, 9]


def test_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.delenv("AEKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "aekit"


def test_mnist_missing_message(tmp_path, monkeypatch):
    monkeypatch.delenv("AEKIT_DATA_DIR", raising=False)
    with pytest.raises(DataError) as e:
        load("mnist", data_dir=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "mnist") in msg and "aekit data download mnist" in msg
    assert "--data-dir ../shared/data" in msg and "AEKIT_DATA_DIR" in msg


@pytest.mark.slow  # reads the real MNIST / Fashion-MNIST files (make test-slow)
def test_mnist_raw_files_and_count_mismatch(tmp_path):
    root = need_shared("mnist")
    import gzip

    dst = tmp_path / "mnist"
    dst.mkdir()
    for f in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (dst / f).write_bytes(gzip.decompress((root / "mnist" / f"{f}.gz").read_bytes()))
    d = load("mnist", "test", data_dir=tmp_path)
    assert len(d) == 10000
    # labels for another count
    lab = (dst / "t10k-labels-idx1-ubyte").read_bytes()
    (dst / "t10k-labels-idx1-ubyte").write_bytes(lab[:4] + (9999).to_bytes(4, "big") + lab[8:-1])
    with pytest.raises(DataError, match="10000 images but .* 9999 labels"):
        load("mnist", "test", data_dir=tmp_path)


@pytest.mark.slow  # reads the real MNIST / Fashion-MNIST files (make test-slow)
def test_mnist_corrupt_cached_file(tmp_path):
    root = need_shared("mnist")
    dst = tmp_path / "mnist"
    dst.mkdir()
    shutil.copy(root / "mnist" / "t10k-labels-idx1-ubyte.gz", dst)
    raw = (root / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes()
    (dst / "t10k-images-idx3-ubyte.gz").write_bytes(raw[:100000])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: truncated or corrupt gzip"):
        load("mnist", "test", data_dir=tmp_path)


@pytest.mark.slow  # reads the real MNIST / Fashion-MNIST files (make test-slow)
def test_mnist_load_is_fast():
    import time

    root = need_shared("fashion-mnist")
    from aekit.data import builtin

    builtin._IDX_CACHE.clear()
    t = time.perf_counter()
    d = load("fashion-mnist", "train+val", data_dir=root)
    elapsed = time.perf_counter() - t
    assert len(d) == 60000
    assert elapsed < 5.0, f"60000 images took {elapsed:.2f} s"


def test_data_dir_may_name_the_datasets_own_folder(tmp_path):
    """`--data-dir ../shared/data/mnist` was refused; the folder of the IDX files is accepted as well
    as its parent, but only under the dataset's own name (MNIST's files are never Fashion-MNIST)."""
    import gzip

    folder = tmp_path / "mnist"
    folder.mkdir()
    for part, n in (("train", 3), ("t10k", 2)):
        header = bytes([0, 0, 8, 3]) + b"".join(k.to_bytes(4, "big") for k in (n, 28, 28))
        (folder / f"{part}-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + bytes(n * 784)))
        (folder / f"{part}-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + bytes(n))
    assert len(load("mnist", split="test", data_dir=folder)) == 2
    assert len(load("mnist", split="test", data_dir=tmp_path)) == 2
    with pytest.raises(DataError, match="not found"):
        load("fashion-mnist", split="test", data_dir=folder)


def fake_mnist(root: Path, n_train: int = 400, n_test: int = 100) -> Path:
    """A mnist/ folder of gzip IDX files holding random 28×28 pixels and labels 0–9."""
    import gzip

    rng = np.random.default_rng(0)
    folder = root / "mnist"
    folder.mkdir(parents=True)
    for part, n in (("train", n_train), ("t10k", n_test)):
        header = bytes([0, 0, 8, 3]) + b"".join(k.to_bytes(4, "big") for k in (n, 28, 28))
        pixels = rng.integers(0, 256, n * 784, dtype=np.uint8).tobytes()
        (folder / f"{part}-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + pixels))
        labels = rng.integers(0, 10, n, dtype=np.uint8).tobytes()
        (folder / f"{part}-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels)
    return root


@pytest.mark.parametrize("split", ["train", "all"])
def test_a_builtin_split_over_the_memory_budget_streams_from_a_uint8_copy(tmp_path, monkeypatch, split):
    """MNIST's split was decoded to float32 whatever the budget; over it, the split is now written
    once as uint8 to the spool folder and read batch by batch: the same values and labels."""
    from aekit.data.limits import memory_budget_scope
    from aekit.data.streamed import StreamedDataset

    root = fake_mnist(tmp_path / "data")
    monkeypatch.setenv("AEKIT_DATA_DIR", str(tmp_path / "cache"))
    with memory_budget_scope("512KiB"):  # the uint8 files fit; 360 or 500 images are 1.1–1.5 MiB as float32
        streamed = load("mnist", split, data_dir=root)
    in_memory = load("mnist", split, data_dir=root)
    assert isinstance(streamed, StreamedDataset) and streamed.split == split and streamed.classes == in_memory.classes
    assert len(streamed) == len(in_memory) and streamed.sample_shape == (1, 28, 28)
    np.testing.assert_array_equal(streamed.X.read(np.arange(len(streamed))), in_memory.X)
    np.testing.assert_array_equal(streamed.y, in_memory.y)
    spooled = list((tmp_path / "cache" / "spool").glob("mnist-*.npy"))
    assert len(spooled) == 1 and spooled[0].stat().st_size < len(in_memory) * 784 + 1024  # uint8 on disk


def test_a_builtin_split_over_the_budget_with_an_unwritable_spool_folder_says_so(tmp_path, monkeypatch):
    from aekit.data.limits import memory_budget_scope

    root = fake_mnist(tmp_path / "data")
    (tmp_path / "cache").write_text("a file, not a folder")
    monkeypatch.setenv("AEKIT_DATA_DIR", str(tmp_path / "cache"))
    with memory_budget_scope("512KiB"), pytest.raises(DataError, match="mnist: over the memory budget, and .*spool"):
        load("mnist", "train", data_dir=root)


def test_a_spooled_split_is_recorded_as_a_copy_of_the_builtin(tmp_path, monkeypatch):
    from aekit.data.limits import memory_budget_scope
    from aekit.runs import DataRecord

    root = fake_mnist(tmp_path / "data")
    monkeypatch.setenv("AEKIT_DATA_DIR", str(tmp_path / "cache"))
    with memory_budget_scope("512KiB"):
        train = load("mnist", "train", data_dir=root)
    record = DataRecord.of("mnist", root, 0, train).to_dict()
    assert record["source"] == "mnist" and record["stream"]["spooled"] == "a copy of mnist, removed when the process ended"
    assert record["stream"]["rows_used"] == 360 and train.subset(np.arange(5)).describe()["spooled"].startswith("a copy")
