"""Colorization: the L → ab model learns, works on any size, notices colour input, saves and loads."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import aekit.cli
from aekit import Colorizer
from aekit.errors import DataError, RunFolderError
from aekit.estimators import AutoEncoder
from aekit.data.photos import lab_scaled_to_rgb, lightness, rgb_to_lab_scaled
from aekit.models.colorizer import ColorizerModel, colorizer_config
from support import synthetic_photo



@pytest.fixture(scope="module")
def photos():
    rng = np.random.default_rng(0)
    return [synthetic_photo(rng, 40 + 8 * i, 48) for i in range(4)], [synthetic_photo(rng, 37, 53) for _ in range(2)]


@pytest.fixture(scope="module")
def fitted(photos):
    train, _ = photos
    return Colorizer(hidden=(8, 16), crop=16, n_crops=384, epochs=8, batch_size=32, lr=5e-3, random_state=0,
                     num_threads=1).fit(train)


def test_learns_colour_that_brightness_predicts(fitted, photos):
    _, test = photos
    m = fitted.evaluate(test)
    assert m["psnr_model"] > m["psnr_grey"] + 2.5, m
    assert fitted.history_[-1]["loss"] < fitted.history_[0]["loss"]


def test_any_input_size_and_colour_input_notice(fitted, photos):
    _, test = photos
    grey = (lab_scaled_to_rgb(lightness(test[0])[0])[..., 0] * 255).astype(np.uint8)  # H×W grey
    for h, w in ((grey.shape[0], grey.shape[1]), (7, 13), (64, 33)):
        rgb, was_colour = fitted.colorize(np.resize(grey, (h, w)))
        assert rgb.shape == (h, w, 3) and not was_colour and 0 <= rgb.min() and rgb.max() <= 1
    _, was_colour = fitted.colorize(test[0])
    assert was_colour


def test_lab_round_trip():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    lab = rgb_to_lab_scaled(rgb)
    assert lab.shape == (3, 5, 6) and 0 <= lab[0].min() and lab[0].max() <= 1 and np.abs(lab[1:]).max() <= 1.2
    assert np.allclose(lab_scaled_to_rgb(lab[0], lab[1:]), rgb / 255.0, atol=1e-3)


def test_model_is_a_conv_autoencoder_configuration():
    model = ColorizerModel(colorizer_config(crop=16, hidden=(8, 16)))
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    terms = model.training_terms(x, torch.Generator().manual_seed(0))
    assert set(terms) >= {"loss"} and terms["loss"].ndim == 0
    assert model.predict_ab(torch.rand(2, 1, 21, 30)).shape == (2, 2, 21, 30)


def test_save_load_round_trip(fitted, photos, tmp_path):
    _, test = photos
    fitted.save(tmp_path / "run", metrics={"x": 1})
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["kind"] == "colorizer"
    back = Colorizer.load(tmp_path / "run")
    assert np.allclose(back.colorize(test[0])[0], fitted.colorize(test[0])[0], atol=1e-6)
    with pytest.raises(RunFolderError, match="colorizer"):
        AutoEncoder.load(tmp_path / "run")
    with pytest.raises(DataError, match="colour"):
        Colorizer().fit([np.zeros((20, 20))])


def test_cli_train_and_colorize(photos, tmp_path, capsys):
    train, test = photos
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, p in enumerate(train + test):
        Image.fromarray(p).save(folder / f"p{i}.png")
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["train", "--model", "colorizer", "--data", str(folder), "--out", str(run), "--epochs", "2",
                        "--hidden", "8,16", "--quiet"])
    out = capsys.readouterr()
    assert e.value.code == 0, out.err
    assert "colorized" in out.out and (run / "colorize-grid.png").exists() and (run / "model.safetensors").exists()
    colour = folder / "p0.png"
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["colorize", str(run), "--input", str(colour), "--out", str(tmp_path / "c.png"),
                        "--grid", str(tmp_path / "g.png")])
    out = capsys.readouterr()
    assert e.value.code == 0, out.err
    assert "colour image" in out.out and "PSNR" in out.out
    assert Image.open(tmp_path / "c.png").size == Image.open(colour).size and (tmp_path / "g.png").exists()
