"""Reading IDX files (the MNIST format), gzip-compressed or raw, with numpy.frombuffer.

Format (big-endian): magic ``0x00 0x00 <dtype> <ndim>``, then ``ndim`` uint32 sizes, then the
values row-major with no padding. dtype codes: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32,
0x0D f32, 0x0E f64.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

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


def read_bytes(path: str | os.PathLike) -> bytes:
    """The file's bytes, gunzipped when the file is gzip (by its magic bytes or a .gz name).

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    bytes

    Raises
    ------
    DataError
        The file is missing, a folder, unreadable, corrupt gzip, or named .gz but not gzip.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "x.gz"
    >>> _ = path.write_bytes(gzip.compress(b"abc"))
    >>> read_bytes(path)
    b'abc'
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if raw[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            raise DataError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    if path.suffix == ".gz":
        raise DataError(f"{path}: not a gzip file (the name ends in .gz but the bytes do not start with the gzip magic 1f 8b)")
    return raw


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
    dtype = IDX_DTYPES[code]
    count = 1
    for s in shape:
        count *= s
    expected = count * dtype.itemsize
    actual = len(data) - header
    if expected != actual:
        raise DataError(
            f"{source}: IDX header declares shape {shape} of {dtype.name} ({expected} bytes of data) "
            f"but the file holds {actual} bytes after the header (truncated or corrupt)"
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape)
    if dtype.byteorder == ">" and dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    elif dtype.itemsize == 1:
        arr = arr.view(dtype.newbyteorder("="))
    return arr


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzip or raw): `parse_idx` of `read_bytes`.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "labels-idx1-ubyte.gz"
    >>> _ = path.write_bytes(gzip.compress(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1])))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    return parse_idx(read_bytes(path), str(path))
