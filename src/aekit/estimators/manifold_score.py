"""``score="mse+code"``: the reconstruction error plus the row's distance along the learned manifold.

A pure reconstruction error sees only how far a row lies *off* the manifold the autoencoder
learned. A row that is extreme *along* it (every column pushed far in a direction the normal
rows also vary in) is mapped onto the manifold, far out, and reconstructed well: its error is
small. This score adds two distances along the manifold, so it catches both kinds:

- ``reconstruction``: the mean squared reconstruction error (in the detector's units: the
  standardized columns of a table), the plain ``score="mse"``;
- ``code``: the squared Mahalanobis distance of the row's code from the codes of the training
  rows, under their robust location and covariance (scikit-learn's `MinCovDet`: the training rows
  hold the outliers, which a plain covariance would absorb). It measures the code in its own,
  whitened units;
- ``along``: the mean squared distance of the row's reconstruction from the training rows' median
  reconstruction, in the columns' units. The whitened code distance weighs every code direction
  alike, also one the decoder barely uses; this one weighs a direction by how far it moves the
  columns.

Each part is divided by its median over the rows the model was trained on, so that none
dominates by its scale, and the score is the sum of the parts' logarithms (the log of the product
of the three ratios): a row twice as far off the manifold as a typical training row and one
twice as far along it count alike, and the part whose values have the longest tail does not
decide the ranking alone, as it does when ratios are added. The score is 0 for a row typical in
all three parts, negative for a row more typical than that.

It is the score of the table default (`AutoEncoderDetector(score="auto")` with its
RobustAutoEncoder), and the exported detector graph computes it with this state as constants
(`aekit.estimators.export_scores`). The measurements behind it, the variants that were tried and
where it loses to the plain error (anomalies that are single broken cells): benchmarks/RESULTS.md
("Detector default on tables": "Second round", "The default since the second round").
"""
from __future__ import annotations

import numpy as np

MANIFOLD_SCORE = "mse+code"
PARTS = ("reconstruction", "code", "along")
TINY = 1e-12  # floor of a part and of its median, so that a zero never reaches the logarithm
# MinCovDet's time grows in proportion to the rows (tens of seconds for 100,000 rows of 16 codes on a
# 2-core CPU): the codes' centre and covariance are estimated on a seeded draw of at most this many
# training rows, which pins a covariance of ≤ 16 codes down well; the parts' medians use every row.
MCD_MAX_ROWS = 10_000


def _as_2d(A) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    return A.reshape(len(A), -1) if A.ndim != 2 else A


