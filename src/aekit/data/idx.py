"""Reading IDX files (the MNIST format), gzip-compressed or raw.

Format (big-endian): magic ``0x00 0x00 <dtype> <ndim>``, then ``ndim`` uint32 sizes, then the
values row-major with no padding. dtype codes: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32,
0x0D f32, 0x0E f64.

`read_idx` reads the header first and checks the size it declares against the memory budget
(`aekit.data.limits`) before anything is inflated; gzip data is then inflated as a stream into
an array of exactly the declared size, so a header that lies is caught as soon as the stream
runs past it. Raw single-byte files are memory-mapped.
"""
from __future__ import annotations

import gzip
import os
import zlib
from typing import BinaryIO
from pathlib import Path

import numpy as np

from aekit.data.limits import check_memory, open_data_file, resolve_memory_budget
from aekit.errors import DataError

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

GZIP_MAGIC = b"\x1f\x8b"


def looks_like_idx(head: bytes) -> bool:
    """True when the first bytes are a plausible IDX magic number.

    Parameters
    ----------
    head : bytes
        The first (at least 4) bytes of a file.

    Returns
    -------
    bool

    Examples
    --------
    >>> looks_like_idx(bytes([0, 0, 0x08, 3])), looks_like_idx(b"PK\\x03\\x04")
    (True, False)
    """
    return len(head) >= 4 and head[0] == 0 and head[1] == 0 and head[2] in IDX_DTYPES and head[3] >= 1


CHUNK = 1 << 20  # inflate and copy in 1 MiB steps: no temporary larger than this


def _read_upto(stream: BinaryIO, n: int) -> bytes:
    """Up to `n` bytes: fewer only at the end of the stream."""
    parts, got = [], 0
    while got < n:
        part = stream.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _fill(stream: BinaryIO, buf: np.ndarray) -> int:
    """Read into the uint8 array `buf` until it is full or the stream ends; the bytes read."""
    view = memoryview(buf).cast("B")
    got = 0
    while got < len(view):
        n = stream.readinto(view[got : got + CHUNK])
        if not n:
            break
        got += n
    return got


def _gzip_stream(path: Path, f: BinaryIO) -> gzip.GzipFile | None:
    """A gzip reader over `f` when it starts with the gzip magic, else None (f is rewound)."""
    magic = f.read(2)
    f.seek(0)
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=f, mode="rb")
    if path.suffix == ".gz":
        raise DataError(f"{path}: not a gzip file (the name ends in .gz but the bytes do not start with the gzip magic 1f 8b)")
    return None


def read_bytes(path: str | os.PathLike, *, memory_budget: int | float | str | None = None) -> bytes:
    """The file's bytes, gunzipped when the file is gzip (by its magic bytes or a .gz name).

    gzip data is inflated as a stream and refused as soon as it grows past the memory budget.

    Parameters
    ----------
    path : str or os.PathLike
        The file; it must be a regular file (`aekit.data.limits.open_data_file`).
    memory_budget : int, float, str or None, default None
        The most bytes the content may take (see `aekit.data.limits.resolve_memory_budget`).

    Returns
    -------
    bytes

    Raises
    ------
    DataError
        The file is missing, a folder, a FIFO or device, unreadable, corrupt gzip, named .gz but
        not gzip, or larger than the memory budget.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "x.gz"
    >>> _ = path.write_bytes(gzip.compress(b"abc"))
    >>> read_bytes(path)
    b'abc'
    >>> _ = path.write_bytes(gzip.compress(bytes(5000)))
    >>> read_bytes(path, memory_budget=4096)
    Traceback (most recent call last):
    ...
    aekit.errors.DataError: ...x.gz: the gzip data inflates to more than 4.0 KiB, over the memory budget of 4.0 KiB ...
    """
    path = Path(path)
    budget = resolve_memory_budget(memory_budget)
    with open_data_file(path) as f:
        stream = _gzip_stream(path, f)
        if stream is None:
            size = os.fstat(f.fileno()).st_size
            check_memory(size, str(path), "the file is", memory_budget)
            try:
                return f.read()
            except OSError as exc:
                raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
        limit = budget.limit
        out = bytearray()
        try:
            with stream:
                while True:
                    # never more than one byte past the budget: that byte is enough to refuse
                    part = stream.read(CHUNK if limit is None else min(CHUNK, limit + 1 - len(out)))
                    if not part:
                        break
                    out += part
                    if limit is not None and len(out) > limit:
                        check_memory(limit + 1, str(path), "the gzip data inflates to more than", memory_budget)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    return bytes(out)


def idx_header(data: bytes, source: str = "<bytes>") -> tuple[np.dtype, tuple[int, ...], int]:
    """Decode an IDX header: (big-endian dtype, shape, header length in bytes).

    Parameters
    ----------
    data : bytes
        The start of an IDX file: at least the 4 magic bytes and ``4 * ndim`` size bytes.
    source : str, default "<bytes>"
        Where the bytes came from, for messages.

    Returns
    -------
    dtype : numpy.dtype
        As stored (big-endian).
    shape : tuple of int
    header : int
        ``4 + 4 * ndim``: where the values start.

    Raises
    ------
    DataError
        Empty, a wrong magic number or dtype code, 0 dimensions, or a truncated header.

    Examples
    --------
    >>> idx_header(bytes([0, 0, 0x0B, 2]) + (60000).to_bytes(4, "big") + (784).to_bytes(4, "big"))
    (dtype('>i2'), (60000, 784), 12)
    """
    if len(data) == 0:
        raise DataError(f"{source}: empty file")
    if len(data) < 4:
        raise DataError(f"{source}: too short for an IDX file ({len(data)} bytes, the header alone needs at least 8)")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{source}: wrong IDX magic number {data[:4].hex(' ')} (an IDX file starts with 00 00 <dtype> <ndim>)"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{source}: unknown IDX data type 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise DataError(f"{source}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source}: truncated IDX header ({len(data)} bytes, {ndim} dimensions need {header})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return IDX_DTYPES[code], shape, header


