"""Image folders decoded lazily, one batch at a time: `ImageFolderSource`.

The folder is laid out as `aekit.data.files.load_image_folder` reads it (each sub-folder a class,
in sorted order; loose files: no labels; hidden files skipped), but no pixel is decoded up front:
the constructor reads only each file's header (size and colour mode, with Pillow), so it knows the
output shape, whether grey and colour are mixed, and refuses files that are not images before
training starts. `read(index)` decodes just those files (in `torch.utils.data.DataLoader` workers
when ``num_workers > 0``), optionally resized (shorter side), centre-cropped, turned grey, or
converted to the colorizer's scaled Lab (`rgb_to_lab_batch`).

Without resizing, the arrays are exactly those of the in-RAM loader: uint8 ÷ 255 with the same
float32 operations, grey images repeated over three channels in a folder with colour images.
"""
from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import numpy as np

from aekit.data.dataset import Dataset, scale_pixels
from aekit.data.files import image_folder_files, read_image
from aekit.data.limits import check_data_path, check_memory, open_data_file
from aekit.data.sources import RowSource, check_index
from aekit.errors import AekitWarning, ConfigError, DataError

CROPS = (None, "center")
TRANSFORMS = (None, "lab")
GREY_MODES = ("1", "L", "LA", "La", "I", "F")  # and every "I;16…" mode: decoded as one channel
# ITU-R 601-2 luma, the weights Pillow's convert("L") uses: colour → grey
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
LAB_CHUNK = 256  # images converted to Lab at a time (scikit-image works in float64)


def _is_float_mode(mode: str) -> bool:
    """Whether `read_image` returns float32 for a file of this Pillow mode (16-bit and float)."""
    return mode.startswith("I;16") or mode in ("I", "F")


def _is_grey_mode(mode: str) -> bool:
    return mode in GREY_MODES or mode.startswith("I;16")


def _header(path: Path) -> tuple[int, int, str]:
    """(width, height, mode) from an image file's header, without decoding its pixels."""
    from PIL import Image

    try:
        with open_data_file(path) as f, Image.open(f) as im:
            return int(im.size[0]), int(im.size[1]), str(im.mode)
    except DataError:
        raise
    except Exception as exc:  # PIL raises UnidentifiedImageError, OSError, SyntaxError...
        raise DataError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None


def resized_shape(width: int, height: int, size: int | None) -> tuple[int, int]:
    """(height, width) after scaling the shorter side to `size` (None: unchanged), rounded.

    Examples
    --------
    >>> resized_shape(64, 48, 24), resized_shape(30, 50, None)
    ((24, 32), (50, 30))
    """
    if size is None:
        return height, width
    f = size / min(width, height)
    return max(1, round(height * f)), max(1, round(width * f))


def _resize(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """H×W×C float32 resized to `hw` per channel (Pillow, bilinear, anti-aliased when shrinking)."""
    from PIL import Image

    if image.shape[:2] == hw:
        return image
    h, w = hw
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c]), mode="F")
                                .resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)
                     for c in range(image.shape[2])], axis=2)


def rgb_to_lab_batch(rgb: np.ndarray) -> np.ndarray:
    """N×3×H×W RGB in [0, 1] → N×3×H×W scaled CIE Lab (L/100, a/110, b/110), float32.

    The colorizer's scaling (`aekit.data.photos.rgb_to_lab_scaled`, one image at a time), for a
    batch, converted LAB_CHUNK images at a time with scikit-image.

    Parameters
    ----------
    rgb : ndarray
        N×3×H×W, values in [0, 1] (clipped).

    Returns
    -------
    ndarray
        float32, N×3×H×W.

    Examples
    --------
    >>> rgb_to_lab_batch(np.ones((1, 3, 1, 1))).ravel().round(3) + 0.0   # white: L = 100
    array([1., 0., 0.], dtype=float32)
    """
    from skimage.color import rgb2lab

    from aekit.data.photos import AB_SCALE, L_SCALE

    rgb = np.asarray(rgb)
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise DataError(f"expected N×3×H×W colour images, got shape {rgb.shape}")
    out = np.empty(rgb.shape, np.float32)
    scale = np.array([L_SCALE, AB_SCALE, AB_SCALE])
    for i in range(0, len(rgb), LAB_CHUNK):
        part = np.clip(rgb[i : i + LAB_CHUNK].astype(np.float64), 0.0, 1.0).transpose(0, 2, 3, 1)
        out[i : i + LAB_CHUNK] = (rgb2lab(part) / scale).transpose(0, 3, 1, 2)
    return out


