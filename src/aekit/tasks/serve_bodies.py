"""Request and response bodies of the scoring service (`aekit.tasks.serve`): the limits of one
request, JSON and .npy bodies parsed and checked, results as JSON values. No web framework here:
these are plain functions, raising `RequestError` (an HTTP status and one message)."""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

import numpy as np

from aekit.specs import finite_number, positive_int

NPY = "application/x-npy"
DEFAULT_MAX_BATCH = 4096
DEFAULT_MAX_BODY_MB = 64.0


class RequestError(Exception):
    """A request the service refuses: the HTTP status and one message for the client.

    Examples
    --------
    >>> e = RequestError(422, "instances must be rows of 4 values")
    >>> e.status, e.body()
    (422, {'error': 'instances must be rows of 4 values', 'status': 422})
    """

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = int(status)
        self.message = message

    def body(self) -> dict:
        return {"error": self.message, "status": self.status}


@dataclass(frozen=True)
class Limits:
    """What one request may hold: rows (`max_batch`) and body bytes (`max_body_bytes`)."""

    max_batch: int = DEFAULT_MAX_BATCH
    max_body_bytes: int = int(DEFAULT_MAX_BODY_MB * 2**20)

    @classmethod
    def of(cls, max_batch=DEFAULT_MAX_BATCH, max_body_mb=DEFAULT_MAX_BODY_MB) -> "Limits":
        """Checked limits (ConfigError naming the option).

        Examples
        --------
        >>> Limits.of(100, 1).max_body_bytes
        1048576
        """
        batch = positive_int(max_batch, "--max-batch", "rows per request")
        mb = finite_number(max_body_mb, "--max-body-mb", 0.0, low_open=True)
        return cls(batch, max(1, int(mb * 2**20)))


# -- request bodies ---------------------------------------------------------------------------------
def check_content_length(header: str | None, limits: Limits) -> None:
    """413 for a declared body over the limit, before any of it is read; 400 for a malformed header.

    Examples
    --------
    >>> check_content_length("10", Limits(10, 100))
    >>> check_content_length("101", Limits(10, 100))
    Traceback (most recent call last):
    ...
    aekit.tasks.serve_bodies.RequestError: the body has 101 bytes, above the limit of 100 bytes (--max-body-mb)
    """
    if header is None:
        return
    try:
        n = int(header)
    except ValueError:
        raise RequestError(400, f"Content-Length {header!r} is not a number") from None
    if n > limits.max_body_bytes:
        raise RequestError(413, f"the body has {n} bytes, above the limit of {limits.max_body_bytes} bytes "
                                "(--max-body-mb)")


def parse_json(body: bytes) -> dict:
    """The JSON object of a body (400 when it is not JSON or not an object).

    Examples
    --------
    >>> parse_json(b'{"instances": [[1, 2]]}')
    {'instances': [[1, 2]]}
    >>> parse_json(b'{"instances": [[1, 2]')
    Traceback (most recent call last):
    ...
    aekit.tasks.serve_bodies.RequestError: malformed JSON: Expecting ',' delimiter at line 1, column 22
    """
    if not body:
        return {}
    obj = _orjson_loads(body)
    try:
        obj = json.loads(body) if obj is _UNPARSED else obj
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise RequestError(400, f"malformed JSON: {getattr(exc, 'msg', exc)}{where}") from None
    if not isinstance(obj, dict):
        raise RequestError(400, f"the body must be a JSON object such as {{\"instances\": [...]}}, "
                                f"got a JSON {type(obj).__name__}")
    return obj


_UNPARSED = object()


def _orjson_loads(body: bytes):
    """The body parsed by orjson (the serve extra's C parser, ≈ 3× faster than ``json.loads`` on
    large bodies), or _UNPARSED when orjson is not installed or refuses the body: a body only
    Python's parser reads (NaN, Infinity) or a malformed one, whose message then comes from
    ``json.loads``. Both read strict JSON to the same values, except integers beyond 64 bits,
    which orjson reads as floats: instances become float32 either way (tested)."""
    try:
        import orjson
    except ImportError:
        return _UNPARSED
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _UNPARSED


# magic, version and length (≤ 12 bytes), then a header NumPy reads up to 10,000 bytes of
_NPY_HEADER_BYTES = 12 + 10_000


