"""Colorization tasks: colorize a file with a trained colorizer, and the grey / colorized /
original grid (the estimator is `aekit.estimators.Colorizer`, the photos `aekit.data.photos`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from aekit.data.files import read_image
from aekit.data.photos import lab_scaled_to_rgb, lightness
from aekit.errors import DataError
from aekit.estimators import Colorizer
from aekit.metrics import psnr_rgb


def colorize_file(run, input_path, out_path, *, original=None, grid=None) -> dict:
    """Colorize one image file into a PNG of the same size. Returns notes and, when the input is in
    colour (its L channel is used) or an original is given, PSNR of the result and of grey vs it."""
    from PIL import Image

    from aekit.report.colorize import save_colorize_grid
    from aekit.report.grid import save_png

    est = Colorizer.load(run)
    image = read_image(Path(input_path))
    rgb, was_colour = est.colorize(image)
    notes = []
    if was_colour:
        notes.append(f"{input_path} is a colour image: colorized from its L (lightness) channel")
    save_png(Image.fromarray(np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)), Path(out_path))
    result: dict = {"notes": notes, "height": int(rgb.shape[0]), "width": int(rgb.shape[1]), "out": str(out_path)}
    ref = None
    if original is not None:
        ref = read_image(Path(original))
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


__all__ = ["colorize_file"]
