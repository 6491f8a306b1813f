"""A detector's networks: one, or a cross-fitted ensemble (``AutoEncoderDetector(n_estimators=K)``).

With K > 1 the training rows are cut into K folds (a seeded permutation); network k trains on
every fold but fold k, with its own seed. Every training row is then scored by the one network
that did not see it (its *out-of-fold* score), and the threshold is set on those scores, so no row
is spent on calibration alone: each network sees (K − 1)/K of the rows, as the single network
sees 1 − ``calibration_fraction`` of them, and together they have seen them all. A new row's score
is the mean of the K networks' scores (each network's ``mse+code`` parts are divided by its own
training medians, so the scores are on one scale). Averaging networks trained on different rows
and seeds removes much of the variation between two networks of the same recipe, which measured
as large as the differences between the scores tried (benchmarks/RESULTS.md, "Detector default
on tables", "Third round: cross-fitted ensembles").

A detector's run folder holds network 0 in the folder itself (so every reader of one model, the
report, ``aekit encode``, exports of a part, finds it there) and network k ≥ 1 in
``members/<k>``, each a complete run folder with its own checksums; detector.json says how many.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from sklearn.base import clone

from aekit.errors import ConfigError, RunFolderError

AUTO = "auto"
TABLE_DEFAULT_MEMBERS = 5  # networks of the table default (n_estimators="auto"); other models: 1
MEMBERS_DIR = "members"


def resolve_n_estimators(n_estimators, table_default: bool) -> int:
    """The number of networks: `n_estimators`, or for "auto" TABLE_DEFAULT_MEMBERS for the table
    default model and 1 for any other (images, time series, a model the caller gives).

    Examples
    --------
    >>> resolve_n_estimators("auto", True), resolve_n_estimators("auto", False), resolve_n_estimators(3, False)
    (5, 1, 3)
    """
    if n_estimators == AUTO:
        return TABLE_DEFAULT_MEMBERS if table_default else 1
    if isinstance(n_estimators, bool) or not isinstance(n_estimators, (int, np.integer)) or n_estimators < 1:
        raise ConfigError(f"n_estimators (networks in the detector) must be 'auto' or an integer ≥ 1, "
                          f"got {n_estimators!r}")
    return int(n_estimators)


def crossfit_folds(n_rows: int, k: int, seed: int) -> list[np.ndarray]:
    """K folds of ``range(n_rows)`` (a seeded permutation, sizes differing by at most one), each sorted.

    Examples
    --------
    >>> [f.tolist() for f in crossfit_folds(5, 2, 0)]
    [[2, 3, 4], [0, 1]]
    """
    perm = np.random.default_rng(seed).permutation(n_rows)
    return [np.sort(f) for f in np.array_split(perm, k)]


def complement(n_rows: int, fold: np.ndarray) -> np.ndarray:
    """The rows of ``range(n_rows)`` outside `fold`, in order."""
    keep = np.ones(n_rows, dtype=bool)
    keep[fold] = False
    return np.flatnonzero(keep)


def member_estimator(estimator, k: int):
    """An unfitted copy of `estimator` for network k: its seed moved by k (a seed of None stays None)."""
    member = clone(estimator)
    seed = member.get_params(deep=False).get("random_state")
    if seed is not None and k:
        member.set_params(random_state=int(seed) + k)
    return member


def share_table_encoder(estimators: list) -> None:
    """Give networks 1 … K−1 of a table detector network 0's encoder object (their states are equal:
    learned once), so that a setting changed on the detector's ``table_encoder_`` (such as its
    ``errors``) holds for every network."""
    encoder = getattr(estimators[0], "table_encoder_", None) if estimators else None
    for member in estimators[1:]:
        if encoder is not None:
            member.table_encoder_ = encoder


def recorded_count(meta: dict) -> int:
    """The number of networks detector.json records (1 in folders written before ensembles);
    ValueError for anything but a positive integer."""
    count = meta.get("n_estimators", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"n_estimators must be a positive integer, got {count!r}")
    return count


def save_members(estimators: list, run: Path, data: dict | None) -> None:
    """Write networks 1 … K−1 under ``run/members/<k>`` (what an earlier save left there goes first)."""
    folder = Path(run) / MEMBERS_DIR
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
    for k, est in enumerate(estimators[1:], start=1):
        est.save(folder / str(k), data=data)


def load_members(cls, run: Path, count: int, device: str) -> list:
    """Networks 1 … count−1 of a detector's run folder, each checked as its own run folder is."""
    out = []
    for k in range(1, count):
        path = Path(run) / MEMBERS_DIR / str(k)
        if not path.is_dir():
            raise RunFolderError(f"{run}: detector.json says {count} networks, but {path} is missing "
                                 "(copy the whole run folder, members/ included)")
        out.append(cls.load(path, device=device))
    return out


__all__ = ["AUTO", "MEMBERS_DIR", "TABLE_DEFAULT_MEMBERS", "complement", "crossfit_folds", "load_members",
           "member_estimator", "recorded_count", "resolve_n_estimators", "save_members", "share_table_encoder"]
