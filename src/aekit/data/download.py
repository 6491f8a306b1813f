"""Downloading MNIST / Fashion-MNIST / CIFAR-10 / CIFAR-100 into the cache, from a list of
mirrors, md5-verified.

Each file goes to a temp file in the target folder and is moved into place (os.replace) only
when its md5 matches the published one; on a mismatch or a dropped connection the temp file
is deleted and the next mirror is tried. A mirror is an http(s) URL, a file:// URL or a local
folder. urllib only.

A hostile or broken mirror cannot hold a download for long nor fill the disk: each mirror has
a deadline per file (`download_deadline`: a few --timeout's plus the time the file takes at
`MIN_RATE`), and reading stops as soon as a mirror sends more than the file's published size.
Temp files are named ``.<file>.<pid>@<host>.<random>.part`` and created with the user's umask
(like any other output); those a killed download left behind (its process is gone, or the
file is a day old) are deleted when the next download of the dataset starts.

CIFAR comes as one tar.gz (the binary release). It is kept in the cache and unpacked next to it
by `extract_tar`: every member is checked first (no absolute path, no ``..``, no link, device or
fifo, nothing that resolves outside the folder; a hostile or truncated archive is refused
whole), unpacked into a temp folder with tarfile's 'data' filter, and only the release's folder
is moved into place.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
import stat
import tarfile
import tempfile
import time
import zlib
import urllib.error
import urllib.parse
import urllib.request
from contextlib import nullcontext
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO, Iterable

from aekit.data.builtin import BUILTINS, canonical_name, resolve_data_dir
from aekit.data.cifar import SPECS as CIFAR_SPECS
from aekit.data.cifar import missing_files
from aekit.errors import DownloadError

# name -> file -> (size in bytes, md5); the published checksums (see shared/data/README.md)
FILES: dict[str, dict[str, tuple[int, str]]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": (9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train-labels-idx1-ubyte.gz": (28881, "d53e105ee54ea40749a09fcbcd1e9432"),
        "t10k-images-idx3-ubyte.gz": (1648877, "9fb629c4189551a2d022fa330f9573f3"),
        "t10k-labels-idx1-ubyte.gz": (4542, "ec29112dd5afa0611ce80d1b7f02629c"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": (26421880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte.gz": (29515, "25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte.gz": (4422102, "bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte.gz": (5148, "bb300cfdad3c16e7a12a480ee83cd310"),
    },
    # the publisher's binary releases (https://www.cs.toronto.edu/~kriz/cifar.html)
    "cifar10": {"cifar-10-binary.tar.gz": (170052171, "c32a1d4ab5d03f1284b67883e8d87530")},
    "cifar100": {"cifar-100-binary.tar.gz": (168513733, "03b5dce01913d631647c71ecec9e9cb8")},
}

MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
    "cifar10": ["https://www.cs.toronto.edu/~kriz/"],
    "cifar100": ["https://www.cs.toronto.edu/~kriz/"],
}

CHUNK = 1 << 16
USER_AGENT = "aekit-downloader/0.1 (+https://github.com/)"
MIN_RATE = 32 * 1024  # bytes/s: a mirror slower than this on average is given up
DEADLINE_TIMEOUTS = 4  # the deadline's allowance for connecting and stalls, in --timeout's
STALE_AFTER = 24 * 3600  # seconds: a .part file untouched this long is stale whoever made it
HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


class _MirrorFailed(Exception):
    """One mirror failed for one file (the reason is the message)."""


def file_md5(path: str | os.PathLike) -> str:
    """The md5 of a file's bytes, as 32 hex digits (read in 1 MiB chunks).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str

    Examples
    --------
    >>> path = Path(tempfile.mkdtemp()) / "empty"
    >>> _ = path.write_bytes(b"")
    >>> file_md5(path)
    'd41d8cd98f00b204e9800998ecf8427e'
    """
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_valid(path: Path, size: int, md5: str) -> bool:
    """True when `path` exists with the expected size and md5.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    size : int
        Expected size in bytes (checked first: a cheap test before hashing).
    md5 : str
        Expected md5, 32 hex digits.

    Returns
    -------
    bool
        False too when the file is missing or unreadable.

    Examples
    --------
    >>> path = Path(tempfile.mkdtemp()) / "empty"
    >>> _ = path.write_bytes(b"")
    >>> is_valid(path, 0, "d41d8cd98f00b204e9800998ecf8427e"), is_valid(path.with_name("absent"), 0, "")
    (True, False)
    """
    try:
        return path.is_file() and path.stat().st_size == size and file_md5(path) == md5
    except OSError:
        return False


def _local_source(mirror: str) -> Path | None:
    if mirror.startswith("file://"):
        parsed = urllib.parse.urlparse(mirror)
        return Path(urllib.request.url2pathname(parsed.path))
    if "://" not in mirror:
        return Path(mirror).expanduser()
    return None


def download_deadline(size: int, timeout: float) -> float:
    """Seconds one mirror gets to deliver one file: ``DEADLINE_TIMEOUTS * timeout + size / MIN_RATE``.

    The deadline is checked between reads (one read waits at most `timeout`), so a mirror that
    trickles a few bytes at a time fails instead of holding the download forever.

    Parameters
    ----------
    size : int
        The file's published size in bytes.
    timeout : float
        Seconds to wait on a silent connection (``--timeout``).

    Returns
    -------
    float

    Examples
    --------
    >>> download_deadline(4542, 30)           # MNIST's test labels: two minutes
    120.138...
    >>> round(download_deadline(170052171, 30) / 60)   # CIFAR-10's archive: 88 minutes
    88
    """
    return DEADLINE_TIMEOUTS * float(timeout) + size / MIN_RATE


_PART = re.compile(r"^\..+\.(\d+)@([A-Za-z0-9-]*)\.[0-9a-f]+\.part$")


def _part_path(target: Path, filename: str) -> Path:
    return target / f".{filename}.{os.getpid()}@{HOST}.{secrets.token_hex(4)}.part"


def _running(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill there would end the process: keep the file, the age rule applies
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's live process
        return True
    return True


def remove_stale_parts(target: str | os.PathLike, filename: str | None = None) -> list[Path]:
    """Delete the temp files that killed downloads left in `target`.

    A ``.<file>.*.part`` file is stale when the process that made it (named in the file's name)
    no longer runs on this host, when it is older than `STALE_AFTER`, or when its name carries
    no process (an older aekit made it with mkstemp). Another live download's file is kept.

    Parameters
    ----------
    target : str or os.PathLike
        The dataset's folder.
    filename : str or None, default None
        Only the temp files of this file; None: of every file.

    Returns
    -------
    list of Path
        The files deleted.

    Examples
    --------
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / ".t10k-labels-idx1-ubyte.gz.x1y2z3w4.part").write_bytes(b"half")
    >>> [p.name for p in remove_stale_parts(folder, "t10k-labels-idx1-ubyte.gz")]
    ['.t10k-labels-idx1-ubyte.gz.x1y2z3w4.part']
    """
    target, removed = Path(target), []
    prefix = f".{filename}." if filename is not None else "."
    try:
        names = [n for n in os.listdir(target) if n.startswith(prefix) and n.endswith(".part")]
    except OSError:
        return removed
    now = time.time()
    for name in names:
        path = target / name
        try:
            info = path.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue  # only the plain files a download writes
        owner = _PART.match(name)
        alive = owner is not None and (owner.group(2) != HOST or _running(int(owner.group(1))))
        if alive and now - info.st_mtime < STALE_AFTER:
            continue
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass  # not ours to delete (permissions): the download itself does not need it gone
    return removed


def _copy_stream(src: BinaryIO, dst: BinaryIO, size: int, expected_len: int | None, start: float,
                 deadline: float, advance) -> tuple[int, str]:
    """Copy src to dst; stop past `size` bytes or `deadline` seconds after `start` (monotonic)."""
    h = hashlib.md5()
    n = 0
    read = getattr(src, "read1", src.read)  # read1: one recv at a time, so the deadline is seen
    while True:
        elapsed = time.monotonic() - start
        if elapsed > deadline:
            raise _MirrorFailed(
                f"too slow: {n} of {size} bytes in {elapsed:.1f} s, past the deadline of {deadline:.1f} s "
                f"({DEADLINE_TIMEOUTS} × the timeout + 1 s per {MIN_RATE // 1024} KiB)"
            )
        chunk = read(CHUNK)
        if not chunk:
            break
        if n + len(chunk) > size:
            raise _MirrorFailed(f"sent more than the expected {size} bytes")
        dst.write(chunk)
        h.update(chunk)
        n += len(chunk)
        advance(len(chunk))
    if expected_len is not None and n != expected_len:
        raise _MirrorFailed(f"connection dropped after {n} of {expected_len} bytes")
    return n, h.hexdigest()


def _fetch_one(mirror: str, filename: str, tmp: BinaryIO, size: int, timeout: float, advance) -> tuple[int, str]:
    start, deadline = time.monotonic(), download_deadline(size, timeout)
    local = _local_source(mirror)
    if local is not None:
        src = local / filename if local.is_dir() or not local.exists() else local
        if not src.exists():
            raise _MirrorFailed(f"{src} not found")
        if not src.is_file():  # a FIFO or device would block or never end
            raise _MirrorFailed(f"{src} is not a regular file")
        try:
            with open(src, "rb") as f:
                return _copy_stream(f, tmp, size, None, start, deadline, advance)
        except OSError as exc:
            raise _MirrorFailed(f"cannot read {src}: {exc.strerror or exc}") from None
    url = mirror if mirror.endswith("/") else mirror + "/"
    url = urllib.parse.urljoin(url, filename)
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            if expected is not None and expected > size:
                raise _MirrorFailed(f"announces {expected} bytes, more than the expected {size} bytes")
            return _copy_stream(resp, tmp, size, expected, start, deadline, advance)
    except _MirrorFailed:
        raise
    except urllib.error.HTTPError as exc:
        raise _MirrorFailed(f"HTTP {exc.code} {exc.reason} for {url}") from None
    except urllib.error.URLError as exc:
        raise _MirrorFailed(f"cannot reach {url}: {exc.reason}") from None
    except (OSError, ValueError, EOFError) as exc:  # IncompleteRead, timeouts, resets
        raise _MirrorFailed(f"connection dropped while reading {url} ({type(exc).__name__}: {exc})") from None


def _new_part(target: Path, filename: str) -> tuple[Path, BinaryIO]:
    """A new temp file for `filename`, mode 0666 less the umask (mkstemp's 0600 would stick)."""
    while True:
        path = _part_path(target, filename)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        return path, os.fdopen(fd, "wb")


def _download_file(
    filename: str, size: int, md5: str, target: Path, mirrors: list[str], timeout: float, progress
) -> None:
    failures: list[str] = []
    task = None
    if progress is not None:
        task = progress.add_task(filename, total=size)

    def advance(n: int) -> None:
        if task is not None:
            progress.advance(task, n)

    for mirror in mirrors:
        if task is not None:
            progress.reset(task, total=size)
        tmpname = None
        ok = False
        try:
            tmpname, tmp = _new_part(target, filename)
            with tmp:
                n, digest = _fetch_one(mirror, filename, tmp, size, timeout, advance)
            if digest != md5:
                raise _MirrorFailed(f"md5 mismatch: got {digest} ({n} bytes), expected {md5} ({size} bytes)")
            os.replace(tmpname, target / filename)
            ok = True
            return
        except _MirrorFailed as exc:
            failures.append(f"{mirror}: {exc}")
        except OSError as exc:
            failures.append(f"{mirror}: cannot write into {target}: {exc.strerror or exc}")
        finally:
            if not ok and tmpname is not None:
                try:
                    os.unlink(tmpname)
                except FileNotFoundError:
                    pass
    reasons = "; ".join(failures) if failures else "no mirrors given"
    raise DownloadError(f"could not download {filename} from any mirror: {reasons}")


# tarfile.FilterError exists where the extraction filters do (Python >= 3.11.4)
FILTER_ERRORS: tuple[type[Exception], ...] = (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()


def _member_problem(member: tarfile.TarInfo, dest: Path) -> str | None:
    """Why `member` may not be unpacked into `dest`, or None when it is a plain file or folder
    with a relative path that stays inside `dest`."""
    name = member.name
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        return "an absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "a path that climbs out with '..'"
    if member.issym() or member.islnk():
        return f"a {'symbolic' if member.issym() else 'hard'} link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "a device file"
    if member.isfifo():
        return "a fifo"
    if not (member.isreg() or member.isdir()):
        return f"an unsupported member type {member.type!r}"
    root = os.path.realpath(dest)
    if os.path.commonpath([root, os.path.realpath(os.path.join(root, name))]) != root:
        return "a path that resolves outside the folder"
    return None


def extract_tar(archive: str | os.PathLike, dest: str | os.PathLike, folder: str, required: Iterable[str]) -> Path:
    """Unpack `folder` of a (gzip'd) tar archive into `dest`, safely and all or nothing.

    Every member is checked before anything is written: an absolute path, a ``..`` component, a
    symbolic or hard link, a device file or fifo, or a path that resolves outside `dest` refuses
    the whole archive. The members are unpacked into a temp folder inside `dest` (with tarfile's
    'data' extraction filter where the Python has it), `folder` must hold every file in
    `required`, and only then it replaces ``dest/folder``.

    Parameters
    ----------
    archive : str or PathLike
        The tar file (plain, gzip, bz2 or xz).
    dest : str or PathLike
        The folder to unpack into; it must exist.
    folder : str
        The top folder of the archive to keep (for CIFAR-10: "cifar-10-batches-bin").
    required : iterable of str
        Files that must be in `folder` once unpacked.

    Returns
    -------
    Path
        ``dest/folder``.

    Raises
    ------
    DownloadError
        The archive is truncated or corrupt, holds a member that is not safe, or lacks a required
        file; nothing is left behind in `dest`.

    Examples
    --------
    >>> import io, tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> with tarfile.open(tmp / "a.tar.gz", "w:gz") as tf:
    ...     info = tarfile.TarInfo("top/x.bin"); info.size = 3
    ...     tf.addfile(info, io.BytesIO(b"abc"))
    >>> extract_tar(tmp / "a.tar.gz", tmp, "top", ["x.bin"]).joinpath("x.bin").read_bytes()
    b'abc'
    """
    archive, dest = Path(archive), Path(dest)
    required = list(required)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        try:
            with tarfile.open(archive, "r:*") as tf:
                members = tf.getmembers()  # reads the whole archive: truncation shows up here
                for m in members:
                    problem = _member_problem(m, tmp)
                    if problem is not None:
                        raise DownloadError(f"{archive}: refused to unpack member {m.name!r}: it is {problem}")
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(tmp, members=members, filter="data")
                else:  # Python < 3.11.4: the member checks above are the only guard
                    tf.extractall(tmp, members=members)
        except FILTER_ERRORS as exc:  # the 'data' filter caught what the checks above let through
            raise DownloadError(f"{archive}: refused to unpack: {exc}") from None
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise DownloadError(f"{archive}: truncated or corrupt archive ({type(exc).__name__}: {exc})") from None
        except OSError as exc:
            raise DownloadError(f"cannot unpack {archive} into {dest}: {exc.strerror or exc}") from None
        top = tmp / folder
        lacking = [f for f in required if not (top / f).is_file()]
        if lacking:
            raise DownloadError(f"{archive}: the archive lacks {', '.join(folder + '/' + f for f in lacking)}")
        final = dest / folder
        if final.exists() or final.is_symlink():
            # move the old copy aside first so the swap is one rename; it is deleted below
            old = Path(tempfile.mkdtemp(prefix=".old-", dir=tmp))
            os.replace(final, old / folder)
        os.replace(top, final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _unpack(key: str, target: Path, archive: str) -> None:
    spec = CIFAR_SPECS[key]
    path = target / archive
    try:
        extract_tar(path, target, spec.folder, spec.required_files)
    except DownloadError:
        # it matched the md5 yet cannot be unpacked: drop it so the next try downloads afresh
        path.unlink(missing_ok=True)
        raise


def download(
    name: str,
    *,
    mirrors: Iterable[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    timeout: float = 30,
    progress: bool = True,
) -> Path:
    """Fetch a dataset's files into `<data_dir>/<name>/`, md5-verified.

    "mnist" and "fashion-mnist": the four IDX files; files already there with the right md5 are
    skipped. "cifar10" and "cifar100": the binary release's tar.gz, kept in the folder and
    unpacked next to it (`<name>/cifar-10-batches-bin/`, `<name>/cifar-100-binary/`) with
    `extract_tar`; nothing is fetched when the unpacked files are all there, and a cached archive
    with the right md5 is unpacked again without fetching when some are missing (the archive may
    be deleted once unpacked).

    Parameters
    ----------
    name : str
        "mnist", "fashion-mnist", "cifar10" or "cifar100" (or an alias such as "cifar-10").
    mirrors : iterable of str, optional
        URLs, file:// URLs or local folders tried in order; default `MIRRORS[name]`.
    data_dir : str or PathLike, optional
        The data folder (default: $AEKIT_DATA_DIR, else $XDG_CACHE_HOME/aekit, else ~/.cache/aekit).
    timeout : float, default 30
        Seconds to wait on a silent connection; each mirror also has a deadline per file of
        `download_deadline` (4 × timeout + 1 s per 32 KiB of the file).
    progress : bool, default True
        Show a progress bar on stderr.

    Returns
    -------
    Path
        `<data_dir>/<name>/`.

    Raises
    ------
    DownloadError
        A file cannot be had from any mirror (each mirror and why it failed are listed: for
        example too slow, more bytes than the file's size, an md5 mismatch), or an archive is
        truncated, corrupt or holds an unsafe member. Nothing is left behind: no temp file, and
        the dataset's folder is removed again when this call created it and nothing arrived.

    Examples
    --------
    >>> download("digits", data_dir=tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    aekit.errors.DownloadError: digits ships with scikit-learn; there is nothing to download
    """
    key = canonical_name(str(name))
    if key not in FILES:
        if key is not None:
            raise DownloadError(f"{key} ships with scikit-learn; there is nothing to download")
        raise DownloadError(
            f"unknown dataset {name!r}; downloadable: {', '.join(FILES)} (built in: {', '.join(BUILTINS)})"
        )
    mirror_list = [str(m) for m in (mirrors if mirrors else MIRRORS[key])]
    if not mirror_list:
        raise DownloadError(f"{key}: no mirrors given")
    target = resolve_data_dir(data_dir) / key
    created = []  # the folders this call makes, deepest first: removed again if nothing arrives
    folder = target
    while not folder.exists() and folder != folder.parent:
        created.append(folder)
        folder = folder.parent
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {target}: {exc.strerror or exc}") from None
    remove_stale_parts(target)
    unpacked = target / CIFAR_SPECS[key].folder if key in CIFAR_SPECS else None
    if unpacked is not None and not missing_files(unpacked, CIFAR_SPECS[key]):
        todo = []  # unpacked already: nothing to fetch or unpack
    else:
        todo = [(f, s, m) for f, (s, m) in FILES[key].items() if not is_valid(target / f, s, m)]
    bar = None
    if progress and todo:
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                   TimeRemainingColumn, TransferSpeedColumn)

        bar = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=Console(stderr=True), transient=False,
        )
    try:
        with bar if bar is not None else nullcontext():
            for filename, size, md5 in todo:
                _download_file(filename, size, md5, target, mirror_list, timeout, bar)
        if unpacked is not None and missing_files(unpacked, CIFAR_SPECS[key]):
            _unpack(key, target, next(iter(FILES[key])))
    finally:
        for folder in created:
            try:
                folder.rmdir()  # only succeeds when nothing was downloaded
            except OSError:
                break
    return target


__all__ = [
    "FILES", "MIRRORS", "download", "download_deadline", "extract_tar", "file_md5", "is_valid", "remove_stale_parts",
]