def all_finite(X: np.ndarray) -> bool:
    """Whether every value of a float array is finite. A finite sum proves it (one NaN or ±inf makes
    the sum NaN or ±inf) in one read of the array, without np.isfinite's boolean copy; a sum that
    overflows from finite values falls back to the exact check.

    Examples
    --------
    >>> all_finite(np.ones(3, np.float32)), all_finite(np.array([1.0, np.nan])), all_finite(np.full(3, 3e38, np.float32))
    (True, False, True)
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(X.sum()):
            return True
    return bool(np.isfinite(X).all())


def parse_npy(body: bytes) -> np.ndarray:
    """A numeric array from .npy bytes; the header's shape is checked against the bytes sent before
    anything is allocated (a header cannot make the service reserve memory it was not sent).

    Examples
    --------
    >>> buf = io.BytesIO(); np.save(buf, np.ones((2, 3), np.float32))
    >>> parse_npy(buf.getvalue()).shape
    (2, 3)
    >>> parse_npy(b"not an array")
    Traceback (most recent call last):
    ...
    aekit.tasks.serve_bodies.RequestError: the body is not a .npy array (Content-Type application/x-npy): ...
    """
    f = io.BytesIO(bytes(memoryview(body)[:_NPY_HEADER_BYTES]))  # the header only: no copy of the data
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        read_header = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not read here (1.0 and 2.0 are)")
        shape, fortran, dtype = read_header(f)
    except (ValueError, OSError, SyntaxError, TypeError) as exc:
        raise RequestError(400, f"the body is not a .npy array (Content-Type {NPY}): {exc}") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise RequestError(422, f"a .npy body must hold numbers, not {dtype}")
    data = memoryview(body)[f.tell():]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if expected != len(data):
        raise RequestError(400, f"the .npy header says shape {tuple(shape)} of {dtype} ({expected} bytes), "
                                f"the body holds {len(data)} bytes of data")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


# The one body shape worth a fast path: {"instances": [[n, ...], ...]} and nothing else (rows of
# numbers, as a client's json.dumps writes them). Anything else goes through json.loads.
_ROWS_HEAD = re.compile(rb'\s*\{\s*"instances"\s*:\s*\[\s*\[')
_ROWS_TAIL = re.compile(rb'\]\s*\]\s*\}\s*$')
_TAIL_BYTES = 64  # the tail is searched in the body's last bytes only (a regex over megabytes is slow)


def fast_rows(body: bytes, limits: Limits) -> np.ndarray | None:
    """The rows of a JSON body that is exactly ``{"instances": [[n, ...], ...]}``, parsed in C
    (by orjson when installed; else, or for a body orjson refuses, ``np.loadtxt`` on the rows'
    text, without building a Python float per number); None for any other body, which then takes
    the general path (``parse_json``), with its checks and messages. On 784,000 numbers (a 2-core
    AMD EPYC): 71 ms with orjson, ≈ 3× that with ``np.loadtxt`` or ``json.loads`` (benchmarks/RESULTS.md,
    "Scoring service").

    Rows are the text between ``], [`` (or ``],[``) separators; a body with other brackets
    (images, records, "labels"), newlines, quotes, null, NaN or infinity, ragged or empty rows
    returns None. Numbers are read as NumPy reads them: every JSON number, and also spellings that
    strict JSON refuses but that mean one number (``+1``, ``.5``, ``1.``, ``01``). 413 when the
    rows are more than the batch limit (counted before any number is converted).

    Examples
    --------
    >>> fast_rows(b'{"instances": [[1, 2.5], [3, -4e-1]]}', Limits())
    array([[ 1. ,  2.5],
           [ 3. , -0.4]], dtype=float32)
    >>> fast_rows(b'{"instances": [[1, 2], [3]]}', Limits()) is None  # ragged: the general path says why
    True
    >>> fast_rows(b'{"instances": [[[1, 2]]]}', Limits()) is None     # images: the general path
    True
    """
    head = _ROWS_HEAD.match(body)
    tail_start = max(0, len(body) - _TAIL_BYTES)
    tail = _ROWS_TAIL.search(body, tail_start) if head else None
    if tail is None or tail.start() < head.end():
        return None
    text = body[head.end():tail.start()]
    if not text.strip() or b"\n" in text or b"\r" in text:  # empty; a newline would end a row early
        return None
    text = text.replace(b"], [", b"\n")
    if b"[" in text or b"]" in text:
        text = text.replace(b"],[", b"\n")
        if b"[" in text or b"]" in text:
            return None
    n_rows = text.count(b"\n") + 1
    check_rows(n_rows, limits)
    parsed = _orjson_loads(body)
    if parsed is not _UNPARSED:  # plain rows read by orjson; numbers only (strings, null: the general path)
        try:
            X = np.asarray(parsed["instances"])
        except ValueError:  # ragged
            return None
        if X.dtype.kind not in "iuf" or X.ndim != 2 or len(X) != n_rows:
            return None
        X = X.astype(np.float32)
        return X if all_finite(X) else None
    try:
        X = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.float32, ndmin=2, comments=None,
                       encoding="ascii")
    except (ValueError, UnicodeError):
        return None
    # np.loadtxt skips blank lines (an empty row) and reads nan/inf: the general path judges those
    if len(X) != n_rows or not all_finite(X):
        return None
    return X


def instances_array(payload, limits: Limits) -> np.ndarray:
    """The "instances" of a JSON payload as a float array: 422 when missing, ragged or not numbers,
    413 for more rows than the batch limit (counted before converting anything).

    Examples
    --------
    >>> instances_array({"instances": [[1, 2], [3, 4]]}, Limits()).shape
    (2, 2)
    >>> instances_array({"instances": [[1, 2], [3]]}, Limits())
    Traceback (most recent call last):
    ...
    aekit.tasks.serve_bodies.RequestError: "instances" must be a list of equally shaped arrays of numbers (...)
    """
    rows = instances_list(payload, limits)
    try:
        return np.asarray(rows, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise RequestError(422, f'"instances" must be a list of equally shaped arrays of numbers ({exc})') from None


def instances_list(payload, limits: Limits) -> list:
    """The "instances" list of a JSON payload (422 when missing or empty, 413 over the batch limit)."""
    rows = payload.get("instances")
    if rows is None:
        raise RequestError(422, 'the body needs "instances": a list of rows, images or records')
    if not isinstance(rows, list) or not rows:
        raise RequestError(422, '"instances" must be a non-empty list of rows, images or records')
    check_rows(len(rows), limits)
    return rows


def check_rows(n: int, limits: Limits) -> None:
    if n > limits.max_batch:
        raise RequestError(413, f"{n} instances are more than the {limits.max_batch} one request may hold "
                                "(--max-batch): send them in several requests")


def json_bytes(values: dict) -> bytes:
    """An answer as JSON bytes, non-finite floats as null: orjson when installed (it writes NumPy
    arrays in C: ≈ 20× faster than ``json.dumps`` of their lists), else ``json``; the same values.

    Examples
    --------
    >>> json.loads(json_bytes({"scores": np.array([0.5, np.nan]), "labels": np.array([1, 0])}))
    {'scores': [0.5, None], 'labels': [1, 0]}
    """
    try:
        import orjson
    except ImportError:
        return json.dumps(jsonable(values), separators=(",", ":"), allow_nan=False).encode()
    return orjson.dumps(values, default=jsonable, option=orjson.OPT_SERIALIZE_NUMPY)


def jsonable(value):
    """Arrays, numpy scalars, DataFrames and nested containers as JSON values; non-finite floats
    become null (JSON has no NaN or infinity).

    Examples
    --------
    >>> jsonable({"a": np.array([1.5, np.inf]), "b": (np.int64(2),)})
    {'a': [1.5, None], 'b': [2]}
    """
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a pandas DataFrame
        return jsonable(value.to_dict(orient="records"))
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            return jsonable(value.astype(object).tolist())
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# glibc returns every freed block above its mmap threshold to the kernel and maps a fresh one for the
# next request: a 3 MB body then costs a page fault per 4 KiB page at each of its copies (uvloop's reads,
# the parser's buffer, the joined body, the model's arrays). Raised thresholds keep such blocks in the
# heap for reuse. Measured: receiving a 3 MB body in a bare uvicorn app, 5.7 → 1.1 ms of server CPU
# (benchmarks/RESULTS.md, "Scoring service").
MMAP_THRESHOLD_BYTES = 32 * 2**20   # blocks below this come from the heap (glibc's own ceiling on 64-bit)
TRIM_THRESHOLD_BYTES = 128 * 2**20  # free memory at the heap's top kept for reuse, not returned


def reuse_freed_memory() -> bool:
    """Make glibc's malloc keep large freed blocks for reuse in this process (`aekit serve` calls it
    once at start; a process that serves many large requests gains, at the cost of up to
    TRIM_THRESHOLD_BYTES of freed memory kept). True when applied; False where the C library is
    not glibc (macOS, Windows, musl), which changes nothing.

    Examples
    --------
    >>> isinstance(reuse_freed_memory(), bool)
    True
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_BODY_MB", "Limits", "NPY", "RequestError", "all_finite", "check_content_length",
           "check_rows", "fast_rows", "instances_array", "instances_list", "json_bytes", "jsonable", "parse_json", "parse_npy",
           "reuse_freed_memory"]
