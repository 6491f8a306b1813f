"""What an `AutoEncoderDetector` holds when it is not told: its default networks (images, tables,
time series) and the score "auto" resolves to. Kept apart from `aekit.estimators.detector`, which
imports and re-exports every name here."""
from __future__ import annotations

from aekit.errors import ConfigError
from aekit.estimators.manifold_score import MANIFOLD_SCORE

AUTO_SCORE = "auto"  # MANIFOLD_SCORE for the table default model (a RobustAutoEncoder), "mse" otherwise
SCORES = (AUTO_SCORE, "mse", "max", "ssim", "elbo", "loglik", MANIFOLD_SCORE)
TABLE_SCORES = (AUTO_SCORE, "mse", "max", MANIFOLD_SCORE)
# Scores computed from seeded random draws over the whole batch (a VAE's ELBO, its importance-sampled
# log-likelihood): a row's score depends on the rows scored with it.
SAMPLED_SCORES = ("elbo", "loglik")


# The plain preset's network inside a detector when no size is given: small, as for tables.
DEFAULT_MODEL = {"hidden": (64, 32), "latent_dim": 8}
# The default for flat rows (tables): a RobustAutoEncoder (winsorized training rows, a code of ⌈√D⌉,
# 1,000 updates of batch 32, no validation split: the budget, not early stopping, ends training).
# Measured on the ODDS tables against PyOD's AutoEncoder and IsolationForest: benchmarks/RESULTS.md,
# "Detector default on tables". Images (N×C×H×W) keep DEFAULT_MODEL with the data-size training rule.
DEFAULT_TABLE_MODEL = {"hidden": (64, 32), "latent_dim": "auto", "winsorize": 3.0, "updates": 1000,
                       "batch_size": 32, "validation_fraction": 0.0}


def default_estimator(random_state, images: bool = False):
    """The detector's own network: `DEFAULT_MODEL` for images, `DEFAULT_TABLE_MODEL` for flat rows."""
    if images:
        return detector_model("ae", random_state=random_state)
    from aekit.estimators.robust import RobustAutoEncoder

    return RobustAutoEncoder(**DEFAULT_TABLE_MODEL, random_state=random_state)


def detector_model(preset: str = "ae", *, table: bool = False, series: bool = False, **params):
    """The model a detector holds: an autoencoder or VAE preset, with `params` overriding it; the
    plain preset "ae" gets DEFAULT_MODEL's sizes unless `params` give them, or for a `table` the
    default table model (`DEFAULT_TABLE_MODEL`, a RobustAutoEncoder), for a time `series` the
    default series model (`DEFAULT_SERIES_MODEL`), with `params` overriding it."""
    from aekit.estimators.presets import PRESETS, make_preset, preset_class

    if preset_class(preset).__name__ not in ("AutoEncoder", "VariationalAutoEncoder"):
        raise ConfigError(f"a detector holds an autoencoder or a VAE, not --model {preset}; choose one of "
                          + ", ".join(p for p, spec in PRESETS.items() if spec.estimator != "Colorizer"))
    if preset == "ae" and series:
        from aekit.estimators.series_detector import default_series_model

        return default_series_model(**params)
    if preset == "ae" and table:
        from aekit.estimators.robust import RobustAutoEncoder

        return RobustAutoEncoder(**{**DEFAULT_TABLE_MODEL, **params})
    if preset == "ae":
        params = {**DEFAULT_MODEL, **params}
    return make_preset(preset, **params)


def resolve_score(score: str, estimator, *, series: bool = False) -> str:
    """The score a detector uses: `score`, or for "auto" MANIFOLD_SCORE when the model is the table
    default (a RobustAutoEncoder; None stands for the default model of flat rows) and "mse" otherwise.

    "mse+code" was measured on tables with the RobustAutoEncoder only (benchmarks/RESULTS.md,
    "Detector default on tables"), so images, time series and models given by the caller keep "mse".

    Examples
    --------
    >>> from aekit import AutoEncoder
    >>> resolve_score("auto", None), resolve_score("auto", AutoEncoder()), resolve_score("max", None)
    ('mse+code', 'mse', 'max')
    """
    if score != AUTO_SCORE:
        return score
    from aekit.estimators.robust import RobustAutoEncoder

    table_default = estimator is None or isinstance(estimator, RobustAutoEncoder)
    return MANIFOLD_SCORE if table_default and not series else "mse"


def loaded_score(score: str, recorded, *, series: bool = False) -> str:
    """The score in use of a detector read from a run folder: `score` (its parameter), or for "auto"
    the resolved one detector.json `recorded`; folders written before "auto" record only the parameter."""
    if score != AUTO_SCORE:
        return score
    allowed = ("mse", "max") if series else tuple(s for s in SCORES if s != AUTO_SCORE)
    if recorded not in allowed:
        raise ValueError(f"score 'auto' needs the resolved score (one of {', '.join(allowed)}), got {recorded!r}")
    return recorded


__all__ = ["AUTO_SCORE", "DEFAULT_MODEL", "DEFAULT_TABLE_MODEL", "SAMPLED_SCORES", "SCORES", "TABLE_SCORES",
           "default_estimator",
           "detector_model", "loaded_score", "resolve_score"]
