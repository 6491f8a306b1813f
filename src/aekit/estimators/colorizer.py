"""`Colorizer`: predict the colour (Lab a, b) of a grey image from its lightness L.

The estimator front over `ColorizerModel` (a configuration of the conv autoencoder) on the
shared fit template: `fit(photos)` trains on random crops of colour photos (seeded; each crop
flipped left-right at random in training), `fit_lab(X)` on ready scaled-Lab images (an array, such
as CIFAR-10 converted with `aekit.data.image_source.rgb_to_lab_batch`, or an image folder read
lazily: ``ImageFolderSource(folder, transform="lab")``), `colorize(image)` works on any image
size (the model is fully convolutional), `evaluate(photos)` and `evaluate_images(rgb)` give PSNR in
RGB of the colorized image, of the grey image and of the training set's mean colour, each against
the original, and `save` / `load` write and read a run folder (kind "colorizer").

The default recipe (chosen by a leave-one-photo-out check on the training photos only; the
numbers are in benchmarks/RESULTS.md): one whole training photo is set aside for early stopping
(validation="photos"), and afterwards a confidence gain in [0, 1] on the predicted colour is
fitted on that photo (calibrate=True), so colour is applied only as far as it held on a photo
the model never trained on; with three or five photos, most of what a net learns is which
photo a crop comes from, and that tint does not carry over to another photo.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from aekit.data.image_source import lab_to_rgb_batch, rgb_to_lab_batch
from aekit.data.photos import (colour_photo, lab_scaled_to_rgb, lightness, as_rgb_float, random_crops,
                               rgb_to_lab_scaled, shrink, split_strips, with_scales)
from aekit.data.sources import is_row_source
from aekit.errors import ConfigError, DataError
from aekit.estimators.base import BaseAutoEncoder
from aekit.estimators.streaming import VALIDATION_CAP_BYTES
from aekit.metrics import psnr, psnr_rgb
from aekit.models.colorizer import AB_LOSSES, ColorizerConfig, ColorizerModel, colorizer_config
from aekit.train.precision import resolve_device
from aekit.train.trainer import evaluate

CROP_COVER = 4  # n_crops="auto": each photo pixel lies in about this many training crops
MEAN_COLOUR_ROWS = 2048  # images of a lazily read training set its mean colour is measured on (seeded)
EVAL_BATCH = 256  # images colorized at a time by evaluate_images
VALIDATIONS = ("crops", "strips", "photos")
# Run folders from before these parameters existed were trained the old way.
OLD_RECIPE = {"validation": "crops", "ab_offset": "zero", "loss": "mse", "weight_decay": 0.0, "scales": [1.0],
              "calibrate": False}


class Colorizer(BaseAutoEncoder):
    """L → ab colorization: a fully convolutional model trained on crops of colour photos.

    Parameters
    ----------
    hidden : tuple of int, default=(32, 64)
        Channels of the conv blocks (the decoder mirrors them).
    crop : int, default=32
        Side of the random training crops.
    n_crops : int or str, default="auto"
        How many training crops (plus validation_fraction more for early stopping); "auto":
        enough to cover the photos about CROP_COVER times, between 64 and 4000.
    max_side : int or None, default=256
        Photos are scaled down to this longer side before cropping and evaluation (None: no).
    epochs : int, default=30
        Maximum training epochs.
    batch_size : int, default=64
        Mini-batch size.
    lr : float, default=2e-3
        Learning rate (Adam).
    patience : int, default=10
        Epochs without validation improvement before early stopping.
    early_stopping : bool, default=True
        Stop after `patience` epochs without improvement and restore the best weights.
    validation_fraction : float, default=0.1
        Share of crops (or photos) used for validation.
    validation : str, default="photos"
        Where validation crops come from: photos (whole training photos set aside, at least one;
        with a single photo: as strips), strips (a band at the end of each photo's longer side),
        crops (more random crops of the training photos; they overlap the training crops).
    ab_offset : str or tuple of float, default="zero"
        zero (the network predicts the colour from grey), mean (from the training crops' mean
        colour) or two scaled numbers (a/110, b/110).
    loss : str, default="mse"
        Colour loss: mse or huber.
    weight_decay : float, default=0.0
        Adam's L2 weight decay.
    scales : tuple of float, default=(1.0,)
        Also crop the training photos scaled by these factors (scale augmentation).
    calibrate : bool, default=True
        After training, fit the gain α in [0, 1] of ab = offset + α·residual on the validation
        crops (closed-form least squares); False: α = 1.
    random_state : int, default=0
        Seed of crops, initialization and shuffling.
    device : str, default="cpu"
        Torch device.
    verbose : int, default=0
        1 shows a progress bar.
    num_threads : int or None, default=None
        CPU threads for training (None: the trainer's choice).

    Attributes
    ----------
    model_ : ColorizerModel
        The trained network.
    model_config_ : ColorizerConfig
        Its configuration, with the fitted gain `ab_gain`.
    history_, best_epoch_, n_epochs_ :
        As in `AutoEncoder`.
    n_crops_ : int
        Training crops used.
    mean_ab_ : ndarray of shape (2,)
        The training data's mean colour (scaled a, b): the constant-colour baseline of the
        evaluations (a lazily read set: measured on MEAN_COLOUR_ROWS images drawn with the seed).
    validation_photos_ : list of int
        Indices of the photos set aside for validation.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import Colorizer
    >>> photo = (np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)
    >>> col = Colorizer(hidden=(4,), crop=16, n_crops=8, epochs=1).fit([photo, photo])
    >>> col.colorize(photo[..., 0])[0].shape
    (40, 40, 3)
    """

    _kind = "colorizer"
    _model_class = ColorizerModel
    _config_class = ColorizerConfig
    _tuple_params = ("hidden", "scales")

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

    def fit(self, photos=None, *, lab=None, lab_val=None, run_dir=None, resume: bool = False) -> "Colorizer":
        """Train on random crops of `photos` (a list of H×W×3 colour images, any sizes), or, given
        `lab` (and `lab_val`) instead, on those whole scaled-Lab images (`fit_lab`).

        validation="crops": the validation crops are further random crops of the same photos
        (they overlap the training crops); "strips": a band at the end of each photo's longer side
        (validation_fraction of it, at least one crop wide) is set aside, training crops come
        from the rest and validation crops from the bands only, so early stopping sees pixels
        the model never trained on."""
        if lab is not None:
            return self.fit_lab(lab, lab_val, run_dir=run_dir, resume=resume)
        if photos is None:
            raise DataError("nothing to train on: give photos (or lab images)")
        photos = [shrink(colour_photo(p, i), self.max_side) for i, p in enumerate(photos)]
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
        """Train on ready N×3×H×W scaled-Lab images (channel 0: L/100, 1–2: ab/110): an array, or
        a `aekit.data.sources.RowSource` that reads them (``ImageFolderSource(folder,
        transform="lab")``), read batch by batch where the trainer streams sources. `X_val`
        (the same kinds) drives early stopping and the calibration of the gain."""
        X = _lab_data(X, "training")
        X_val = None if X_val is None or not len(X_val) else _lab_data(X_val, "validation")
        self.mean_ab_ = self._mean_ab(X)
        if isinstance(self.ab_offset, str):
            offset = self.mean_ab_ if self.ab_offset == "mean" else np.zeros(2)
        else:
            offset = np.asarray(self.ab_offset)
        config = colorizer_config(crop=X.shape[2], hidden=self.hidden, ab_offset=offset, ab_loss=self.loss)
        config.input_shape = (1, X.shape[2], X.shape[3])
        self.model_config_ = config
        # a training source goes to the trainer as it is (read batch by batch); validation in RAM
        X_val = None if X_val is None else self._validation_rows(X_val)
        self._fit_model(config, X, X_val, self.random_state, run_dir, resume)
        if self.calibrate and X_val is not None:
            self._calibrate(X_val)  # on the validation images in RAM
        return self

    def _validation_rows(self, X_val) -> np.ndarray:
        """Validation images in RAM: all of an array; of a source, at most VALIDATION_CAP_BYTES
        of them (a seeded draw, in order), as a streamed autoencoder fit evaluates."""
        if not is_row_source(X_val):
            return X_val
        keep = max(1, VALIDATION_CAP_BYTES // max(1, X_val.n_features * 4))
        if keep >= len(X_val):
            return X_val.read_all()
        return X_val.read(np.sort(np.random.default_rng(self.random_state).permutation(len(X_val))[:keep]))

    def _mean_ab(self, X) -> np.ndarray:
        """The mean scaled ab over every pixel of X (a source: of MEAN_COLOUR_ROWS seeded rows)."""
        if not is_row_source(X):
            return X[:, 1:].mean(axis=(0, 2, 3), dtype=np.float64)
        rows = np.sort(np.random.default_rng(self.random_state).permutation(len(X))[:MEAN_COLOUR_ROWS])
        total = np.zeros(2)
        for i in range(0, len(rows), EVAL_BATCH):
            total += X.read(rows[i : i + EVAL_BATCH])[:, 1:].sum(axis=(0, 2, 3), dtype=np.float64)
        return total / (len(rows) * X.shape[2] * X.shape[3])

    @torch.inference_mode()
    def _calibrate(self, X_val: np.ndarray) -> None:
        """The gain α in [0, 1] that minimizes the squared ab error of offset + α·residual on the
        validation crops (closed form): how far the network's colour can be trusted away from
        the constant colour on photos (or parts) it did not train on."""
        num = den = 0.0
        for i in range(0, len(X_val), 256):
            x = torch.from_numpy(X_val[i : i + 256]).to(resolve_device(self.device))
            r = self.model_.residual(x[:, :1])
            d = x[:, 1:] - self.model_.ab_offset
            num += float((r * d).sum())
            den += float((r * r).sum())
        gain = float(np.clip(num / den, 0.0, 1.0)) if den > 0 else 1.0
        self.model_.ab_gain = gain
        self.model_config_.ab_gain = gain

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ConfigError("this Colorizer is not fitted yet: call fit first (or Colorizer.load)")

    @torch.inference_mode()
    def predict_ab(self, L: np.ndarray, *, full_strength: bool = False) -> np.ndarray:
        """Scaled L (H×W) → scaled ab (2×H×W); `full_strength`: the network's colour with gain 1
        instead of the calibrated gain (for comparison)."""
        self._check_fitted()
        t = torch.from_numpy(np.ascontiguousarray(L, np.float32))[None, None].to(resolve_device(self.device))
        gain = self.model_.ab_gain
        try:
            if full_strength:
                self.model_.ab_gain = 1.0
            return self.model_.predict_ab(t)[0].cpu().numpy()
        finally:
            self.model_.ab_gain = gain

    def colorize(self, image: np.ndarray) -> tuple[np.ndarray, bool]:
        """RGB (H×W×3 float in [0, 1]) of a grey or colour image of any size, and whether the input
        was in colour (then only its L channel was used)."""
        L, was_colour = lightness(image)
        return lab_scaled_to_rgb(L, self.predict_ab(L)), was_colour

    def evaluate(self, photos, names=None, *, max_side: int | None | str = "fit") -> dict:
        """PSNR (dB, RGB in [0, 1]) of the colorized photo, of the grey photo and (when the
        training data's mean colour is known) of the photo painted in that mean colour, each
        against the original; per photo and their mean. Photos are first scaled to max_side
        ("fit": as in training)."""
        self._check_fitted()
        side = self.max_side if max_side == "fit" else max_side
        per, rows = [], []
        for i, p in enumerate(photos):
            rgb = shrink(colour_photo(p, i), side)
            orig = as_rgb_float(rgb)
            L = rgb_to_lab_scaled(rgb)[0]
            grey = lab_scaled_to_rgb(L)
            col = lab_scaled_to_rgb(L, self.predict_ab(L))
            name = names[i] if names is not None else f"photo {i}"
            per.append({"name": name, "height": int(L.shape[0]), "width": int(L.shape[1]),
                        "psnr_model": psnr_rgb(col, orig), "psnr_grey": psnr_rgb(grey, orig)})
            if getattr(self, "mean_ab_", None) is not None:
                mean = np.broadcast_to(np.asarray(self.mean_ab_)[:, None, None], (2, *L.shape))
                with warnings.catch_warnings():  # the mean colour on a dark or bright L leaves sRGB: clipped
                    warnings.filterwarnings("ignore", "Conversion from CIE-LAB", UserWarning)
                    per[-1]["psnr_mean_colour"] = psnr_rgb(lab_scaled_to_rgb(L, mean), orig)
            if self.model_.ab_gain != 1.0:  # what the calibration changed: the network's own colour beside it
                per[-1]["psnr_full_strength"] = psnr_rgb(lab_scaled_to_rgb(L, self.predict_ab(L, full_strength=True)), orig)
            rows.append((grey, col, orig))
        out = {"n_photos": len(per), "max_side": side, "ab_gain": float(self.model_.ab_gain),
               "photos": per}
        for key in ("psnr_model", "psnr_grey", "psnr_full_strength", "psnr_mean_colour"):
            if per and key in per[0]:
                out[key] = float(np.mean([r[key] for r in per]))
        out.setdefault("psnr_model", float("nan"))
        out.setdefault("psnr_grey", float("nan"))
        self.last_images_ = rows
        return out

    @torch.inference_mode()
    def evaluate_images(self, rgb, names=None, *, n_shown: int = 8) -> dict:
        """Mean PSNR (dB, RGB in [0, 1]) over a set of images of one size (CIFAR-10, a folder) of
        the colorized image, the grey image and the image in the training data's mean colour, each
        against the original; the first `n_shown` images also one by one (and in `last_images_`).

        Parameters
        ----------
        rgb : ndarray or RowSource
            N×3×H×W RGB in [0, 1], or a source that reads it (``ImageFolderSource(folder)``).
        names : list of str or None, default None
            A name per image, for the rows shown (default "image i").
        n_shown : int, default 8
            Images listed one by one and drawn in the report's grid.

        Returns
        -------
        dict
            n_photos, height, width, ab_gain, psnr_model, psnr_grey, psnr_mean_colour (when the mean
            colour is known), psnr_full_strength (with a gain below 1), images=True and "photos":
            the rows of the images shown.
        """
        self._check_fitted()
        if len(rgb) < 1 or len(rgb.shape) != 4 or rgb.shape[1] != 3:
            raise DataError(f"colorizer evaluation needs N×3×H×W colour images, got shape {tuple(rgb.shape)}")
        device = next(self.model_.parameters()).device
        gain, mean_ab = float(self.model_.ab_gain), getattr(self, "mean_ab_", None)
        sums: dict[str, float] = {}
        per, rows = [], []
        for i in range(0, len(rgb), EVAL_BATCH):
            index = np.arange(i, min(i + EVAL_BATCH, len(rgb)))
            orig = rgb.read(index) if is_row_source(rgb) else np.asarray(rgb[index], np.float32)
            lab = rgb_to_lab_batch(orig)
            L = lab[:, :1]
            r = self.model_.residual(torch.from_numpy(L).to(device)).cpu().numpy()
            offset = self.model_.ab_offset.cpu().numpy().reshape(1, 2, 1, 1)
            outputs = {"psnr_model": offset + gain * r, "psnr_grey": np.zeros_like(r)}
            if mean_ab is not None:
                outputs["psnr_mean_colour"] = np.broadcast_to(np.asarray(mean_ab, np.float32)[None, :, None, None],
                                                              r.shape)
            if gain != 1.0:
                outputs["psnr_full_strength"] = offset + r
            images = {k: lab_to_rgb_batch(np.concatenate([L, ab], axis=1)) for k, ab in outputs.items()}
            scores = {k: psnr(orig, im) for k, im in images.items()}
            for k, v in scores.items():
                sums[k] = sums.get(k, 0.0) + float(v.sum())
            for j in range(max(0, min(n_shown - i, len(index)))):
                name = names[i + j] if names is not None else f"image {i + j}"
                per.append({"name": name, "height": int(orig.shape[2]), "width": int(orig.shape[3]),
                            **{k: float(v[j]) for k, v in scores.items()}})
                rows.append(tuple(images[k][j].transpose(1, 2, 0) for k in ("psnr_grey", "psnr_model"))
                            + (orig[j].transpose(1, 2, 0),))
        self.last_images_ = rows
        return {"n_photos": len(rgb), "images": True, "height": int(rgb.shape[2]), "width": int(rgb.shape[3]),
                "max_side": max(int(rgb.shape[2]), int(rgb.shape[3])), "ab_gain": gain, "photos": per,
                **{k: v / len(rgb) for k, v in sums.items()}}

    # -- run folders ---------------------------------------------------------------------------
    def _fitted_record(self) -> dict:
        record = {"best_epoch": int(self.best_epoch_), "n_epochs": int(self.n_epochs_)}
        if getattr(self, "mean_ab_", None) is not None:
            record["mean_ab"] = [float(v) for v in self.mean_ab_]
        return record

    @classmethod
    def _params_from_config(cls, params: dict) -> dict:
        return super()._params_from_config({**OLD_RECIPE, **params})

    def _restore_fitted(self, fitted: dict, model_config) -> None:
        # a colorizer takes images of any size: no input size to restore; folders from before
        # the mean-colour baseline have no mean_ab
        self.mean_ab_ = np.asarray(fitted["mean_ab"], np.float64) if "mean_ab" in fitted else None

    def validation_loss(self, X) -> dict[str, float]:
        """The colour loss over ready N×3×H×W scaled-Lab crops."""
        self._check_fitted()
        return evaluate(self.model_, torch.from_numpy(np.asarray(X, np.float32)))


def _lab_data(X, what: str):
    """Scaled-Lab images as float32 N×3×H×W (a RowSource is checked by its shape, not read)."""
    if not is_row_source(X):
        X = np.asarray(X, np.float32)
    if len(X.shape) != 4 or X.shape[1] != 3 or len(X) < 1:
        raise DataError(f"colorizer {what} data must be N×3×H×W scaled Lab, got shape {tuple(X.shape)}")
    if not is_row_source(X) and not np.isfinite(X).all():
        raise DataError(f"colorizer {what} data contain NaN or inf")
    return X


__all__ = ["CROP_COVER", "Colorizer", "EVAL_BATCH", "MEAN_COLOUR_ROWS", "VALIDATIONS"]
