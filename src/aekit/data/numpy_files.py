"""Reading .npy and .npz files with their declared sizes checked first.

A .npy header states the array's dtype and shape; it is read before the data, and the size it
declares must fit the memory budget (`aekit.data.limits`) and the bytes the file (or the .npz
member) actually holds. .npy files are then memory-mapped read-only; .npz members, which may be
compressed, are read with numpy's own reader, which allocates exactly the declared size. Object
arrays (pickles) are never loaded.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from aekit.data.limits import check_memory, open_data_file
from aekit.errors import DataError

X_KEYS = ("X", "x", "data")
Y_KEYS = ("y", "labels")
MAX_HEADER = 10000  # numpy's own default cap on a .npy header's length


def read_npy_header(f: BinaryIO, source: str) -> tuple[np.dtype, tuple[int, ...], bool]:
    """Read a .npy header from `f` (left at the first data byte): (dtype, shape, fortran_order).

    Parameters
    ----------
    f : binary file
        Positioned at the start of the .npy data (a file or a .npz member).
    source : str
        The file (and member), for messages.

    Returns
    -------
    dtype : numpy.dtype
    shape : tuple of int
    fortran_order : bool

    Raises
    ------
    DataError
        Not a .npy header, a format version other than 1.0 or 2.0, or an object dtype.

    Examples
    --------
    >>> import io
    >>> buf = io.BytesIO()
    >>> np.save(buf, np.zeros((3, 2), np.float32))
    >>> _ = buf.seek(0)
    >>> read_npy_header(buf, "a.npy")
    (dtype('float32'), (3, 2), False)
    """
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_HEADER)
        else:
            # 3.0 exists only for structured dtypes with non-Latin-1 field names: never numeric data
            raise DataError(f"{source}: .npy format version {version[0]}.{version[1]} is not supported (1.0 and 2.0 are)")
    except DataError:
        raise
    except Exception as exc:  # numpy raises ValueError, EOFError, SyntaxError... for a bad header
        raise DataError(f"{source}: not a readable .npy array ({type(exc).__name__}: {exc})") from None
    if dtype.hasobject:
        raise DataError(f"{source}: holds Python objects (dtype {dtype}); only numeric arrays are read (no pickles)")
    return dtype, tuple(int(s) for s in shape), bool(fortran)


def _nbytes(dtype: np.dtype, shape: tuple[int, ...]) -> int:
    count = 1
    for s in shape:
        count *= s
    return count * dtype.itemsize


def _check_declared(source: str, what: str, dtype, shape, nbytes: int, held: int, memory_budget) -> None:
    """Refuse a header whose data is larger than the bytes held, or over the memory budget."""
    if nbytes > held:
        raise DataError(
            f"{source}: {what} declares shape {shape} of {dtype} ({nbytes} bytes of data) but holds "
            f"{held} bytes after the header (truncated or corrupt)"
        )
    check_memory(nbytes, source, f"{what} declares shape {shape} of {dtype}, that is", memory_budget)


def load_npy_array(path: str | os.PathLike, *, memory_budget: int | float | str | None = None) -> np.ndarray:
    """A .npy file's array, memory-mapped read-only, after checking its header.

    Parameters
    ----------
    path : str or os.PathLike
        The file; it must be a regular file.
    memory_budget : int, float, str or None, default None
        The most bytes the array may declare (see `aekit.data.limits.resolve_memory_budget`).

    Returns
    -------
    ndarray
        Read-only, backed by the file (an empty array is an ordinary one).

    Raises
    ------
    DataError
        Not a .npy file, an object array, a header that declares more than the file holds, or
        a declared size over the memory budget.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.npy"
    >>> np.save(path, np.arange(6).reshape(2, 3))
    >>> a = load_npy_array(path)
    >>> a.tolist(), a.flags.writeable
    ([[0, 1, 2], [3, 4, 5]], False)
    >>> load_npy_array(path, memory_budget=16)
    Traceback (most recent call last):
    ...
    aekit.errors.DataError: ...a.npy: the .npy header declares shape (2, 3) of int64, that is 48 bytes, over ...
    """
    path = Path(path)
    with open_data_file(path) as f:
        dtype, shape, fortran = read_npy_header(f, str(path))
        offset = f.tell()
        nbytes = _nbytes(dtype, shape)
        held = os.fstat(f.fileno()).st_size - offset
        _check_declared(str(path), "the .npy header", dtype, shape, nbytes, held, memory_budget)
        if nbytes == 0:
            return np.empty(shape, dtype=dtype, order="F" if fortran else "C")  # mmap cannot map 0 bytes
        try:
            mapped = np.memmap(f, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot map the file ({exc})") from None
    return np.asarray(mapped)


def _read_member(zf: zipfile.ZipFile, member: str, path: Path, memory_budget) -> np.ndarray:
    source = f"{path}"
    with zf.open(member) as m:
        dtype, shape, _ = read_npy_header(m, f"{path}: member {member}")
        held = zf.getinfo(member).file_size - m.tell()
    _check_declared(source, f"the .npy header of member {member}", dtype, shape, _nbytes(dtype, shape), held,
                    memory_budget)
    with zf.open(member) as m:
        return np.lib.format.read_array(m, allow_pickle=False)


def load_npz_arrays(
    path: str | os.PathLike, *, memory_budget: int | float | str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(data, labels or None) of a .npz archive, each member's header checked before it is read.

    The data is the array named X, x or data (or the only array); the labels the one named y
    or labels, if any. Other members are not read.

    Parameters
    ----------
    path : str or os.PathLike
        The archive; it must be a regular file.
    memory_budget : int, float, str or None, default None
        The most bytes one member may declare (see `aekit.data.limits.resolve_memory_budget`).

    Returns
    -------
    X : ndarray
    y : ndarray or None

    Raises
    ------
    DataError
        Not a zip archive, no arrays, no way to tell which array is the data, a corrupt member,
        an object array, or a member whose declared size is over the memory budget.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "d.npz"
    >>> np.savez(path, X=np.zeros((3, 2)), y=np.array([0, 1, 1]))
    >>> X, y = load_npz_arrays(path)
    >>> X.shape, y.tolist()
    ((3, 2), [0, 1, 1])
    """
    path = Path(path)
    with open_data_file(path) as f:
        try:
            with zipfile.ZipFile(f) as zf:
                # np.savez names each member <key>.npy; np.load lists it as <key>
                members = {n[:-4] if n.endswith(".npy") else n: n for n in zf.namelist()}
                keys = list(members)
                if not keys:
                    raise DataError(f"{path}: empty .npz archive (no arrays)")
                xkey = next((k for k in X_KEYS if k in keys), None)
                if xkey is None:
                    if len(keys) != 1:
                        raise DataError(
                            f"{path}: cannot tell which array is the data: found {keys}; "
                            f"name it one of {list(X_KEYS)} (labels: {list(Y_KEYS)})"
                        )
                    xkey = keys[0]
                ykey = next((k for k in Y_KEYS if k in keys and k != xkey), None)
                X = _read_member(zf, members[xkey], path, memory_budget)
                y = _read_member(zf, members[ykey], path, memory_budget) if ykey is not None else None
        except DataError:
            raise
        except zipfile.BadZipFile as exc:
            raise DataError(f"{path}: not a .npz archive ({exc})") from None
        except MemoryError:
            raise DataError(f"{path}: not enough memory to read it") from None
        except (OSError, EOFError, ValueError, NotImplementedError, zlib.error, KeyError) as exc:
            raise DataError(f"{path}: corrupt .npz archive ({type(exc).__name__}: {exc})") from None
    return X, y


__all__ = ["X_KEYS", "Y_KEYS", "load_npy_array", "load_npz_arrays", "read_npy_header"]
