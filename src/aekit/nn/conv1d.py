"""1-D convolutional encoder and decoder for signals (C channels × T samples).

    per entry of `channels`:  Conv1d k4 s2 (halves T) + act, then `blocks` residual blocks
    code:                     the last feature map, or a dense layer to `latent_dim`
    decoder, per entry (reversed): `blocks` residual blocks, then ConvTranspose1d k4 s2
                              (doubles T) + act; finally Conv1d to C channels (+ the model's
                              output activation)

A residual block is pre-activation (He et al. 2016): x + conv(act(norm(conv(act(norm(x)))))),
with "same" padding, so it keeps C and T. `norm="group"` uses GroupNorm with gcd(channels, 8)
groups (at most 8, always dividing the channels); GroupNorm does not depend on the batch, so
batch size 1 and a model in eval mode behave as in training. `norm="none"` leaves it out.

As nn/conv.py does for images, both modules take and give flat rows (N×(C·T)) at their
interface (N×C×T is accepted too), so the model's losses, noise and sparsity apply unchanged.
Inside, the signal is zero-padded on the right to a multiple of 2^depth (so any T >= 1 works)
and the output is trimmed back to T. With `latent_dim`, a dense bottleneck follows the
convolutions and fixes T; without it the network is fully convolutional and accepts other
lengths than it was built for (pass `length`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aekit.errors import ConfigError, DataError
from aekit.nn.layers import activation, padded_size

NORMS = ("group", "none")


def conv1d_code_size(length: int, channels: Sequence[int]) -> int:
    """Values in the code of a fully convolutional `Conv1dEncoder` (no dense layer) for length T:
    the last stage's channels × padded_size(T, depth) / 2**depth.

    Examples
    --------
    >>> conv1d_code_size(100, [8, 16])   # 16 channels × 25 steps
    400
    """
    chans = list(channels)
    depth = len(chans)
    return chans[-1] * (padded_size(length, depth) // 2**depth)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "group":
        return nn.GroupNorm(math.gcd(channels, 8), channels)
    return nn.Identity()


class ResidualBlock1d(nn.Module):
    """x + conv(act(norm(conv(act(norm(x)))))): a pre-activation residual block keeping C and T.

    Parameters
    ----------
    channels : int
        Channels in and out.
    act : str
        Activation by name (see `aekit.nn.layers.activation`).
    norm : {"group", "none"}, default "group"
        GroupNorm with gcd(channels, 8) groups, or none.
    kernel_size : int, default 3
        Odd kernel size of both convolutions ("same" padding).

    Examples
    --------
    >>> block = ResidualBlock1d(16, "relu")
    >>> block(torch.zeros(2, 16, 5)).shape
    torch.Size([2, 16, 5])
    """

    def __init__(self, channels: int, act: str, norm: str = "group", kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.body = nn.Sequential(
            _norm(norm, channels), activation(act), nn.Conv1d(channels, channels, kernel_size, padding=pad),
            _norm(norm, channels), activation(act), nn.Conv1d(channels, channels, kernel_size, padding=pad),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + body(x), for N×C×T signals."""
        return x + self.body(x)


