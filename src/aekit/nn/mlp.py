"""Multi-layer perceptron encoder and (mirrored, optionally tied) decoder."""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from aekit.nn.layers import TiedLinear, activation


def mlp_encoder(n_in: int, hidden: Sequence[int], latent_dim: int, act: str, code_act: str) -> nn.Sequential:
    """n_in → hidden[0] → … → hidden[-1] → latent_dim, `act` after each hidden layer and
    `code_act` on the code (linear by default; sigmoid for a KL-sparse code)."""
    layers: list[nn.Module] = []
    sizes = [n_in, *hidden]
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation(act)]
    layers += [nn.Linear(sizes[-1], latent_dim), activation(code_act)]
    return nn.Sequential(*layers)


def linear_layers(module: nn.Module) -> list[nn.Linear]:
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
    """
    sizes = [latent_dim, *reversed(list(hidden)), n_out]
    sources = list(reversed(linear_layers(tied_to))) if tied_to is not None else None
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(TiedLinear(sources[i]) if sources is not None else nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation(act))
    return nn.Sequential(*layers)
