"""The colorizer's default recipe: it starts at the training photos' mean colour (and learns the
residual from it), stops early on bands of the training photos it never trained on, and trains
on the natural colour photos bundled with aekit's dependencies."""
from __future__ import annotations

import json

import numpy as np
import pytest

from aekit import Colorizer
from aekit.errors import ConfigError
from aekit.data.photos import (BUNDLED_TRAIN, SKIMAGE_TEST, load_photos, rgb_to_lab_scaled, shrink, skimage_photo,
                               split_strips)
from aekit.models.colorizer import ColorizerModel, colorizer_config


@pytest.fixture(scope="module")
def coffee():
    return shrink(skimage_photo("coffee"), 128)  # 85×128, a clearly warm (brown) photo


def test_improves_on_grey_for_a_held_out_crop_of_a_tinted_photo(coffee):
    # train on the left part of the photo, colorize the right part it never saw
    fit_part, held = coffee[:, :88], coffee[:, 88:]
    est = Colorizer(hidden=(8, 16), crop=16, n_crops=256, epochs=6, batch_size=32, lr=3e-3, random_state=0,
                    num_threads=1).fit([fit_part])
    m = est.evaluate([held])
    assert m["psnr_model"] > m["psnr_grey"] + 2.0, m


def test_mean_colour_offset_is_the_training_crops_mean(coffee):
    est = Colorizer(hidden=(8, 16), crop=16, n_crops=64, epochs=0, ab_offset="mean", random_state=0,
                    num_threads=1).fit([coffee])
    offset = np.asarray(est.model_config_.ab_offset)
    fit_part, _ = split_strips([coffee], est.validation_fraction, est.crop)  # one photo: its band validates
    assert np.allclose(offset, rgb_to_lab_scaled(fit_part[0])[1:].mean(axis=(1, 2)), atol=0.02)
    assert offset[0] > 0.1 and offset[1] > 0.1  # coffee is warm: a and b clearly positive
    ab = est.predict_ab(rgb_to_lab_scaled(coffee)[0])
    assert np.allclose(ab.mean(axis=(1, 2)), offset, atol=0.05)  # untrained: near the constant colour
    default = Colorizer(hidden=(8, 16), crop=16, n_crops=64, epochs=0, random_state=0, num_threads=1).fit([coffee])
    assert default.model_config_.ab_offset == [0.0, 0.0]  # the default starts near grey