def _check_options(input_shape, channels, latent_dim, blocks, norm, kernel_size) -> tuple[tuple[int, int], list[int]]:
    try:
        c, t = (int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ConfigError(f"input_shape must be (channels, length), got {input_shape!r}") from None
    if c < 1 or t < 1:
        raise ConfigError(f"input_shape must have channels >= 1 and length >= 1, got {input_shape!r}")
    chans = list(channels)
    if not all(isinstance(ch, int) and not isinstance(ch, bool) and ch >= 1 for ch in chans):
        raise ConfigError(f"channels must be whole numbers >= 1, got {channels!r}")
    if latent_dim is not None and (not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1):
        raise ConfigError(f"latent_dim must be a whole number >= 1 or None, got {latent_dim!r}")
    if not isinstance(blocks, int) or isinstance(blocks, bool) or blocks < 0:
        raise ConfigError(f"blocks (residual blocks per stage) must be a whole number >= 0, got {blocks!r}")
    if norm not in NORMS:
        raise ConfigError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigError(f"kernel_size must be an odd whole number >= 1, got {kernel_size!r}")
    return (c, t), chans


class Conv1dEncoder(nn.Module):
    """Strided 1-D convolutions with residual blocks, from a C×T signal to a code.

    Parameters
    ----------
    input_shape : tuple of int
        (C, T): channels and length of the signals it is built for.
    channels : sequence of int
        Channels of each stage; each stage halves the length (depth = len(channels)).
    act : str, default "relu"
        Activation by name (see `aekit.nn.layers.activation`).
    latent_dim : int or None, default None
        A dense code of this size after the convolutions; None keeps the last feature map
        (flattened) as the code and the network fully convolutional.
    code_act : str, default "linear"
        Activation of the code.
    blocks : int, default 1
        Residual blocks per stage (0: plain strided convolutions).
    norm : {"group", "none"}, default "group"
        Normalization inside the residual blocks.
    kernel_size : int, default 3
        Odd kernel size of the residual blocks' convolutions.

    Attributes
    ----------
    depth : int
        Number of stages.
    code_channels : int
        Channels of the last feature map.
    code_length : int
        Length of the last feature map for T = input_shape[1]: padded_size(T, depth) / 2**depth.

    Examples
    --------
    >>> enc = Conv1dEncoder((2, 100), [8, 16], latent_dim=10)
    >>> enc(torch.zeros(3, 2 * 100)).shape
    torch.Size([3, 10])
    >>> Conv1dEncoder((1, 100), [8, 16])(torch.zeros(3, 1, 100)).shape   # 16 channels × 25 steps
    torch.Size([3, 400])
    """

    def __init__(self, input_shape: tuple[int, int], channels: Sequence[int], act: str = "relu",
                 latent_dim: int | None = None, code_act: str = "linear", *, blocks: int = 1,
                 norm: str = "group", kernel_size: int = 3):
        super().__init__()
        self.input_shape, chans = _check_options(input_shape, channels, latent_dim, blocks, norm, kernel_size)
        self.blocks, self.norm, self.kernel_size = blocks, norm, kernel_size
        c = self.input_shape[0]
        layers: list[nn.Module] = []
        for ch in chans:
            layers += [nn.Conv1d(c, ch, 4, stride=2, padding=1), activation(act)]
            layers += [ResidualBlock1d(ch, act, norm, kernel_size) for _ in range(blocks)]
            c = ch
        self.features = nn.Sequential(*layers)
        self.depth = len(chans)
        self.code_channels = c
        self.dense = nn.Linear(c * self.code_length, latent_dim) if latent_dim else None
        self.code_activation = activation(code_act)

    @property
    def code_length(self) -> int:
        """Length of the last feature map for the built length T."""
        return padded_size(self.input_shape[1], self.depth) // 2**self.depth

    def forward(self, x: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Encode N×(C·T) rows or N×C×T signals; `length` overrides T (fully convolutional only)."""
        c, t = self.input_shape
        if length is not None and length != t:
            if self.dense is not None:
                raise ConfigError(f"a dense code fixes the length to {t}; got length {length}")
            t = length
        if x.dim() < 2 or math.prod(x.shape[1:]) != c * t:
            raise DataError(f"expected N×{c}×{t} signals (or N×{c * t} rows), got shape {tuple(x.shape)}")
        x = x.reshape(x.shape[0], c, t)
        pad = padded_size(t, self.depth) - t
        if pad:
            x = F.pad(x, (0, pad))
        z = self.features(x).flatten(1)
        if self.dense is not None:
            z = self.dense(z)
        return self.code_activation(z)


class Conv1dDecoder(nn.Module):
    """The mirror of a `Conv1dEncoder`: from its code back to C×T, as flat N×(C·T) rows.

    Residual blocks, norm and kernel size follow the encoder's.

    Parameters
    ----------
    encoder : Conv1dEncoder
        The encoder it decodes for (its input shape, depth and code shape).
    channels : sequence of int
        Channels of each stage, given in the encoder's order (used reversed); same length as
        the encoder's.
    act : str, default "relu"
        Activation by name.
    latent_dim : int or None, default None
        The dense code's size, as given to the encoder.

    Examples
    --------
    >>> enc = Conv1dEncoder((1, 7), [4, 8], latent_dim=3)
    >>> dec = Conv1dDecoder(enc, [4, 8], latent_dim=3)
    >>> dec(enc(torch.zeros(5, 7))).shape
    torch.Size([5, 7])
    """

    def __init__(self, encoder: Conv1dEncoder, channels: Sequence[int], act: str = "relu",
                 latent_dim: int | None = None):
        super().__init__()
        chans = list(channels)
        if len(chans) != encoder.depth:
            raise ConfigError(f"the decoder needs as many stages as the encoder ({encoder.depth}), got {channels!r}")
        _check_options(encoder.input_shape, chans, latent_dim, encoder.blocks, encoder.norm, encoder.kernel_size)
        if (latent_dim is None) != (encoder.dense is None):
            raise ConfigError("give the decoder the same latent_dim as the encoder")
        self.output_shape = encoder.input_shape
        self.depth = encoder.depth
        self.code_channels = encoder.code_channels
        self.code_length = encoder.code_length
        flat = self.code_channels * self.code_length
        self.dense = nn.Sequential(nn.Linear(latent_dim, flat), activation(act)) if latent_dim else None
        layers: list[nn.Module] = []
        c = self.code_channels
        for ch in reversed(chans):
            layers += [ResidualBlock1d(c, act, encoder.norm, encoder.kernel_size) for _ in range(encoder.blocks)]
            layers += [nn.ConvTranspose1d(c, ch, 4, stride=2, padding=1), activation(act)]
            c = ch
        layers.append(nn.Conv1d(c, self.output_shape[0], encoder.kernel_size, padding=encoder.kernel_size // 2))
        self.features = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Decode codes to N×(C·T) rows; `length` gives T for a fully convolutional model."""
        c, t = self.output_shape
        code_length = self.code_length
        if length is not None and length != t:
            if self.dense is not None:
                raise ConfigError(f"a dense code fixes the length to {t}; got length {length}")
            t = length
            code_length = padded_size(t, self.depth) // 2**self.depth
        if self.dense is not None:
            z = self.dense(z)
        z = z.reshape(z.shape[0], self.code_channels, code_length)
        return self.features(z)[:, :, :t].flatten(1)


__all__ = ["NORMS", "Conv1dDecoder", "Conv1dEncoder", "ResidualBlock1d", "conv1d_code_size"]
