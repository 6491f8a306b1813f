"""Convolutional encoder and decoder: by default the small Keras denoiser
(Chollet, "Building Autoencoders in Keras", 2016).

    Conv 3×3 (32) + ReLU + MaxPool 2, twice          (encoder)
    Conv 3×3 (32) + ReLU + UpSampling 2, twice        (decoder)
    Conv 3×3 to C channels (+ the model's sigmoid)

Both work on flat rows (N×D) at their interface so the model's losses, noise and sparsity
apply unchanged; inside, rows are viewed as C×H×W, zero-padded to a multiple of 2^depth
(so any H, W works) and the output is cropped back. With `latent_dim`, a dense bottleneck
is added after the convolutions; without it the code is the last feature map, and the
network is fully convolutional: it accepts images of other sizes than it was trained on.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aekit.nn.layers import activation, padded_size


class PaddedImageEncoder(nn.Module):
    """The forward pass the image encoders share: rows or images, zero-padded to a multiple of
    2**depth, through `features`, then the optional `dense` code layer and `code_activation`
    (subclasses build `input_shape`, `depth`, `features`, `dense` and `code_activation`)."""

    def forward(self, x: torch.Tensor, image_hw: tuple[int, int] | None = None) -> torch.Tensor:
        """Encode N×(C·H·W) rows or N×C×H×W images; `image_hw` gives another (H, W) (fully
        convolutional encoders only). Returns the codes, N × code size."""
        c, h, w = self.input_shape
        if image_hw is not None:
            h, w = image_hw
        x = x.reshape(x.shape[0], c, h, w)
        ph, pw = padded_size(h, self.depth) - h, padded_size(w, self.depth) - w
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        z = self.features(x).flatten(1)
        if self.dense is not None:
            z = self.dense(z)
        return self.code_activation(z)


class ConvEncoder(PaddedImageEncoder):
    """3×3 convolutions + activation + 2×2 max-pooling per block, from C×H×W images to a code.

    Parameters
    ----------
    input_shape : tuple of int
        (C, H, W) of the images it is built for.
    channels : sequence of int
        Channels of each block; each block halves H and W (depth = len(channels)).
    act : str
        Activation by name (see `aekit.nn.layers.activation`).
    latent_dim : int or None
        A dense code of this size after the convolutions; None keeps the last feature map
        (flattened) as the code, and the encoder is fully convolutional.
    code_act : str
        Activation of the code.

    Attributes
    ----------
    depth : int
        Number of blocks.
    code_channels : int
        Channels of the last feature map.
    dense : torch.nn.Linear or None
        The dense bottleneck, if `latent_dim` is given.

    Examples
    --------
    >>> enc = ConvEncoder((1, 28, 28), [32, 32], "relu", 16, "linear")
    >>> enc(torch.zeros(4, 784)).shape
    torch.Size([4, 16])
    >>> ConvEncoder((1, 28, 28), [8], "relu", None, "linear")(torch.zeros(4, 784)).shape  # 8 × 14 × 14
    torch.Size([4, 1568])
    """

    def __init__(self, input_shape: tuple[int, int, int], channels: Sequence[int], act: str,
                 latent_dim: int | None, code_act: str):
        super().__init__()
        self.input_shape = tuple(input_shape)
        c, _, _ = self.input_shape
        layers: list[nn.Module] = []
        for ch in channels:
            layers += [nn.Conv2d(c, ch, 3, padding=1), activation(act), nn.MaxPool2d(2)]
            c = ch
        self.features = nn.Sequential(*layers)
        self.depth = len(channels)
        self.code_channels = c
        self.dense = nn.Linear(c * self.code_hw[0] * self.code_hw[1], latent_dim) if latent_dim else None
        self.code_activation = activation(code_act)

    @property
    def code_hw(self) -> tuple[int, int]:
        """(height, width) of the last feature map for the built input size (inputs are
        zero-padded to a multiple of 2**depth)."""
        _, h, w = self.input_shape
        return padded_size(h, self.depth) // 2**self.depth, padded_size(w, self.depth) // 2**self.depth


class PaddedImageDecoder(nn.Module):
    """The forward pass the image decoders share: the optional `dense` layer, the code reshaped to
    `code_channels` × the code's map, `features`, then cropped to the image size (subclasses build
    `output_shape`, `depth`, `code_hw`, `code_channels`, `dense` and `features`)."""

    def forward(self, z: torch.Tensor, image_hw: tuple[int, int] | None = None) -> torch.Tensor:
        """Decode codes to N×(C·H·W) rows of logits, cropped to the image size; `image_hw` gives
        another (H, W) (fully convolutional decoders only)."""
        c, h, w = self.output_shape
        code_hw = self.code_hw
        if image_hw is not None:
            h, w = image_hw
            code_hw = (padded_size(h, self.depth) // 2**self.depth, padded_size(w, self.depth) // 2**self.depth)
        if self.dense is not None:
            z = self.dense(z)
        z = z.reshape(z.shape[0], self.code_channels, *code_hw)
        return self.features(z)[:, :, :h, :w].flatten(1)


class ConvDecoder(PaddedImageDecoder):
    """The mirror of a `ConvEncoder`: 3×3 convolution + activation + 2× up-sampling per block,
    then a 3×3 convolution to C channels; gives flat N×(C·H·W) logits.

    Parameters
    ----------
    encoder : ConvEncoder
        The encoder it decodes for (its input shape, depth and code shape).
    channels : sequence of int
        Channels of each block, in the encoder's order (used reversed).
    act : str
        Activation by name.
    latent_dim : int or None
        The dense code's size, as given to the encoder.

    Examples
    --------
    >>> enc = ConvEncoder((1, 10, 10), [4, 8], "relu", 3, "linear")   # padded to 12 × 12 inside
    >>> dec = ConvDecoder(enc, [4, 8], "relu", 3)
    >>> dec(enc(torch.zeros(2, 100))).shape
    torch.Size([2, 100])
    """

    def __init__(self, encoder: ConvEncoder, channels: Sequence[int], act: str, latent_dim: int | None):
        super().__init__()
        self.output_shape = encoder.input_shape
        self.depth = encoder.depth
        self.code_channels = encoder.code_channels
        self.code_hw = encoder.code_hw
        flat = self.code_channels * self.code_hw[0] * self.code_hw[1]
        self.dense = nn.Sequential(nn.Linear(latent_dim, flat), activation(act)) if latent_dim else None
        layers: list[nn.Module] = []
        c = self.code_channels
        for ch in reversed(list(channels)):
            layers += [nn.Conv2d(c, ch, 3, padding=1), activation(act), nn.Upsample(scale_factor=2, mode="nearest")]
            c = ch
        layers.append(nn.Conv2d(c, self.output_shape[0], 3, padding=1))
        self.features = nn.Sequential(*layers)
