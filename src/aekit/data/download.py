"""Downloading MNIST / Fashion-MNIST into the cache, from a list of mirrors, md5-verified.

Each file goes to a temp file in the target folder and is moved into place (os.replace) only
when its md5 matches the published one; on a mismatch or a dropped connection the temp file
is deleted and the next mirror is tried. A mirror is an http(s) URL, a file:// URL or a local
folder. urllib only.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from contextlib import nullcontext
from pathlib import Path
from typing import BinaryIO, Iterable

from aekit.data.builtin import BUILTINS, canonical_name, resolve_data_dir
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
}

MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}

CHUNK = 1 << 16
USER_AGENT = "aekit-downloader/0.1 (+https://github.com/)"


class _MirrorFailed(Exception):
    """One mirror failed for one file (the reason is the message)."""


def file_md5(path: str | os.PathLike) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_valid(path: Path, size: int, md5: str) -> bool:
    """True when `path` exists with the expected size and md5."""
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


def _copy_stream(src: BinaryIO, dst: BinaryIO, expected_len: int | None, advance) -> tuple[int, str]:
    h = hashlib.md5()
    n = 0
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            break
        dst.write(chunk)
        h.update(chunk)
        n += len(chunk)
        advance(len(chunk))
    if expected_len is not None and n != expected_len:
        raise _MirrorFailed(f"connection dropped after {n} of {expected_len} bytes")
    return n, h.hexdigest()


def _fetch_one(mirror: str, filename: str, tmp: BinaryIO, size: int, timeout: float, advance) -> tuple[int, str]:
    local = _local_source(mirror)
    if local is not None:
        src = local / filename if local.is_dir() or not local.exists() else local
        if not src.is_file():
            raise _MirrorFailed(f"{src} not found")
        try:
            with open(src, "rb") as f:
                return _copy_stream(f, tmp, None, advance)
        except OSError as exc:
            raise _MirrorFailed(f"cannot read {src}: {exc.strerror or exc}") from None
    url = mirror if mirror.endswith("/") else mirror + "/"
    url = urllib.parse.urljoin(url, filename)
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            return _copy_stream(resp, tmp, expected, advance)
    except _MirrorFailed:
        raise
    except urllib.error.HTTPError as exc:
        raise _MirrorFailed(f"HTTP {exc.code} {exc.reason} for {url}") from None
    except urllib.error.URLError as exc:
        raise _MirrorFailed(f"cannot reach {url}: {exc.reason}") from None
    except (OSError, ValueError, EOFError) as exc:  # IncompleteRead, timeouts, resets
        raise _MirrorFailed(f"connection dropped while reading {url} ({type(exc).__name__}: {exc})") from None


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
        fd, tmpname = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=target)
        ok = False
        try:
            with os.fdopen(fd, "wb") as tmp:
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
            if not ok:
                try:
                    os.unlink(tmpname)
                except FileNotFoundError:
                    pass
    reasons = "; ".join(failures) if failures else "no mirrors given"
    raise DownloadError(f"could not download {filename} from any mirror: {reasons}")


def download(
    name: str,
    *,
    mirrors: Iterable[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    timeout: float = 30,
    progress: bool = True,
) -> Path:
    """Fetch the four IDX files of "mnist" or "fashion-mnist" into `<data_dir>/<name>/`.

    Files already there with the right md5 are skipped. Returns the folder. Raises
    DownloadError listing each mirror and why it failed when a file cannot be had.
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
    created = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {target}: {exc.strerror or exc}") from None
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
    finally:
        if created:
            try:
                target.rmdir()  # only succeeds when nothing was downloaded
            except OSError:
                pass
    return target


__all__ = ["FILES", "MIRRORS", "download", "file_md5", "is_valid"]
