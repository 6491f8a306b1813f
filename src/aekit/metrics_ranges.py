"""Range-based precision and recall for time series (Tatbul et al. 2018, "Precision and Recall
for Time Series", NeurIPS).

Point-wise precision and recall count time steps; an anomaly in a series is a *range* of steps,
and a detector that flags one step of a 100-step level shift has found it, though it covers 1 %
of it. Tatbul et al. score ranges instead. With real anomaly ranges R₁ … R_Nr and flagged
(predicted) ranges P₁ … P_Np:

    Recall    = (1/Nr) Σᵢ  α · Existence(Rᵢ) + (1 − α) · Overlap(Rᵢ, P)
    Precision = (1/Np) Σⱼ  Overlap(Pⱼ, R)

- ``Existence(Rᵢ)`` is 1 when any step of Rᵢ is flagged, else 0: the reward for noticing
  the anomaly at all.
- ``Overlap(A, B) = CardinalityFactor(A, B) · Σ_k ω(A, A ∩ B_k)``: ω is the share of A's
  positional weight that the overlap covers; with the **flat bias** every step of A weighs the
  same, so ω = |A ∩ B_k| / |A|. ("front", "back" and "middle" biases weigh A's first, last or
  central steps most, as in the paper.)
- ``CardinalityFactor(A, B)`` is 1 when A overlaps at most one range of B, else 1/x for x
  overlapping ranges: a detector that splits one anomaly into many flagged pieces is rewarded
  less than one that flags it as one range.

**α**, the weight of the existence reward in recall, is 0.5 by default here: half the credit for
an anomaly is for flagging any of it, half for how much of it is flagged. α = 0 is the paper's
pure overlap recall (for flat bias and one flagged range per anomaly, the point-wise recall within
each range, averaged over ranges); α = 1 counts detected ranges only. Precision has no existence
term (the paper's α = 0 for precision).

Undefined values follow scikit-learn's ``zero_division=0``: precision is 0 when nothing is
flagged, recall is 0 when there is no real anomaly, and F1 is 0 when both are 0.

Pure numpy; like `aekit.metrics` this module sits at the bottom of the layering.
"""
from __future__ import annotations

import numpy as np

from aekit.errors import ConfigError, DataError

BIASES = ("flat", "front", "back", "middle")
DEFAULT_ALPHA = 0.5


def ranges(flags) -> np.ndarray:
    """The runs of consecutive true steps of a boolean series, as [start, stop) pairs.

    Parameters
    ----------
    flags : array-like of bool, shape (T,)

    Returns
    -------
    np.ndarray
        int64, shape (K, 2): each run's first step and one past its last step, in time order.

    Examples
    --------
    >>> ranges([0, 1, 1, 0, 0, 1, 0, 1, 1]).tolist()
    [[1, 3], [5, 6], [7, 9]]
    """
    f = np.asarray(flags).astype(bool).ravel()
    edges = np.diff(np.concatenate([[False], f, [False]]).astype(np.int8))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1).astype(np.int64)


def _position_weights(length: int, bias: str) -> np.ndarray:
    """δ(i) for the steps i = 1 … length of a range (the paper's positional bias functions)."""
    i = np.arange(1, length + 1, dtype=np.float64)
    if bias == "flat":
        return np.ones(length)
    if bias == "front":
        return length - i + 1
    if bias == "back":
        return i
    return np.where(i <= length / 2, i, length - i + 1)  # middle


def _overlap_rewards(own: np.ndarray, other_flags: np.ndarray, other_ids: np.ndarray, bias: str) -> np.ndarray:
    """Overlap(A, B) for every range A in `own`, against the ranges B marked in `other_flags`
    (`other_ids`: each step's range number in B, -1 outside)."""
    out = np.zeros(len(own))
    for k, (start, stop) in enumerate(own):
        hit = other_flags[start:stop]
        if not hit.any():
            continue
        weights = _position_weights(int(stop - start), bias)
        omega = float(weights[hit].sum() / weights.sum())  # Σ over B_k of ω(A, A ∩ B_k): the overlaps are disjoint
        n_overlapping = len(np.unique(other_ids[start:stop][hit]))
        out[k] = omega * (1.0 if n_overlapping <= 1 else 1.0 / n_overlapping)
    return out


def _range_ids(flags: np.ndarray) -> np.ndarray:
    """Each step's run number among the true runs of `flags` (0, 1, ...), -1 where false."""
    starts = np.concatenate([[flags[0]], flags[1:] & ~flags[:-1]]) if len(flags) else flags
    return np.where(flags, np.cumsum(starts) - 1, -1)


def range_precision_recall(is_anomaly, flagged, *, alpha: float = DEFAULT_ALPHA, bias: str = "flat") -> dict:
    """Range-based precision, recall and F1 of flagged steps against real anomaly steps.

    See the module docstring for the definitions (Tatbul et al. 2018; cardinality factor 1/x).

    Parameters
    ----------
    is_anomaly : array-like of bool, shape (T,)
        True at the steps of the real anomalies; each run of true steps is one anomaly range.
    flagged : array-like of bool, shape (T,)
        True at the steps the detector flags; each run is one predicted range.
    alpha : float, default 0.5
        Weight of the existence reward in recall, in [0, 1].
    bias : {"flat", "front", "back", "middle"}, default "flat"
        Positional bias of the overlap reward (for recall and precision alike).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``n_real`` (anomaly ranges), ``n_flagged``
        (predicted ranges), ``alpha`` and ``bias``.

    Raises
    ------
    DataError
        The two series differ in length.
    ConfigError
        α outside [0, 1] or an unknown bias.

    Examples
    --------
    One real range of 4 steps; two flagged ranges, one covering half of it, one a false alarm:

    >>> real = [0, 1, 1, 1, 1, 0, 0, 0]
    >>> pred = [0, 0, 0, 1, 1, 0, 1, 0]
    >>> m = range_precision_recall(real, pred, alpha=0.5)
    >>> m["recall"], m["precision"]          # 0.5·1 + 0.5·(2/4);  (1 + 0) / 2
    (0.75, 0.5)
    """
    real = np.asarray(is_anomaly).astype(bool).ravel()
    pred = np.asarray(flagged).astype(bool).ravel()
    if real.shape != pred.shape:
        raise DataError(f"range_precision_recall: {len(real)} anomaly labels but {len(pred)} flags")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating, np.integer)) or not 0 <= alpha <= 1:
        raise ConfigError(f"alpha (the existence reward's weight) must be a number in [0, 1], got {alpha!r}")
    if bias not in BIASES:
        raise ConfigError(f"unknown bias {bias!r}; choose one of {', '.join(BIASES)}")
    real_ranges, pred_ranges = ranges(real), ranges(pred)
    recall = precision = 0.0
    if len(real_ranges):
        existence = np.array([pred[s:e].any() for s, e in real_ranges], dtype=np.float64)
        overlap = _overlap_rewards(real_ranges, pred, _range_ids(pred), bias)
        recall = float(np.mean(alpha * existence + (1 - alpha) * overlap))
    if len(pred_ranges):
        precision = float(np.mean(_overlap_rewards(pred_ranges, real, _range_ids(real), bias)))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": float(f1), "n_real": int(len(real_ranges)),
            "n_flagged": int(len(pred_ranges)), "alpha": float(alpha), "bias": bias}


__all__ = ["BIASES", "DEFAULT_ALPHA", "range_precision_recall", "ranges"]
