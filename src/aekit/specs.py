"""Option strings, parsed in one place.

Some options are short strings a user types: noise ``gaussian:0.5``, sparsity ``kl:0.05:3``,
a learning-rate schedule ``step:10:0.5``. `parse_spec` reads every one of them: a kind, then
numbers separated by colons, checked against the forms that kind takes. The family that owns
the option validates the numbers' ranges in its typed config (`Noise`, `Sparsity`,
`TrainConfig`).

Examples
--------
>>> parse_spec("gaussian:0.5", "noise", {"gaussian": ("σ",), "masking": ("ν",)})
('gaussian', (0.5,))
>>> parse_spec("none", "noise", {"gaussian": ("σ",)}) is None
True
>>> parse_spec("cosine", "lr_schedule", {"cosine": (), "step": ("EVERY", "GAMMA")})
('cosine', ())
"""
from __future__ import annotations

import math

from aekit.errors import ConfigError

NONE_WORDS = ("", "none", "off", "no")


def spec_form(kind: str, names) -> str:
    """How a form is written: kind:NAME:NAME."""
    return ":".join((kind, *names))


def parse_spec(spec, what: str, forms: dict[str, tuple], aliases: dict[str, str] | None = None,
               ) -> tuple[str, tuple[float, ...]] | None:
    """Parse ``kind[:number[:number...]]`` into (kind, numbers).

    Parameters
    ----------
    spec : str or None
        The option's text; None, "" or "none" give None.
    what : str
        The option's name, for messages ("noise", "sparsity", "lr_schedule").
    forms : dict
        Each kind and the names of its numbers; a kind whose numbers are optional lists its
        forms as a tuple of name tuples, e.g. ``{"plateau": ((), ("PATIENCE", "FACTOR"))}``.
    aliases : dict or None, default=None
        Other spellings of kinds (lower case) → the kind.

    Returns
    -------
    (kind, numbers) or None

    Raises
    ------
    ConfigError
        An unknown kind, a number that is not a finite number, or the wrong count of numbers.
    """
    if spec is None:
        return None
    if not isinstance(spec, str):
        raise ConfigError(f"{what} must be a string like {spec_form(*next(iter(forms.items())))!r}, "
                          f"got {type(spec).__name__}")
    text = spec.strip()
    if text.lower() in NONE_WORDS:
        return None
    kind, *args = text.split(":")
    key = kind.strip().lower()
    key = (aliases or {}).get(key, key)
    choices = ", ".join(spec_form(k, _forms(v)[-1]) for k, v in forms.items())
    if key not in forms:
        raise ConfigError(f"unknown {what} kind {kind.strip()!r} in {spec!r}; choose one of {choices}, or none")
    values = []
    for a in args:
        try:
            v = float(a)
        except ValueError:
            raise ConfigError(f"{what} {spec!r}: {a.strip()!r} is not a number") from None
        if not math.isfinite(v):
            raise ConfigError(f"{what} {spec!r}: {a.strip()!r} is not a finite number")
        values.append(v)
    allowed = _forms(forms[key])
    if len(values) not in [len(f) for f in allowed]:
        written = " or ".join(spec_form(key, f) for f in allowed)
        raise ConfigError(f"{what} {spec!r} needs {written}")
    return key, tuple(values)


def integer(value, name: str, low: int = 1, meaning: str = "") -> int:
    """`value` as an int ≥ `low`; ConfigError naming the argument (and what it counts) otherwise.

    Examples
    --------
    >>> integer("5", "k")
    5
    """
    what = f"{name} ({meaning})" if meaning else name
    kind = "a positive integer" if low == 1 else f"an integer ≥ {low}"
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be {kind}, got {value!r}")
    try:
        number = int(value)
        if number != float(value):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{what} must be {kind}, got {value!r}") from None
    if number < low:
        raise ConfigError(f"{what} must be ≥ {low}, got {number}")
    return number


def positive_int(value, name: str, meaning: str = "") -> int:
    """`value` as an int ≥ 1 (see `integer`)."""
    return integer(value, name, 1, meaning)


def non_negative_int(value, name: str) -> int:
    """`value` as an int ≥ 0 (see `integer`)."""
    return integer(value, name, 0)


def finite_number(value, name: str, low: float | None = None, high: float | None = None,
                  low_open: bool = False) -> float:
    """`value` as a finite float within [low, high] ((low, high] with low_open); ConfigError
    naming the argument and the accepted range otherwise.

    Examples
    --------
    >>> finite_number("0.5", "lr", low=0.0, low_open=True)
    0.5
    """
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (number < low or (low_open and number == low)):
        raise ConfigError(f"{name} must be {'>' if low_open else '≥'} {low:g}, got {number:g}")
    if high is not None and number > high:
        raise ConfigError(f"{name} must be ≤ {high:g}, got {number:g}")
    return number


def _forms(v) -> list[tuple]:
    """A kind's forms: one tuple of names, or a tuple of such tuples."""
    if v and isinstance(v[0], tuple):
        return list(v)
    return [tuple(v)]


__all__ = ["finite_number", "integer", "non_negative_int", "parse_spec", "positive_int", "spec_form"]
