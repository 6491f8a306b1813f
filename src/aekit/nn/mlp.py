"""Multi-layer perceptron encoder and (mirrored, optionally tied) decoder."""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from aekit.nn.layers import TiedLinear, activation


def mlp_encoder(n_in: int, hidden: Sequence[int], latent_dim: int, act: str, code_act: str) -> nn.Sequential:
    """n_in → hidden[0] → … → hidden[-1] → latent_dim, `act` after each hidden layer and
    `code_act` on the code (linear by default; sigmoid for a KL-sparse code).

    Parameters
    ----------
    n_in : int
        Input features.
    hidden : sequence of int
        Hidden layer sizes, from the input side (may be empty).
    latent_dim : int
        Code size.
    act : str
        Activation after each hidden layer (see `aekit.nn.layers.activation`).
    code_act : str
        Activation of the code.

    Returns
    -------
    torch.nn.Sequential
        Alternating ``nn.Linear`` and activation modules.

    Examples
    --------
    >>> import torch
    >>> enc = mlp_encoder(64, [32, 16], 2, "relu", "linear")
    >>> [m.out_features for m in linear_layers(enc)]
    [32, 16, 2]
    >>> enc(torch.zeros(5, 64)).shape
    torch.Size([5, 2])
    """
    layers: list[nn.Module] = []
    sizes = [n_in, *hidden]
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation(act)]
    layers += [nn.Linear(sizes[-1], latent_dim), activation(code_act)]
    return nn.Sequential(*layers)


def linear_layers(module: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of a module, in registration order (input side first).

    Parameters
    ----------
    module : torch.nn.Module
        Usually an `mlp_encoder` stack.

    Returns
    -------
    list of torch.nn.Linear

    Examples
    --------
    >>> linear_layers(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)))
    [Linear(in_features=4, out_features=3, bias=True), Linear(in_features=3, out_features=2, bias=True)]
    """
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def mlp_decoder(
    latent_dim: int,
    hidden: Sequence[int],
    n_out: int,
    act: str,
    tied_to: nn.Sequential | None = None,
) -> nn.Sequential:
    """The mirror of the encoder: latent_dim → hidden[-1] → … → hidden[0] → n_out.

    Returns pre-activation outputs (logits); the model applies the output activation so that
    losses can use the numerically stable fused forms (BCE with logits).
    With `tied_to`, each layer reuses the transposed weight of the matching encoder layer.

    Parameters
    ----------
    latent_dim : int
        Code size.
    hidden : sequence of int
        The encoder's hidden sizes, from the input side (used reversed).
    n_out : int
        Output features.
    act : str
        Activation after each hidden layer; none after the last layer.
    tied_to : torch.nn.Sequential or None, default None
        An encoder built with the same sizes; its linear layers, transposed, become the
        decoder's (`aekit.nn.layers.TiedLinear`), so only the biases are new parameters.

    Returns
    -------
    torch.nn.Sequential

    Examples
    --------
    >>> import torch
    >>> enc = mlp_encoder(64, [32], 2, "relu", "linear")
    >>> dec = mlp_decoder(2, [32], 64, "relu", tied_to=enc)
    >>> dec(enc(torch.zeros(5, 64))).shape
    torch.Size([5, 64])
    >>> sum(p.numel() for p in dec.parameters())   # the biases 32 + 64
    96
    """
    sizes = [latent_dim, *reversed(list(hidden)), n_out]
    sources = list(reversed(linear_layers(tied_to))) if tied_to is not None else None
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(TiedLinear(sources[i]) if sources is not None else nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation(act))
    return nn.Sequential(*layers)
