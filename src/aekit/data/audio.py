"""WAV files: reading (any PCM width or float, mixed down and resampled on request), writing
(atomically) and folders of them.

Signals are float32 arrays of shape C×T (channels × samples) with PCM values scaled to
[-1, 1): uint8 as (v − 128)/128, int16 as v/2¹⁵, 24-bit and int32 as v/2³¹ (scipy reads
24-bit PCM left-justified into int32), int64 as v/2⁶³. Float WAVs are returned as stored,
which may exceed [-1, 1] (an `AekitWarning` says so); resampling may also overshoot ±1
slightly (the filter's ringing); neither is clipped, because clipping would change the data.

Choices for inputs that are not what was asked for:

- a stereo (or multichannel) file read with ``mono=True`` (the default) is mixed down to the
  mean of its channels, with an `AekitWarning` (one per file, one per folder);
- a file at another rate than ``rate`` is resampled with `scipy.signal.resample_poly` (a
  polyphase filter with a Kaiser window); in a folder whose files do not all share one rate an
  `AekitWarning` says how many were resampled from which rates;
- a file that is not a WAV, is truncated (the header promises more bytes than the file holds),
  holds no samples, or NaN/inf samples raises a `DataError` naming the file.

WAV I/O is `scipy.io.wavfile` (no new dependency): it reads and writes uncompressed PCM and
IEEE-float WAVs (also WAVE_FORMAT_EXTENSIBLE and RF64), not compressed formats such as FLAC.
"""
from __future__ import annotations

import math
import os
import secrets
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from aekit.errors import AekitWarning, ConfigError, DataError

WAV_SUFFIXES = (".wav", ".wave")
SAMPLE_FORMATS = ("float32", "int16", "int32", "uint8")
_PCM_SCALE = {np.dtype(np.int16): 2.0**15, np.dtype(np.int32): 2.0**31, np.dtype(np.int64): 2.0**63}


class WavFolder(NamedTuple):
    """What `read_wav_folder` returns: the signals, their names, and their common rate.

    Attributes
    ----------
    signals : list of ndarray
        One float32 C×T array per file.
    names : list of str
        The files' paths relative to the folder, in the order of `signals`.
    rate : int
        The sample rate all signals share, in Hz.
    """

    signals: list[np.ndarray]
    names: list[str]
    rate: int


def _check_rate(rate, what: str = "rate") -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 0 < int(rate) < 2**32:
        raise ConfigError(f"{what} must be a whole number of samples per second in [1, 2**32), got {rate!r}")
    return int(rate)


