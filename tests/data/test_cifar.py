"""CIFAR-10 / CIFAR-100 from their binary releases: the reader on generated batch files, and the
download + safe unpacking from a folder mirror and a 127.0.0.1 server (never the real network)."""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from support import Server, leftovers, run_main, runner

from aekit.cli import app
from aekit.data import builtin, load
from aekit.data import download as dl
from aekit.data.builtin import cifar_classes, load_cifar_part
from aekit.data.cifar import CIFAR10, CIFAR100
from aekit.data.download import download, extract_tar
from aekit.errors import DataError, DownloadError

NAMES10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FINE = [f"fine_{i:02d}" for i in range(100)]
COARSE = [f"super_{i:02d}" for i in range(20)]
PER_BATCH = 20  # CIFAR-10 training records per batch file in these tests (the release has 10000)
N_TEST = 15


def records(labels: np.ndarray, images: np.ndarray) -> bytes:
    """The binary layout: label byte(s), then the R, G and B 32×32 planes, row-major."""
    return np.concatenate([labels.reshape(len(images), -1), images.reshape(len(images), -1)], axis=1).tobytes()


def cifar10_files(seed: int = 0) -> tuple[dict[str, bytes], dict]:
    """File contents of a small CIFAR-10 release and the arrays they hold."""
    rng = np.random.default_rng(seed)
    files, truth = {}, {}
    for name, n in [(f"data_batch_{i}.bin", PER_BATCH) for i in range(1, 6)] + [("test_batch.bin", N_TEST)]:
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        files[name] = records(labels, images)
        truth[name] = (images, labels)
    files["batches.meta.txt"] = ("\n".join(NAMES10) + "\n\n").encode()
    return files, truth


def cifar100_files(seed: int = 1) -> tuple[dict[str, bytes], dict]:
    rng = np.random.default_rng(seed)
    files, truth = {}, {}
    for name, n in (("train.bin", 60), ("test.bin", N_TEST)):
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        coarse = rng.integers(0, 20, size=n, dtype=np.uint8)
        fine = rng.integers(0, 100, size=n, dtype=np.uint8)
        files[name] = records(np.stack([coarse, fine], axis=1), images)
        truth[name] = (images, coarse, fine)
    files["fine_label_names.txt"] = "\n".join(FINE).encode()
    files["coarse_label_names.txt"] = "\n".join(COARSE).encode()
    return files, truth


def write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def c10(tmp_path):
    """A small CIFAR-10 unpacked as `aekit data download` leaves it: <root>/cifar10/cifar-10-batches-bin/."""
    files, truth = cifar10_files()
    root = tmp_path / "data"
    folder = write(root / "cifar10" / "cifar-10-batches-bin", files)
    return root, folder, truth


@pytest.fixture
def c100(tmp_path):
    files, truth = cifar100_files()
    root = tmp_path / "data"
    folder = write(root / "cifar100" / "cifar-100-binary", files)
    return root, folder, truth


def as_bytes(X: np.ndarray) -> np.ndarray:
    """Images in [0, 1] back to the uint8 they were decoded from (exact for x/255 in float32)."""
    assert X.dtype == np.float32 and X.min() >= 0.0 and X.max() <= 1.0
    return np.rint(X * 255).astype(np.uint8)


# ------------------------------------------------------------------------------ reading
def test_pixel_layout_is_channel_major(tmp_path):
    # one hand-made record: label 3; red plane 200 but pixel (row 0, col 1) = 7; green 0 but
    # (row 2, col 0) = 255; blue 0 but the last pixel = 51
    red, green, blue = bytearray([200] * 1024), bytearray(1024), bytearray(1024)
    red[1], green[2 * 32], blue[1023] = 7, 255, 51
    folder = tmp_path / "cifar10"
    files = dict(cifar10_files()[0])
    files["test_batch.bin"] = bytes([3]) + bytes(red) + bytes(green) + bytes(blue)
    write(folder, files)
    d = load("cifar10", "test", data_dir=tmp_path)
    assert d.X.shape == (1, 3, 32, 32) and d.X.dtype == np.float32 and d.y.tolist() == [3]
    x = np.rint(d.X[0] * 255).astype(int)
    assert x[0, 0, 1] == 7 and x[0, 0, 0] == 200 and x[0, 1, 31] == 200
    assert x[1, 2, 0] == 255 and x[1].sum() == 255
    assert x[2, 31, 31] == 51 and x[2].sum() == 51
    assert d.classes[3] == "cat" and d.value_range == (0.0, 1.0)


