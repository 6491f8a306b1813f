"""Colorization: predict the colour (Lab a, b) of a grey image from its lightness L.

`Colorizer` is the estimator front over `ColorizerModel` (a configuration of the conv
autoencoder) and aekit's Trainer: `fit(photos)` trains on random crops of colour photos
(seeded; each crop flipped left-right at random in training), `colorize(image)` works on any
image size (the model is fully convolutional), `evaluate(photos)` gives PSNR in RGB of the
colorized image and of the grey image, each against the original, and `save` / `load` write
and read a run folder (kind "colorizer").

The default recipe (chosen by a leave-one-photo-out check on the training photos only; the
numbers are in benchmarks/RESULTS.md): one whole training photo is set aside for early stopping
(validation="photos"), and afterwards a confidence gain in [0, 1] on the predicted colour is
fitted on that photo (calibrate=True), so colour is applied only as far as it held on a photo
the model never trained on; with three or five photos, most of what a net learns is which
photo a crop comes from, and that tint does not carry over to another photo.

Photo sources: a folder of colour images (any sizes; files in sub-folders too); "skimage":
scikit-image's bundled colour photos (SKIMAGE_TRAIN to train on, SKIMAGE_TEST held out); or
"bundled": every natural colour photo that ships with aekit's dependencies (BUNDLED_TRAIN:
scikit-image's three, scikit-learn's china and flower, matplotlib's grace_hopper), with the
same held-out photos SKIMAGE_TEST.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch

from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError
from aekit.models.colorizer import (
    AB_LOSSES,
    KIND,
    ColorizerModel,
    as_rgb_float,
    colorizer_config,
    lab_scaled_to_rgb,
    lightness,
    rgb_to_lab_scaled,
)
from aekit.models.autoencoder import ModelConfig
from aekit.runs import CHECKPOINT_DIR, CONFIG, load_run, read_history, save_run
from aekit.train.trainer import TrainConfig, Trainer, _load_state_checked, evaluate

# Natural photos only: with the microscopy / retina / deep-field images in the training set the model
# learned their stain and retina colours and tinted held-out photos orange (worse PSNR than grey).
SKIMAGE_TRAIN = ("astronaut", "coffee", "rocket")
SKIMAGE_TEST = ("chelsea", "motorcycle")
# "bundled": the natural colour photos of scikit-image (its "cat" is chelsea and motorcycle_right
# the same scene as the held-out left view, so neither is used), scikit-learn and matplotlib.
BUNDLED_TRAIN = SKIMAGE_TRAIN + ("china", "flower", "grace_hopper")
PHOTO_SOURCES = ("skimage", "bundled")
CROP_COVER = 4  # n_crops="auto": each photo pixel lies in about this many training crops
VALIDATIONS = ("crops", "strips", "photos")
OLD_RECIPE = {"validation": "crops", "ab_offset": "zero", "loss": "mse", "weight_decay": 0.0, "scales": [1.0],
              "calibrate": False}


# -- photos -----------------------------------------------------------------------------------
def skimage_photo(name: str) -> np.ndarray:
    """A bundled colour photo by name: scikit-image's (motorcycle: the left stereo view),
    scikit-learn's china and flower, or matplotlib's grace_hopper; H×W×3 uint8."""
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
    the seed. Grey images in a folder are skipped with a warning."""
    if str(source) in PHOTO_SOURCES:
        names = SKIMAGE_TRAIN if str(source) == "skimage" else BUNDLED_TRAIN
        return ([(n, skimage_photo(n)) for n in names], [(n, skimage_photo(n)) for n in SKIMAGE_TEST])
    from aekit.data.files import IMAGE_SUFFIXES, _read_image

    folder = Path(source).expanduser()
    if not folder.exists():
        raise DataError(f"{folder}: no such folder (a colorizer trains on a folder of colour photos, or on 'bundled' or 'skimage')")
    if not folder.is_dir():
        raise DataError(f"{folder}: a colorizer trains on a folder of colour photos (or 'bundled' or 'skimage'), not a file")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    photos, grey = [], []
    for p in files:
        im = _read_image(p)
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
    """The photo scaled down (anti-aliased) so its longer side is at most max_side."""
    if not max_side or max(image.shape[:2]) <= max_side:
        return image
    from skimage.transform import resize

    f = max_side / max(image.shape[:2])
    h, w = max(1, round(image.shape[0] * f)), max(1, round(image.shape[1] * f))
    out = resize(np.asarray(image), (h, w), order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8) if np.asarray(image).dtype == np.uint8 else out


