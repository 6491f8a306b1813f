"""Hostile inputs to the data layer (issue 17, items 7-9), each reproduced on files made here:
decompression bombs and lying headers (IDX, .npz, .npy) against the memory budget; mirrors that
trickle, flood or announce too much; .part files a killed download left; the mode of downloaded
files; FIFOs, sockets and devices given as data paths. Each case ends in one clear one-line
error, leaves nothing behind and changes nothing."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aekit.data import download as dl
from aekit.data import limits, load
from aekit.data.download import download, remove_stale_parts
from aekit.data.files import load_path, read_image
from aekit.data.idx import read_bytes, read_idx
from aekit.data.numpy_files import load_npy_array, load_npz_arrays
from aekit.errors import ConfigError, DataError, DownloadError
from support import leftovers

MiB = 1 << 20
NAME = "t10k-labels-idx1-ubyte.gz"


@pytest.fixture(autouse=True)
def no_budget_from_the_environment(monkeypatch):
    monkeypatch.delenv(limits.MEMORY_BUDGET_ENV, raising=False)


def idx_header(code: int, shape) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", s) for s in shape)


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under `folder` with its size, mtime and bytes: to show nothing changed."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def peak_bytes(fn) -> int:
    """Peak traced allocation (numpy and Python) while `fn` runs and raises DataError."""
    tracemalloc.start()
    try:
        with pytest.raises(DataError):
            fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------ memory budget: IDX
def test_gzip_idx_bomb_is_refused_before_inflating(tmp_path, monkeypatch):
    # 16 MiB of zeros declared and really there, 16 KiB compressed
    path = tmp_path / "bomb-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(0x08, (4096, 64, 64)) + bytes(16 * MiB)))
    assert path.stat().st_size < 100_000
    before = snapshot(tmp_path)
    monkeypatch.setenv(limits.MEMORY_BUDGET_ENV, "1MiB")
    with pytest.raises(DataError) as e:
        load(path, "all")
    msg = one_line_error(e)
    assert str(path) in msg
    assert "declares shape (4096, 64, 64) of uint8, that is 16.0 MiB" in msg
    assert "memory budget of 1.0 MiB (AEKIT_MEMORY_BUDGET=1MiB)" in msg and "raise it" in msg
    assert peak_bytes(lambda: read_idx(path)) < MiB  # nothing was inflated
    # the argument overrides the environment, both ways
    with pytest.raises(DataError, match=r"memory budget of 2\.0 MiB \(memory_budget='2MiB'\)"):
        load(path, "all", memory_budget="2MiB")
    assert load(path, "all", memory_budget=32 * MiB).X.shape == (4096, 1, 64, 64)
    assert snapshot(tmp_path) == before


def test_idx_header_declaring_terabytes_is_refused_by_the_default_budget(tmp_path, monkeypatch):
    path = tmp_path / "huge-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(0x0E, (1 << 20, 1 << 10, 1 << 10)) + bytes(1000)))
    monkeypatch.setattr(limits, "available_memory", lambda: 64 * MiB)
    with pytest.raises(DataError) as e:
        read_idx(path)
    msg = one_line_error(e)
    assert "that is 8.0 TiB, over the memory budget of 32.0 MiB (50% of the 64.0 MiB available)" in msg
    assert "--memory-budget" in msg and "(e.g. 8192GiB)" in msg


def test_gzip_idx_with_a_lying_header_stops_where_the_header_ends(tmp_path):
    # declares 160 bytes, inflates to 64 MiB: caught after the 161st byte, not after 64 MiB
    path = tmp_path / "liar-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(0x08, (10, 4, 4)) + bytes(64 * MiB)))
    short = tmp_path / "short-idx3-ubyte.gz"
    short.write_bytes(gzip.compress(idx_header(0x0B, (10, 4, 4)) + bytes(100)))
    before = snapshot(tmp_path)
    with pytest.raises(DataError) as e:
        load(path, "all")
    msg = one_line_error(e)
    assert f"{path}: IDX header declares shape (10, 4, 4) of uint8 (160 bytes of data) but the file holds more" in msg
    assert peak_bytes(lambda: read_idx(path)) < 2 * MiB
    # and a stream that ends short of what the header declares
    with pytest.raises(DataError, match=r"shape \(10, 4, 4\) of int16 \(320 bytes of data\) but the file holds 100 bytes"):
        read_idx(short)
    assert snapshot(tmp_path) == before


def test_read_bytes_stops_inflating_at_the_budget(tmp_path):
    path = tmp_path / "blob.gz"
    path.write_bytes(gzip.compress(bytes(64 * MiB)))
    with pytest.raises(DataError) as e:
        read_bytes(path, memory_budget="1MiB")
    assert "the gzip data inflates to more than 1.0 MiB, over the memory budget of 1.0 MiB" in one_line_error(e)
    assert peak_bytes(lambda: read_bytes(path, memory_budget="1MiB")) < 8 * MiB  # of the 64 MiB


def test_raw_idx_is_memory_mapped_and_big_endian_values_are_swapped(tmp_path):
    raw = tmp_path / "x-idx3-ubyte"
    raw.write_bytes(idx_header(0x08, (3, 2, 2)) + bytes(range(12)))
    a = read_idx(raw)
    assert isinstance(a.base, np.memmap) and not a.flags.writeable and a.tolist()[2] == [[8, 9], [10, 11]]
    wide = tmp_path / "w-idx1-ubyte.gz"
    wide.write_bytes(gzip.compress(idx_header(0x0C, (3,)) + np.array([1, -2, 70000], ">i4").tobytes()))
    b = read_idx(wide)
    assert b.dtype == np.int32 and b.dtype.isnative and b.tolist() == [1, -2, 70000]


# ------------------------------------------------------------------ memory budget: .npz and .npy
def npz_with_header(path: Path, shape, payload: bytes = b"\0" * 64) -> None:
    """A .npz whose member X.npy has a valid header declaring `shape` of float64."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("X.npy", buf.getvalue() + payload)