def lab_to_rgb_batch(lab: np.ndarray) -> np.ndarray:
    """N×3×H×W scaled Lab (L/100, a/110, b/110) → N×3×H×W RGB in [0, 1], float32 (the inverse of
    `rgb_to_lab_batch`, clipped to the RGB cube as `aekit.data.photos.lab_scaled_to_rgb`).

    Examples
    --------
    >>> lab_to_rgb_batch(np.array([1.0, 0.0, 0.0]).reshape(1, 3, 1, 1)).ravel().round(3)
    array([1., 1., 1.], dtype=float32)
    """
    from skimage.color import lab2rgb

    from aekit.data.photos import AB_SCALE, L_SCALE

    lab = np.asarray(lab)
    out = np.empty(lab.shape, np.float32)
    scale = np.array([L_SCALE, AB_SCALE, AB_SCALE])
    for i in range(0, len(lab), LAB_CHUNK):
        part = lab[i : i + LAB_CHUNK].astype(np.float64).transpose(0, 2, 3, 1) * scale
        part[..., 0] = np.clip(part[..., 0], 0.0, L_SCALE)
        with warnings.catch_warnings():  # colours outside sRGB (negative X, Y or Z) are clipped, as intended
            warnings.filterwarnings("ignore", "Conversion from CIE-LAB", UserWarning)
            rgb = lab2rgb(part)
        out[i : i + LAB_CHUNK] = np.clip(rgb, 0.0, 1.0).transpose(0, 3, 1, 2)
    return out


