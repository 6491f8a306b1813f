"""The colorizer on sets of whole images: a colour folder read lazily and CIFAR-10 (generated in the
binary release's layout), trained from `aekit train` and reported beside the grey input and the
training set's mean colour."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from aekit import Colorizer
from aekit.data.image_source import ImageFolderSource, rgb_to_lab_batch
from aekit.errors import ConfigError, DataError
from support import run_cli, synthetic_photo


def _colour_folder(root, n=60, h=24, w=28, seed=0):
    """n photos whose colour follows their lightness (support.synthetic_photo), in two classes."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        path = root / ("a", "b")[i % 2] / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(synthetic_photo(rng, h, w)).save(path)
    return root


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory):
    return _colour_folder(tmp_path_factory.mktemp("colour"))


def _fit(lab, lab_val, epochs=6):
    return Colorizer(hidden=(8, 16), epochs=epochs, batch_size=16, lr=5e-3, random_state=0,
                     num_threads=1).fit_lab(lab, lab_val)


def test_streamed_training_equals_in_ram_training_and_beats_both_baselines(colour_folder):
    lab = ImageFolderSource(colour_folder, transform="lab")
    train, val = lab.subset(np.arange(48)), lab.subset(np.arange(48, 60))
    streamed, in_ram = _fit(train, val), _fit(train.read_all(), val.read_all())
    a, b = streamed.model_.state_dict(), in_ram.model_.state_dict()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)  # the same batches, the same weights
    np.testing.assert_allclose(streamed.mean_ab_, train.read_all()[:, 1:].mean(axis=(0, 2, 3)), atol=1e-6)
    m = streamed.evaluate_images(ImageFolderSource(colour_folder).subset(np.arange(48, 60)), n_shown=3)
    assert m["images"] and m["n_photos"] == 12 and len(m["photos"]) == 3 and len(streamed.last_images_) == 3
    assert m["psnr_model"] > m["psnr_grey"] + 0.5 and m["psnr_model"] > m["psnr_mean_colour"] + 0.5, m
    # the mean over the set is the mean of the per-image PSNRs
    full = streamed.evaluate_images(ImageFolderSource(colour_folder).subset(np.arange(48, 60)), n_shown=12)
    assert np.isclose(full["psnr_grey"], np.mean([p["psnr_grey"] for p in full["photos"]]))


def test_mean_colour_survives_save_and_load(colour_folder, tmp_path):
    lab = ImageFolderSource(colour_folder, transform="lab").read(np.arange(20))
    est = _fit(lab, None, epochs=1)
    est.save(tmp_path / "run")
    back = Colorizer.load(tmp_path / "run")
    np.testing.assert_allclose(back.mean_ab_, est.mean_ab_)
    rgb = ImageFolderSource(colour_folder).read(np.arange(4))
    assert back.evaluate_images(rgb)["psnr_mean_colour"] == est.evaluate_images(rgb)["psnr_mean_colour"]
    with pytest.raises(DataError, match="N×3×H×W"):
        est.evaluate_images(rgb[:, :1])
    with pytest.raises(DataError, match="scaled Lab"):
        est.fit_lab(rgb[:, :2])


def test_cli_trains_on_a_colour_folder_of_any_sizes_through_the_lazy_loader(tmp_path, capsys):
    folder = _colour_folder(tmp_path / "photos", n=50, h=20, w=26)
    Image.fromarray(synthetic_photo(np.random.default_rng(9), 30, 22)).save(folder / "a" / "odd.png")  # another size
    run = tmp_path / "run"
    code, out, err = run_cli(["train", "--model", "colorizer", "--data", folder, "--out", run, "--epochs", "2",
                              "--hidden", "8,16", "--batch-size", "16", "--quiet", "--image-size", "16",
                              "--image-crop", "center"], capsys)
    assert code == 0, err
    assert "training mean colour" in out and "held-out images" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["images"] and metrics["n_photos"] == 10  # a fifth of the 51 images: the test split
    assert {"psnr_grey", "psnr_mean_colour", "psnr_model"} <= set(metrics)
    data = json.loads((run / "config.json").read_text())["data"]
    assert data["image_options"] == {"size": 16, "crop": "center"} and data["n_train"] == 36
    html = (run / "report.html").read_text()
    assert "training mean colour" in html and "grey input" in html and (run / "colorize-grid.png").exists()
    code, out, err = run_cli(["evaluate", run], capsys)  # the recorded folder and options, read again
    assert code == 0, err
    assert f"{metrics['psnr_model']:.5g}" in out
    code, _, err = run_cli(["train", "--model", "colorizer", "--data", folder, "--out", tmp_path / "g", "--grey",
                            "--image-size", "16", "--image-crop", "center", "--quiet"], capsys)
    assert code != 0 and "colour" in err


def _cifar10(root, seed=0, per_batch=20, n_test=10):
    """A small CIFAR-10 in the binary layout (1 label byte, then the R, G, B planes), its colours
    following the lightness as in synthetic_photo."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name, n in [(f"data_batch_{i}.bin", per_batch) for i in range(1, 6)] + [("test_batch.bin", n_test)]:
        images = np.stack([synthetic_photo(rng, 32, 32).transpose(2, 0, 1) for _ in range(n)])
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        (folder / name).write_bytes(np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1).tobytes())
    (folder / "batches.meta.txt").write_text("\n".join(f"class{i}" for i in range(10)) + "\n")
    return root


def test_cli_trains_on_cifar10(tmp_path, capsys):
    root = _cifar10(tmp_path / "data")
    run = tmp_path / "run"
    code, out, err = run_cli(["train", "--model", "colorizer", "--data", "cifar10", "--data-dir", root, "--out", run,
                              "--epochs", "2", "--hidden", "8,16", "--batch-size", "32", "--train-size", "60",
                              "--quiet"], capsys)
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_photos"] == 10 and metrics["width"] == metrics["height"] == 32  # CIFAR's test batch
    assert metrics["psnr_mean_colour"] > 0 and metrics["psnr_grey"] > 0
    data = json.loads((run / "config.json").read_text())["data"]
    assert data["images"] and data["n_train"] == 60 and data["train_size"] == 60
    code, out, err = run_cli(["report", run, "--data-dir", root], capsys)
    assert code == 0, err


def test_cifar_images_convert_to_the_colorizers_lab():
    from aekit.data.photos import rgb_to_lab_scaled

    rgb = np.random.default_rng(0).random((3, 3, 8, 8)).astype(np.float32)
    lab = rgb_to_lab_batch(rgb)
    for i in range(3):
        np.testing.assert_allclose(lab[i], rgb_to_lab_scaled(rgb[i].transpose(1, 2, 0)), atol=1e-5)


def test_few_photos_still_train_on_crops(tmp_path):
    from aekit.kinds import colour_image_sets

    few = _colour_folder(tmp_path / "few", n=6)
    assert colour_image_sets(few, None, 0, None) is None  # a handful of photos: random crops, as before
    many = _colour_folder(tmp_path / "many", n=50)
    train, val, test, extra = colour_image_sets(many, None, 0, None)
    assert len(train) + len(val) + len(test) == 50 and extra == {}
    with pytest.raises(ConfigError):
        ImageFolderSource(many, transform="lab", grey=True)