class ManifoldScore:
    """The fitted state of ``score="mse+code"`` and its arithmetic (see the module docstring).

    Parameters
    ----------
    code_location : ndarray of k values
        Robust center of the training codes.
    code_precision : ndarray, k × k
        Inverse of their robust covariance (a pseudo-inverse when it is singular).
    reconstruction_center : ndarray of D values
        Median reconstruction of the training rows, in the error's units.
    medians : dict of str to float
        Each part's median over the training rows (keys: `PARTS`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> codes = rng.normal(size=(300, 2))
    >>> decoder = rng.normal(size=(2, 5))
    >>> errors = rng.chisquare(5, size=300) / 5
    >>> ms = ManifoldScore.fit(errors, codes, codes @ decoder, random_state=0)
    >>> far = np.array([[6.0, 6.0]])  # reconstructed with a typical error, but far along the manifold
    >>> bool(ms.score([1.0], far, far @ decoder)[0] > np.quantile(ms.score(errors, codes, codes @ decoder), 0.99))
    True
    """

    def __init__(self, code_location, code_precision, reconstruction_center, medians):
        self.code_location = np.asarray(code_location, dtype=np.float64)
        self.code_precision = np.asarray(code_precision, dtype=np.float64)
        self.reconstruction_center = np.asarray(reconstruction_center, dtype=np.float64)
        self.medians = {p: float(medians[p]) for p in PARTS}

    @classmethod
    def fit(cls, errors, codes, reconstructions, *, random_state=None, max_rows: int = MCD_MAX_ROWS
            ) -> "ManifoldScore":
        """Learn the parts' references from the rows the model was trained on.

        Parameters
        ----------
        errors : array of N values
            Each row's mean squared reconstruction error.
        codes : array, N × k
            Each row's code.
        reconstructions : array, N × D
            Each row's reconstruction, in the units of `errors`.
        random_state : int or None
            Seed of `MinCovDet`'s random subsets and of the draw of `max_rows` rows.
        max_rows : int, default MCD_MAX_ROWS
            The robust centre and covariance of the codes are estimated on at most this many rows
            (a seeded draw without replacement); every row counts in the medians.

        Returns
        -------
        ManifoldScore
        """
        from sklearn.covariance import MinCovDet

        Z = _as_2d(codes)
        R = _as_2d(reconstructions)
        if len(Z) > Z.shape[1] + 1:
            import warnings

            with warnings.catch_warnings():  # a code unit the model never uses makes the covariance singular
                warnings.simplefilter("ignore", RuntimeWarning)
                warnings.simplefilter("ignore", UserWarning)
                rows = Z if len(Z) <= max_rows else Z[np.random.default_rng(random_state).choice(
                    len(Z), int(max_rows), replace=False)]
                mcd = MinCovDet(random_state=random_state).fit(rows)
            location, precision = mcd.location_, mcd.get_precision()
        else:  # too few rows to estimate a covariance: the code's distance in its own units
            location, precision = np.median(Z, axis=0), np.eye(Z.shape[1])
        state = cls(location, precision, np.median(R, axis=0), dict.fromkeys(PARTS, 1.0))
        raw = state.raw_parts(errors, Z, R)
        state.medians = {p: max(float(np.median(raw[p])), TINY) for p in PARTS}
        return state

    def raw_parts(self, errors, codes, reconstructions) -> dict[str, np.ndarray]:
        """Each part per row, in its own units (before dividing by the medians)."""
        Z = _as_2d(codes) - self.code_location
        R = _as_2d(reconstructions) - self.reconstruction_center
        return {"reconstruction": np.asarray(errors, dtype=np.float64).reshape(-1),
                "code": np.einsum("ij,jk,ik->i", Z, self.code_precision, Z),
                "along": (R**2).mean(1)}

    def parts(self, errors, codes, reconstructions) -> dict[str, np.ndarray]:
        """Each part per row as the log of its ratio to the training rows' median (0 = typical)."""
        raw = self.raw_parts(errors, codes, reconstructions)
        return {p: np.log(np.maximum(raw[p], TINY) / self.medians[p]) for p in PARTS}

    def score(self, errors, codes, reconstructions) -> np.ndarray:
        """The anomaly score per row: the sum of `parts` (higher = more anomalous)."""
        return np.sum(list(self.parts(errors, codes, reconstructions).values()), axis=0)

    # -- run folders -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The state as JSON values (for detector.json)."""
        return {"code_location": self.code_location.tolist(), "code_precision": self.code_precision.tolist(),
                "reconstruction_center": self.reconstruction_center.tolist(), "medians": dict(self.medians)}

    @classmethod
    def from_dict(cls, state, source: str) -> "ManifoldScore":
        """Rebuild from `to_dict`'s values, checking every field.

        Raises
        ------
        ValueError
            A missing or malformed field, named with `source` (the file it was read from).
        """
        if not isinstance(state, dict):
            raise ValueError(f"{source}: score 'mse+code' needs its 'manifold' state (an object), got {state!r}")
        try:
            loc = np.asarray(state["code_location"], dtype=np.float64)
            prec = np.asarray(state["code_precision"], dtype=np.float64)
            center = np.asarray(state["reconstruction_center"], dtype=np.float64)
            medians = {p: float(state["medians"][p]) for p in PARTS}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{source}: the 'manifold' state is incomplete or malformed ({exc!r})") from None
        if loc.ndim != 1 or prec.shape != (len(loc), len(loc)) or center.ndim != 1:
            raise ValueError(f"{source}: the 'manifold' state has shapes {loc.shape}, {prec.shape}, {center.shape}; "
                             "expected k, k × k and D values")
        if not all(np.isfinite(a).all() for a in (loc, prec, center)) or min(medians.values()) <= 0:
            raise ValueError(f"{source}: the 'manifold' state holds non-finite values or a median ≤ 0")
        return cls(loc, prec, center, medians)


__all__ = ["MANIFOLD_SCORE", "MCD_MAX_ROWS", "PARTS", "TINY", "ManifoldScore"]
