"""The data-size rule: epochs, batch size and patience given as "auto" resolved from the rows.

On the built-in digits (1,131 training rows) a batch of 128 made an epoch of 9 gradient steps,
and every default model was still improving when its 100 epochs ran out; the rule gives small
data smaller batches, more epochs and more patience, and large data the former defaults. The
measurements that chose the numbers are in benchmarks/RESULTS.md ("Defaults on small data").
"""
from __future__ import annotations

import math
import warnings

from aekit.errors import AekitWarning, ConfigError, DataError

AUTO_ROWS_PER_BATCH = 32  # batch ≈ training rows / 32, so that an epoch has about 32 steps or more
AUTO_MIN_BATCH, AUTO_MAX_BATCH = 16, 128
AUTO_MIN_STEPS = 20_000  # "auto" epochs give at least this many gradient steps (early stopping ends sooner)
AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 100, 1000
AUTO_PATIENCE_STEPS = 1000  # "auto" patience waits about this many steps without improvement
AUTO_MIN_PATIENCE, AUTO_MAX_PATIENCE = 10, 50
AUTO = "auto"
AUTO_SIZE_DEFAULTS = {"epochs": AUTO, "batch_size": AUTO, "patience": AUTO}


def auto_training_size(n_rows: int, epochs="auto", batch_size="auto", patience="auto") -> tuple[int, int, int]:
    """Resolve ``epochs``, ``batch_size`` and ``patience`` given as "auto" for `n_rows` training rows.

    The rule (the default of the network estimators): the batch is ``n_rows / 32`` rounded down to a power of
    two, kept within [16, 128] and never larger than the data; the epochs are as many as give
    20,000 gradient steps, kept within [100, 1000] (early stopping usually ends sooner); the
    early-stopping patience is as many epochs as make 1,000 steps, kept within [10, 50], when the
    epochs are "auto" too, and 10 (the former default) when a number of epochs is given: a
    detector trained for a set budget on contaminated rows scored worse with the longer patience
    (ROC-AUC 0.814 against 0.828 on the breast-cancer table of benchmarks/anomaly.py). Large
    data thus gets the former defaults (batch 128, 100 epochs, patience 10) and small data, where
    an epoch is a handful of steps, smaller batches, more epochs and more patience: on the digits
    (1,131 training rows) batch 32, 556 epochs, patience 28. A number given for any of them is
    kept (only "auto" is resolved); a given batch still counts in the steps per epoch.

    Parameters
    ----------
    n_rows : int
        Training rows (after the validation share is held out); at least 1.
    epochs : int or "auto", default="auto"
        Maximum epochs, or "auto" for the rule.
    batch_size : int or "auto", default="auto"
        Mini-batch size, or "auto" for the rule.
    patience : int or "auto", default="auto"
        Early-stopping patience in epochs, or "auto" for the rule.

    Returns
    -------
    (epochs, batch_size, patience) : tuple of int
        Each at least 1 when "auto" (a given number is returned as given).

    Examples
    --------
    >>> auto_training_size(1131)
    (556, 32, 28)
    >>> auto_training_size(10)
    (1000, 10, 50)
    >>> auto_training_size(10_000_000)
    (100, 128, 10)
    >>> auto_training_size(1131, epochs=20)
    (20, 32, 10)
    """
    n = int(n_rows)
    if n < 1:
        raise DataError(f"the data-size rule needs at least 1 training row, got {n}")
    if batch_size == AUTO:
        target = max(1, n // AUTO_ROWS_PER_BATCH)
        batch = min(AUTO_MAX_BATCH, max(AUTO_MIN_BATCH, 1 << (target.bit_length() - 1)), n)
    elif isinstance(batch_size, str):
        raise ConfigError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")
    else:
        batch = batch_size
    steps_per_epoch = math.ceil(n / max(1, min(int(batch), n)))
    given_epochs = epochs != AUTO
    if epochs == AUTO:
        epochs = min(AUTO_MAX_EPOCHS, max(AUTO_MIN_EPOCHS, math.ceil(AUTO_MIN_STEPS / steps_per_epoch)))
    elif isinstance(epochs, str):
        raise ConfigError(f"epochs must be an integer ≥ 0 or 'auto', got {epochs!r}")
    if patience == AUTO and not given_epochs:
        patience = min(AUTO_MAX_PATIENCE, max(AUTO_MIN_PATIENCE, math.ceil(AUTO_PATIENCE_STEPS / steps_per_epoch)))
    elif patience == AUTO:  # a given epoch budget keeps the former patience (see the docstring)
        patience = AUTO_MIN_PATIENCE
    elif isinstance(patience, str):
        raise ConfigError(f"patience must be a positive integer or 'auto', got {patience!r}")
    return epochs, batch, patience


def validation_rows(n: int, fraction: float, stacklevel: int = 3) -> int:
    """Rows held out for validation out of `n`: round(n·fraction), or 0 (with an `AekitWarning`)
    when the training or the validation part would be empty.

    Examples
    --------
    >>> validation_rows(100, 0.1), validation_rows(100, 0.0)
    (10, 0)
    """
    n_val = int(round(n * fraction))
    if fraction > 0 and (n_val < 1 or n - n_val < 1):
        warnings.warn(f"{n} samples are too few for a validation_fraction of {fraction:g}: training without "
                      "validation or early stopping", AekitWarning, stacklevel=stacklevel + 1)
        return 0
    return n_val


__all__ = ["AUTO", "AUTO_SIZE_DEFAULTS", "auto_training_size", "validation_rows"]