def test_npz_bomb_is_refused_from_the_member_header(tmp_path):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, X=np.zeros((2048, 1024)), y=np.zeros(2048, np.int64))  # 16 MiB in ~20 KiB
    assert path.stat().st_size < 100_000
    before = snapshot(tmp_path)
    with pytest.raises(DataError) as e:
        load(path, "all", memory_budget="1MiB")
    msg = one_line_error(e)
    assert str(path) in msg and "member X.npy declares shape (2048, 1024) of float64, that is 16.0 MiB" in msg
    assert "over the memory budget of 1.0 MiB" in msg
    assert peak_bytes(lambda: load_npz_arrays(path, memory_budget="1MiB")) < MiB
    assert snapshot(tmp_path) == before


def test_npz_member_header_declaring_more_than_it_holds(tmp_path):
    path = tmp_path / "liar.npz"
    npz_with_header(path, (1 << 20, 1 << 20))
    with pytest.raises(DataError) as e:
        load(path, "all")
    msg = one_line_error(e)
    assert str(path) in msg and "member X.npy declares shape (1048576, 1048576) of float64" in msg
    assert "holds 64 bytes after the header (truncated or corrupt)" in msg
    assert peak_bytes(lambda: load_npz_arrays(path)) < MiB


def test_npy_is_memory_mapped_and_checked_against_the_budget(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(12, dtype=np.float32).reshape(3, 4))
    a = load_npy_array(path)
    assert isinstance(a.base, np.memmap) and not a.flags.writeable
    ds = load_path(path)  # float32 in C order: the dataset reads the mapped file, no copy
    assert not ds.X.flags.owndata and not ds.X.flags.writeable
    np.testing.assert_array_equal(ds.X, a)
    streamed = load(path, "all", memory_budget=40)  # over the budget: read from disk batch by batch
    assert getattr(streamed, "is_streamed", False)
    np.testing.assert_array_equal(streamed.X.read(np.arange(3)), a)
    huge = tmp_path / "huge.npy"
    with open(huge, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (1 << 40,)})
        f.write(bytes(80))
    with pytest.raises(DataError) as e:
        load(huge, "all")
    assert "declares shape (1099511627776,) of float64 (8796093022208 bytes of data) but holds 80 bytes" in one_line_error(e)


