"""Residual convolutional encoder and decoder for colour images (32 to 256 pixels and more).

    stem       Conv 3×3 (C → w₀)
    stage i    Conv 3×3 stride 2 (w_{i−1} → wᵢ), then `blocks` residual blocks at wᵢ
    head       GroupNorm + activation; a dense code (latent_dim) or the feature map itself

    residual block   x + Conv(act(GN(Conv(act(GN(x))))))      (pre-activation, He et al. 2016)

The decoder mirrors it: a dense layer back to the last feature map (or the spatial code
itself), then per stage `blocks` residual blocks and a 2× nearest up-sampling + Conv 3×3 to
the next width, then GroupNorm + activation + Conv 3×3 to C channels (logits). Strided
convolutions learn the down-sampling that the small Keras net does with max-pooling, the
skip paths let a deeper stack train, and GroupNorm keeps activations on one scale whatever
the batch size (batch statistics would make a sample's code depend on its batch).

Like `aekit.nn.conv`, both take flat rows (N×D) at their interface, so the model's losses,
noise and standardization apply unchanged; inside, rows are viewed as C×H×W, zero-padded to
a multiple of 2^depth and the output is cropped back. Without a dense code the network is
fully convolutional and takes images of other sizes (`image_hw`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from aekit.nn.conv import PaddedImageDecoder, PaddedImageEncoder
from aekit.nn.layers import activation, padded_size

MAX_GROUPS = 8  # GroupNorm groups per layer (fewer when the width is not a multiple of 8)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with gcd(channels, 8) groups (any width works: 8 channels → 8 groups, 12 → 4).

    Parameters
    ----------
    channels : int
        Channels to normalize.

    Returns
    -------
    torch.nn.GroupNorm

    Examples
    --------
    >>> group_norm(64).num_groups, group_norm(12).num_groups
    (8, 4)
    """
    return nn.GroupNorm(math.gcd(int(channels), MAX_GROUPS), int(channels))


class ResidualBlock(nn.Module):
    """A pre-activation residual block: x + conv(act(GN(conv(act(GN(x)))))), channels unchanged.

    The second convolution starts at zero, so each block starts as the identity and a deep stack
    trains like a shallow one at first (Goyal et al. 2017's zero-γ initialization, on the conv).

    Parameters
    ----------
    channels : int
        Channels in and out.
    act : str
        Activation by name (see `aekit.nn.layers.activation`).

    Examples
    --------
    >>> block = ResidualBlock(8, "relu")
    >>> x = torch.randn(2, 8, 5, 5)
    >>> bool(torch.equal(block(x), x))   # the identity at initialization
    True
    """

    def __init__(self, channels: int, act: str):
        super().__init__()
        last = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.body = nn.Sequential(group_norm(channels), activation(act), nn.Conv2d(channels, channels, 3, padding=1),
                                  group_norm(channels), activation(act), last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetEncoder(PaddedImageEncoder):
    """Stem + strided stages of residual blocks + GroupNorm head, from C×H×W images to a code.

    Parameters
    ----------
    input_shape : tuple of int
        (C, H, W) of the images it is built for.
    widths : sequence of int
        Channels of each stage; each stage halves H and W (depth = len(widths)).
    blocks : int
        Residual blocks per stage (0: strided convolutions only).
    act : str
        Activation by name.
    latent_dim : int or None
        A dense code of this size; None keeps the last feature map (flattened) as the code and
        the encoder is fully convolutional.
    code_act : str
        Activation of the code.

    Attributes
    ----------
    depth : int
        Number of stages.
    code_channels : int
        Channels of the last feature map.
    dense : torch.nn.Linear or None
        The dense bottleneck, if `latent_dim` is given.

    Examples
    --------
    >>> enc = ResNetEncoder((3, 32, 32), [16, 32], 1, "relu", 64, "linear")
    >>> enc(torch.zeros(4, 3 * 32 * 32)).shape
    torch.Size([4, 64])
    >>> ResNetEncoder((3, 32, 32), [16, 32], 1, "relu", None, "linear")(torch.zeros(4, 3, 32, 32)).shape  # 32 × 8 × 8
    torch.Size([4, 2048])
    """

    def __init__(self, input_shape: tuple[int, int, int], widths: Sequence[int], blocks: int, act: str,
                 latent_dim: int | None, code_act: str):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        widths = [int(w) for w in widths]
        c = self.input_shape[0]
        layers: list[nn.Module] = [nn.Conv2d(c, widths[0], 3, padding=1)]
        c = widths[0]
        for w in widths:
            layers.append(nn.Conv2d(c, w, 3, stride=2, padding=1))
            layers += [ResidualBlock(w, act) for _ in range(int(blocks))]
            c = w
        layers += [group_norm(c), activation(act)]
        self.features = nn.Sequential(*layers)
        self.depth = len(widths)
        self.code_channels = c
        self.dense = nn.Linear(c * self.code_hw[0] * self.code_hw[1], latent_dim) if latent_dim else None
        self.code_activation = activation(code_act)

    def hw_at_code(self, hw: tuple[int, int]) -> tuple[int, int]:
        """(height, width) of the last feature map for images of size `hw`."""
        return padded_size(hw[0], self.depth) // 2**self.depth, padded_size(hw[1], self.depth) // 2**self.depth

    @property
    def code_hw(self) -> tuple[int, int]:
        """(height, width) of the last feature map for the built input size."""
        return self.hw_at_code(self.input_shape[1:])


class ResNetDecoder(PaddedImageDecoder):
    """The mirror of a `ResNetEncoder`: residual blocks and 2× up-sampling per stage, then
    GroupNorm + activation + Conv 3×3 to C channels; gives flat N×(C·H·W) logits.

    Parameters
    ----------
    encoder : ResNetEncoder
        The encoder it decodes for (its input shape, depth and code shape).
    widths : sequence of int
        Channels of each stage, in the encoder's order (used reversed).
    blocks : int
        Residual blocks per stage.
    act : str
        Activation by name.
    latent_dim : int or None
        The dense code's size (for a VAE: z's size, plus the one-hot labels), or None for a
        spatial code.

    Examples
    --------
    >>> enc = ResNetEncoder((3, 40, 40), [8, 16, 16], 1, "relu", 10, "linear")   # padded to 40 (a multiple of 8)
    >>> dec = ResNetDecoder(enc, [8, 16, 16], 1, "relu", 10)
    >>> dec(enc(torch.zeros(2, 3 * 40 * 40))).shape
    torch.Size([2, 4800])
    """

    def __init__(self, encoder: ResNetEncoder, widths: Sequence[int], blocks: int, act: str,
                 latent_dim: int | None):
        super().__init__()
        self.output_shape = encoder.input_shape
        self.depth = encoder.depth
        self.code_channels = encoder.code_channels
        self.code_hw = encoder.code_hw
        flat = self.code_channels * self.code_hw[0] * self.code_hw[1]
        self.dense = nn.Linear(latent_dim, flat) if latent_dim else None
        widths = [int(w) for w in widths]
        layers: list[nn.Module] = []
        c = self.code_channels
        for i in reversed(range(len(widths))):
            layers += [ResidualBlock(c, act) for _ in range(int(blocks))]
            nxt = widths[i - 1] if i > 0 else widths[0]
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, nxt, 3, padding=1)]
            c = nxt
        layers += [group_norm(c), activation(act), nn.Conv2d(c, self.output_shape[0], 3, padding=1)]
        self.features = nn.Sequential(*layers)


__all__ = ["ResNetDecoder", "ResNetEncoder", "ResidualBlock", "group_norm"]