def _declared(dtype: np.dtype, shape: tuple[int, ...]) -> tuple[int, int]:
    """(number of values, bytes of data) the header declares (Python ints: no overflow)."""
    count = 1
    for s in shape:
        count *= s
    return count, count * dtype.itemsize


def _size_mismatch(source: str, dtype: np.dtype, shape: tuple[int, ...], expected: int, actual: str) -> DataError:
    return DataError(
        f"{source}: IDX header declares shape {shape} of {dtype.name} ({expected} bytes of data) "
        f"but the file holds {actual} after the header (truncated or corrupt)"
    )


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes into a native-endian numpy array (read-only view when possible).

    Parameters
    ----------
    data : bytes
        A whole IDX file (header and values).
    source : str, default "<bytes>"
        Where the bytes came from, for messages.

    Returns
    -------
    ndarray
        The shape and dtype the header declares.

    Raises
    ------
    DataError
        Empty, a wrong magic number or dtype code, or a size that does not match the header.

    Examples
    --------
    >>> data = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(range(6))
    >>> parse_idx(data)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    >>> parse_idx(data[:-1])
    Traceback (most recent call last):
    ...
    aekit.errors.DataError: <bytes>: IDX header declares shape (2, 3) of uint8 (6 bytes of data) but the file holds 5 bytes ...
    """
    dtype, shape, header = idx_header(data, source)
    count, expected = _declared(dtype, shape)
    actual = len(data) - header
    if expected != actual:
        raise _size_mismatch(source, dtype, shape, expected, f"{actual} bytes")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape)
    if dtype.byteorder == ">" and dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    elif dtype.itemsize == 1:
        arr = arr.view(dtype.newbyteorder("="))
    return arr


def _decode(f: BinaryIO, stream: BinaryIO | None, path: Path, memory_budget) -> np.ndarray:
    source = str(path)
    src = stream if stream is not None else f
    head = _read_upto(src, 4)
    if len(head) == 4:
        head += _read_upto(src, 4 * head[3])
    dtype, shape, header = idx_header(head, source)
    count, nbytes = _declared(dtype, shape)
    native = dtype.newbyteorder("=")
    if stream is None:
        # raw: the file's size is known, so a size that does not match is refused before the budget
        actual = os.fstat(f.fileno()).st_size - header
        if actual != nbytes:
            raise _size_mismatch(source, dtype, shape, nbytes, f"{actual} bytes")
    check_memory(nbytes, source, f"the IDX header declares shape {shape} of {dtype.name}, that is", memory_budget)
    if stream is None and dtype.itemsize == 1 and count > 0:
        # single bytes need no byte swap, so the file itself can back the array
        return np.asarray(np.memmap(f, dtype=native, mode="r", offset=header, shape=shape))
    out = np.empty(shape, dtype=native)
    got = _fill(src, out.reshape(-1).view(np.uint8))
    if got < nbytes:
        raise _size_mismatch(source, dtype, shape, nbytes, f"{got} bytes")
    if stream is not None and src.read(1):  # reading on to the end also checks the gzip CRC
        raise _size_mismatch(source, dtype, shape, nbytes, "more bytes than that")
    if native != dtype:
        out.byteswap(inplace=True)  # the bytes were read big-endian into the native array
    return out


def read_idx(path: str | os.PathLike, *, memory_budget: int | float | str | None = None) -> np.ndarray:
    """Read one IDX file (gzip or raw), checking its declared size before decoding it.

    The header is read first; the array it declares (dims × item size) must fit the memory
    budget. gzip data is inflated as a stream straight into the array and refused when it runs
    past or short of the declared size; raw single-byte files are memory-mapped (read-only).

    Parameters
    ----------
    path : str or os.PathLike
        The file; it must be a regular file.
    memory_budget : int, float, str or None, default None
        The most bytes the array may take: bytes or a size such as "2GiB"; None reads
        $AEKIT_MEMORY_BUDGET, else half the available memory (`aekit.data.limits`).

    Returns
    -------
    ndarray
        Native-endian, the shape the header declares.

    Raises
    ------
    DataError
        Missing, not a regular file, not IDX, truncated or corrupt gzip, a size that does not
        match the header, or a declared size over the memory budget.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "labels-idx1-ubyte.gz"
    >>> _ = path.write_bytes(gzip.compress(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1])))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    >>> huge = bytes([0, 0, 0x08, 3]) + b"".join(n.to_bytes(4, "big") for n in (1 << 20, 28, 28))
    >>> _ = path.write_bytes(gzip.compress(huge))
    >>> read_idx(path, memory_budget="100MiB")
    Traceback (most recent call last):
    ...
    aekit.errors.DataError: ...: the IDX header declares shape (1048576, 28, 28) of uint8, that is 784.0 MiB, ...
    """
    path = Path(path)
    with open_data_file(path) as f:
        stream = _gzip_stream(path, f)
        try:
            return _decode(f, stream, path, memory_budget)
        except DataError:
            raise
        except (EOFError, zlib.error, OSError) as exc:
            if stream is None:
                raise DataError(f"{path}: cannot read file ({getattr(exc, 'strerror', None) or exc})") from None
            raise DataError(f"{path}: truncated or corrupt gzip data ({exc})") from None
        except MemoryError:
            raise DataError(f"{path}: not enough memory to decode it") from None
        finally:
            if stream is not None:
                stream.close()
