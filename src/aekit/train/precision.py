"""Where and in what precision training computes: devices, mixed precision, host-to-device copies.

``device="auto"`` picks the first CUDA device when there is one (under torchrun: the process's
``LOCAL_RANK``-th), else the CPU; MPS is used only when named. ``precision`` is one of

- ``"32"``: float32 throughout (the default, bit-reproducible on the CPU);
- ``"bf16-mixed"``: the forward pass under ``torch.autocast`` in bfloat16 (matrix multiplies and
  convolutions), weights, optimizer state and the validation pass in float32; no loss scaling is
  needed since bfloat16 has float32's range. Works on the CPU and on CUDA devices that support it;
- ``"16-mixed"``: autocast in float16 with a ``torch.amp.GradScaler`` (float16's small range would
  flush small gradients to zero); CUDA (and MPS) only: on a CPU it is refused with a ConfigError.

On CUDA, tensors are copied from pinned host memory with ``non_blocking=True``.
"""
from __future__ import annotations

import contextlib
import os

import torch
from torch import nn

from aekit.errors import ConfigError

PRECISIONS = ("32", "bf16-mixed", "16-mixed")


def resolve_device(device) -> str:
    """The device name `device` means on this machine and in this process.

    "auto" is CUDA when present, else "cpu"; under torchrun (``LOCAL_RANK`` set) a CUDA device
    without an index is the process's own GPU, ``cuda:LOCAL_RANK``. Other names pass unchanged
    (`check_device` validates them).

    Parameters
    ----------
    device : str or torch.device
        "auto", "cpu", "cuda", "cuda:N" or "mps".

    Returns
    -------
    str

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("auto") in ("cpu", "cuda:0") or resolve_device("auto").startswith("cuda:")
    True
    """
    name = str(device).strip().lower() if device is not None else "cpu"
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        local = os.environ.get("LOCAL_RANK", "").strip()
        index = int(local) if local.isdigit() else 0
        return f"cuda:{index}"
    return name


def check_device(device) -> torch.device:
    """The torch device named (after `resolve_device`), if this machine has it; ConfigError otherwise.

    Examples
    --------
    >>> check_device("cpu")
    device(type='cpu')
    >>> check_device("tpu")
    Traceback (most recent call last):
    ...
    aekit.errors.ConfigError: unknown device 'tpu'; use auto, cpu, cuda, cuda:N or mps
    """
    try:
        dev = torch.device(resolve_device(device))
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: this machine has no CUDA device (torch {torch.__version__}); "
                          "use cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r}: MPS is not available on this machine; use cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {device!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return dev


def check_precision(precision, device) -> str:
    """`precision` as one of PRECISIONS, checked against `device`; ConfigError otherwise.

    Parameters
    ----------
    precision : str or int
        "32" (or 32), "bf16-mixed" or "16-mixed".
    device : str or torch.device
        Where training runs.

    Returns
    -------
    str

    Examples
    --------
    >>> check_precision(32, "cpu")
    '32'
    >>> check_precision("16-mixed", "cpu")
    Traceback (most recent call last):
    ...
    aekit.errors.ConfigError: precision '16-mixed' needs a GPU (float16 autocast with loss scaling); on the CPU use bf16-mixed or 32
    """
    name = str(precision).strip().lower()
    if name in ("32-true", "32.0", "fp32", "float32"):
        name = "32"
    if name not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    dev = torch.device(resolve_device(device))
    if name == "16-mixed" and dev.type == "cpu":
        raise ConfigError("precision '16-mixed' needs a GPU (float16 autocast with loss scaling); "
                          "on the CPU use bf16-mixed or 32")
    if name == "bf16-mixed" and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"precision 'bf16-mixed': {torch.cuda.get_device_name(dev)} does not support bfloat16; "
                          "use 16-mixed")
    return name


def to_device(t: torch.Tensor, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """`t` on `device` (as `dtype`); to a CUDA device from pinned memory without blocking the host.

    Examples
    --------
    >>> to_device(torch.ones(2, dtype=torch.float64), torch.device("cpu"), torch.float32).dtype
    torch.float32
    """
    if torch.device(device).type == "cuda" and t.device.type == "cpu":
        if dtype is not None:
            t = t.to(dtype)  # convert on the host: the pinned buffer has the final size
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device=device, dtype=dtype)


class MixedPrecision:
    """The autocast context and the backward / optimizer step of one precision.

    Parameters
    ----------
    precision : str
        One of PRECISIONS (checked by `check_precision`).
    device : torch.device
        Where training runs.

    Examples
    --------
    >>> model = nn.Linear(4, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> amp = MixedPrecision("bf16-mixed", torch.device("cpu"))
    >>> with amp.autocast():
    ...     y = model(torch.ones(2, 4))
    >>> y.dtype
    torch.bfloat16
    >>> amp.step(y.float().pow(2).mean(), opt, model.parameters(), grad_clip=1.0)
    """

    def __init__(self, precision: str, device: torch.device):
        self.precision = precision
        self.device = torch.device(device)
        self.dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "16-mixed" else None

    def autocast(self):
        """The forward pass's context: autocast in the precision's dtype (nothing for "32")."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, params, grad_clip: float | None) -> None:
        """Backward of `loss`, gradient clipping (on unscaled gradients) and the optimizer step;
        with a GradScaler, a step whose gradients overflowed is skipped and the scale lowered."""
        if self.scaler is None:
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        if grad_clip is not None:
            self.scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()


SMALL_STEP_MACS = 5e7


def auto_threads(model: nn.Module, x1: torch.Tensor, batch_size: int) -> int:
    """1 thread when a training step is too small for threads to pay off, else torch's default.

    A step's multiply-adds (forward + backward ≈ 3× the forward's, counted on one sample by
    hooks on the linear and convolution layers) below SMALL_STEP_MACS take well under a few
    milliseconds on one core; then thread synchronization costs more than it saves, and on a
    shared machine spinning OpenMP threads have slowed small runs more than tenfold.
    """
    macs = 0

    def hook(module, _inp, out):
        nonlocal macs
        per_position = module.weight.numel() // (module.groups if isinstance(module, nn.Conv2d) else 1)
        positions = out[0].numel() // out.shape[1] if isinstance(module, nn.Conv2d) else 1
        macs += per_position * positions

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    try:
        with torch.no_grad():
            model.validation_terms(x1.float().cpu()) if hasattr(model, "validation_terms") else model(x1)
    except Exception:
        return torch.get_num_threads()
    finally:
        for h in handles:
            h.remove()
    return 1 if 3 * macs * batch_size < SMALL_STEP_MACS else torch.get_num_threads()


def flushes_denormals() -> bool:
    """Whether this thread's CPU flushes subnormal floats to zero now (`torch.set_flush_denormal`
    has no getter: a product that is subnormal in float32 shows it).

    Examples
    --------
    >>> flushes_denormals() in (True, False)
    True
    """
    return bool((torch.tensor(1e-30) * torch.tensor(1e-10)).item() == 0.0)


__all__ = ["PRECISIONS", "SMALL_STEP_MACS", "MixedPrecision", "auto_threads", "check_device", "check_precision", "flushes_denormals", "resolve_device",
           "to_device"]