def _load(path: Path) -> tuple[int, np.ndarray]:
    """scipy's reader with every failure turned into one DataError naming the file."""
    from scipy.io import wavfile

    if not path.is_file():
        raise DataError(f"{path}: file not found" if not path.exists() else f"{path}: not a file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rate, data = wavfile.read(path, mmap=False)
        except Exception as exc:  # scipy raises ValueError, struct.error, EOFError... for bad files
            raise DataError(f"{path}: not a readable WAV file ({type(exc).__name__}: {exc})") from None
    for w in caught:
        text = str(w.message)
        # scipy only warns when the header promises more bytes than the file holds: a cut file
        if "Reached EOF prematurely" in text:
            raise DataError(f"{path}: truncated WAV file ({text})")
    return int(rate), np.asarray(data)


def _to_float(data: np.ndarray, path: Path) -> np.ndarray:
    """T or T×C samples of any WAV dtype -> float32 C×T in [-1, 1) for PCM."""
    if data.dtype == np.uint8:
        x = (data.astype(np.float32) - 128.0) / 128.0
    elif data.dtype in _PCM_SCALE:
        x = (data.astype(np.float64) / _PCM_SCALE[data.dtype]).astype(np.float32)
    elif data.dtype.kind == "f":
        x = data.astype(np.float32)
        finite = np.isfinite(x)
        if not finite.all():
            bad = int(x.size - np.count_nonzero(finite))
            first = int(np.argmin(finite.reshape(len(x), -1).all(axis=1)))
            raise DataError(f"{path}: {bad} NaN or inf sample(s), the first at sample {first}")
    else:
        raise DataError(f"{path}: unsupported WAV sample type {data.dtype}")
    x = x[:, None] if x.ndim == 1 else x
    return np.ascontiguousarray(x.T)


def _resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = math.gcd(rate_in, rate_out)
    y = resample_poly(x.astype(np.float64), rate_out // g, rate_in // g, axis=-1)
    return np.ascontiguousarray(y, dtype=np.float32)


def resample(signal: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """A C×T (or T) signal resampled from `rate_in` to `rate_out` Hz (`scipy.signal.resample_poly`,
    as `read_wav` does), float32.

    Examples
    --------
    >>> resample(np.zeros((1, 800)), 8000, 16000).shape
    (1, 1600)
    """
    rate_in, rate_out = _check_rate(rate_in, "rate_in"), _check_rate(rate_out, "rate_out")
    return _resample(np.asarray(signal), rate_in, rate_out) if rate_in != rate_out else \
        np.asarray(signal, dtype=np.float32)


class _Read(NamedTuple):
    signal: np.ndarray  # C×T at `rate`
    rate: int
    file_rate: int
    channels: int  # in the file, before any mixdown
    peak: float  # largest |value| stored in the file (PCM never exceeds 1)


def _read_one(path: Path, rate: int | None, mono: bool) -> _Read:
    """Read, mix down and resample one file; the caller decides which notices to give."""
    file_rate, data = _load(path)
    if data.shape[0] == 0:
        raise DataError(f"{path}: WAV file holds no samples")
    x = _to_float(data, path)
    channels = x.shape[0]
    peak = float(np.abs(x).max()) if data.dtype.kind == "f" else 1.0
    if mono and channels > 1:
        x = x.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)
    out_rate = file_rate if rate is None else rate
    if out_rate != file_rate:
        x = _resample(x, file_rate, out_rate)
    return _Read(x, out_rate, file_rate, channels, peak)


def _warn_out_of_range(peak: float, source: str, stacklevel: int) -> None:
    if peak > 1.0:
        warnings.warn(f"{source}: float samples reach ±{peak:.4g}, beyond [-1, 1] (kept as stored, not clipped)",
                      AekitWarning, stacklevel=stacklevel)


def read_wav(path: str | os.PathLike, *, rate: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read one WAV file as a float32 C×T signal.

    Parameters
    ----------
    path : str or path-like
        The WAV file (PCM uint8/int16/24-bit/int32/int64 or IEEE float32/float64).
    rate : int or None, default None
        Resample to this many samples per second (`scipy.signal.resample_poly`); None keeps the
        file's own rate.
    mono : bool, default True
        Mix several channels down to their mean (C = 1), with an `AekitWarning`; False keeps
        every channel.

    Returns
    -------
    signal : np.ndarray
        float32, shape (C, T); PCM scaled to [-1, 1) (see the module notes).
    rate : int
        The signal's sample rate.

    Raises
    ------
    DataError
        The file is missing, not a WAV, truncated, empty, or holds NaN/inf; the message names it.
    ConfigError
        `rate` is not a positive whole number.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "tone.wav"
    >>> t = np.arange(800) / 8000
    >>> write_wav(path, np.sin(2 * np.pi * 440 * t), 8000, sample_format="int16")
    >>> x, sr = read_wav(path, rate=16000)
    >>> x.shape, x.dtype, sr
    ((1, 1600), dtype('float32'), 16000)
    """
    path = Path(path).expanduser()
    if rate is not None:
        rate = _check_rate(rate)
    r = _read_one(path, rate, bool(mono))
    if mono and r.channels > 1:
        warnings.warn(f"{path}: {r.channels} channels mixed down to mono (pass mono=False to keep them)",
                      AekitWarning, stacklevel=2)
    _warn_out_of_range(r.peak, str(path), stacklevel=3)
    return r.signal, r.rate


def read_wav_folder(folder: str | os.PathLike, rate: int | None = None, *, mono: bool = True,
                    recursive: bool = True) -> WavFolder:
    """Read every WAV file in a folder (sorted by relative path) at one sample rate.

    Parameters
    ----------
    folder : str or path-like
        The folder; hidden files and folders (names starting with ".") are skipped.
    rate : int or None, default None
        The common rate; None takes the rate of the first file. Files at another rate are
        resampled; when the files do not all share one rate, one `AekitWarning` lists how many
        were resampled from which rates.
    mono : bool, default True
        Mix multichannel files down to their mean (one `AekitWarning` says how many were). With
        False, every file must have the same channel count.
    recursive : bool, default True
        Also read the WAV files in sub-folders.

    Returns
    -------
    WavFolder
        ``(signals, names, rate)``: a list of float32 C×T arrays (lengths may differ), their
        paths relative to `folder` (POSIX style), and the common sample rate.

    Raises
    ------
    DataError
        The folder is missing or holds no WAV file, a file is unreadable (named), or (with
        ``mono=False``) two files have different channel counts.
    ConfigError
        `rate` is not a positive whole number.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> write_wav(root / "b.wav", np.zeros(100), 8000)
    >>> write_wav(root / "a.wav", np.ones((1, 50)) * 0.5, 8000)
    >>> signals, names, sr = read_wav_folder(root)
    >>> names, [s.shape for s in signals], sr
    (['a.wav', 'b.wav'], [(1, 50), (1, 100)], 8000)
    """
    folder = Path(folder).expanduser()
    if rate is not None:
        rate = _check_rate(rate)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder" if not folder.exists() else f"{folder}: not a folder")
    found = folder.rglob("*") if recursive else folder.iterdir()
    files = sorted(
        p for p in found
        if p.suffix.lower() in WAV_SUFFIXES and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise DataError(f"{folder}: no WAV files found (looked for {', '.join(WAV_SUFFIXES)})")
    signals: list[np.ndarray] = []
    names: list[str] = []
    resampled: dict[int, int] = {}
    file_rates: set[int] = set()
    mixed = 0
    peak = 0.0
    first_channels: tuple[str, int] | None = None
    for p in files:
        # without a given rate, the first file's rate becomes the folder's
        x, rate, file_rate, channels, file_peak = _read_one(p, rate, bool(mono))
        name = p.relative_to(folder).as_posix()
        peak = max(peak, file_peak)
        file_rates.add(file_rate)
        if file_rate != rate:
            resampled[file_rate] = resampled.get(file_rate, 0) + 1
        if mono:
            mixed += channels > 1
        elif first_channels is None:
            first_channels = (name, channels)
        elif channels != first_channels[1]:
            raise DataError(
                f"{folder}: files with different channel counts: {first_channels[0]} has {first_channels[1]}, "
                f"{name} has {channels} (read with mono=True to mix them down)"
            )
        signals.append(x)
        names.append(name)
    if len(file_rates) > 1:
        froms = ", ".join(f"{n} from {r} Hz" for r, n in sorted(resampled.items()))
        warnings.warn(f"{folder}: the files' sample rates differ; resampled to {rate} Hz: {froms}",
                      AekitWarning, stacklevel=2)
    if mixed:
        warnings.warn(f"{folder}: {mixed} of {len(files)} file(s) had several channels, mixed down to mono",
                      AekitWarning, stacklevel=2)
    _warn_out_of_range(peak, str(folder), stacklevel=3)
    return WavFolder(signals, names, int(rate))


def _encode(x: np.ndarray, sample_format: str, path: Path) -> np.ndarray:
    """float C×T -> T×C samples of `sample_format`; values beyond [-1, 1] clipped with a warning."""
    x64 = x.astype(np.float64).T
    if sample_format == "float32":
        return np.ascontiguousarray(x64, dtype=np.float32)
    over = int(np.count_nonzero(np.abs(x64) > 1.0))
    if over:
        warnings.warn(f"{path}: {over} sample(s) beyond [-1, 1] clipped to the {sample_format} range",
                      AekitWarning, stacklevel=3)
    if sample_format == "uint8":
        scaled, lo, hi, dtype = x64 * 128.0 + 128.0, 0, 255, np.dtype(np.uint8)
    else:
        dtype = np.dtype(sample_format)
        info = np.iinfo(dtype)
        scaled, lo, hi = x64 * _PCM_SCALE[dtype], info.min, info.max
    # +1.0 maps one step above the largest code (PCM is asymmetric); it lands on the largest code
    return np.clip(np.rint(scaled), lo, hi).astype(dtype)


def write_wav(path: str | os.PathLike, signal: np.ndarray, rate: int, *, sample_format: str = "float32") -> None:
    """Write a signal as a WAV file, atomically (a temp file in the same folder, then a rename).

    The file gets the usual permissions (0666 less the umask, e.g. 0644), and a crash never
    leaves half a file under `path`.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder is created when missing.
    signal : np.ndarray
        Shape (T,) or (C, T), finite, nominally in [-1, 1].
    rate : int
        Samples per second.
    sample_format : {"float32", "int16", "int32", "uint8"}, default "float32"
        float32 stores the values exactly (``read_wav`` gives them back bit for bit); the PCM
        formats scale as in the module notes and clip what falls outside, with an `AekitWarning`.

    Raises
    ------
    DataError
        The signal is empty, not 1-D or 2-D, looks transposed (more channels than samples), or
        holds NaN/inf.
    ConfigError
        `rate` or `sample_format` is invalid.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "x.wav"
    >>> x = np.array([[0.0, 0.5, -0.25]], dtype=np.float32)
    >>> write_wav(path, x, 22050)
    >>> y, sr = read_wav(path)
    >>> bool(np.array_equal(x, y)), sr
    (True, 22050)
    """
    from scipy.io import wavfile

    path = Path(path).expanduser()
    rate = _check_rate(rate)
    if sample_format not in SAMPLE_FORMATS:
        raise ConfigError(f"unknown sample_format {sample_format!r}; choose one of {', '.join(SAMPLE_FORMATS)}")
    x = np.asarray(signal)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: the signal must be numeric, got dtype {x.dtype}")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.size == 0:
        raise DataError(f"{path}: the signal must be a non-empty T or C×T array, got shape {x.shape}")
    if x.shape[0] > x.shape[1]:
        raise DataError(f"{path}: the signal has more channels than samples (shape {x.shape}); "
                        "give it as C×T (transpose a T×C array)")
    finite = np.isfinite(x)
    if not finite.all():
        first = int(np.argmin(finite.all(axis=0)))
        raise DataError(f"{path}: the signal holds NaN or inf (the first at sample {first})")
    data = _encode(x, sample_format, path)
    data = data[:, 0] if data.shape[1] == 1 else data
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open with mode 0o666 lets the kernel apply the umask (mkstemp would make 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            wavfile.write(f, rate, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------
# a folder of WAV files as a data source: windows as training samples
# ----------------------------------------------------------------------------------------
DEFAULT_WINDOW = 1024
MIN_GROUPS_TO_SPLIT = 5  # fewer files than this are split by window, not by file


def holds_wav_files(folder: str | os.PathLike) -> bool:
    """Whether a folder (or its visible sub-folders) holds a WAV file.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> holds_wav_files(root)
    False
    >>> write_wav(root / "a.wav", np.zeros(10), 8000)
    >>> holds_wav_files(root)
    True
    """
    folder = Path(folder)
    return any(p.suffix.lower() in WAV_SUFFIXES and p.is_file()
               and not any(part.startswith(".") for part in p.relative_to(folder).parts)
               for p in folder.rglob("*"))


def load_wav_windows(folder: str | os.PathLike, name: str | None = None, *, window: int = DEFAULT_WINDOW,
                     hop: int | None = None, rate: int | None = None, mono: bool = True):
    """A folder of WAV files as a `Dataset` of windows: N×C×`window` float32 samples.

    Every file is cut into windows of `window` samples every `hop` (`aekit.data.windows.frame`;
    the last window of a file is zero-padded). Files shorter than one window are left out with
    an `AekitWarning`. `load` splits such a data set by file, not by window (windows of one
    recording overlap, so a window split would test on what was trained on), when the folder
    holds at least 5 files; ``meta["groups"]`` holds each window's file index for that.

    Parameters
    ----------
    folder : str or path-like
        The folder (`read_wav_folder`: sorted, hidden files skipped, sub-folders read).
    name : str or None, default None
        The data set's name (default: the folder's name).
    window : int, default 1024
        Samples per window (the model's input length).
    hop : int or None, default None
        Samples between window starts; None: window // 2.
    rate : int or None, default None
        Resample every file to this rate; None: the first file's rate (others are resampled to
        it with a notice).
    mono : bool, default True
        Mix multichannel files down to mono (with a notice).

    Returns
    -------
    Dataset
        X of shape (N, C, window); ``value_range`` the observed (min, max); ``meta`` holds
        "sample_rate", "window", "hop", "files" (names) and "groups".

    Raises
    ------
    DataError
        No WAV file, an unreadable one (named), or every file shorter than one window.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> write_wav(root / "a.wav", np.sin(np.arange(4000) / 10), 8000)
    >>> ds = load_wav_windows(root, window=1000, hop=500)
    >>> ds.X.shape, ds.meta["sample_rate"], ds.meta["groups"].tolist()
    ((7, 1, 1000), 8000, [0, 0, 0, 0, 0, 0, 0])
    """
    from aekit.data.dataset import Dataset
    from aekit.data.windows import frame

    folder = Path(folder).expanduser()
    for what, value in (("window", window), ("hop", hop)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ConfigError(f"{what} must be a whole number of samples >= 1, got {value!r}")
    window = int(window)
    hop = max(window // 2, 1) if hop is None else int(hop)
    signals, names, sr = read_wav_folder(folder, rate, mono=mono)
    frames, groups, short = [], [], []
    for i, (x, n) in enumerate(zip(signals, names)):
        if x.shape[-1] < window:
            short.append(n)
            continue
        f = frame(x, window, hop)
        frames.append(f)
        groups.append(np.full(len(f), i))
    if short:
        if not frames:
            longest = max(s.shape[-1] for s in signals)
            raise DataError(f"{folder}: the window ({window} samples) is longer than every file "
                            f"(the longest has {longest} samples at {sr} Hz); use a shorter window")
        warnings.warn(f"{folder}: {len(short)} file(s) shorter than the window ({window} samples) left out, "
                      f"e.g. {short[0]}", AekitWarning, stacklevel=2)
    X = np.concatenate(frames).astype(np.float32, copy=False)
    return Dataset(X=X, y=None, name=name or folder.name, value_range=(float(X.min()), float(X.max())),
                   meta={"source": str(folder), "sample_rate": int(sr), "window": window, "hop": int(hop),
                         "files": names, "groups": np.concatenate(groups)})


__all__ = ["DEFAULT_WINDOW", "SAMPLE_FORMATS", "WAV_SUFFIXES", "WavFolder", "holds_wav_files", "load_wav_windows",
           "read_wav", "read_wav_folder", "resample", "write_wav"]
