"""Guards for reading data a user hands in: the memory budget and the kind of path.

The memory budget caps what one decoded array may take before it is decoded: the IDX header's
dimensions, a .npy header's shape (also inside a .npz) or the first image of a folder declare
the size, and a size over the budget is refused with one `DataError` instead of a
multi-gigabyte inflation. The budget is, in order of precedence:

1. the ``memory_budget`` argument of the loader (bytes, or a string such as ``"2GiB"``);
2. the environment variable ``AEKIT_MEMORY_BUDGET`` (same syntax);
3. `DEFAULT_MEMORY_FRACTION` (half) of the memory available to this process: the least of
   /proc/meminfo's MemAvailable (or ``os.sysconf``'s available pages), the cgroup's memory
   limit less its usage, and the address-space limit (``ulimit -v``) less the process's
   current size. When none of these can be read, there is no budget.

Data paths must be regular files or folders: a FIFO would block the reader forever, a device
could stream without end; `check_data_path` refuses them (by ``os.stat``, before opening) and
`open_data_file` opens without blocking and checks again on the open descriptor.
"""
from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path
from typing import BinaryIO, NamedTuple

from aekit.errors import ConfigError, DataError

MEMORY_BUDGET_ENV = "AEKIT_MEMORY_BUDGET"
DEFAULT_MEMORY_FRACTION = 0.5

# a bare letter (K, M, G, T) and the binary suffixes (KiB...) count in 1024s, like `ls -h`
# and `docker --memory`; KB, MB, GB, TB count in 1000s
_UNITS = {
    "": 1, "b": 1,
    "k": 1 << 10, "kib": 1 << 10, "kb": 10**3,
    "m": 1 << 20, "mib": 1 << 20, "mb": 10**6,
    "g": 1 << 30, "gib": 1 << 30, "gb": 10**9,
    "t": 1 << 40, "tib": 1 << 40, "tb": 10**12,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][0-9]+)?)\s*([A-Za-z]*)\s*$")
_scoped: list[str] = []  # the budgets memory_budget_scope has set, innermost last
_NO_LIMIT = 1 << 60  # cgroup v1 and rlimits report "unlimited" as a huge number


class MemoryBudget(NamedTuple):
    """The most bytes one decoded array may take, and where that number comes from.

    Attributes
    ----------
    limit : int or None
        Bytes; None when no budget is set and the available memory cannot be read.
    origin : str
        For messages: "memory_budget=...", "AEKIT_MEMORY_BUDGET=..." or "50% of the ... available".
    """

    limit: int | None
    origin: str


def parse_size(value: int | float | str, what: str = "memory_budget") -> int:
    """A size in bytes from a number or a string with a unit.

    Parameters
    ----------
    value : int, float or str
        Bytes as a number, or a string such as ``"1500000"``, ``"512MiB"``, ``"2G"`` or
        ``"1.5 GB"``. K, M, G, T and KiB, MiB, GiB, TiB count in 1024s; KB, MB, GB, TB in 1000s.
    what : str, default "memory_budget"
        The option's name, for the message.

    Returns
    -------
    int
        Bytes, at least 1.

    Raises
    ------
    ConfigError
        Not a positive size with a known unit.

    Examples
    --------
    >>> parse_size("512MiB"), parse_size("2G"), parse_size("1.5 GB"), parse_size(4096)
    (536870912, 2147483648, 1500000000, 4096)
    >>> parse_size("lots")
    Traceback (most recent call last):
    ...
    aekit.errors.ConfigError: memory_budget must be a size in bytes such as 4000000000, 512MiB or 2GiB, got 'lots'
    """
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a size in bytes, got {value!r}")
    if isinstance(value, (int, float)):
        number, scale = float(value), 1
    else:
        m = _SIZE.match(str(value))
        unit = m.group(2).lower() if m else None
        if m is None or unit not in _UNITS:
            raise ConfigError(
                f"{what} must be a size in bytes such as 4000000000, 512MiB or 2GiB, got {value!r}"
            )
        number, scale = float(m.group(1)), _UNITS[unit]
    size = number * scale
    if not 1 <= size < float("inf"):  # also refuses NaN
        raise ConfigError(f"{what} must be at least 1 byte, got {value!r}")
    return int(size)


def format_size(n: int) -> str:
    """Bytes as a short human-readable string (binary units).

    Examples
    --------
    >>> format_size(512), format_size(1536), format_size(5 * 2**30)
    ('512 bytes', '1.5 KiB', '5.0 GiB')
    """
    if n < 1024:
        return f"{n} bytes"
    size = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024.0
        if size < 1024.0 or unit == "TiB":
            break
    return f"{size:.1f} {unit}"


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # cgroup v2 writes "max" for no limit


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _cgroup_headroom() -> int | None:
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit = _read_int(limit_file)
        if limit is not None and limit < _NO_LIMIT:
            return max(0, limit - (_read_int(usage_file) or 0))
    return None


