"""`RobustAutoEncoder`: the autoencoder an unsupervised detector of tables holds by default.

The training data of an unsupervised detector contains the anomalies it is meant to find, and a
network trained to convergence learns to reconstruct them too (on the ODDS cardio table the
former default, 64-32/8 trained for about 20,000 updates, scored ROC-AUC 0.65 where
IsolationForest scored 0.92). Three changes, each with a reason that does not depend on the table:

- **Winsorized training rows**: each column is clipped, for training only, to its median ± 3
  robust standard deviations (IQR / 1.349); the standardization is then learned on the clipped
  rows. An extreme value can then neither pull the network towards it nor inflate the column's
  scale, and at scoring time the unclipped value is far from anything the network learned to
  produce. Columns whose IQR is 0 (binary, one-hot, mostly constant) are left as they are.
- **A code that grows with the width**: ``latent_dim="auto"`` is ⌈√D⌉ for D input features, within
  [2, 16] and below D, so that the code is always a real bottleneck (8 was the full width of an
  8-column table, where the network learns the identity).
- **A short, fixed training budget**: ``epochs="auto"`` gives `updates` (1,000) gradient steps
  whatever the table's size, instead of the 20,000 of the data-size rule: long enough to learn the
  bulk of the rows, too short to fit their outliers.

The measurements behind the choice, and what did not help, are in benchmarks/RESULTS.md
("Detector default on tables").
"""
from __future__ import annotations

import inspect
import math
from dataclasses import replace

import numpy as np

from aekit.errors import ConfigError
from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.base import TRAINING_DOC
from aekit.estimators.sizing import AUTO
from aekit.specs import finite_number, positive_int

IQR_TO_STD = 1.349  # IQR / 1.349 is the standard deviation of a normal distribution
MAX_AUTO_LATENT = 16


def auto_latent_dim(n_features: int) -> int:
    """The code size of ``latent_dim="auto"``: ⌈√D⌉ within [2, 16], and below D (at least 1).

    Parameters
    ----------
    n_features : int
        Input features D.

    Returns
    -------
    int

    Examples
    --------
    >>> [auto_latent_dim(d) for d in (2, 8, 21, 274, 10_000)]
    [1, 3, 5, 16, 16]
    """
    d = int(n_features)
    return max(1, min(MAX_AUTO_LATENT, max(2, math.ceil(math.sqrt(d))), d - 1))