def test_budget_syntax_and_bad_values(monkeypatch):
    assert limits.resolve_memory_budget(1234).limit == 1234
    monkeypatch.setenv(limits.MEMORY_BUDGET_ENV, "1.5 GB")
    assert limits.resolve_memory_budget() == (1_500_000_000, "AEKIT_MEMORY_BUDGET=1.5 GB")
    monkeypatch.setenv(limits.MEMORY_BUDGET_ENV, "plenty")
    with pytest.raises(ConfigError, match="AEKIT_MEMORY_BUDGET must be a size in bytes .* got 'plenty'"):
        limits.resolve_memory_budget()
    with pytest.raises(ConfigError, match="memory_budget must be at least 1 byte"):
        limits.resolve_memory_budget(0)
    monkeypatch.delenv(limits.MEMORY_BUDGET_ENV)
    monkeypatch.setattr(limits, "available_memory", lambda: None)
    assert limits.resolve_memory_budget().limit is None  # unknown memory: no budget, no refusal


def test_available_memory_reads_the_system():
    m = limits.available_memory()
    if os.path.exists("/proc/meminfo"):
        assert m is not None and 0 < m <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def test_image_folder_and_csv_are_checked_against_the_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("AEKIT_DATA_DIR", str(tmp_path / "data"))  # where a CSV over the budget is spooled
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(20):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(folder / f"{i:02d}.png")
    streamed = load(folder, "all", memory_budget=1000)  # over the budget: decoded batch by batch
    assert getattr(streamed, "is_streamed", False) and len(streamed) == 20
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n" + "1,2\n" * 1000)
    streamed = load(csv, "all", memory_budget=1000)  # over the budget: a float32 copy on disk, read by batch
    assert getattr(streamed, "is_streamed", False) and len(streamed) == 1000
    assert streamed.X.read(np.array([0, 999])).tolist() == [[1.0, 2.0], [1.0, 2.0]]


