"""Reconstruction losses and code penalties (the textbook formulas)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from aekit.errors import ConfigError
from aekit.specs import parse_spec
from aekit.metrics import ssim_tensor

# The differentiable per-image SSIM the `ssim` loss uses, under the name it has had here since
# 0.1; it is aekit.metrics' one SSIM, so the loss trains on exactly what the reports measure.
ssim = ssim_tensor

RECONSTRUCTION_LOSSES = ("mse", "bce", "ssim")


def reconstruction_loss(
    name: str,
    logits: torch.Tensor,
    output: torch.Tensor,
    target: torch.Tensor,
    image_shape: tuple[int, ...] | None = None,
    data_range: float = 1.0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean reconstruction loss over the batch.

    mse: mean squared error per value. bce: binary cross-entropy per value, computed from the
    logits (−Σ[x log y + (1−x) log(1−y)], averaged). ssim: 1 − SSIM per image
    (`aekit.metrics.ssim_tensor`: 11×11 Gaussian window, σ = 1.5; on images under 11 pixels a
    side, a uniform window of the largest odd size that fits), averaged.

    Parameters
    ----------
    name : {"mse", "bce", "ssim"}
        The loss.
    logits : torch.Tensor
        The decoder's pre-activation outputs, N×D (used by "bce").
    output : torch.Tensor
        The outputs after the output activation, N×D (used by "mse" and "ssim").
    target : torch.Tensor
        The values to reconstruct, N×D.
    image_shape : tuple of int or None, default None
        (C, H, W), needed by "ssim".
    data_range : float, default 1.0
        The value range of the data, for SSIM's constants.
    mask : torch.Tensor or None, default None
        Bool or 0/1, N×D: the values that count ("mse" and "bce"). The loss is then the mean
        over the masked-in values of the batch, so a table's missing cells neither pull the
        reconstruction towards their imputed value nor weigh on the loss (0 when none count).

    Returns
    -------
    torch.Tensor
        A scalar.

    Raises
    ------
    ConfigError
        An unknown name, or "ssim" without an image shape.

    Examples
    --------
    >>> target = torch.tensor([[0.0, 1.0]])
    >>> logits = torch.zeros(1, 2)                   # outputs σ(0) = 0.5
    >>> reconstruction_loss("mse", logits, torch.sigmoid(logits), target)
    tensor(0.2500)
    >>> round(float(reconstruction_loss("bce", logits, torch.sigmoid(logits), target)), 4)   # log 2
    0.6931
    >>> reconstruction_loss("mse", logits, torch.tensor([[0.0, 3.0]]), target, mask=torch.tensor([[True, False]]))
    tensor(0.)
    """
    if mask is not None:
        if name == "ssim":
            raise ConfigError("the ssim loss compares whole images and cannot skip masked values; use mse or bce")
        if name == "mse":
            per_value = (output - target) ** 2
        elif name == "bce":
            per_value = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        else:
            raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(RECONSTRUCTION_LOSSES)}")
        weight = mask.to(per_value.dtype).reshape(per_value.shape)
        return (per_value * weight).sum() / weight.sum().clamp_min(1.0)
    if name == "mse":
        return F.mse_loss(output, target)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    if name == "ssim":
        if image_shape is None or len(image_shape) != 3:
            raise ConfigError("the ssim loss needs image data (input_shape C×H×W)")
        shape = (-1, *image_shape)
        return 1.0 - ssim(output.reshape(shape), target.reshape(shape), data_range).mean()
    raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(RECONSTRUCTION_LOSSES)}")


@dataclass(frozen=True)
class Sparsity:
    """A penalty on the code: ``kl:ρ:β`` (β·Σ_j KL(ρ‖ρ̂_j), sigmoid code units) or ``l1:λ``.

    Built by `parse_sparsity`; ``str()`` gives the spec back.

    Parameters
    ----------
    kind : {"kl", "l1"}
        KL divergence of the mean code activations from ρ, or the L1 norm of the code.
    rho : float, default 0.0
        The target mean activation ρ in (0, 1) ("kl" only).
    weight : float, default 0.0
        β ("kl") or λ ("l1").

    Examples
    --------
    >>> s = Sparsity("kl", rho=0.5, weight=3.0)
    >>> str(s), s.penalty(torch.full((4, 2), 0.5))        # ρ̂ = ρ: no penalty
    ('kl:0.5:3', tensor(0.))
    >>> Sparsity("l1", weight=0.1).penalty(torch.tensor([[1.0, -2.0], [0.0, 1.0]]))
    tensor(0.2000)
    """

    kind: str
    rho: float = 0.0
    weight: float = 0.0

    def __str__(self) -> str:
        return f"kl:{self.rho:g}:{self.weight:g}" if self.kind == "kl" else f"l1:{self.weight:g}"

    def penalty(self, code: torch.Tensor) -> torch.Tensor:
        """The penalty on a batch of codes (N × L), a scalar: β·Σ_j KL(ρ‖ρ̂_j), with ρ̂_j the
        batch mean of unit j, or λ times the batch mean of Σ_j |code_j|."""
        if self.kind == "l1":
            return self.weight * code.abs().sum(1).mean()
        # ρ̂_j: mean activation of code unit j over the batch; clamp keeps the logs finite.
        rho_hat = code.mean(0).clamp(1e-6, 1 - 1e-6)
        rho = self.rho
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return self.weight * kl.sum()


SPARSITY_FORMS = {"kl": ("RHO", "BETA"), "l1": ("LAMBDA",)}


def parse_sparsity(spec: str | None) -> Sparsity | None:
    """Parse ``kl:ρ:β`` or ``l1:λ`` (or None / "none").

    Parameters
    ----------
    spec : str or None
        "kl:ρ:β" with ρ in (0, 1) and β ≥ 0, or "l1:λ" with λ ≥ 0.

    Returns
    -------
    Sparsity or None

    Raises
    ------
    ConfigError
        An unknown kind, a wrong count of numbers, or a number out of range.

    Examples
    --------
    >>> parse_sparsity("kl:0.05:3")
    Sparsity(kind='kl', rho=0.05, weight=3.0)
    >>> str(parse_sparsity("l1:0.001")), parse_sparsity("none")
    ('l1:0.001', None)
    """
    parsed = parse_spec(spec, "sparsity", SPARSITY_FORMS)
    if parsed is None:
        return None
    kind, values = parsed
    if kind == "kl":
        rho, beta = values
        if not 0 < rho < 1:
            raise ConfigError(f"sparsity {spec!r}: the target activation ρ must lie in (0, 1)")
        if beta < 0:
            raise ConfigError(f"sparsity {spec!r}: the weight β must be ≥ 0")
        return Sparsity("kl", rho, beta)
    if values[0] < 0:
        raise ConfigError(f"sparsity {spec!r}: the weight λ must be ≥ 0")
    return Sparsity("l1", 0.0, values[0])