def random_crops(photos: list[np.ndarray], n: int, size: int, seed: int) -> np.ndarray:
    """n random size×size crops (N×3×size×size scaled Lab), spread evenly over the photos."""
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
    pixels on both sides is kept whole for training."""
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
    """The photos at each scale factor (1: as given), anti-aliased; those smaller than a crop are left out."""
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


def psnr_rgb(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float(10.0 * np.log10(1.0 / max(mse, 1e-10)))


# -- the estimator ----------------------------------------------------------------------------
class Colorizer:
    """L → ab colorization model trained through aekit's Trainer; saves as a run folder.

    Parameters
    ----------
    hidden : channels of the conv blocks (the decoder mirrors them).
    crop : side of the random training crops; n_crops : how many (plus validation_fraction more
        for early stopping); "auto": enough to cover the photos about CROP_COVER times, between
        64 and 4000.
    validation : where the validation crops come from. "photos" (default): round(validation_fraction
        · n) whole training photos, at least one, chosen with the seed, are not trained on (with a
        single photo: as "strips"); "strips": a band at the end of each photo's longer side;
        "crops": more random crops of the training photos (they overlap the training crops).
    calibrate : after training, fit the gain α in [0, 1] of ab = offset + α·residual on the
        validation crops (closed-form least squares); False: α = 1.
    ab_offset : "zero" (default: the residual is from grey), "mean" (the training crops' mean
        colour) or two scaled numbers (a/110, b/110).
    loss : "mse" or "huber"; weight_decay : Adam's L2 weight decay.
    scales : also crop the training photos scaled by these factors (scale augmentation).
    max_side : photos are scaled down to this longer side before cropping and evaluation (None: no).
    epochs, batch_size, lr, patience, early_stopping, random_state, device, verbose : training;
    num_threads : CPU threads for training (None: the trainer's choice).
    """

    _kind = KIND

    def __init__(self, hidden=(32, 64), *, crop=32, n_crops="auto", max_side=256, epochs=30, batch_size=64, lr=2e-3,
                 patience=10, early_stopping=True, validation_fraction=0.1, validation="photos", ab_offset="zero",
                 loss="mse", weight_decay=0.0, scales=(1.0,), calibrate=True, random_state=0, device="cpu", verbose=0,
                 num_threads=None):
        self.hidden = tuple(hidden)
        self.crop = int(crop)
        self.n_crops = n_crops if n_crops == "auto" else int(n_crops)
        self.max_side = None if max_side is None else int(max_side)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        self.patience = int(patience)
        self.early_stopping = bool(early_stopping)
        self.validation_fraction = float(validation_fraction)
        self.validation = str(validation)
        self.ab_offset = ab_offset if isinstance(ab_offset, str) else tuple(float(v) for v in ab_offset)
        self.loss = str(loss)
        self.weight_decay = float(weight_decay)
        self.scales = tuple(float(f) for f in scales)
        self.calibrate = bool(calibrate)
        self.random_state = int(random_state)
        self.device = device
        self.verbose = verbose
        self.num_threads = None if num_threads is None else int(num_threads)
        if self.crop < 4 or (self.n_crops != "auto" and self.n_crops < 1):
            raise ConfigError(f"crop must be ≥ 4 and n_crops ≥ 1, got crop={crop}, n_crops={n_crops}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
        if self.validation not in VALIDATIONS:
            raise ConfigError(f"validation must be one of {', '.join(VALIDATIONS)}, got {validation!r}")
        if isinstance(self.ab_offset, str) and self.ab_offset not in ("mean", "zero"):
            raise ConfigError(f"ab_offset must be 'mean', 'zero' or two numbers (scaled a, b), got {ab_offset!r}")
        if not isinstance(self.ab_offset, str) and len(self.ab_offset) != 2:
            raise ConfigError(f"ab_offset must be 'mean', 'zero' or two numbers (scaled a, b), got {ab_offset!r}")
        if self.loss not in AB_LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(AB_LOSSES)}, got {loss!r}")
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight_decay must be ≥ 0, got {weight_decay}")
        if not self.scales or any(not 0 < f <= 1 for f in self.scales):
            raise ConfigError(f"scales must be factors in (0, 1], got {scales!r}")

    def get_params(self) -> dict:
        return {"hidden": list(self.hidden), "crop": self.crop, "n_crops": self.n_crops, "max_side": self.max_side,
                "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "patience": self.patience,
                "early_stopping": self.early_stopping, "validation_fraction": self.validation_fraction,
                "validation": self.validation,
                "ab_offset": self.ab_offset if isinstance(self.ab_offset, str) else list(self.ab_offset),
                "loss": self.loss, "weight_decay": self.weight_decay, "scales": list(self.scales),
                "calibrate": self.calibrate, "random_state": self.random_state, "device": self.device,
                "verbose": self.verbose,
                "num_threads": self.num_threads}

    def _train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, patience=self.patience,
                           early_stopping=self.early_stopping, weight_decay=self.weight_decay, seed=self.random_state,
                           device=self.device, progress=bool(self.verbose), num_threads=self.num_threads)

    def fit(self, photos, *, run_dir=None, resume: bool = False) -> "Colorizer":
        """Train on random crops of `photos` (a list of H×W×3 colour images, any sizes).

        validation="crops": the validation crops are further random crops of the same photos
        (they overlap the training crops); "strips": a band at the end of each photo's longer side
        (validation_fraction of it, at least one crop wide) is set aside, training crops come
        from the rest and validation crops from the bands only, so early stopping sees pixels
        the model never trained on."""
        photos = [shrink(_colour(p, i), self.max_side) for i, p in enumerate(photos)]
        if not photos:
            raise DataError("no photos to train on")
        n = self.n_crops
        if n == "auto":
            area = sum(p.shape[0] * p.shape[1] for p in photos)
            n = int(np.clip(round(CROP_COVER * area / self.crop**2), 64, 4000))
        n_val = int(round(n * self.validation_fraction))
        fit_parts, val_parts = photos, []
        self.validation_photos_: list[int] = []  # indices of the photos set aside (validation="photos")
        if n_val and self.validation == "photos" and len(photos) >= 2:
            k = min(len(photos) - 1, max(1, int(round(self.validation_fraction * len(photos)))))
            held = set(np.random.default_rng(self.random_state).permutation(len(photos))[:k].tolist())
            fit_parts = [p for i, p in enumerate(photos) if i not in held]
            val_parts = [p for i, p in enumerate(photos) if i in held]
            self.validation_photos_ = sorted(held)
        elif n_val and self.validation in ("strips", "photos"):  # "photos" with one photo: its band
            fit_parts, val_parts = split_strips(photos, self.validation_fraction, self.crop)
        if n_val and self.validation != "crops":
            crops = random_crops(with_scales(fit_parts, self.scales, self.crop), n, self.crop, self.random_state)
            val = random_crops(val_parts, n_val, self.crop, self.random_state + 1) if val_parts else None
        else:
            all_crops = random_crops(with_scales(photos, self.scales, self.crop), n + n_val, self.crop,
                                     self.random_state)
            crops, val = all_crops[:n], (all_crops[n:] if n_val else None)
        self.n_crops_ = n
        return self.fit_lab(crops, val, run_dir=run_dir, resume=resume)

    def fit_lab(self, X, X_val=None, *, run_dir=None, resume: bool = False) -> "Colorizer":
        """Train on ready N×3×H×W scaled-Lab crops (channel 0: L/100, 1–2: ab/110)."""
        X = np.asarray(X, np.float32)
        if X.ndim != 4 or X.shape[1] != 3 or len(X) < 1:
            raise DataError(f"colorizer training data must be N×3×H×W scaled Lab, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise DataError("colorizer training data contain NaN or inf")
        if isinstance(self.ab_offset, str):
            offset = X[:, 1:].mean(axis=(0, 2, 3)) if self.ab_offset == "mean" else np.zeros(2)
        else:
            offset = np.asarray(self.ab_offset)
        config = colorizer_config(crop=X.shape[2], hidden=self.hidden, ab_offset=offset, ab_loss=self.loss)
        config.input_shape = (1, X.shape[2], X.shape[3])
        train_cfg = self._train_config()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            model = ColorizerModel(config)
        model.to(self.device)
        trainer = Trainer(train_cfg, checkpoint_dir=Path(run_dir) / CHECKPOINT_DIR if run_dir else None)
        self.history_ = trainer.fit(model, torch.from_numpy(X),
                                    None if X_val is None or not len(X_val) else torch.from_numpy(np.asarray(X_val, np.float32)),
                                    resume=resume)
        self.model_ = model.eval()
        self.model_config_ = config
        self.train_config_ = train_cfg
        if self.calibrate and X_val is not None and len(X_val):
            self._calibrate(np.asarray(X_val, np.float32))
        self.best_epoch_ = trainer.best_epoch
        self.n_epochs_ = len(self.history_)
        return self

    @torch.inference_mode()
    def _calibrate(self, X_val: np.ndarray) -> None:
        """The gain α in [0, 1] that minimizes the squared ab error of offset + α·residual on the
        validation crops (closed form): how far the network's colour can be trusted away from
        the constant colour on photos (or parts) it did not train on."""
        num = den = 0.0
        for i in range(0, len(X_val), 256):
            x = torch.from_numpy(X_val[i : i + 256]).to(self.device)
            r = self.model_.residual(x[:, :1])
            d = x[:, 1:] - self.model_.ab_offset
            num += float((r * d).sum())
            den += float((r * r).sum())
        gain = float(np.clip(num / den, 0.0, 1.0)) if den > 0 else 1.0
        self.model_.ab_gain = gain
        self.model_config_.extra["ab_gain"] = gain

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ConfigError("this Colorizer is not fitted yet: call fit first (or Colorizer.load)")

    @torch.inference_mode()
    def predict_ab(self, L: np.ndarray) -> np.ndarray:
        """Scaled L (H×W) → scaled ab (2×H×W)."""
        self._check_fitted()
        t = torch.from_numpy(np.ascontiguousarray(L, np.float32))[None, None].to(self.device)
        return self.model_.predict_ab(t)[0].cpu().numpy()

    def colorize(self, image: np.ndarray) -> tuple[np.ndarray, bool]:
        """RGB (H×W×3 float in [0, 1]) of a grey or colour image of any size, and whether the input
        was in colour (then only its L channel was used)."""
        L, was_colour = lightness(image)
        return lab_scaled_to_rgb(L, self.predict_ab(L)), was_colour

    def evaluate(self, photos, names=None, *, max_side: int | None | str = "fit") -> dict:
        """PSNR (dB, RGB in [0, 1]) of the colorized photo and of the grey photo, each against the
        original; per photo and their mean. Photos are first scaled to max_side ("fit": as in training)."""
        self._check_fitted()
        side = self.max_side if max_side == "fit" else max_side
        per, rows = [], []
        for i, p in enumerate(photos):
            rgb = shrink(_colour(p, i), side)
            orig = as_rgb_float(rgb)
            L = rgb_to_lab_scaled(rgb)[0]
            grey = lab_scaled_to_rgb(L)
            col = lab_scaled_to_rgb(L, self.predict_ab(L))
            name = names[i] if names is not None else f"photo {i}"
            per.append({"name": name, "height": int(L.shape[0]), "width": int(L.shape[1]),
                        "psnr_model": psnr_rgb(col, orig), "psnr_grey": psnr_rgb(grey, orig)})
            rows.append((grey, col, orig))
        out = {"n_photos": len(per), "max_side": side,
               "psnr_model": float(np.mean([r["psnr_model"] for r in per])) if per else float("nan"),
               "psnr_grey": float(np.mean([r["psnr_grey"] for r in per])) if per else float("nan"),
               "photos": per}
        self.last_images_ = rows
        return out

    # -- run folders ---------------------------------------------------------------------------
    def run_config(self, data: dict | None = None) -> dict:
        self._check_fitted()
        return {"kind": KIND, "estimator": type(self).__name__, "params": self.get_params(),
                "model": self.model_config_.to_dict(), "train": self.train_config_.to_dict(),
                "fitted": {"best_epoch": int(self.best_epoch_), "n_epochs": int(self.n_epochs_)}, "data": data or {}}

    def save(self, path, *, data: dict | None = None, metrics: dict | None = None) -> Path:
        """Write a run folder: config.json, model.safetensors, history.csv (+ metrics.json)."""
        return save_run(path, config=self.run_config(data), state=self.model_.state_dict(), metrics=metrics,
                        history=self.history_)

    @classmethod
    def load(cls, path, device: str = "cpu") -> "Colorizer":
        """Read a run folder written by `save` or `aekit train --model colorizer`."""
        config, state = load_run(path, kind=KIND)
        try:
            # run folders from before these parameters were trained the old way
            params = {**OLD_RECIPE, **dict(config["params"])}
            params["hidden"] = tuple(params["hidden"])
            est = cls(**params)
            model_config = ModelConfig.from_dict(dict(config["model"]))
            model = ColorizerModel(model_config)
        except (TypeError, KeyError, ConfigError) as exc:
            raise RunFolderError(f"{path}: config.json does not describe a Colorizer ({exc})") from None
        _load_state_checked(model, state, Path(path) / "model.safetensors")
        est.device = device
        est.model_ = model.to(device).eval()
        est.model_config_ = model_config
        est.train_config_ = TrainConfig.from_dict(config.get("train", {}))
        est.history_ = read_history(Path(path) / "history.csv")
        fitted = config.get("fitted", {})
        est.best_epoch_ = int(fitted.get("best_epoch", 0))
        est.n_epochs_ = int(fitted.get("n_epochs", len(est.history_)))
        return est

    def validation_loss(self, X) -> dict[str, float]:
        self._check_fitted()
        return evaluate(self.model_, torch.from_numpy(np.asarray(X, np.float32)))


def _colour(p, i) -> np.ndarray:
    a = np.asarray(p)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise DataError(f"photo {i}: expected an H×W×3 colour image, got shape {a.shape}")
    return a[..., :3]


# -- the task: train a run, colorize a file ---------------------------------------------------
def save_colorize_grid(rows: list[tuple[np.ndarray, ...]], path, names: list[str], height: int = 128,
                       columns: str = "grey / colorized / original") -> Path:
    """One row per photo: grey, colorized, original (each H×W×3 in [0, 1]), scaled to `height`."""
    from skimage.transform import resize

    from aekit.report.grid import save_image_rows

    strips = []
    for row in rows:
        h, w = row[0].shape[:2]
        f = height / h
        size = (height, max(1, round(w * f)))
        strips.append(np.stack([resize(im, size, order=1, anti_aliasing=f < 1).transpose(2, 0, 1) for im in row]))
    # row labels are the photo names (the label margin is narrow); the columns are `columns`
    return save_image_rows(strips, path, labels=[str(n)[:16] for n in names])


def train_colorizer_run(out, source: str = "bundled", *, overwrite: bool = False, resume: bool = False,
                        report: bool = True, **params) -> tuple[Colorizer, dict, Path]:
    """Train on the source's photos, evaluate on its held-out photos (PSNR beside grey), and write
    the run folder with colorize-grid.png (grey / colorized / original per held-out photo)."""
    out = Path(out)
    if (out / CONFIG).exists() and not (resume or overwrite):
        raise RunFolderError(f"{out} already holds a trained run; choose another --out, or pass --overwrite")
    if str(source) in ("digits", "mnist", "fashion-mnist"):
        raise DataError(f"a colorizer learns from colour photos, and {source} is grey: use --data bundled "
                        "(the photos bundled with scikit-image, scikit-learn, matplotlib), --data skimage "
                        "(scikit-image's only) or a folder of colour images")
    seed = int(params.get("random_state", 0))
    train, test = load_photos(source, seed=seed)
    est = Colorizer(**params)
    t0 = time.perf_counter()
    est.fit([p for _, p in train], run_dir=out, resume=resume)
    seconds = time.perf_counter() - t0
    held = test or train[:1]
    metrics = est.evaluate([p for _, p in held], [n for n, _ in held])
    metrics.update(data=str(source), held_out=bool(test), train_seconds=seconds,
                   train_photos=[n for n, _ in train], test_photos=[n for n, _ in test])
    data = {"source": str(source), "train_photos": [n for n, _ in train], "test_photos": [n for n, _ in test],
            "seed": seed}
    est.save(out, data=data, metrics=metrics)
    if report:
        save_colorize_grid(est.last_images_, out / "colorize-grid.png", [n for n, _ in held])
    return est, metrics, out


def colorize_file(run, input_path, out_path, *, original=None, grid=None) -> dict:
    """Colorize one image file into a PNG of the same size. Returns notes and, when the input is in
    colour (its L channel is used) or an original is given, PSNR of the result and of grey vs it."""
    from PIL import Image

    from aekit.data.files import _read_image
    from aekit.report.grid import _atomic_save_png

    est = Colorizer.load(run)
    image = _read_image(Path(input_path))
    rgb, was_colour = est.colorize(image)
    notes = []
    if was_colour:
        notes.append(f"{input_path} is a colour image: colorized from its L (lightness) channel")
    _atomic_save_png(Image.fromarray(np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)), Path(out_path))
    result: dict = {"notes": notes, "height": int(rgb.shape[0]), "width": int(rgb.shape[1]), "out": str(out_path)}
    ref = None
    if original is not None:
        ref = _read_image(Path(original))
        if ref.ndim != 3 or ref.shape[:2] != rgb.shape[:2]:
            raise DataError(f"{original}: the original must be a colour image of the input's size "
                            f"({rgb.shape[1]}×{rgb.shape[0]}), got shape {ref.shape}")
    elif was_colour:
        ref = image
    if ref is not None:
        ref_rgb = ref[..., :3].astype(np.float64) / (255.0 if ref.dtype == np.uint8 else 1.0)
        grey = lab_scaled_to_rgb(lightness(image)[0])
        result.update(psnr_model=psnr_rgb(rgb, ref_rgb), psnr_grey=psnr_rgb(grey, ref_rgb))
        if grid is not None:
            save_colorize_grid([(grey, rgb, ref_rgb)], grid, [Path(input_path).name])
    elif grid is not None:
        grey = lab_scaled_to_rgb(lightness(image)[0])
        save_colorize_grid([(grey, rgb)], grid, [Path(input_path).name], columns="grey / colorized")
    return result


__all__ = ["BUNDLED_TRAIN", "Colorizer", "SKIMAGE_TEST", "SKIMAGE_TRAIN",
           "colorize_file", "load_photos", "random_crops",
           "train_colorizer_run"]
