"""The one dataset type every loader returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aekit.errors import DataError


@dataclass
class Dataset:
    """In-memory data, float32.

    Parameters
    ----------
    X : ndarray
        Shape (N, D) for tables, (N, C, T) for signal windows, (N, C, H, W) for images;
        converted to float32.
    y : ndarray or None
        Integer labels of shape (N,) (converted to int64), or None.
    name : str
        The source's name, used in messages.
    value_range : tuple of float
        (low, high) the values are known to lie in, e.g. (0.0, 1.0) for images; for tables
        the observed (min, max).
    classes : list of str or None, default None
        Names of the label values, when known (index = label).
    split : str, default "all"
        Which part of the source this is ("train", "val", "test" or "all").
    paths : list of str or None, default None
        One file path per sample, for image folders.
    meta : dict, default {}
        Anything else the loader knows (free-form).

    Raises
    ------
    DataError
        X is not 2-D or 4-D, or y does not have one label per sample.

    Examples
    --------
    >>> ds = Dataset(np.zeros((5, 1, 4, 4)), np.arange(5), "toy", (0.0, 1.0))
    >>> len(ds), ds.sample_shape, ds.n_features, ds.is_image, ds.X.dtype
    (5, (1, 4, 4), 16, True, dtype('float32'))
    >>> part = ds.subset(np.array([0, 3]), split="val")
    >>> part.y.tolist(), part.split, part.flat().shape
    ([0, 3], 'val', (2, 16))
    """

    X: np.ndarray
    y: np.ndarray | None
    name: str
    value_range: tuple[float, float]
    classes: list[str] | None = None
    split: str = "all"
    paths: list[str] | None = None  # one file path per sample, for image folders
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.X.dtype != np.float32:
            self.X = self.X.astype(np.float32)
        if self.X.ndim not in (2, 3, 4):
            raise DataError(f"{self.name}: X must be N×D, N×C×T (signals) or N×C×H×W, got shape {self.X.shape}")
        if self.y is not None:
            self.y = np.asarray(self.y, dtype=np.int64)
            if self.y.shape != (self.X.shape[0],):
                raise DataError(
                    f"{self.name}: {self.X.shape[0]} samples but labels of shape {self.y.shape}"
                )

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """X.shape[1:]: (D,) or (C, H, W)."""
        return tuple(self.X.shape[1:])

    @property
    def is_image(self) -> bool:
        """True for N×C×H×W data."""
        return self.X.ndim == 4

    @property
    def n_features(self) -> int:
        """Values per sample."""
        return int(np.prod(self.sample_shape))

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def flat(self) -> np.ndarray:
        """X as N×D (a view when possible)."""
        return self.X.reshape(len(self), -1)

    def subset(self, index: np.ndarray, split: str | None = None) -> "Dataset":
        """The samples at `index` (an integer or boolean array), as a new Dataset named
        `split` (default: this one's split); labels and paths follow, meta is copied."""
        return Dataset(
            X=self.X[index],
            y=None if self.y is None else self.y[index],
            name=self.name,
            value_range=self.value_range,
            classes=self.classes,
            split=split or self.split,
            paths=None if self.paths is None else [self.paths[i] for i in np.asarray(index)],
            meta=dict(self.meta),
        )


def scale_pixels(X: np.ndarray) -> np.ndarray:
    """8-bit pixel values (uint8) as float32 in [0, 1]: ``X / 255`` by the one sequence of operations
    every aekit reader uses (a float32 copy, then ``*= float32(1/255)``), so an image scaled here and
    one scaled by a loader are the same float32 numbers.

    Examples
    --------
    >>> scale_pixels(np.array([[0, 51, 255]], np.uint8)).tolist()
    [[0.0, 0.20000001788139343, 1.0]]
    """
    out = X.astype(np.float32)
    out *= np.float32(1.0 / 255.0)
    return out


def warn_raw_pixels(X, value_range, what: str = "X") -> None:
    """An `AekitWarning` when `X` holds 8-bit pixel values for a model trained on data in [0, 1] or
    less: uint8, or integers of another type above the trained range (an image read as int64, say).
    aekit's loaders (and `aekit.data.sources.MemmapSource`) scale uint8 images by 1/255, an array
    passed as is is taken at its values, and a model fed 0–255 where it learned 0–1 gives
    meaningless codes and scores without any error.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_raw_pixels(np.zeros((2, 3), np.uint8), (0.0, 1.0))
    ...     warn_raw_pixels(np.full((2, 3), 200), (0.0, 1.0))
    ...     warn_raw_pixels(np.ones((2, 3), np.int64), (0.0, 1.0))   # 0/1 values: in the range
    >>> len(caught), all("divide by 255" in str(c.message) for c in caught)
    (2, True)
    """
    dtype = getattr(X, "dtype", None)
    if dtype is None or dtype.kind not in "iu" or value_range is None or float(value_range[1]) > 1.0:
        return
    lo, hi = float(value_range[0]), float(value_range[1])
    if dtype == np.uint8:
        held = "is uint8 (pixel values 0–255)"
    elif X.size and float(X.max()) > hi:
        held = f"holds {dtype} values up to {X.max()}"
    else:
        return
    import warnings

    from aekit.errors import AekitWarning

    warnings.warn(f"{what} {held} but the model was trained on values in [{lo:g}, {hi:g}]: divide by 255 first "
                  "(aekit's loaders scale 8-bit images that way)", AekitWarning, stacklevel=4)