def test_cifar10_splits(c10):
    root, _, truth = c10
    parts = {s: load("cifar10", s, data_dir=root) for s in ("train", "val", "test", "train+val", "all")}
    n_train = 5 * PER_BATCH
    assert [len(parts[s]) for s in ("train", "val", "test", "train+val", "all")] == [
        n_train - n_train // 10, n_train // 10, N_TEST, n_train, n_train + N_TEST]
    for s, d in parts.items():
        assert d.X.shape[1:] == (3, 32, 32) and d.X.dtype == np.float32 and d.y.dtype == np.int64
        assert d.split == s and d.name == "cifar10" and d.classes == NAMES10
    # train+val is the five batches in order; test is test_batch.bin, all is one then the other
    images = np.concatenate([truth[f"data_batch_{i}.bin"][0] for i in range(1, 6)])
    labels = np.concatenate([truth[f"data_batch_{i}.bin"][1] for i in range(1, 6)])
    np.testing.assert_array_equal(as_bytes(parts["train+val"].X), images)
    np.testing.assert_array_equal(parts["train+val"].y, labels)
    np.testing.assert_array_equal(as_bytes(parts["test"].X), truth["test_batch.bin"][0])
    np.testing.assert_array_equal(parts["test"].y, truth["test_batch.bin"][1])
    np.testing.assert_array_equal(parts["all"].X, np.concatenate([parts["train+val"].X, parts["test"].X]))
    # train and val partition the training part, drawn with the seed
    from aekit.data.loader import train_val_indices

    tr, va = train_val_indices(n_train, "train", 0), train_val_indices(n_train, "val", 0)
    assert len(np.intersect1d(tr, va)) == 0 and len(np.union1d(tr, va)) == n_train
    np.testing.assert_array_equal(parts["train+val"].X[va], parts["val"].X)
    np.testing.assert_array_equal(parts["train+val"].y[tr], parts["train"].y)


def test_cifar10_seeds(c10):
    root = c10[0]
    a, b, c = (load("cifar10", "val", data_dir=root, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    np.testing.assert_array_equal(load("cifar10", "test", data_dir=root, seed=7).X, load("cifar10", "test", data_dir=root).X)


def test_cifar100_fine_is_the_class_and_coarse_is_readable(c100):
    root, _, truth = c100
    d = load("cifar-100", "train+val", data_dir=root)
    images, coarse, fine = truth["train.bin"]
    assert d.name == "cifar100" and d.classes == FINE and d.meta["label"] == "fine"
    np.testing.assert_array_equal(as_bytes(d.X), images)
    np.testing.assert_array_equal(d.y, fine)
    t = load("cifar100", "test", data_dir=root)
    np.testing.assert_array_equal(t.y, truth["test.bin"][2])
    assert load("cifar100", "val", data_dir=root).X.shape == (6, 3, 32, 32)
    imgs, c = load_cifar_part("cifar100", "train", root, label="coarse")
    np.testing.assert_array_equal(c, coarse)
    np.testing.assert_array_equal(imgs, images)
    assert not imgs.flags.writeable and not c.flags.writeable
    assert cifar_classes("cifar100", root, label="coarse") == COARSE
    with pytest.raises(DataError, match="unknown label 'coarse'.*carry: label"):
        load_cifar_part("cifar10", "test", root, label="coarse")


def test_other_layouts_env_and_aliases(tmp_path, monkeypatch):
    files, truth = cifar10_files(seed=3)
    flat = write(tmp_path / "a" / "cifar10", files)  # the files straight in <root>/cifar10/
    d = load("CIFAR-10", "test", data_dir=tmp_path / "a")
    np.testing.assert_array_equal(d.y, truth["test_batch.bin"][1])
    write(tmp_path / "b" / "cifar-10-batches-bin", files)  # the archive unpacked into <root>
    monkeypatch.setenv("AEKIT_DATA_DIR", str(tmp_path / "b"))
    assert len(load("cifar_10", "train+val")) == 5 * PER_BATCH
    assert builtin.dataset_folder("cifar10") == tmp_path / "b" / "cifar-10-batches-bin"
    assert builtin.missing_files("cifar10", tmp_path / "a") == []
    (flat / "data_batch_5.bin").unlink()
    assert builtin.missing_files("cifar10", tmp_path / "a") == ["data_batch_5.bin"]
    assert builtin.missing_files("cifar100", tmp_path / "a") == list(CIFAR100.required_files)


def test_rewritten_file_is_read_again(c10):
    root, folder, truth = c10
    assert load("cifar10", "test", data_dir=root).y.tolist() == truth["test_batch.bin"][1].tolist()
    path = folder / "test_batch.bin"
    st = path.stat()
    path.write_bytes(records(np.full(N_TEST, 9, np.uint8), truth["test_batch.bin"][0]))  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a later mtime, whatever the clock granularity
    assert load("cifar10", "test", data_dir=root).y.tolist() == [9] * N_TEST


# ------------------------------------------------------------------------------ bad input
def test_no_folder_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("AEKIT_DATA_DIR", raising=False)
    with pytest.raises(DataError) as e:
        load("cifar10", data_dir=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "cifar10") in msg and "aekit data download cifar10" in msg and "\n" not in msg
    assert "the data_dir argument" in msg


def test_missing_batch_file(c10):
    root, folder, _ = c10
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(DataError, match=r"data_batch_3\.bin not found.*aekit data download cifar10"):
        load("cifar10", "train", data_dir=root)
    assert len(load("cifar10", "test", data_dir=root)) == N_TEST  # the test part is complete


def test_partial_record(c10):
    root, folder, _ = c10
    p = folder / "data_batch_2.bin"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataError) as e:
        load("cifar10", "val", data_dir=root)
    msg = str(e.value)
    assert str(p) in msg and "not a whole number of 3073-byte" in msg and f"{PER_BATCH - 1} records" in msg


def test_empty_batch_file(c100):
    root, folder, _ = c100
    (folder / "test.bin").write_bytes(b"")
    with pytest.raises(DataError, match=r"test\.bin: empty file"):
        load("cifar100", "test", data_dir=root)


def test_label_byte_out_of_range(c10):
    root, folder, truth = c10
    images, labels = truth["data_batch_2.bin"]
    bad = labels.copy()
    bad[4] = 10
    (folder / "data_batch_2.bin").write_bytes(records(bad, images))
    with pytest.raises(DataError) as e:
        load("cifar10", "train", data_dir=root)
    msg = str(e.value)
    assert str(folder / "data_batch_2.bin") in msg and "record 4" in msg and "label byte 10" in msg
    assert "0..9" in msg


@pytest.mark.parametrize("col,value,field", [(0, 20, "coarse"), (1, 100, "fine")])
def test_cifar100_label_out_of_range(c100, col, value, field):
    root, folder, truth = c100
    images, coarse, fine = truth["test.bin"]
    lab = np.stack([coarse, fine], axis=1)
    lab[-1, col] = value
    (folder / "test.bin").write_bytes(records(lab, images))
    with pytest.raises(DataError, match=rf"test\.bin: record {N_TEST - 1} has {field} label byte {value}"):
        load("cifar100", "test", data_dir=root)


def test_metadata_problems(c10, c100):
    root, folder, _ = c10
    (folder / "batches.meta.txt").write_text("airplane\nautomobile\n")
    with pytest.raises(DataError, match=r"batches\.meta\.txt: expected 10 class names.*found 2"):
        load("cifar10", "test", data_dir=root)
    (folder / "batches.meta.txt").unlink()
    with pytest.raises(DataError, match=r"batches\.meta\.txt: file not found"):
        load("cifar10", "test", data_dir=root)
    root, folder, _ = c100
    (folder / "fine_label_names.txt").write_bytes(b"\xff\xfe" * 50)
    with pytest.raises(DataError, match=r"fine_label_names\.txt: not a text file"):
        load("cifar100", "test", data_dir=root)


# ------------------------------------------------------------------------------ download
def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def release(top: str, files: dict[str, bytes], extra: list[tuple[tarfile.TarInfo, bytes | None]] = ()) -> bytes:
    """A tar.gz laid out like the publisher's: a top folder holding the files (plus `extra` members)."""
    d = tarfile.TarInfo(top)
    d.type = tarfile.DIRTYPE
    d.mode = 0o755
    return tar_gz([(d, None)] + [(tarfile.TarInfo(f"{top}/{n}"), data) for n, data in files.items()] + list(extra))


ARCHIVE10 = "cifar-10-binary.tar.gz"
ARCHIVE100 = "cifar-100-binary.tar.gz"


def publish(monkeypatch, key: str, archive: str, data: bytes) -> None:
    """Patch the expected size and md5 of `key`'s archive to those of `data`."""
    monkeypatch.setitem(dl.FILES, key, {archive: (len(data), hashlib.md5(data).hexdigest())})


@pytest.fixture
def mirrors(tmp_path, monkeypatch):
    """good/ holds the release (its md5 patched in), bad/ the same size with one byte changed."""
    files, truth = cifar10_files(seed=5)
    data = release("cifar-10-batches-bin", files)
    publish(monkeypatch, "cifar10", ARCHIVE10, data)
    good, bad = tmp_path / "good", tmp_path / "bad"
    write(good, {ARCHIVE10: data})
    write(bad, {ARCHIVE10: data[:-1] + bytes([data[-1] ^ 1])})
    return good, bad, truth


def test_published_checksums():
    assert dl.FILES["cifar10"] == {ARCHIVE10: (170052171, "c32a1d4ab5d03f1284b67883e8d87530")}
    assert dl.FILES["cifar100"] == {ARCHIVE100: (168513733, "03b5dce01913d631647c71ecec9e9cb8")}
    assert dl.MIRRORS["cifar10"] == dl.MIRRORS["cifar100"] == ["https://www.cs.toronto.edu/~kriz/"]


def test_folder_mirror_then_cache(mirrors, tmp_path):
    good, bad, truth = mirrors
    cache = tmp_path / "cache"
    out = download("cifar10", mirrors=[str(bad), str(good)], data_dir=cache, progress=False)
    assert out == cache / "cifar10"
    assert leftovers(out) == sorted([ARCHIVE10, *CIFAR10.required_files])
    d = load("cifar10", "test", data_dir=cache)
    np.testing.assert_array_equal(as_bytes(d.X), truth["test_batch.bin"][0])
    assert d.classes == NAMES10
    unpacked = out / "cifar-10-batches-bin"
    stamp = {p.name: p.stat().st_mtime_ns for p in unpacked.iterdir()}
    # complete: nothing fetched (the bad mirror alone would fail), nothing rewritten
    download("cifar10", mirrors=[str(bad)], data_dir=cache, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in unpacked.iterdir()} == stamp
    # a file lost: unpacked again from the cached archive, no mirror needed
    (unpacked / "data_batch_4.bin").unlink()
    download("cifar10", mirrors=[str(tmp_path / "nowhere")], data_dir=cache, progress=False)
    assert leftovers(out) == sorted([ARCHIVE10, *CIFAR10.required_files])
    # the archive deleted after unpacking: still complete
    (out / ARCHIVE10).unlink()
    download("cifar10", mirrors=[str(tmp_path / "nowhere")], data_dir=cache, progress=False)
    assert leftovers(out) == sorted(CIFAR10.required_files)


def test_http_mirror_fall_through(mirrors, tmp_path):
    good, bad, truth = mirrors
    s = Server({"good": good, "bad": bad})
    try:
        out = download("cifar10", mirrors=[s.url + "/nothing/", s.url + "/bad/", s.url + "/drop/", s.url + "/good/"],
                       data_dir=tmp_path / "cache", progress=True, timeout=5)
    finally:
        s.close()
    assert leftovers(out) == sorted([ARCHIVE10, *CIFAR10.required_files])
    np.testing.assert_array_equal(load("cifar10", "train+val", data_dir=tmp_path / "cache").y[:PER_BATCH],
                                  truth["data_batch_1.bin"][1])


def test_http_cifar100(tmp_path, monkeypatch):
    files, truth = cifar100_files(seed=4)
    data = release("cifar-100-binary", files)
    publish(monkeypatch, "cifar100", ARCHIVE100, data)
    s = Server({"good": write(tmp_path / "good", {ARCHIVE100: data})})
    try:
        out = download("cifar100", mirrors=[s.url + "/good/"], data_dir=tmp_path / "cache", progress=False)
    finally:
        s.close()
    assert (out / "cifar-100-binary" / "train.bin").read_bytes() == files["train.bin"]
    d = load("cifar100", "test", data_dir=tmp_path / "cache")
    np.testing.assert_array_equal(d.y, truth["test.bin"][2])


def test_wrong_md5_and_dropped_connection_leave_nothing(mirrors, tmp_path):
    good, bad, _ = mirrors
    cache = tmp_path / "cache"
    s = Server({"good": good, "bad": bad})
    try:
        with pytest.raises(DownloadError) as e:
            download("cifar10", mirrors=[s.url + "/bad/", str(bad)], data_dir=cache, progress=False, timeout=5)
        msg = str(e.value)
        assert msg.count("md5 mismatch") == 2 and s.url + "/bad/" in msg and "\n" not in msg
        with pytest.raises(DownloadError, match="dropped"):
            download("cifar10", mirrors=[s.url + "/drop/"], data_dir=cache, progress=False, timeout=5)
    finally:
        s.close()
    assert leftovers(cache) == [] and not cache.joinpath("cifar10").exists()


def test_truncated_archive(mirrors, tmp_path, monkeypatch):
    good, _, _ = mirrors
    data = (good / ARCHIVE10).read_bytes()
    cut = write(tmp_path / "cut", {ARCHIVE10: data[: len(data) // 2]})
    cache = tmp_path / "cache"
    # against the published md5 the short file never gets in
    with pytest.raises(DownloadError, match="md5 mismatch"):
        download("cifar10", mirrors=[str(cut)], data_dir=cache, progress=False)
    # and when its md5 is the expected one, unpacking refuses it
    publish(monkeypatch, "cifar10", ARCHIVE10, data[: len(data) // 2])
    with pytest.raises(DownloadError, match=r"cifar-10-binary\.tar\.gz: truncated or corrupt archive") as e:
        download("cifar10", mirrors=[str(cut)], data_dir=cache, progress=False)
    assert "\n" not in str(e.value)
    assert leftovers(cache) == [] and not cache.joinpath("cifar10").exists()


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, 0o644
    return info


HOSTILE = {
    "dotdot": lambda tmp: (member("../evil.bin"), b"x" * 10),
    "nested-dotdot": lambda tmp: (member("cifar-10-batches-bin/../../evil.bin"), b"x" * 10),
    "absolute": lambda tmp: (member(str(tmp / "evil.bin")), b"x" * 10),
    "symlink": lambda tmp: (member("cifar-10-batches-bin/evil.bin", tarfile.SYMTYPE, "/etc/passwd"), None),
    "symlink-relative": lambda tmp: (member("cifar-10-batches-bin/evil.bin", tarfile.SYMTYPE, "../../.."), None),
    "hardlink": lambda tmp: (member("cifar-10-batches-bin/evil.bin", tarfile.LNKTYPE, "cifar-10-batches-bin/test_batch.bin"), None),
    "device": lambda tmp: (member("cifar-10-batches-bin/evil.bin", tarfile.CHRTYPE), None),
    "fifo": lambda tmp: (member("cifar-10-batches-bin/evil.bin", tarfile.FIFOTYPE), None),
}


@pytest.mark.parametrize("filters", [True, False], ids=["data-filter", "no-filter"])
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_member_refuses_the_archive(kind, filters, tmp_path, monkeypatch):
    if not filters:  # as on a Python without extraction filters: the own checks must hold alone
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    files, _ = cifar10_files(seed=6)
    info, payload = HOSTILE[kind](tmp_path)
    data = release("cifar-10-batches-bin", files, [(info, payload)])
    publish(monkeypatch, "cifar10", ARCHIVE10, data)
    src = write(tmp_path / "mirror", {ARCHIVE10: data})
    cache = tmp_path / "deep" / "er" / "cache"
    with pytest.raises(DownloadError) as e:
        download("cifar10", mirrors=[str(src)], data_dir=cache, progress=False)
    msg = str(e.value)
    assert f"refused to unpack member {info.name!r}" in msg and "\n" not in msg
    assert not [p for p in tmp_path.rglob("*") if "evil" in p.name]
    assert leftovers(cache) == [] and not (cache / "cifar10").exists()


def test_archive_without_a_needed_file(tmp_path, monkeypatch):
    files, _ = cifar10_files()
    del files["test_batch.bin"]
    data = release("cifar-10-batches-bin", files)
    publish(monkeypatch, "cifar10", ARCHIVE10, data)
    with pytest.raises(DownloadError, match=r"lacks cifar-10-batches-bin/test_batch\.bin"):
        download("cifar10", mirrors=[str(write(tmp_path / "m", {ARCHIVE10: data}))],
                 data_dir=tmp_path / "c", progress=False)
    assert leftovers(tmp_path / "c") == []


def test_extract_tar_keeps_only_the_release_folder(tmp_path):
    files, _ = cifar10_files()
    extra = [(member("elsewhere.txt"), b"not part of the release")]
    (tmp_path / "a.tar.gz").write_bytes(release("cifar-10-batches-bin", files, extra))
    dest = write(tmp_path / "dest", {})
    out = extract_tar(tmp_path / "a.tar.gz", dest, "cifar-10-batches-bin", CIFAR10.required_files)
    assert sorted(p.name for p in dest.iterdir()) == ["cifar-10-batches-bin"]
    assert (out / "data_batch_1.bin").read_bytes() == files["data_batch_1.bin"]


# ------------------------------------------------------------------------------ CLI
def test_cli_download_info_list(mirrors, tmp_path, monkeypatch, capsys):
    good, _, _ = mirrors
    cache = tmp_path / "cache"
    res = runner.invoke(app, ["data", "download", "cifar10", "--mirror", str(good), "--data-dir", str(cache),
                              "--no-progress"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["data", "info", "cifar10", "--split", "test", "--data-dir", str(cache),
                              "--grid", str(tmp_path / "g.png")], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    for word in ("cifar10", "3 × 32 × 32", "[0, 1]", "airplane", str(N_TEST)):
        assert word in res.output
    from PIL import Image

    with Image.open(tmp_path / "g.png") as im:
        assert im.mode == "RGB"
    res = runner.invoke(app, ["data", "list", "--data-dir", str(cache)], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    assert str(cache / "cifar10" / "cifar-10-batches-bin") in res.output
    assert "missing (4 of 4 files); run `aekit data download cifar100`" in res.output
    code, out, err = run_main(["data", "info", "cifar100", "--data-dir", str(cache)], monkeypatch, capsys)
    assert code == 2 and "aekit data download cifar100" in err and len(err.strip().splitlines()) == 1
