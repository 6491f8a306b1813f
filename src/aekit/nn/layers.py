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
ACTIVATION_NAMES = tuple(_ACTIVATIONS)  # the names `activation` accepts (besides aliases)


def activation(name: str) -> nn.Module:
    """An activation module by name.

    Parameters
    ----------
    name : str
        One of ``ACTIVATION_NAMES`` ("relu", "sigmoid", "tanh", "linear", ...), in any case,
        with "-" or "_"; "identity" and "none" mean "linear", "logistic" means "sigmoid".

    Returns
    -------
    torch.nn.Module
        A new module (``nn.Identity`` for "linear").

    Raises
    ------
    ConfigError
        For an unknown name.

    Examples
    --------
    >>> activation("ReLU"), activation("leaky-relu"), activation("none")
    (ReLU(), LeakyReLU(negative_slope=0.01), Identity())
    >>> activation("logistic")(torch.zeros(2))
    tensor([0.5000, 0.5000])
    """
    key = str(name).lower().replace("-", "_")
    if key in ("identity", "none"):
        key = "linear"
    if key == "logistic":
        key = "sigmoid"
    if key not in _ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATION_NAMES)}")
    return _ACTIVATIONS[key]()


def check_activation(name: str) -> str:
    """`name` unchanged if `activation` knows it (for validating configs).

    Parameters
    ----------
    name : str
        An activation name.

    Returns
    -------
    str
        `name`, as given.

    Raises
    ------
    ConfigError
        For an unknown name.

    Examples
    --------
    >>> check_activation("Tanh")
    'Tanh'
    """
    activation(name)
    return name


def padded_size(size: int, depth: int) -> int:
    """`size` rounded up to a multiple of 2**depth: what an encoder of `depth` stride-2 stages pads
    an image side or a signal's length to.

    Examples
    --------
    >>> padded_size(28, 2), padded_size(32, 3), padded_size(33, 3), padded_size(1, 2)
    (28, 32, 40, 4)
    """
    m = 2**depth
    return -(-size // m) * m  # no int(): a traced (symbolic) size must stay symbolic for ONNX export


class TiedLinear(nn.Module):
    """y = x Wᵀᵀ + b = x W + b, sharing W with an encoder ``nn.Linear`` (tied weights).

    The encoder layer is held outside the module registry so its weight is stored once in
    the state dict (safetensors refuses shared tensors) and counted once by the optimizer;
    only the bias belongs to this layer.

    Parameters
    ----------
    source : torch.nn.Linear
        The encoder layer whose weight W (out × in) this layer uses transposed.

    Attributes
    ----------
    bias : torch.nn.Parameter
        Shape (source.in_features,), initialized to zeros.
    in_features, out_features : int
        source.out_features and source.in_features.

    Examples
    --------
    >>> enc = nn.Linear(6, 2)
    >>> dec = TiedLinear(enc)
    >>> dec(torch.zeros(3, 2)).shape
    torch.Size([3, 6])
    >>> [name for name, _ in dec.named_parameters()], dec.weight.data_ptr() == enc.weight.data_ptr()
    (['bias'], True)
    """

    def __init__(self, source: nn.Linear):
        super().__init__()
        self._source = (source,)  # a tuple hides it from nn.Module registration
        self.bias = nn.Parameter(torch.zeros(source.in_features))
        self.in_features = source.out_features
        self.out_features = source.in_features

    @property
    def weight(self) -> torch.Tensor:
        """Wᵀ, a view of the source layer's weight, shape (in_features, out_features)."""
        return self._source[0].weight.t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x W + b for x of shape (..., in_features)."""
        return F.linear(x, self._source[0].weight.t(), self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, tied=True"