def winsorize_bounds(X: np.ndarray, iqrs: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column, median ∓ `iqrs` robust standard deviations (IQR / 1.349); ±inf where the IQR is 0.

    Parameters
    ----------
    X : ndarray, N × D
    iqrs : float
        How many robust standard deviations from the median are kept.

    Returns
    -------
    (low, high) : two ndarrays of D values

    Examples
    --------
    >>> X = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0], [100.0, 1.0]])
    >>> low, high = winsorize_bounds(X, 3.0)
    >>> float(np.clip(X, low, high)[4, 0]) < 10, bool(np.isinf(high[1]))
    (True, True)
    """
    X = np.asarray(X, dtype=np.float64)
    med = np.median(X, axis=0)
    q1, q3 = np.percentile(X, [25, 75], axis=0)
    spread = (q3 - q1) / IQR_TO_STD
    keep = spread > 0
    return np.where(keep, med - iqrs * spread, -np.inf), np.where(keep, med + iqrs * spread, np.inf)


class RobustAutoEncoder(AutoEncoder):
    """An AutoEncoder that keeps the outliers in its training data from being learned.

    The default model of `AutoEncoderDetector` for flat rows (tables): columns winsorized for
    training, a code of ⌈√D⌉ values and a fixed budget of gradient updates (see the module
    docstring for why). Every AutoEncoder option works as there; it saves and loads as a run
    folder like any estimator.

    Parameters
    ----------
    hidden : tuple of int, default=(64, 32)
        Sizes of the encoder's hidden layers; the decoder mirrors them.
    latent_dim : int or "auto", default="auto"
        Size of the code; "auto": `auto_latent_dim` of the input features.
    winsorize : float or None, default=3.0
        Training rows are clipped per column to median ± this many robust standard deviations
        (IQR / 1.349); None trains on the rows as they are.
    updates : int, default=1000
        Gradient updates that ``epochs="auto"`` trains for (a given number of epochs is kept).
    **params
        The other AutoEncoder parameters (activation, noise, tied, ...) and the training
        parameters below.
    {training_parameters}

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.estimators.robust import RobustAutoEncoder
    >>> X = np.random.default_rng(0).normal(size=(200, 9))
    >>> ae = RobustAutoEncoder(updates=20, batch_size=32, random_state=0).fit(X)
    >>> ae.model_config_.latent_dim, ae.n_epochs_
    (3, 4)
    """

    def __init__(self, hidden=(64, 32), latent_dim="auto", *, winsorize=3.0, updates=1000, **params):
        # every AutoEncoder parameter, with AutoEncoder's defaults (the signature below lists them
        # for scikit-learn's get_params, so this class follows AutoEncoder when it gains one)
        defaults = {name: p.default for name, p in inspect.signature(AutoEncoder).parameters.items()}
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise TypeError(f"RobustAutoEncoder.__init__() got an unexpected keyword argument {unknown[0]!r}")
        for name, default in defaults.items():
            setattr(self, name, params.get(name, default))
        self.hidden, self.latent_dim, self.winsorize, self.updates = hidden, latent_dim, winsorize, updates

    def _resolve_config(self, X: np.ndarray, y=None):
        if self.winsorize is not None:
            finite_number(self.winsorize, "winsorize (robust standard deviations kept)", 0.0, low_open=True)
        positive_int(self.updates, "updates", "gradient updates of epochs='auto'")
        if self.latent_dim != AUTO:
            return super()._resolve_config(X, y)
        if self.arch != "mlp":
            raise ConfigError("latent_dim='auto' is for flat rows (arch='mlp'); give the code size of a conv model")
        # AutoEncoder reads latent_dim from the instance: it sees the resolved size for this call only
        self.latent_dim = auto_latent_dim(X.shape[1])
        try:
            return super()._resolve_config(X, y)
        finally:
            self.latent_dim = AUTO

    def _training_arrays(self, X_train, y_train, X_val, y_val, seed: int):
        X_train, X_val = super()._training_arrays(X_train, y_train, X_val, y_val, seed)
        if self.winsorize is None or getattr(self, "_fit_image_shape", None) is not None:
            return X_train, X_val
        low, high = winsorize_bounds(X_train, float(self.winsorize))
        clip = lambda A: None if A is None else np.clip(A, low, high).astype(A.dtype, copy=False)  # noqa: E731
        return clip(X_train), clip(X_val)

    def _train_config(self, seed: int):
        cfg = super()._train_config(seed)
        rows = getattr(self, "_n_train_rows", None)
        if self.epochs != AUTO or rows is None:
            return cfg
        steps_per_epoch = math.ceil(rows / max(1, min(cfg.batch_size, rows)))
        epochs = max(1, math.ceil(int(self.updates) / steps_per_epoch))
        return replace(cfg, epochs=epochs)


def _robust_signature() -> inspect.Signature:
    """AutoEncoder's signature with this class's defaults and its two parameters."""
    own = {"hidden": (64, 32), "latent_dim": AUTO}
    params = [p.replace(default=own[p.name]) if p.name in own else p
              for p in inspect.signature(AutoEncoder).parameters.values()]
    extra = [inspect.Parameter("winsorize", inspect.Parameter.KEYWORD_ONLY, default=3.0),
             inspect.Parameter("updates", inspect.Parameter.KEYWORD_ONLY, default=1000)]
    n_positional = sum(p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
    return inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                              *params[:n_positional], *extra, *params[n_positional:]])


RobustAutoEncoder.__init__.__signature__ = _robust_signature()
RobustAutoEncoder.__doc__ = RobustAutoEncoder.__doc__.replace("    {training_parameters}\n", TRAINING_DOC)


__all__ = ["RobustAutoEncoder", "auto_latent_dim", "winsorize_bounds"]
