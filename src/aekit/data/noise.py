"""Input corruptions for denoising autoencoders, on numpy arrays and torch tensors alike.

Each function returns the same type it was given (a new array / tensor; the input is not
changed) and is vectorized. `rng` may be None (fresh randomness), an int seed, a
`numpy.random.Generator` or a `torch.Generator` (for tensors; a numpy Generator given with a
tensor seeds a torch Generator from it, reproducibly).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from aekit.errors import ConfigError
from aekit.specs import parse_spec

KINDS = ("gaussian", "masking", "salt-pepper")
_ALIASES = {
    "gaussian": "gaussian", "gauss": "gaussian", "normal": "gaussian",
    "masking": "masking", "mask": "masking", "dropout": "masking",
    "salt-pepper": "salt-pepper", "salt_pepper": "salt-pepper", "saltpepper": "salt-pepper",
    "salt-and-pepper": "salt-pepper", "s&p": "salt-pepper",
}


def _torch_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _np_rng(rng: Any) -> np.random.Generator:
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(None if rng is None else int(rng))
    if isinstance(rng, np.random.Generator):
        return rng
    raise ConfigError(f"rng for a numpy array must be None, an int seed or a numpy Generator, got {type(rng).__name__}")


def _torch_gen(rng: Any, device):
    import torch

    if rng is None or isinstance(rng, torch.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return torch.Generator(device=device).manual_seed(int(rng))
    if isinstance(rng, np.random.Generator):
        return torch.Generator(device=device).manual_seed(int(rng.integers(0, 2**63 - 1)))
    raise ConfigError(
        f"rng for a tensor must be None, an int seed, a torch.Generator or a numpy Generator, got {type(rng).__name__}"
    )


def _float_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float32)


def _float_torch(x):
    import torch

    return x if x.is_floating_point() else x.to(torch.get_default_dtype())


def _check_range(value_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ConfigError(f"value_range must be (low, high), got {value_range!r}") from None
    if not lo <= hi:
        raise ConfigError(f"value_range must have low <= high, got {value_range!r}")
    return lo, hi


def _check_sigma(sigma: float) -> float:
    try:
        s = float(sigma)
    except (TypeError, ValueError):
        raise ConfigError(f"gaussian noise level σ must be a number, got {sigma!r}") from None
    if not math.isfinite(s) or s < 0:
        raise ConfigError(f"gaussian noise level σ must be >= 0, got {sigma!r}")
    return s


def _check_nu(nu: float, kind: str) -> float:
    try:
        v = float(nu)
    except (TypeError, ValueError):
        raise ConfigError(f"{kind} noise level ν must be a number, got {nu!r}") from None
    if not (0.0 <= v <= 1.0):
        raise ConfigError(f"{kind} noise level ν is a fraction and must be in [0, 1], got {nu!r}")
    return v


def gaussian(x, sigma: float, *, value_range=(0.0, 1.0), clip: bool = True, rng=None):
    """x + σ·N(0, 1), then clipped to `value_range` when `clip` (as the Keras blog's denoising example).

    Parameters
    ----------
    x : ndarray or torch.Tensor
        Data of any shape (integers are converted to float).
    sigma : float
        σ ≥ 0, in the data's units.
    value_range : tuple of float, default (0.0, 1.0)
        (low, high) the result is clipped to.
    clip : bool, default True
        Clip to `value_range`.
    rng : None, int, numpy.random.Generator or torch.Generator, default None
        The random source (see the module docstring).

    Returns
    -------
    ndarray or torch.Tensor
        A new array or tensor of x's type and shape.

    Examples
    --------
    >>> x = np.full((100, 100), 0.5, np.float32)
    >>> out = gaussian(x, 0.1, rng=0)
    >>> out.dtype, round(float(out.std()), 2), bool((out >= 0).all() and (out <= 1).all())
    (dtype('float32'), 0.1, True)
    """
    sigma = _check_sigma(sigma)
    lo, hi = _check_range(value_range)
    if _torch_tensor(x):
        import torch

        x = _float_torch(x)
        gen = _torch_gen(rng, x.device)
        out = x + sigma * torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        return out.clamp_(lo, hi) if clip else out
    x = _float_np(x)
    noise = _np_rng(rng).standard_normal(x.shape, dtype=np.float64 if x.dtype == np.float64 else np.float32)
    out = (x + np.asarray(sigma, dtype=x.dtype) * noise).astype(x.dtype, copy=False)
    if clip:
        np.clip(out, lo, hi, out=out)
    return out


def masking(x, nu: float, *, rng=None):
    """A random fraction ν of the values set to 0 (dropout-style, without rescaling).

    Parameters
    ----------
    x : ndarray or torch.Tensor
        Data of any shape.
    nu : float
        ν in [0, 1]: the probability that each value is masked.
    rng : None, int, numpy.random.Generator or torch.Generator, default None
        The random source.

    Returns
    -------
    ndarray or torch.Tensor
        A new array or tensor of x's type and shape.

    Examples
    --------
    >>> import torch
    >>> out = masking(torch.ones(100, 100), 0.25, rng=0)
    >>> abs(float((out == 0).float().mean()) - 0.25) < 0.02
    True
    """
    nu = _check_nu(nu, "masking")
    if _torch_tensor(x):
        import torch

        x = _float_torch(x)
        gen = _torch_gen(rng, x.device)
        mask = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) < nu
        return x.masked_fill(mask, 0)
    x = _float_np(x)
    mask = _np_rng(rng).random(x.shape, dtype=np.float32) < nu
    return np.where(mask, x.dtype.type(0), x)


def salt_pepper(x, nu: float, *, value_range=(0.0, 1.0), rng=None):
    """A random fraction ν of the values set to the range's min or max with equal probability.

    Parameters
    ----------
    x : ndarray or torch.Tensor
        Data of any shape.
    nu : float
        ν in [0, 1]: the probability that each value is hit.
    value_range : tuple of float, default (0.0, 1.0)
        (low, high): the pepper and salt values.
    rng : None, int, numpy.random.Generator or torch.Generator, default None
        The random source.

    Returns
    -------
    ndarray or torch.Tensor
        A new array or tensor of x's type and shape.

    Examples
    --------
    >>> out = salt_pepper(np.full((100, 100), 0.5), 0.2, rng=0)
    >>> round(float((out == 0).mean()), 1), round(float((out == 1).mean()), 1), out.dtype
    (0.1, 0.1, dtype('float64'))
    """
    nu = _check_nu(nu, "salt-and-pepper")
    lo, hi = _check_range(value_range)
    if _torch_tensor(x):
        import torch

        x = _float_torch(x)
        gen = _torch_gen(rng, x.device)
        u = torch.rand((2, *x.shape), generator=gen, device=x.device, dtype=x.dtype)
        hit, salt = u[0] < nu, u[1] < 0.5
        values = torch.where(salt, torch.full_like(x, hi), torch.full_like(x, lo))
        return torch.where(hit, values, x)
    x = _float_np(x)
    u = _np_rng(rng).random((2, *x.shape), dtype=np.float32)
    hit, salt = u[0] < nu, u[1] < 0.5
    values = np.where(salt, x.dtype.type(hi), x.dtype.type(lo))
    return np.where(hit, values, x).astype(x.dtype, copy=False)


def _level_str(level: float) -> str:
    s = repr(float(level))
    return s[:-2] if s.endswith(".0") else s


@dataclass(frozen=True)
class Noise:
    """A corruption: kind ("gaussian", "masking", "salt-pepper") and its level (σ or ν).

    `Noise("gaussian", 0.5)(x, rng=0)` corrupts x; `str(noise)` is the spec "gaussian:0.5".

    Parameters
    ----------
    kind : str
        "gaussian", "masking" or "salt-pepper", or an alias ("gauss", "mask", "dropout",
        "salt_pepper", "s&p", ...), stored as the canonical name.
    level : float
        σ ≥ 0 for gaussian, ν in [0, 1] otherwise.

    Raises
    ------
    ConfigError
        An unknown kind or a level out of range.

    Examples
    --------
    >>> noise = Noise("dropout", 0.5)
    >>> noise, str(noise)
    (Noise(kind='masking', level=0.5), 'masking:0.5')
    >>> round(float(noise(np.ones((2, 1000)), rng=0).mean()), 1)
    0.5
    """

    kind: str
    level: float

    def __post_init__(self) -> None:
        kind = _ALIASES.get(str(self.kind).strip().lower())
        if kind is None:
            raise ConfigError(f"unknown noise kind {self.kind!r}; choose one of {', '.join(KINDS)} (or none)")
        level = _check_sigma(self.level) if kind == "gaussian" else _check_nu(self.level, kind)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "level", level)

    def __call__(self, x, rng=None, value_range=(0.0, 1.0)):
        if self.kind == "gaussian":
            return gaussian(x, self.level, value_range=value_range, rng=rng)
        if self.kind == "masking":
            return masking(x, self.level, rng=rng)
        return salt_pepper(x, self.level, value_range=value_range, rng=rng)

    def __str__(self) -> str:
        return f"{self.kind}:{_level_str(self.level)}"


NOISE_FORMS = {"gaussian": ("SIGMA",), "masking": ("NU",), "salt-pepper": ("NU",)}
FILE_PREFIX = "file:"
SNR_FORMS = {"snr": (("DB",), ("LOW_DB", "HIGH_DB"))}
COLORS = ("white", "pink", "brown")


def colored_noise(color: str, shape, rng=None) -> np.ndarray:
    """Gaussian noise with a 1/f^β power spectrum along the last axis, scaled to unit variance.

    "white" (β = 0), "pink" (β = 1, equal power per octave) and "brown" (β = 2, a random walk's
    spectrum): white noise shaped in the frequency domain by f^(−β/2), the zero frequency left
    out so that the result has zero mean.

    Parameters
    ----------
    color : {"white", "pink", "brown"}
    shape : int or tuple of int
        Output shape; the spectrum is shaped along the last axis (at least 2 samples).
    rng : None, int or numpy.random.Generator, default None

    Returns
    -------
    np.ndarray
        float32 of `shape`, each last-axis row with mean 0 and variance 1.

    Examples
    --------
    >>> x = colored_noise("pink", (4, 4096), rng=0)
    >>> x.shape, bool(np.allclose(x.std(axis=-1), 1.0, atol=1e-4))
    ((4, 4096), True)
    >>> spectrum = np.abs(np.fft.rfft(colored_noise("brown", 8192, rng=0))) ** 2
    >>> bool(spectrum[1:50].mean() > 100 * spectrum[-500:].mean())   # power falls with frequency
    True
    """
    exponents = {"white": 0.0, "pink": 1.0, "brown": 2.0}
    if color not in exponents:
        raise ConfigError(f"unknown noise colour {color!r}; choose one of {', '.join(COLORS)}")
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(v) for v in shape)
    if not shape or shape[-1] < 2:
        raise ConfigError(f"colored noise needs at least 2 samples along the last axis, got shape {shape}")
    n = shape[-1]
    spectrum = np.fft.rfft(_np_rng(rng).standard_normal(shape), axis=-1)
    f = np.fft.rfftfreq(n)
    gain = np.zeros_like(f)
    gain[1:] = f[1:] ** (-exponents[color] / 2)
    x = np.fft.irfft(spectrum * gain, n=n, axis=-1)
    x -= x.mean(axis=-1, keepdims=True)
    return (x / np.maximum(x.std(axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def mix_at_snr(clean: np.ndarray, color: str, snr_db: float, seed: int) -> np.ndarray:
    """`clean` plus white, pink or brown noise scaled to `snr_db` over the whole signal.

    Examples
    --------
    >>> s = np.sin(np.arange(8000) / 5).astype(np.float32)
    >>> noisy = mix_at_snr(s, "pink", 0.0, seed=1)
    >>> snr = 10 * np.log10((s ** 2).mean() / ((noisy - s) ** 2).mean())
    >>> bool(abs(snr) < 1e-3)
    True
    """
    noise = colored_noise(color, len(clean), rng=seed).astype(np.float64)
    gain = np.sqrt(np.mean(np.square(clean, dtype=np.float64)) / (np.mean(noise**2) * 10 ** (snr_db / 10)))
    return (clean + gain * noise).astype(np.float32)


class FileNoise:
    """Additive noise cut from a folder of noise recordings (WAV), at a chosen signal-to-noise ratio.

    Each sample (a row, read as one signal) gets a segment of the recordings (joined end to end,
    a random start per sample) scaled so that 10·log10(P_signal / P_noise) is the SNR, in dB;
    with a range, each sample's SNR is drawn uniformly in [low, high]. P_signal is the mean power
    of the samples corrupted together (a batch), not of each sample alone: a window of silence
    gets noise as it does in a noisy recording, where the SNR is that of the whole utterance.

    The recordings are read on first use (`aekit.data.audio.read_wav_folder`, mono, at the
    first file's rate: record the noise at the data's sample rate), so a run folder whose model
    was trained with file noise loads where the folder is missing; the values are not clipped.

    Parameters
    ----------
    folder : str
        The folder of WAV recordings.
    snr_db : float
        The SNR in dB (the low end with `snr_high_db`).
    snr_high_db : float or None, default None
        The high end of a range of SNRs.

    Raises
    ------
    ConfigError
        An SNR range with low > high.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from aekit.data.audio import write_wav
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_wav(folder / "hum.wav", 0.3 * colored_noise("brown", 8000, rng=0), 8000)
    >>> noise = parse_noise(f"file:{folder}:snr=10")
    >>> x = np.sin(np.linspace(0, 200, 2 * 1000)).reshape(2, 1000).astype(np.float32)
    >>> noisy = noise(x, rng=0)
    >>> snr = 10 * np.log10((x ** 2).mean() / ((noisy - x) ** 2).mean())
    >>> round(float(snr), 1), str(noise) == f"file:{folder}:snr=10"
    (10.0, True)
    """

    kind = "file"

    def __init__(self, folder: str, snr_db: float, snr_high_db: float | None = None):
        self.folder = str(folder)
        self.snr_db = float(snr_db)
        self.snr_high_db = None if snr_high_db is None else float(snr_high_db)
        if self.snr_high_db is not None and self.snr_high_db < self.snr_db:
            raise ConfigError(f"noise {self}: the SNR range's low end exceeds its high end")
        self._bank: np.ndarray | None = None

    def bank(self) -> np.ndarray:
        """The recordings joined end to end (float32, 1-D), read on first use."""
        if self._bank is None:
            from aekit.data.audio import read_wav_folder

            signals = read_wav_folder(self.folder).signals
            joined = np.concatenate([s[0] for s in signals])
            if not np.any(joined):
                raise ConfigError(f"noise {self}: the recordings in {self.folder} are silent")
            self._bank = joined
        return self._bank

    def _draw(self, n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        bank = self.bank()
        if len(bank) < length + 1:  # short recordings are looped
            bank = np.tile(bank, -(-(length + 1) // len(bank)))
        starts = rng.integers(0, len(bank) - length, size=n)
        segments = bank[starts[:, None] + np.arange(length)]
        hi = self.snr_db if self.snr_high_db is None else self.snr_high_db
        snr = rng.uniform(self.snr_db, hi, size=n) if hi > self.snr_db else np.full(n, self.snr_db)
        return segments.astype(np.float64), snr

    def _scaled(self, x2d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        segments, snr = self._draw(len(x2d), x2d.shape[1], rng)
        p_signal = float(np.mean(np.square(x2d, dtype=np.float64)))
        p_noise = np.maximum(np.mean(segments**2, axis=1), 1e-20)
        return segments * np.sqrt(p_signal * 10.0 ** (-snr / 10) / p_noise)[:, None]

    def __call__(self, x, rng=None, value_range=None):
        if _torch_tensor(x):
            import torch

            x = _float_torch(x)
            gen = _torch_gen(rng, "cpu")
            seed = int(torch.randint(0, 2**62, (1,), generator=gen).item()) if gen is not None else None
            flat = x.detach().reshape(len(x), -1).cpu().numpy()
            noise = self._scaled(flat, np.random.default_rng(seed))
            return x + torch.from_numpy(noise).to(device=x.device, dtype=x.dtype).reshape(x.shape)
        x = _float_np(x)
        flat = x.reshape(len(x), -1)
        return (x + self._scaled(flat, _np_rng(rng)).reshape(x.shape)).astype(x.dtype, copy=False)

    def __str__(self) -> str:
        snr = _level_str(self.snr_db) + ("" if self.snr_high_db is None else f":{_level_str(self.snr_high_db)}")
        return f"{FILE_PREFIX}{self.folder}:snr={snr}"

    def __repr__(self) -> str:
        return f"FileNoise({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, FileNoise) and str(other) == str(self)

    def __hash__(self) -> int:
        return hash(str(self))


def _parse_file_noise(text: str) -> FileNoise:
    """``file:FOLDER:snr=DB`` or ``file:FOLDER:snr=LOW:HIGH`` (the folder may hold colons)."""
    body = text[len(FILE_PREFIX):]
    folder, sep, snr = body.rpartition(":snr=")
    if not sep or not folder.strip():
        raise ConfigError(f"noise {text!r} needs file:FOLDER:snr=DB (or file:FOLDER:snr=LOW_DB:HIGH_DB)")
    _, values = parse_spec(f"snr:{snr}", "noise", SNR_FORMS)
    return FileNoise(folder.strip(), *values)


def parse_noise(spec: "str | Noise | FileNoise | None") -> "Noise | FileNoise | None":
    """Parse "gaussian:0.5", "masking:0.25", "salt-pepper:0.2" (or salt_pepper), or additive noise
    from recordings, "file:FOLDER:snr=DB" (or "file:FOLDER:snr=LOW_DB:HIGH_DB", `FileNoise`);
    None / "" / "none" give None. Raises ConfigError for an unknown kind, a missing or
    non-numeric level, σ < 0 or ν outside [0, 1].

    Parameters
    ----------
    spec : str, Noise, FileNoise or None
        "KIND:LEVEL" (kinds and aliases as `Noise` takes them); a Noise is returned as it is.

    Returns
    -------
    Noise, FileNoise or None

    Examples
    --------
    >>> parse_noise("masking:0.25")
    Noise(kind='masking', level=0.25)
    >>> str(parse_noise("salt_pepper:0.2"))
    'salt-pepper:0.2'
    """
    if spec is None or isinstance(spec, (Noise, FileNoise)):
        return spec
    if isinstance(spec, str) and spec.strip().lower().startswith(FILE_PREFIX):
        return _parse_file_noise(spec.strip())
    parsed = parse_spec(spec, "noise", NOISE_FORMS, aliases={k: v for k, v in _ALIASES.items() if k != v})
    return None if parsed is None else Noise(parsed[0], parsed[1][0])


__all__ = ["COLORS", "KINDS", "FileNoise", "Noise", "colored_noise", "gaussian", "masking", "mix_at_snr", "parse_noise",
           "salt_pepper"]
