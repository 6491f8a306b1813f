"""The score parts of an exported detector graph: the reconstruction scores of raw arrays
(`DetectorGraph`) and ``score="mse+code"``'s distance along the manifold (`ManifoldScoreGraph`).

``mse+code`` (`aekit.estimators.manifold_score`) needs statistics of the training rows: the codes'
robust centre and precision matrix, the median reconstruction and each part's median. They are
constants of the graph (float64 buffers), so the exported file scores a row alone, as
`AutoEncoderDetector.decision_function` does, with nothing beside it. `aekit.estimators.export`
(arrays) and `aekit.estimators.export_table` (tables) put these pieces into their detector graphs.
"""
from __future__ import annotations

import torch
from torch import nn

from aekit.estimators.manifold_score import PARTS, TINY, ManifoldScore
from aekit.metrics import ssim_tensor


def _as64(values) -> torch.Tensor:
    return torch.as_tensor(values, dtype=torch.float64).clone()


class ManifoldScoreGraph(nn.Module):
    """(errors N, codes N × k, reconstructions N × D in the errors' units) → the ``mse+code`` score
    (float64 N): the sum over the parts of log(max(part, TINY)) − log(the part's training median),
    as `ManifoldScore.score` computes it.

    Parameters
    ----------
    state : ManifoldScore
        The fitted state (`AutoEncoderDetector.manifold_`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> errors, codes = rng.chisquare(4, 200) / 4, rng.normal(size=(200, 2))
    >>> ms = ManifoldScore.fit(errors, codes, codes @ rng.normal(size=(2, 5)), random_state=0)
    >>> R = codes @ rng.normal(size=(2, 5))
    >>> graph = ManifoldScoreGraph(ms)
    >>> got = graph(torch.from_numpy(errors), torch.from_numpy(codes), torch.from_numpy(R)).numpy()
    >>> bool(np.allclose(got, ms.score(errors, codes, R), rtol=1e-12, atol=1e-12))
    True
    """

    def __init__(self, state: ManifoldScore):
        super().__init__()
        self.register_buffer("code_location", _as64(state.code_location))
        self.register_buffer("code_precision", _as64(state.code_precision))
        self.register_buffer("reconstruction_center", _as64(state.reconstruction_center))
        self.register_buffer("log_medians", torch.log(_as64([state.medians[p] for p in PARTS])))

    def forward(self, errors: torch.Tensor, codes: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
        z = codes.double() - self.code_location
        code = ((z @ self.code_precision) * z).sum(1)  # the squared Mahalanobis distance
        along = ((reconstructions.double() - self.reconstruction_center) ** 2).mean(1)
        raw = torch.stack([errors.double(), code, along], 1)  # the order of PARTS
        return (torch.log(raw.clamp(min=TINY)) - self.log_medians).sum(1)


def manifold_graph(det, k: int = 0) -> ManifoldScoreGraph | None:
    """The ``mse+code`` piece of network k's graph in a fitted detector, or None for another score."""
    return ManifoldScoreGraph(det.manifolds_[k]) if det.score_ == "mse+code" else None


class EnsembleGraph(nn.Module):
    """The inputs → (the mean of the member graphs' scores, float64; label, int64: score > threshold):
    a cross-fitted ensemble's detector (`aekit.estimators.ensemble`), as its `decision_function`
    averages its networks' scores.

    Parameters
    ----------
    members : list of torch.nn.Module
        One detector graph per network (`DetectorGraph` or a table's), each returning (score, label).
    threshold : float

    Examples
    --------
    >>> class Half(nn.Module):
    ...     def __init__(self, c):
    ...         super().__init__(); self.c = c
    ...     def forward(self, x):
    ...         s = x.sum(1) * self.c
    ...         return s, (s > 0).long()
    >>> score, label = EnsembleGraph([Half(1.0), Half(3.0)], threshold=1.0)(torch.ones(2, 2))
    >>> score.tolist(), label.tolist()
    ([4.0, 4.0], [1, 1])
    """

    def __init__(self, members: list[nn.Module], threshold: float):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.register_buffer("threshold", torch.tensor(float(threshold), dtype=torch.float64))

    def forward(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = (x,) if observed is None else (x, observed)  # a table's graphs also take the observed mask
        score = self.members[0](*inputs)[0]
        for member in self.members[1:]:
            score = score + member(*inputs)[0]
        score = score / len(self.members)
        return score, (score > self.threshold).to(torch.int64)


class DetectorGraph(nn.Module):
    """x (raw) → (anomaly score, float64; label, int64: score > threshold), as
    `AutoEncoderDetector.decision_function` and `predict` compute them.

    Parameters
    ----------
    model : torch.nn.Module
        The detector's network (a frozen CPU copy).
    score : str
        The score in use (``det.score_``): "mse", "max", "ssim" or "mse+code".
    threshold : float
    flag_nan : bool
        Rows holding NaN or inf score +inf (``nan_policy="flag"``).
    manifold : ManifoldScoreGraph or None
        ``score="mse+code"``'s part (`manifold_graph`).
    """

    def __init__(self, model: nn.Module, score: str, threshold: float, flag_nan: bool,
                 manifold: ManifoldScoreGraph | None = None):
        super().__init__()
        self.model = model
        self.score = score
        self.flag_nan = bool(flag_nan)
        self.manifold = manifold
        cfg = model.config
        self.image_shape = tuple(cfg.input_shape)
        lo, hi = cfg.value_range
        self.data_range = float(hi - lo)
        scale = model.input_scale if cfg.standardize else torch.ones_like(model.input_scale)
        self.register_buffer("scale", scale.detach().clone().double())
        self.register_buffer("threshold", torch.tensor(float(threshold), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x.reshape(x.shape[0], -1)
        bad = ~torch.isfinite(flat).all(1) if self.flag_nan else None
        if bad is not None:  # scored as the detector does: such rows get +inf (nan_policy="flag")
            flat = torch.where(bad[:, None], torch.zeros_like(flat), flat)
        recon = self.model(flat.reshape(x.shape)).reshape(flat.shape).double()
        clean = flat.double()
        if self.score == "ssim":
            shape = (-1, *self.image_shape)
            score = 1.0 - ssim_tensor(clean.reshape(shape), recon.reshape(shape), self.data_range)
        else:
            sq = ((clean - recon) / self.scale) ** 2
            score = sq.amax(1) if self.score == "max" else sq.mean(1)
            if self.manifold is not None:  # the errors in the standardized units, as the detector has them
                codes = self.model.encode(flat.reshape(x.shape))
                score = self.manifold(score, codes, recon / self.scale)
        if bad is not None:
            score = torch.where(bad, torch.full_like(score, float("inf")), score)
        return score, (score > self.threshold).to(torch.int64)


__all__ = ["DetectorGraph", "EnsembleGraph", "ManifoldScoreGraph", "manifold_graph"]