def _tinted(rng, tint, h=48, w=64):
    """Smooth random brightness, one constant colour (tint) for the whole photo."""
    t = np.kron(rng.random((h // 8 + 1, w // 8 + 1)), np.ones((8, 8)))[:h, :w]
    rgb = (0.2 + 0.6 * t)[..., None] * np.asarray(tint)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def test_calibration_trusts_colour_only_as_far_as_it_holds_on_unseen_photos():
    rng = np.random.default_rng(1)
    kw = dict(hidden=(8, 16), crop=16, n_crops=320, epochs=6, batch_size=32, lr=5e-3, validation_fraction=0.25,
              random_state=0, num_threads=1)
    # the same brightness → colour law in every photo: the colour transfers, the gain stays high
    from support import synthetic_photo

    same = Colorizer(**kw).fit([synthetic_photo(rng, 48, 64) for _ in range(4)])
    # each photo one tint unrelated to its brightness: nothing transfers to the validation photo
    tints = [(1.0, 0.45, 0.2), (0.2, 0.45, 1.0), (0.3, 1.0, 0.3), (1.0, 0.3, 0.9)]
    unrelated = Colorizer(**kw).fit([_tinted(rng, t) for t in tints])
    assert len(same.validation_photos_) == 1 and len(unrelated.validation_photos_) == 1
    g_same, g_unrel = same.model_config_.ab_gain, unrelated.model_config_.ab_gain
    assert g_same > 0.7 and g_unrel < 0.5 and g_unrel < g_same - 0.3, (g_same, g_unrel)
    off = Colorizer(**kw, calibrate=False).fit([_tinted(rng, t) for t in tints])
    assert off.model_config_.ab_gain == 1.0


def test_strips_are_disjoint_and_validation_uses_only_them():
    photo = np.arange(50 * 100 * 3, dtype=np.uint8).reshape(50, 100, 3)
    fit, val = split_strips([photo, photo.transpose(1, 0, 2), photo[:20, :30]], 0.1, 16)
    assert [f.shape[:2] for f in fit] == [(50, 84), (84, 50), (20, 30)]  # the small one is kept whole
    assert [v.shape[:2] for v in val] == [(50, 16), (16, 50)]
    assert np.array_equal(np.concatenate([fit[0], val[0]], 1), photo)
    fit, val = split_strips([photo], 0.3, 16)
    assert fit[0].shape[1] == 70 and val[0].shape[1] == 30


def test_options_are_checked():
    for bad in (dict(validation="photo"), dict(ab_offset="median"), dict(ab_offset=(1.0,)), dict(loss="l1"),
                dict(weight_decay=-1.0), dict(scales=(0.0,)), dict(scales=())):
        with pytest.raises(ConfigError):
            Colorizer(**bad)
    with pytest.raises(ConfigError):
        colorizer_config(ab_loss="l1")
    with pytest.raises(ConfigError):
        colorizer_config(ab_offset=(np.nan, 0.0))


@pytest.mark.parametrize("kw", [dict(loss="huber"), dict(ab_offset=(0.1, -0.2), weight_decay=1e-3),
                                dict(validation="crops", scales=(1.0, 0.5))])
def test_other_options_train_save_and_load(coffee, kw, tmp_path):
    est = Colorizer(hidden=(4, 8), crop=16, n_crops=64, epochs=2, random_state=0, num_threads=1, **kw).fit([coffee])
    assert np.isfinite(est.history_[-1]["loss"])
    est.save(tmp_path / "run")
    back = Colorizer.load(tmp_path / "run")
    assert back.get_params() == est.get_params()
    assert np.allclose(back.predict_ab(rgb_to_lab_scaled(coffee)[0]), est.predict_ab(rgb_to_lab_scaled(coffee)[0]))
    if "ab_offset" in kw:
        assert np.allclose(est.model_config_.ab_offset, kw["ab_offset"])


def test_run_folder_from_before_ab_offset_still_loads(coffee, tmp_path):
    """Run folders written before ab_offset/ab_loss and the new parameters: read as grey-centred MSE."""
    est = Colorizer(hidden=(4, 8), crop=16, n_crops=64, epochs=1, validation="crops", calibrate=False,
                    random_state=0, num_threads=1).fit([coffee])
    est.save(tmp_path / "run")
    cfg_path = tmp_path / "run" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    for k in ("ab_offset", "ab_loss", "ab_gain"):
        del cfg["model"][k]
    for k in ("validation", "ab_offset", "loss", "weight_decay", "scales", "calibrate"):
        del cfg["params"][k]
    cfg_path.write_text(json.dumps(cfg))
    back = Colorizer.load(tmp_path / "run")
    L = rgb_to_lab_scaled(coffee)[0]
    assert np.allclose(back.predict_ab(L), est.predict_ab(L), atol=1e-6)
    assert isinstance(back.model_, ColorizerModel) and back.model_.ab_loss == "mse" and back.model_.ab_gain == 1.0
    assert back.validation == "crops" and back.ab_offset == "zero" and not back.calibrate


def test_bundled_photos_exclude_the_held_out_scenes():
    train, test = load_photos("bundled")
    assert [n for n, _ in train] == list(BUNDLED_TRAIN) and [n for n, _ in test] == list(SKIMAGE_TEST)
    for _, p in train:
        assert p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3
    # no training photo is a held-out scene (scikit-image's "cat" is chelsea, motorcycle_right its twin)
    small = [shrink(p, 32).astype(float) for _, p in train]
    for _, q in test:
        q = shrink(q, 32).astype(float)
        assert all(s.shape != q.shape or np.abs(s - q).mean() > 20 for s in small)
