"""`aekit train --image-size S --image-crop center --grey` on an image folder of any sizes, for any
model: the run records the options, and evaluate / encode decode the folder the same way."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from support import run_cli


def test_any_model_trains_on_a_folder_resized_cropped_and_grey(tmp_path, capsys):
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    for i in range(30):
        h, w = (12, 16) if i % 3 else (20, 14)  # two sizes and aspects
        path = folder / ("x", "y")[i % 2] / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    run = tmp_path / "run"
    code, out, err = run_cli(["train", "--data", folder, "--model", "ae", "--hidden", "8", "--latent", "2",
                              "--epochs", "1", "--quiet", "--out", run], capsys)
    assert code != 0 and "--image-size" in err  # several sizes: the message says what to give
    code, out, err = run_cli(["train", "--data", folder, "--model", "ae", "--hidden", "8", "--latent", "2",
                              "--epochs", "1", "--quiet", "--out", run, "--image-size", "8", "--image-crop", "center",
                              "--grey"], capsys)
    assert code == 0, err
    data = json.loads((run / "config.json").read_text())["data"]
    assert data["image_options"] == {"size": 8, "crop": "center", "grey": True}
    assert json.loads((run / "config.json").read_text())["model"]["input_shape"] == [1, 8, 8]
    code, out, err = run_cli(["evaluate", run], capsys)
    assert code == 0, err
    code, out, err = run_cli(["encode", run, "--split", "test", "--out", tmp_path / "codes.npy"], capsys)
    assert code == 0, err
    assert np.load(tmp_path / "codes.npy").shape == (6, 2)  # a fifth of the 30 images
    code, _, err = run_cli(["train", "--data", folder, "--image-size", "8", "--image-crop", "top", "--quiet",
                            "--out", tmp_path / "r2"], capsys)
    assert code != 0 and "--image-crop" in err


def test_an_image_folder_with_decoding_options_over_the_budget_streams(tmp_path, capsys):
    """--image-size / --image-workers with data over --memory-budget: decoded per batch, not refused."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(60):
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / f"im{i:02d}.png")
    code, out, err = run_cli(["train", "--data", folder, "--image-size", "8", "--image-crop", "center",
                              "--memory-budget", "20KiB", "--epochs", "1", "--batch-size", "8", "--quiet",
                              "--out", tmp_path / "run"], capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert data["stream"]["kind"] == "image-folder" and data["stream"]["sample_shape"] == [3, 8, 8]