def _address_space_headroom() -> int | None:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY or soft < 0 or soft >= _NO_LIMIT:
        return None
    used = 0
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - used)


def available_memory() -> int | None:
    """Bytes this process can still allocate, as far as the system tells; None when unknown.

    The least of: MemAvailable from /proc/meminfo (else ``os.sysconf`` available pages), the
    cgroup memory limit less its usage (v2 or v1), and the address-space limit (``ulimit -v``)
    less the process's current size.

    Returns
    -------
    int or None

    Examples
    --------
    >>> m = available_memory()
    >>> m is None or m >= 0
    True
    """
    known = [v for v in (_meminfo_available(), _cgroup_headroom(), _address_space_headroom()) if v is not None]
    return min(known) if known else None


def resolve_memory_budget(memory_budget: int | float | str | None = None) -> MemoryBudget:
    """The memory budget for one decoded array (see the module's text for the precedence).

    Parameters
    ----------
    memory_budget : int, float, str or None, default None
        An explicit budget (bytes, or a size with a unit); None reads ``AEKIT_MEMORY_BUDGET``,
        then falls back to `DEFAULT_MEMORY_FRACTION` of `available_memory`.

    Returns
    -------
    MemoryBudget

    Raises
    ------
    ConfigError
        The argument or the environment variable is not a positive size.

    Examples
    --------
    >>> resolve_memory_budget("1GiB")
    MemoryBudget(limit=1073741824, origin="memory_budget='1GiB'")
    """
    if memory_budget is not None:
        return MemoryBudget(parse_size(memory_budget), f"memory_budget={memory_budget!r}")
    env = os.environ.get(MEMORY_BUDGET_ENV, "").strip()
    if env:
        origin = f"--memory-budget {env}" if _scoped and _scoped[-1] == env else f"{MEMORY_BUDGET_ENV}={env}"
        return MemoryBudget(parse_size(env, MEMORY_BUDGET_ENV), origin)
    avail = available_memory()
    if avail is None:
        return MemoryBudget(None, "no budget: the available memory is unknown")
    return MemoryBudget(
        int(avail * DEFAULT_MEMORY_FRACTION), f"{DEFAULT_MEMORY_FRACTION:.0%} of the {format_size(avail)} available"
    )


def check_memory(nbytes: int, source: str, what: str, memory_budget: int | float | str | None = None) -> None:
    """Refuse to decode `nbytes` when that is over the memory budget.

    Parameters
    ----------
    nbytes : int
        The size the file declares for its decoded data.
    source : str
        The file, for the message.
    what : str
        The words before the size, e.g. "the IDX header declares shape (60000, 28, 28) of
        uint8, that is".
    memory_budget : int, float, str or None, default None
        See `resolve_memory_budget`.

    Raises
    ------
    DataError
        `nbytes` is over the budget; the message gives both sizes and how to raise the budget.

    Examples
    --------
    >>> check_memory(100, "a.npy", "the header declares shape (100,) of uint8, that is", memory_budget=1000)
    >>> check_memory(2**31, "a.npy", "the header declares shape (2147483648,) of uint8, that is",
    ...              memory_budget="1GiB")
    Traceback (most recent call last):
    ...
    aekit.errors.DataError: a.npy: the header declares shape (2147483648,) of uint8, that is 2.0 GiB, over the memory budget of 1.0 GiB (memory_budget='1GiB'); raise it with --memory-budget, the memory_budget argument or AEKIT_MEMORY_BUDGET (e.g. 2GiB)
    """
    budget = resolve_memory_budget(memory_budget)
    if budget.limit is None or nbytes <= budget.limit:
        return
    suggestion = f"{-(-int(nbytes) // 2**30)}GiB"  # the declared size rounded up to whole GiB
    raise DataError(
        f"{source}: {what} {format_size(nbytes)}, over the memory budget of {format_size(budget.limit)} "
        f"({budget.origin}); raise it with --memory-budget, the memory_budget argument or {MEMORY_BUDGET_ENV} "
        f"(e.g. {suggestion})"
    )


def fits_memory(nbytes: int, memory_budget: int | float | str | None = None) -> bool:
    """Whether `nbytes` of decoded data fit the memory budget (always, when there is none).

    Examples
    --------
    >>> fits_memory(100, memory_budget=1000), fits_memory(2000, memory_budget=1000)
    (True, False)
    """
    budget = resolve_memory_budget(memory_budget)
    return budget.limit is None or nbytes <= budget.limit


