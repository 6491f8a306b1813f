"""Downloads from a mirror served on 127.0.0.1, from local folders, with bad md5s and drops."""
from __future__ import annotations

import hashlib

import pytest

from aekit.data import download as dl
from aekit.data.download import download
from aekit.errors import DownloadError
from support import SHARED, leftovers, server  # noqa: F401  (server: the loopback mirror fixture)

NAMES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


@pytest.fixture
def small_files(tmp_path, monkeypatch):
    """Four small files in a 'good' folder, their md5s patched into the table for 'mnist'."""
    good = tmp_path / "good"
    good.mkdir()
    table = {}
    for i, n in enumerate(NAMES):
        data = (f"file {n} ".encode() * (200 + 50 * i))
        (good / n).write_bytes(data)
        table[n] = (len(data), hashlib.md5(data).hexdigest())
    monkeypatch.setitem(dl.FILES, "mnist", table)
    bad = tmp_path / "bad"
    bad.mkdir()
    for n in NAMES:
        (bad / n).write_bytes((good / n).read_bytes()[:-1] + b"X")  # same size, wrong md5
    return good, bad





def test_http_good_mirror(server, tmp_path):
    out = download("mnist", mirrors=[server.url + "/good/"], data_dir=tmp_path / "cache", progress=False)
    assert out == tmp_path / "cache" / "mnist"
    assert leftovers(out) == sorted(NAMES)
    for n in NAMES:
        assert (out / n).read_bytes() == (tmp_path / "good" / n).read_bytes()


def test_bad_md5_falls_through_to_next_mirror(server, tmp_path):
    out = download("mnist", mirrors=[server.url + "/bad", server.url + "/good"],
                   data_dir=tmp_path / "cache", progress=True)
    assert leftovers(out) == sorted(NAMES)


def test_bad_md5_only_raises_and_leaves_nothing(server, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as e:
        download("mnist", mirrors=[server.url + "/bad/"], data_dir=cache, progress=False)
    msg = str(e.value)
    assert "md5 mismatch" in msg and server.url + "/bad/" in msg and "\n" not in msg
    assert leftovers(cache) == []


def test_dropped_connection(server, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as e:
        download("mnist", mirrors=[server.url + "/drop/"], data_dir=cache, progress=False, timeout=5)
    assert "dropped" in str(e.value) or "Incomplete" in str(e.value)
    assert leftovers(cache) == []


def test_drop_then_good_and_404(server, tmp_path):
    out = download("mnist", mirrors=[server.url + "/nothing/", server.url + "/drop/", server.url + "/good/"],
                   data_dir=tmp_path / "cache", progress=False, timeout=5)
    assert leftovers(out) == sorted(NAMES)


def test_unreachable_mirror_lists_each_reason(small_files, tmp_path):
    with pytest.raises(DownloadError) as e:
        download("mnist", mirrors=["http://127.0.0.1:9/", str(tmp_path / "nowhere")],
                 data_dir=tmp_path / "cache", progress=False, timeout=2)
    msg = str(e.value)
    assert "http://127.0.0.1:9/" in msg and "nowhere" in msg
    assert leftovers(tmp_path / "cache") == []


def test_local_folder_and_file_url_mirror(small_files, tmp_path):
    good, bad = small_files
    out = download("mnist", mirrors=[str(bad), good.as_uri()], data_dir=tmp_path / "c", progress=False)
    assert leftovers(out) == sorted(NAMES)
    # present and verified: skipped (the bad mirror alone would fail otherwise)
    stamp = {n: (out / n).stat().st_mtime_ns for n in NAMES}
    download("mnist", mirrors=[str(bad)], data_dir=tmp_path / "c", progress=False)
    assert {n: (out / n).stat().st_mtime_ns for n in NAMES} == stamp
    # a corrupted file in the cache gets replaced
    (out / NAMES[1]).write_bytes(b"garbage")
    download("mnist", mirrors=[str(good)], data_dir=tmp_path / "c", progress=False)
    assert (out / NAMES[1]).read_bytes() == (good / NAMES[1]).read_bytes()


@pytest.mark.slow  # reads the real MNIST / Fashion-MNIST files (make test-slow)
def test_real_files_from_local_mirror(tmp_path):
    src = SHARED / "mnist"
    if not (src / "train-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"real MNIST files not found in {src} (CI always has them)")
    out = download("mnist", mirrors=[str(src)], data_dir=tmp_path, progress=False)
    from aekit.data import load

    assert len(load("mnist", "test", data_dir=tmp_path)) == 10000
    assert out == tmp_path / "mnist"


def test_unknown_name():
    with pytest.raises(DownloadError, match="unknown dataset 'cifar'.*mnist, fashion-mnist"):
        download("cifar", progress=False)
    with pytest.raises(DownloadError, match="digits ships with scikit-learn"):
        download("digits", progress=False)
