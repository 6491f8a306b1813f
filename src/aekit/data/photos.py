"""Colour photos: the bundled photo sources, folders of photos, Lab colour, crops.

The photos a colorizer learns from: a folder of colour images (any sizes; files in sub-folders
too); "skimage": scikit-image's bundled colour photos (SKIMAGE_TRAIN to train on, SKIMAGE_TEST
held out); or "bundled": every natural colour photo that ships with aekit's dependencies
(BUNDLED_TRAIN: scikit-image's three, scikit-learn's china and flower, matplotlib's
grace_hopper), with the same held-out photos SKIMAGE_TEST. Colour conversions use
scikit-image's CIE Lab, scaled so that L lies in [0, 1] and a, b in about [-1, 1].
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from aekit.data.files import IMAGE_SUFFIXES, read_image
from aekit.errors import AekitWarning, DataError

L_SCALE = 100.0  # L in [0, 100] → [0, 1]
AB_SCALE = 110.0  # a, b in about [-110, 110] → [-1, 1]
# Natural photos only: with the microscopy / retina / deep-field images in the training set the model
# learned their stain and retina colours and tinted held-out photos orange (worse PSNR than grey).
SKIMAGE_TRAIN = ("astronaut", "coffee", "rocket")
SKIMAGE_TEST = ("chelsea", "motorcycle")
# "bundled": the natural colour photos of scikit-image (its "cat" is chelsea and motorcycle_right
# the same scene as the held-out left view, so neither is used), scikit-learn and matplotlib.
BUNDLED_TRAIN = SKIMAGE_TRAIN + ("china", "flower", "grace_hopper")
PHOTO_SOURCES = ("skimage", "bundled")


# -- photos -----------------------------------------------------------------------------------
def skimage_photo(name: str) -> np.ndarray:
    """A bundled colour photo by name: scikit-image's (motorcycle: the left stereo view),
    scikit-learn's china and flower, or matplotlib's grace_hopper; H×W×3 uint8.

    Parameters
    ----------
    name : str
        A name in BUNDLED_TRAIN or SKIMAGE_TEST, or any colour image of ``skimage.data``.

    Returns
    -------
    ndarray
        H×W×3 uint8 (an alpha channel is dropped).

    Raises
    ------
    DataError
        scikit-image has no such photo, or it is grey.

    Examples
    --------
    >>> photo = skimage_photo("coffee")
    >>> photo.shape, photo.dtype
    ((400, 600, 3), dtype('uint8'))
    """
    import skimage.data

    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(f"{name}.jpg"))[..., :3]
    if name == "grace_hopper":
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
            from PIL import Image

            return np.asarray(Image.open(f).convert("RGB"))
    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    if not hasattr(skimage.data, name):
        raise DataError(f"scikit-image has no bundled photo {name!r}")
    im = getattr(skimage.data, name)()
    if im.ndim != 3:
        raise DataError(f"scikit-image's {name!r} is not a colour photo")
    return im[..., :3]


def load_photos(source: str, *, test_fraction: float = 0.2, seed: int = 0
                ) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
    """(train, held-out) lists of (name, H×W×3 uint8 photo). "skimage": scikit-image's photos;
    "bundled": those and the other libraries' (BUNDLED_TRAIN), the same held-out photos; a folder:
    its colour images, round(test_fraction·n) of them (at least 1 of ≥ 2) held out, chosen with
    the seed. Grey images in a folder are skipped with a warning.

    Parameters
    ----------
    source : str
        "skimage", "bundled" or a folder of photos (searched recursively, hidden files skipped).
    test_fraction : float, default 0.2
        Share of a folder's photos held out.
    seed : int, default 0
        Seed of the held-out choice.

    Returns
    -------
    train, held_out : list of (str, ndarray)
        (name or path relative to the folder, H×W×3 uint8 photo).

    Raises
    ------
    DataError
        No such folder, a file, or no colour image in it.
    """
    if str(source) in PHOTO_SOURCES:
        names = SKIMAGE_TRAIN if str(source) == "skimage" else BUNDLED_TRAIN
        return ([(n, skimage_photo(n)) for n in names], [(n, skimage_photo(n)) for n in SKIMAGE_TEST])
    folder = Path(source).expanduser()
    if not folder.exists():
        raise DataError(f"{folder}: no such folder (a colorizer trains on a folder of colour photos, or on 'bundled' or 'skimage')")
    if not folder.is_dir():
        raise DataError(f"{folder}: a colorizer trains on a folder of colour photos (or 'bundled' or 'skimage'), not a file")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    photos, grey = [], []
    for p in files:
        im = read_image(p)
        if im.ndim == 3 and im.shape[2] >= 3:
            photos.append((str(p.relative_to(folder)), im))
        else:
            grey.append(p.name)
    if grey:
        warnings.warn(f"{folder}: {len(grey)} grey image(s) skipped (e.g. {grey[0]}): a colorizer learns from colour",
                      AekitWarning, stacklevel=2)
    if not photos:
        raise DataError(f"{folder}: no colour images found (looked for {', '.join(IMAGE_SUFFIXES)} files)")
    n_test = int(round(test_fraction * len(photos)))
    if len(photos) >= 2:
        n_test = min(max(n_test, 1), len(photos) - 1)
    else:
        n_test = 0
    perm = np.random.default_rng(seed).permutation(len(photos))
    test = sorted(perm[:n_test].tolist())
    return [photos[i] for i in sorted(perm[n_test:].tolist())], [photos[i] for i in test]


def shrink(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """The photo scaled down (anti-aliased) so its longer side is at most max_side.

    Parameters
    ----------
    image : ndarray
        H×W or H×W×C.
    max_side : int or None
        The longest side allowed; None or 0 leaves the photo as it is.

    Returns
    -------
    ndarray
        The image itself when small enough, else a resized copy (uint8 stays uint8).

    Examples
    --------
    >>> shrink(np.zeros((100, 40, 3), np.uint8), 50).shape
    (50, 20, 3)
    """
    if not max_side or max(image.shape[:2]) <= max_side:
        return image
    from skimage.transform import resize

    f = max_side / max(image.shape[:2])
    h, w = max(1, round(image.shape[0] * f)), max(1, round(image.shape[1] * f))
    out = resize(np.asarray(image), (h, w), order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8) if np.asarray(image).dtype == np.uint8 else out


def random_crops(photos: list[np.ndarray], n: int, size: int, seed: int) -> np.ndarray:
    """n random size×size crops (N×3×size×size scaled Lab), spread evenly over the photos.

    Parameters
    ----------
    photos : list of ndarray
        H×W×3 colour photos; those smaller than a crop are skipped with a warning.
    n : int
        Number of crops.
    size : int
        Side of a crop, in pixels.
    seed : int
        Seed of the photo order and the crop positions.

    Returns
    -------
    ndarray
        float32, shape (n, 3, size, size): L/100, a/110, b/110 (`rgb_to_lab_scaled`).

    Raises
    ------
    DataError
        No photo is large enough.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> photos = [rng.integers(0, 256, (20, 30, 3), dtype=np.uint8) for _ in range(2)]
    >>> random_crops(photos, 5, 8, seed=0).shape
    (5, 3, 8, 8)
    """
    labs = [rgb_to_lab_scaled(p) for p in photos if min(p.shape[:2]) >= size]
    if len(labs) < len(photos):
        warnings.warn(f"{len(photos) - len(labs)} photo(s) smaller than the {size}-pixel crops were skipped",
                      AekitWarning, stacklevel=2)
    if not labs:
        raise DataError(f"no photo is at least {size}×{size} pixels: use a smaller crop")
    rng = np.random.default_rng(seed)
    which = np.arange(n) % len(labs)
    rng.shuffle(which)
    out = np.empty((n, 3, size, size), np.float32)
    for i, j in enumerate(which):
        lab = labs[j]
        y = rng.integers(0, lab.shape[1] - size + 1)
        x = rng.integers(0, lab.shape[2] - size + 1)
        out[i] = lab[:, y : y + size, x : x + size]
    return out


def split_strips(photos: list[np.ndarray], fraction: float, size: int
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each photo cut in two along its longer side: the part to train on and, at the end, a band of
    `fraction` of that side (at least `size`) for validation. A photo too small to leave `size`
    pixels on both sides is kept whole for training.

    Parameters
    ----------
    photos : list of ndarray
        H×W(×C) photos.
    fraction : float
        Share of the longer side that goes to validation.
    size : int
        The least band (and the least part left for training), in pixels.

    Returns
    -------
    fit, val : list of ndarray
        Views of the photos; `val` has one band per photo that was cut.

    Examples
    --------
    >>> fit, val = split_strips([np.zeros((40, 100, 3)), np.zeros((10, 10, 3))], 0.2, 16)
    >>> [p.shape for p in fit], [p.shape for p in val]
    ([(40, 80, 3), (10, 10, 3)], [(40, 20, 3)])
    """
    fit, val = [], []
    for p in photos:
        h, w = p.shape[:2]
        axis, side = (1, w) if w >= h else (0, h)
        band = max(size, int(np.ceil(fraction * side)))
        if side - band < size or min(h, w) < size:
            fit.append(p)
            continue
        cut = side - band
        fit.append(p[:, :cut] if axis == 1 else p[:cut])
        val.append(p[:, cut:] if axis == 1 else p[cut:])
    return fit, val