# ------------------------------------------------------------------ FIFOs, sockets, devices
def call_unblocked(fn, fifo: Path):
    """Run fn in a thread; if it blocks on the FIFO for 5 s, open the writer end to free it and
    fail. Returns the exception fn raised."""
    box = {}

    def target():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["exc"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(5)
    if t.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        t.join(5)
        pytest.fail(f"reading {fifo} blocked")
    return box.get("exc")


@pytest.mark.parametrize("name", ["data.npy", "data.npz", "data.csv", "data-idx3-ubyte.gz", "data"])
def test_fifo_is_refused_without_blocking(tmp_path, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    exc = call_unblocked(lambda: load(fifo, "all"), fifo)
    assert isinstance(exc, DataError)
    assert str(exc) == f"{fifo}: is a FIFO (named pipe), not a regular file or folder; give a data file or a folder"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and leftovers(tmp_path) == []


def test_fifo_refused_by_each_reader(tmp_path):
    fifo = tmp_path / "p.png"
    os.mkfifo(fifo)
    for fn in (lambda: read_image(fifo), lambda: read_idx(fifo), lambda: load_npy_array(fifo),
               lambda: load_npz_arrays(fifo), lambda: read_bytes(fifo)):
        exc = call_unblocked(fn, fifo)
        assert isinstance(exc, DataError) and "is a FIFO (named pipe)" in str(exc) and str(fifo) in str(exc)


def test_fifo_in_an_image_folder_is_skipped(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / "a.png")
    os.mkfifo(folder / "b.png")
    exc = call_unblocked(lambda: load(folder, "all"), folder / "b.png")
    assert exc is None


def test_socket_and_device_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short relative name: socket paths are limited to ~100 bytes
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind("s.npy")
        with pytest.raises(DataError, match=r"s\.npy: is a socket, not a regular file or folder"):
            load(Path("s.npy"), "all")
    finally:
        s.close()
    with pytest.raises(DataError, match="^/dev/zero: is a character device, not a regular file or folder"):
        load_path("/dev/zero")
    with pytest.raises(DataError, match="no such file or folder"):
        load_path(tmp_path / "absent.npy")


# ------------------------------------------------------------------ downloads
class HostileMirror:
    """A loopback HTTP server (127.0.0.1, a free port) that misbehaves, stopped by close():
    'trickle' announces `size` bytes and sends `piece` bytes every `interval` seconds;
    'flood' announces nothing and streams zeros until the client hangs up or `cap` bytes;
    'announce' announces 200 MB. `sent` counts the bytes written."""

    def __init__(self, mode: str, size: int = 4542, piece: int = 50, interval: float = 0.04, cap: int = 256 * MiB):
        self.sent = 0
        self.stopping = threading.Event()
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # no Content-Length: the body ends when the server closes

            def do_GET(self):  # noqa: N802
                self.send_response(200)
                if mode == "trickle":
                    self.send_header("Content-Length", str(size))
                elif mode == "announce":
                    self.send_header("Content-Length", "200000000")
                self.end_headers()
                try:
                    if mode == "trickle":
                        sent = 0
                        while sent < size and not mirror.stopping.wait(interval):
                            self.wfile.write(b"x" * piece)
                            self.wfile.flush()
                            sent += piece
                            mirror.sent += piece
                    elif mode == "flood":
                        block = bytes(1 << 16)
                        while mirror.sent < cap and not mirror.stopping.is_set():
                            self.wfile.write(block)
                            mirror.sent += len(block)
                    else:
                        self.wfile.write(bytes(1024))
                except OSError:  # the client hung up: that is the point
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def mirror_factory():
    made = []

    def make(*args, **kw):
        made.append(HostileMirror(*args, **kw))
        return made[-1]

    yield make
    for m in made:
        m.close()


@pytest.fixture
def one_file(tmp_path, monkeypatch):
    """'mnist' reduced to one 4542-byte file (the size of MNIST's test labels) in a good folder."""
    good = tmp_path / "good"
    good.mkdir()
    data = bytes(range(256)) * 17 + bytes(190)
    (good / NAME).write_bytes(data)
    monkeypatch.setitem(dl.FILES, "mnist", {NAME: (len(data), hashlib.md5(data).hexdigest())})
    return good


def test_trickling_mirror_hits_the_deadline(one_file, mirror_factory, tmp_path):
    m = mirror_factory("trickle")  # 50 bytes every 0.04 s: each read returns well within the timeout
    cache = tmp_path / "cache"
    start = time.monotonic()
    with pytest.raises(DownloadError) as e:
        download("mnist", mirrors=[m.url], data_dir=cache, timeout=0.4, progress=False)
    took = time.monotonic() - start
    msg = one_line_error(e)
    deadline = dl.download_deadline(4542, 0.4)
    assert f"could not download {NAME} from any mirror: {m.url}: too slow: " in msg
    assert "of 4542 bytes in" in msg and f"past the deadline of {deadline:.1f} s" in msg
    assert deadline <= took < deadline + 1.5 and 0 < m.sent < 4542
    assert not cache.exists()  # the folder this call made is gone again


def test_flooding_mirror_is_cut_at_the_expected_size(one_file, mirror_factory, tmp_path):
    m = mirror_factory("flood")
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as e:
        download("mnist", mirrors=[m.url], data_dir=cache, timeout=2, progress=False)
    assert one_line_error(e) == f"could not download {NAME} from any mirror: {m.url}: sent more than the expected 4542 bytes"
    time.sleep(0.1)
    assert m.sent < 32 * MiB  # socket buffers, not the 256 MiB on offer
    assert not cache.exists()


def test_announcing_too_much_fails_before_reading_and_the_next_mirror_is_used(one_file, mirror_factory, tmp_path):
    m = mirror_factory("announce")
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match=f"{m.url}: announces 200000000 bytes, more than the expected 4542 bytes"):
        download("mnist", mirrors=[m.url], data_dir=cache, timeout=2, progress=False)
    out = download("mnist", mirrors=[m.url, str(one_file)], data_dir=cache, timeout=2, progress=False)
    assert leftovers(out) == [NAME]


def test_local_mirror_larger_than_expected_or_a_fifo(one_file, tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    (big / NAME).write_bytes(bytes(10 * MiB))
    with pytest.raises(DownloadError, match=f"{big}: sent more than the expected 4542 bytes"):
        download("mnist", mirrors=[str(big)], data_dir=tmp_path / "cache", progress=False)
    pipes = tmp_path / "pipes"
    pipes.mkdir()
    os.mkfifo(pipes / NAME)
    exc = call_unblocked(lambda: download("mnist", mirrors=[str(pipes)], data_dir=tmp_path / "cache", progress=False),
                         pipes / NAME)
    assert isinstance(exc, DownloadError) and f"{pipes / NAME} is not a regular file" in str(exc)
    assert not (tmp_path / "cache").exists()


def test_part_files_of_a_killed_download_are_removed(one_file, mirror_factory, tmp_path):
    m = mirror_factory("trickle", size=9912422)
    cache = tmp_path / "cache"
    folder = cache / "mnist"
    code = ("import sys; from aekit.data.download import download; "
            "download('mnist', mirrors=[sys.argv[1]], data_dir=sys.argv[2], timeout=30, progress=False)")
    child = subprocess.Popen([sys.executable, "-c", code, m.url, str(cache)])
    try:
        deadline = time.monotonic() + 20
        while not (folder.is_dir() and any(p.suffix == ".part" for p in folder.iterdir())):
            assert child.poll() is None and time.monotonic() < deadline, "the child never started downloading"
            time.sleep(0.02)
    finally:
        child.kill()  # SIGKILL: no cleanup runs
        child.wait()
    left = [p.name for p in folder.iterdir()]
    assert len(left) == 1 and left[0].startswith(".train-images-idx3-ubyte.gz.") and left[0].endswith(".part")
    # a file from an older aekit (mkstemp's name, no process) and one of a live download
    old = folder / f".{NAME}.k2j4abcd.part"
    old.write_bytes(b"half")
    live = folder / f".{NAME}.{os.getpid()}@{dl.HOST}.0123abcd.part"
    live.write_bytes(b"in progress")
    stamp = live.stat().st_mtime_ns
    out = download("mnist", mirrors=[str(one_file)], data_dir=cache, progress=False)
    assert leftovers(out) == sorted([NAME, live.name])  # the killed child's and the old one are gone
    assert live.stat().st_mtime_ns == stamp


def test_stale_part_by_age(tmp_path):
    live = tmp_path / f".{NAME}.{os.getpid()}@{dl.HOST}.0123abcd.part"
    live.write_bytes(b"x")
    assert remove_stale_parts(tmp_path, NAME) == []
    day_ago = time.time() - dl.STALE_AFTER - 60
    os.utime(live, (day_ago, day_ago))
    assert remove_stale_parts(tmp_path, NAME) == [live] and not live.exists()


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_downloaded_files_follow_the_umask(one_file, tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        out = download("mnist", mirrors=[str(one_file)], data_dir=tmp_path / "cache", progress=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((out / NAME).stat().st_mode) == mode
