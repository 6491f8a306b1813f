"""Small building blocks: activations by name and a decoder layer tied to an encoder layer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aekit.errors import ConfigError

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "linear": nn.Identity,
}
ACTIVATION_NAMES = tuple(_ACTIVATIONS)


def activation(name: str) -> nn.Module:
    """An activation module by name ("relu", "sigmoid", "tanh", "linear", ...)."""
    key = str(name).lower().replace("-", "_")
    if key in ("identity", "none"):
        key = "linear"
    if key == "logistic":
        key = "sigmoid"
    if key not in _ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATION_NAMES)}")
    return _ACTIVATIONS[key]()


def check_activation(name: str) -> str:
    activation(name)
    return name


class TiedLinear(nn.Module):
    """y = x Wᵀᵀ + b = x W + b, sharing W with an encoder ``nn.Linear`` (tied weights).

    The encoder layer is held outside the module registry so its weight is stored once in
    the state dict (safetensors refuses shared tensors) and counted once by the optimizer;
    only the bias belongs to this layer.
    """

    def __init__(self, source: nn.Linear):
        super().__init__()
        self._source = (source,)  # a tuple hides it from nn.Module registration
        self.bias = nn.Parameter(torch.zeros(source.in_features))
        self.in_features = source.out_features
        self.out_features = source.in_features

    @property
    def weight(self) -> torch.Tensor:
        return self._source[0].weight.t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self._source[0].weight.t(), self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, tied=True"