def with_scales(photos: list[np.ndarray], scales, size: int) -> list[np.ndarray]:
    """The photos at each scale factor (1: as given), anti-aliased; those smaller than a crop are left out.

    Parameters
    ----------
    photos : list of ndarray
        H×W×C photos.
    scales : iterable of float
        Scale factors; the output lists all photos at the first factor, then at the next, ….
    size : int
        The crop size: a rescaled photo with a side below it is left out.

    Returns
    -------
    list of ndarray

    Examples
    --------
    >>> [p.shape for p in with_scales([np.zeros((40, 60, 3), np.uint8)], (1.0, 0.5, 0.25), 16)]
    [(40, 60, 3), (20, 30, 3)]
    """
    from skimage.transform import resize

    out = []
    for f in scales:
        for p in photos:
            if f == 1.0:
                out.append(p)
                continue
            h, w = max(1, round(p.shape[0] * f)), max(1, round(p.shape[1] * f))
            if min(h, w) < size:
                continue
            r = resize(np.asarray(p), (h, w), order=1, anti_aliasing=True, preserve_range=True)
            out.append(np.clip(np.rint(r), 0, 255).astype(np.uint8) if p.dtype == np.uint8 else r)
    return out



def colour_photo(p, i) -> np.ndarray:
    """The H×W×3 colour channels of photo number `i` (alpha dropped); DataError names `i` when
    it is not an H×W×3 or H×W×4 image.

    Examples
    --------
    >>> colour_photo(np.zeros((2, 2, 4)), 0).shape
    (2, 2, 3)
    """
    a = np.asarray(p)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise DataError(f"photo {i}: expected an H×W×3 colour image, got shape {a.shape}")
    return a[..., :3]