def check_batch_fits(batch_rows: int, row_bytes: int, memory_budget: int | float | str | None = None) -> None:
    """Refuse a memory budget smaller than one training batch (streamed data is read a batch at a time).

    Parameters
    ----------
    batch_rows : int
        Rows per batch.
    row_bytes : int
        Bytes of one row as the trainer holds it (float32: 4 × values per sample).
    memory_budget : int, float, str or None, default None
        See `resolve_memory_budget`.

    Raises
    ------
    ConfigError
        The budget is smaller than one batch; the message gives both sizes and what to change.

    Examples
    --------
    >>> check_batch_fits(128, 784 * 4, memory_budget="1MiB")
    >>> check_batch_fits(128, 784 * 4, memory_budget="100KiB")
    Traceback (most recent call last):
    ...
    aekit.errors.ConfigError: the memory budget of 100.0 KiB (memory_budget='100KiB') is smaller than one batch of 128 rows × 3136 bytes = 392.0 KiB; raise --memory-budget or lower --batch-size
    """
    budget = resolve_memory_budget(memory_budget)
    need = int(batch_rows) * int(row_bytes)
    if budget.limit is not None and need > budget.limit:
        raise ConfigError(
            f"the memory budget of {format_size(budget.limit)} ({budget.origin}) is smaller than one batch of "
            f"{int(batch_rows)} rows × {int(row_bytes)} bytes = {format_size(need)}; raise --memory-budget or "
            "lower --batch-size"
        )


@contextlib.contextmanager
def memory_budget_scope(memory_budget: int | float | str | None):
    """Within the block, `memory_budget` (checked) is the budget of every loader that is not given
    one (through ``AEKIT_MEMORY_BUDGET``); None leaves the budget as it is. The CLI's
    ``--memory-budget`` uses it, so the whole command (the data and the training batches) sees it.

    Examples
    --------
    >>> with memory_budget_scope("2GiB"):
    ...     resolve_memory_budget().limit
    2147483648
    """
    if memory_budget is None:
        yield
        return
    parse_size(memory_budget, "--memory-budget")
    previous = os.environ.get(MEMORY_BUDGET_ENV)
    os.environ[MEMORY_BUDGET_ENV] = str(memory_budget).strip()
    _scoped.append(str(memory_budget).strip())  # so that messages name the flag, not the variable
    try:
        yield
    finally:
        _scoped.pop()
        if previous is None:
            os.environ.pop(MEMORY_BUDGET_ENV, None)
        else:
            os.environ[MEMORY_BUDGET_ENV] = previous


def _kind(mode: int) -> str | None:
    """What a non-regular, non-folder file is, or None for a regular file or a folder."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def check_data_path(path: str | os.PathLike) -> Path:
    """Refuse a data path that is not a regular file or a folder, before anything opens it.

    Parameters
    ----------
    path : str or os.PathLike
        A data file or folder (symbolic links are followed).

    Returns
    -------
    Path
        `path`, as a Path.

    Raises
    ------
    DataError
        The path does not exist, cannot be examined, or is a FIFO, socket or device.

    Examples
    --------
    >>> check_data_path("/dev/null")
    Traceback (most recent call last):
    ...
    aekit.errors.DataError: /dev/null: is a character device, not a regular file or folder; give a data file or a folder
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file or folder") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    kind = _kind(st.st_mode)
    if kind is not None:
        raise DataError(f"{path}: is {kind}, not a regular file or folder; give a data file or a folder")
    return path


def open_data_file(path: str | os.PathLike) -> BinaryIO:
    """Open a regular file for reading in binary mode; anything else is refused without blocking.

    The path is checked with `check_data_path` first, then opened non-blocking (a FIFO swapped
    in meanwhile cannot hang the open) and checked again on the open descriptor.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    BinaryIO
        A buffered binary reader; the caller closes it.

    Raises
    ------
    DataError
        Missing, a folder, unreadable, or not a regular file.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.bin"
    >>> _ = p.write_bytes(b"abc")
    >>> with open_data_file(p) as f:
    ...     f.read()
    b'abc'
    """
    path = check_data_path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise DataError(f"{path}: is a folder, expected a file")
        kind = _kind(mode)
        if kind is not None:
            raise DataError(f"{path}: is {kind}, not a regular file; give a data file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


__all__ = [
    "DEFAULT_MEMORY_FRACTION", "MEMORY_BUDGET_ENV", "MemoryBudget", "available_memory", "check_batch_fits",
    "check_data_path", "check_memory", "fits_memory", "memory_budget_scope", "format_size", "open_data_file", "parse_size", "resolve_memory_budget",
]