class ImageFolderSource(RowSource):
    """A folder of images read by row, decoded per batch (Pillow).

    Parameters
    ----------
    folder : str or os.PathLike
        The folder: class sub-folders (labels in sorted order) or loose image files.
    size : int or None, default None
        Scale every image so its shorter side is `size` pixels (bilinear, anti-aliased); None
        keeps the images as they are (then they must all have one size).
    crop : {None, "center"}, default None
        "center": cut the central size×size square after resizing (needs `size`), so images of
        any aspect give one shape.
    grey : bool, default False
        One channel: colour images become grey with the ITU-R 601-2 weights (as Pillow's "L").
        Otherwise a folder with any colour image gives three channels (grey images repeated, with
        a notice) and an all-grey folder one.
    transform : {None, "lab"}, default None
        "lab": the colorizer's scaled CIE Lab (channel 0 L/100, channels 1–2 a/110 and b/110,
        `rgb_to_lab_batch`) instead of RGB in [0, 1]; not with `grey`.
    num_workers : int, default 0
        DataLoader worker processes that decode batches while the model trains (0: in the
        training process); see `aekit.data.sources.RowSource`.
    name : str or None, default None
        The source's name (default: the folder's name).

    Attributes
    ----------
    shape : tuple of int
        (N, C, H, W) of what `read` returns for all rows.
    labels : ndarray of int64 or None
        The class of each image, from its sub-folder (no decoding); None for loose files.
    classes : list of str or None
        The sub-folders' names (index = label).
    paths : list of str
        One file per row, in row order.

    Raises
    ------
    DataError
        No images, a file that is not an image (named), images of different sizes without
        `size`, or different shapes after resizing without `crop`.
    ConfigError
        A bad option.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> folder = Path(tempfile.mkdtemp())
    >>> for cls, value in (("cat", 0), ("dog", 255)):
    ...     (folder / cls).mkdir()
    ...     Image.fromarray(np.full((6, 8, 3), value, np.uint8)).save(folder / cls / "a.png")
    >>> src = ImageFolderSource(folder, size=4, crop="center")
    >>> src.shape, src.labels.tolist(), src.classes
    ((2, 3, 4, 4), [0, 1], ['cat', 'dog'])
    >>> src.read(np.array([1])).max()
    np.float32(1.0)
    """

    def __init__(self, folder: str | os.PathLike, size: int | None = None, *, crop: str | None = None,
                 grey: bool = False, transform: str | None = None, num_workers: int = 0,
                 name: str | None = None) -> None:
        if size is not None and (isinstance(size, bool) or int(size) != size or int(size) < 1):
            raise ConfigError(f"size must be a whole number of pixels ≥ 1, got {size!r}")
        if crop not in CROPS:
            raise ConfigError(f"crop must be None or 'center', got {crop!r}")
        if crop is not None and size is None:
            raise ConfigError("crop='center' cuts a size×size square: give size too (--image-size)")
        if transform not in TRANSFORMS:
            raise ConfigError(f"transform must be None or 'lab', got {transform!r}")
        if transform == "lab" and grey:
            raise ConfigError("transform='lab' needs colour images: it cannot be combined with grey")
        if int(num_workers) < 0:
            raise ConfigError(f"num_workers must be ≥ 0, got {num_workers!r}")
        self.folder = check_data_path(folder)
        if not self.folder.is_dir():
            raise DataError(f"{self.folder}: expected a folder of images")
        self.size = None if size is None else int(size)
        self.crop, self.grey, self.transform = crop, bool(grey), transform
        self.num_workers = int(num_workers)
        self.name = name or self.folder.name
        files, labels, self.classes = image_folder_files(self.folder)
        self.paths = [str(p) for p in files]
        self.labels = np.asarray(labels, np.int64) if self.classes is not None else None
        headers = [_header(p) for p in files]
        self.float_data = any(_is_float_mode(m) for _, _, m in headers)
        n_grey = sum(_is_grey_mode(m) for _, _, m in headers)
        colour = n_grey < len(headers)
        if transform == "lab" and not colour:
            raise DataError(f"{self.folder}: every image is grey; Lab colour (transform='lab') needs colour images")
        if colour and n_grey and not self.grey:
            first = next(p for p, (_, _, m) in zip(files, headers) if _is_grey_mode(m))
            warnings.warn(f"{self.folder}: {n_grey} grey image(s) among colour ones (e.g. {first.name}) are "
                          "converted to three channels", AekitWarning, stacklevel=2)
        self.channels = 1 if self.grey or not colour else 3
        self.hw = self._output_size(files, headers)
        self.shape = (len(files), self.channels, *self.hw)
        self.value_range = (-1.0, 1.0) if transform == "lab" else (0.0, 1.0)

    def _output_size(self, files: list[Path], headers: list[tuple[int, int, str]]) -> tuple[int, int]:
        if self.crop == "center":
            return self.size, self.size
        shapes = [resized_shape(w, h, self.size) for w, h, _ in headers]
        for p, hw in zip(files, shapes):
            if hw != shapes[0]:
                h0, w0 = shapes[0]
                what = "of different sizes" if self.size is None else f"of different shapes after resizing to {self.size}"
                fix = ("give a size and crop='center' (--image-size S --crop center)" if self.size is None
                       else "add crop='center' (--crop center)")
                raise DataError(f"{self.folder}: images {what}: {files[0]} is {w0}×{h0} but {p} is "
                                f"{hw[1]}×{hw[0]}; {fix}")
        return shapes[0]

    # -- reading ---------------------------------------------------------------------------------
    def _decode(self, path: str) -> np.ndarray:
        """One file as H×W×C float32, scaled as the in-RAM loader scales, resized and cropped."""
        raw = read_image(path)
        if raw.dtype == np.uint8:
            if self.float_data:  # a folder with 16-bit images: the loader divides its 8-bit ones
                image = raw.astype(np.float32) / 255.0
            else:
                image = scale_pixels(raw)
        else:
            image = raw.astype(np.float32, copy=False)
        if image.ndim == 2:
            image = image[..., None]
        if self.channels == 1 and image.shape[2] == 3:
            image = (image @ LUMA)[..., None]
        if self.size is not None:
            h, w = image.shape[:2]
            image = _resize(image, resized_shape(w, h, self.size))
        if self.crop == "center":
            h, w = image.shape[:2]
            top, left = (h - self.size) // 2, (w - self.size) // 2
            image = image[top : top + self.size, left : left + self.size]
        if image.shape[:2] != self.hw:
            raise DataError(f"{path}: decoded as {image.shape[1]}×{image.shape[0]}, not the "
                            f"{self.hw[1]}×{self.hw[0]} its header and the folder's other images give")
        return image

    def read(self, index: np.ndarray) -> np.ndarray:
        """See `RowSource.read`: the images at `index` as (len(index), C, H, W) float32; RGB
        (or grey) in [0, 1], or scaled Lab with transform="lab". DataError names a file that
        does not decode."""
        index = check_index(index, len(self), str(self.folder))
        out = np.empty((len(index), *self.hw, self.channels), np.float32)
        for i, j in enumerate(index):
            out[i] = self._decode(self.paths[j])  # a grey image broadcasts over the three channels
        batch = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
        if self.transform == "lab":
            return rgb_to_lab_batch(batch)
        return batch

    def subset(self, index: np.ndarray) -> "ImageFolderSource":
        """The rows at `index`, in that order, as a source with the same options (no file is read).

        Examples
        --------
        >>> import tempfile
        >>> from PIL import Image
        >>> folder = Path(tempfile.mkdtemp())
        >>> for i in range(3):
        ...     Image.fromarray(np.full((2, 2), 80 * i, np.uint8)).save(folder / f"{i}.png")
        >>> part = ImageFolderSource(folder).subset(np.array([2, 0]))
        >>> len(part), [Path(p).name for p in part.paths]
        (2, ['2.png', '0.png'])
        """
        index = check_index(index, len(self), str(self.folder))
        part = copy.copy(self)
        part.paths = [self.paths[i] for i in index]
        part.labels = None if self.labels is None else self.labels[index]
        part.shape = (len(index), *self.shape[1:])
        return part

    def split(self, split: str, seed: int = 0) -> "ImageFolderSource":
        """The rows of `split` ("train", "val", "test", "train+val", "all") as `aekit.data.load`
        splits a folder (`aekit.data.loader.split_indices` with `seed`)."""
        from aekit.data.loader import split_indices

        idx = split_indices(len(self), split, seed=seed)
        if len(idx) == 0:
            raise DataError(f"{self.folder}: split {split!r} is empty ({len(self)} images)")
        return self.subset(idx)

    def to_dataset(self, split: str = "all") -> Dataset:
        """Every row decoded into an in-memory `aekit.data.Dataset` (labels, classes and paths kept).

        Raises
        ------
        DataError
            The decoded images would not fit the memory budget (`aekit.data.limits`).
        """
        check_memory(self.float_nbytes, str(self.folder), f"{len(self)} decoded images of {self.sample_shape} take")
        return Dataset(X=self.read_all(), y=self.labels, name=self.name, value_range=self.value_range,
                       classes=self.classes, split=split, paths=list(self.paths),
                       meta={"source": str(self.folder), "image_options": self.options()})

    def options(self) -> dict:
        """The decoding options (size, crop, grey, transform), as the run record keeps them."""
        return {"size": self.size, "crop": self.crop, "grey": self.grey, "transform": self.transform}

    def describe(self) -> dict:
        """See `RowSource.describe`: kind, folder, rows, sample shape, options, classes, bytes on disk."""
        return {
            "kind": "image-folder", "path": str(self.folder), "rows": len(self),
            "sample_shape": list(self.sample_shape), "size": self.size, "crop": self.crop, "grey": self.grey,
            "transform": self.transform, "classes": self.classes,
            "bytes_on_disk": int(sum(os.path.getsize(p) for p in self.paths)),
        }


__all__ = ["CROPS", "ImageFolderSource", "TRANSFORMS", "lab_to_rgb_batch", "resized_shape", "rgb_to_lab_batch"]