# -- colour spaces (scikit-image) ----------------------------------------------------------------
def as_rgb_float(image: np.ndarray) -> np.ndarray:
    """H×W×3 float64 in [0, 1] from uint8 / float / RGBA input.

    Parameters
    ----------
    image : ndarray
        H×W×3 or H×W×4; uint8 (÷ 255), uint16 (÷ 65535) or float (clipped to [0, 1]).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> as_rgb_float(np.full((1, 1, 4), 255, np.uint8))
    array([[[1., 1., 1.]]])
    """
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise DataError(f"expected an H×W×3 colour image, got shape {a.shape}")
    a = a[..., :3]
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float64) / 65535.0
    return np.clip(a.astype(np.float64), 0.0, 1.0)


def rgb_to_lab_scaled(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 RGB → 3×H×W float32: L/100, a/110, b/110.

    Parameters
    ----------
    rgb : ndarray
        An H×W×3 (or ×4) photo, as `as_rgb_float` accepts.

    Returns
    -------
    ndarray
        float32, shape (3, H, W).

    Examples
    --------
    >>> rgb_to_lab_scaled(np.full((1, 1, 3), 255, np.uint8)).ravel().round(3) + 0.0   # white: L = 100
    array([1., 0., 0.], dtype=float32)
    """
    from skimage.color import rgb2lab

    lab = rgb2lab(as_rgb_float(rgb))
    out = np.empty((3, *lab.shape[:2]), np.float32)
    out[0] = lab[..., 0] / L_SCALE
    out[1:] = lab[..., 1:].transpose(2, 0, 1) / AB_SCALE
    return out


def lab_scaled_to_rgb(L: np.ndarray, ab: np.ndarray | None = None) -> np.ndarray:
    """Scaled L (H×W) and ab (2×H×W, None = grey) → H×W×3 RGB float in [0, 1].

    Parameters
    ----------
    L : ndarray
        H×W lightness / 100 (clipped to [0, 1]).
    ab : ndarray or None, default None
        2×H×W colour / 110; None gives grey.

    Returns
    -------
    ndarray
        float64, shape (H, W, 3), clipped to [0, 1].

    Examples
    --------
    >>> lab_scaled_to_rgb(np.full((1, 1), 0.5)).round(3)      # L = 50 is a mid grey
    array([[[0.466, 0.466, 0.466]]])
    """
    from skimage.color import lab2rgb

    lab = np.zeros((*L.shape, 3), np.float64)
    lab[..., 0] = np.clip(L, 0.0, 1.0) * L_SCALE
    if ab is not None:
        lab[..., 1:] = np.asarray(ab, np.float64).transpose(1, 2, 0) * AB_SCALE
    return np.clip(lab2rgb(lab), 0.0, 1.0)


def lightness(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """Scaled L (H×W float32) of a grey (H×W, H×W×1) or colour (H×W×3/4) image, and whether
    the image was in colour. A grey value g is the L of the RGB colour (g, g, g).

    Parameters
    ----------
    image : ndarray
        H×W, H×W×1, H×W×2 (grey + alpha), H×W×3 or H×W×4; uint8 or float in [0, 1].

    Returns
    -------
    L : ndarray
        float32, shape (H, W), in [0, 1].
    colour : bool
        Whether the image had colour channels.

    Raises
    ------
    DataError
        Any other shape.

    Examples
    --------
    >>> L, colour = lightness(np.full((2, 2), 255, np.uint8))
    >>> L.round(3).tolist(), colour
    ([[1.0, 1.0], [1.0, 1.0]], False)
    """
    from skimage.color import rgb2lab

    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[2] == 2:  # grey + alpha
        a = a[..., 0]
    if a.ndim == 2:
        g = a.astype(np.float64) / 255.0 if a.dtype == np.uint8 else np.clip(a.astype(np.float64), 0.0, 1.0)
        L = rgb2lab(np.repeat(g[..., None], 3, axis=2))[..., 0]
        return (L / L_SCALE).astype(np.float32), False
    if a.ndim == 3 and a.shape[2] in (3, 4):
        return rgb_to_lab_scaled(a)[0], True
    raise DataError(f"expected a grey (H×W) or colour (H×W×3) image, got shape {a.shape}")




__all__ = ["AB_SCALE", "BUNDLED_TRAIN", "L_SCALE", "PHOTO_SOURCES", "SKIMAGE_TEST", "SKIMAGE_TRAIN", "as_rgb_float",
           "colour_photo", "lab_scaled_to_rgb", "lightness", "load_photos", "random_crops", "rgb_to_lab_scaled",
           "shrink", "skimage_photo", "split_strips", "with_scales"]
