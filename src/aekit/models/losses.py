"""Reconstruction losses and code penalties (the seeds' formulas)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from aekit.errors import ConfigError

RECONSTRUCTION_LOSSES = ("mse", "bce", "ssim")


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    w = torch.outer(g, g)
    return w.expand(channels, 1, size, size).contiguous()


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004: Gaussian window σ=1.5, K1=0.01, K2=0.03), shape (N,).

    Differentiable, for training with the `ssim` loss. The window shrinks (odd, ≥3) for images
    smaller than 11 pixels, such as the 8×8 digits.
    """
    if x.ndim != 4:
        raise ConfigError(f"the ssim loss needs image data N×C×H×W, got shape {tuple(x.shape)}")
    channels, height, width = x.shape[1:]
    size = min(11, height, width)
    size = size if size % 2 == 1 else size - 1
    size = max(size, 3)
    w = _gaussian_window(size, 1.5 * size / 11, channels, x)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    sxx = blur(x * x) - mu_x**2
    syy = blur(y * y) - mu_y**2
    sxy = blur(x * y) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)


def reconstruction_loss(
    name: str,
    logits: torch.Tensor,
    output: torch.Tensor,
    target: torch.Tensor,
    image_shape: tuple[int, ...] | None = None,
    data_range: float = 1.0,
) -> torch.Tensor:
    """Mean reconstruction loss over the batch.

    mse: mean squared error per value. bce: binary cross-entropy per value, computed from the
    logits (the seeds' −Σ[x log y + (1−x) log(1−y)], averaged). ssim: 1 − SSIM per image.
    """
    if name == "mse":
        return F.mse_loss(output, target)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    if name == "ssim":
        if image_shape is None:
            raise ConfigError("the ssim loss needs image data (input_shape C×H×W)")
        shape = (-1, *image_shape)
        return 1.0 - ssim(output.reshape(shape), target.reshape(shape), data_range).mean()
    raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(RECONSTRUCTION_LOSSES)}")


@dataclass(frozen=True)
class Sparsity:
    """A penalty on the code: ``kl:ρ:β`` (β·Σ_j KL(ρ‖ρ̂_j), sigmoid code units) or ``l1:λ``."""

    kind: str
    rho: float = 0.0
    weight: float = 0.0

    def __str__(self) -> str:
        return f"kl:{self.rho:g}:{self.weight:g}" if self.kind == "kl" else f"l1:{self.weight:g}"

    def penalty(self, code: torch.Tensor) -> torch.Tensor:
        if self.kind == "l1":
            return self.weight * code.abs().sum(1).mean()
        # ρ̂_j: mean activation of code unit j over the batch; clamp keeps the logs finite.
        rho_hat = code.mean(0).clamp(1e-6, 1 - 1e-6)
        rho = self.rho
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return self.weight * kl.sum()


def parse_sparsity(spec: str | None) -> Sparsity | None:
    """Parse ``kl:ρ:β`` or ``l1:λ`` (or None / "none")."""
    if spec is None or str(spec).strip().lower() in ("", "none"):
        return None
    parts = str(spec).strip().lower().split(":")
    try:
        values = [float(p) for p in parts[1:]]
    except ValueError:
        raise ConfigError(f"sparsity {spec!r}: the numbers after the kind must be numeric") from None
    if any(not math.isfinite(v) for v in values):
        raise ConfigError(f"sparsity {spec!r}: values must be finite")
    if parts[0] == "kl":
        if len(values) != 2:
            raise ConfigError(f"sparsity {spec!r}: write kl:ρ:β, for example kl:0.05:3")
        rho, beta = values
        if not 0 < rho < 1:
            raise ConfigError(f"sparsity {spec!r}: the target activation ρ must lie in (0, 1)")
        if beta < 0:
            raise ConfigError(f"sparsity {spec!r}: the weight β must be ≥ 0")
        return Sparsity("kl", rho, beta)
    if parts[0] == "l1":
        if len(values) != 1:
            raise ConfigError(f"sparsity {spec!r}: write l1:λ, for example l1:0.001")
        if values[0] < 0:
            raise ConfigError(f"sparsity {spec!r}: the weight λ must be ≥ 0")
        return Sparsity("l1", 0.0, values[0])
    raise ConfigError(f"unknown sparsity {spec!r}; write kl:ρ:β or l1:λ")
