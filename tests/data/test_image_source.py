"""Lazily decoded image folders: the same arrays as the in-RAM loader, resize / crop / grey / Lab,
labels without decoding, and a file that does not decode named in the error (in workers too)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from aekit.data.files import load_image_folder
from aekit.data.image_source import ImageFolderSource, rgb_to_lab_batch
from aekit.data.photos import rgb_to_lab_scaled
from aekit.data.sources import is_row_source
from aekit.errors import AekitWarning, ConfigError, DataError


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


@pytest.fixture
def classes_folder(tmp_path):
    """Two classes of 12×10 colour images (random pixels), plus one grey image in the second."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    for cls, n in (("bird", 3), ("frog", 2)):
        for i in range(n):
            _save(folder / cls / f"{i}.png", rng.integers(0, 256, (10, 12, 3), dtype=np.uint8))
    _save(folder / "frog" / "grey.png", rng.integers(0, 256, (10, 12), dtype=np.uint8))
    return folder


def test_lazy_folder_equals_the_in_ram_loader(classes_folder):
    eager = load_image_folder(classes_folder, "imgs")
    with pytest.warns(AekitWarning, match="1 grey image"):
        src = ImageFolderSource(classes_folder)
    assert is_row_source(src) and src.shape == eager.X.shape == (6, 3, 10, 12)
    assert src.value_range == eager.value_range == (0.0, 1.0)
    np.testing.assert_array_equal(src.read(np.arange(6)), eager.X)  # same images, order and scaling, bit for bit
    np.testing.assert_array_equal(src.labels, eager.y)
    assert src.classes == eager.classes == ["bird", "frog"] and src.paths == eager.paths
    order = np.array([5, 0, 3, 3])
    np.testing.assert_array_equal(src.read(order), eager.X[order])  # rows in the order asked, repeats allowed
    part = src.subset(np.array([4, 1]))
    np.testing.assert_array_equal(part.read(np.arange(2)), eager.X[[4, 1]])
    assert part.labels.tolist() == [1, 0] and len(part) == 2


def test_all_grey_folder_is_one_channel_and_16_bit_scales_as_the_loader(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(3):
        _save(tmp_path / "g" / f"{i}.png", rng.integers(0, 256, (5, 7), dtype=np.uint8))
    Image.fromarray(rng.integers(0, 65536, (5, 7), dtype=np.uint16)).save(tmp_path / "g" / "deep.png")
    eager = load_image_folder(tmp_path / "g", "g")
    src = ImageFolderSource(tmp_path / "g")
    assert src.shape == (4, 1, 5, 7) and src.labels is None and src.classes is None
    np.testing.assert_array_equal(src.read(np.arange(4)), eager.X)


def test_resize_crop_and_grey(tmp_path):
    # 20×40: left half red, right half blue, a green 4-pixel band in the middle columns
    im = np.zeros((20, 40, 3), np.uint8)
    im[:, :20, 0] = 255
    im[:, 20:, 2] = 255
    im[:, 18:22] = (0, 255, 0)
    _save(tmp_path / "f" / "wide.png", im)
    _save(tmp_path / "f" / "tall.png", np.full((30, 10, 3), 200, np.uint8))
    with pytest.raises(DataError, match="different sizes.*--image-size"):
        ImageFolderSource(tmp_path / "f")
    with pytest.raises(DataError, match="different shapes after resizing to 10.*--crop center"):
        ImageFolderSource(tmp_path / "f", size=10)
    src = ImageFolderSource(tmp_path / "f", size=10, crop="center")
    assert src.shape == (2, 3, 10, 10)
    tall, wide = src.read(np.arange(2))  # files in sorted order: tall.png, wide.png
    np.testing.assert_allclose(tall, 200 / 255, atol=1e-5)  # a flat image stays flat through resize and crop
    # the wide image shrank to 10×20 and its centre 10×10 kept: green in the middle, red left, blue right
    assert wide[1, :, 5].mean() > 0.5 and wide[0, :, 0] .mean() > 0.5 and wide[2, :, -1].mean() > 0.5
    assert wide[1, :, 0].max() < 0.05 and wide[0, :, -1].max() < 0.05
    grey = ImageFolderSource(tmp_path / "f", size=10, crop="center", grey=True).read(np.array([1]))
    assert grey.shape == (1, 1, 10, 10)
    np.testing.assert_allclose(grey[0, 0, :, 0], 0.299, atol=0.01)  # red → its luma
    np.testing.assert_allclose(grey[0, 0, :, -1], 0.114, atol=0.01)  # blue → its luma
    with pytest.raises(ConfigError, match="give size"):
        ImageFolderSource(tmp_path / "f", crop="center")
    with pytest.raises(ConfigError, match="crop"):
        ImageFolderSource(tmp_path / "f", size=8, crop="top")


def test_lab_transform_is_the_colorizers_scaling(classes_folder):
    with pytest.warns(AekitWarning):
        src = ImageFolderSource(classes_folder, transform="lab")
    assert src.value_range == (-1.0, 1.0)
    lab = src.read(np.array([0, 5]))
    assert lab.shape == (2, 3, 10, 12)
    first = np.asarray(Image.open(src.paths[0]))
    np.testing.assert_allclose(lab[0], rgb_to_lab_scaled(first), atol=1e-5)
    assert np.abs(lab[1, 1:]).max() < 1e-3  # the grey image has no colour
    np.testing.assert_allclose(rgb_to_lab_batch(first.transpose(2, 0, 1)[None] / 255.0)[0], rgb_to_lab_scaled(first),
                               atol=1e-5)
    with pytest.raises(ConfigError, match="grey"):
        ImageFolderSource(classes_folder, transform="lab", grey=True)


def _truncated_png(path, rng):
    _save(path, rng.integers(0, 256, (10, 12, 3), dtype=np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header survives: only decoding fails


def test_labels_without_decoding_and_a_corrupt_image_named(classes_folder):
    bad = classes_folder / "frog" / "1.png"
    _truncated_png(bad, np.random.default_rng(2))
    with pytest.warns(AekitWarning):
        src = ImageFolderSource(classes_folder)  # only headers are read: no error yet
    assert src.labels.tolist() == [0, 0, 0, 1, 1, 1]
    src.read(np.array([0, 1, 2, 3, 5]))
    with pytest.raises(DataError, match=r"frog/1\.png: unreadable image"):
        src.read(np.array([0, 4]))


@pytest.mark.parametrize("workers", [0, 2])
def test_a_corrupt_image_is_named_by_the_trainers_batches(classes_folder, workers):
    from aekit.train.batches import EpochBatches, epoch_index_batches

    _truncated_png(classes_folder / "bird" / "2.png", np.random.default_rng(3))
    with pytest.warns(AekitWarning):
        src = ImageFolderSource(classes_folder, num_workers=workers)
    batches = epoch_index_batches(torch.arange(6), 2, 0, 1)
    with pytest.raises(DataError, match=r"bird/2\.png: unreadable image") as err:
        list(EpochBatches(src, batches, torch.device("cpu"), torch.float32))
    assert "Traceback" not in str(err.value)  # one message, not a worker's traceback


def test_a_file_that_is_not_an_image_is_refused_up_front(tmp_path):
    _save(tmp_path / "f" / "a.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "f" / "b.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"b\.png: unreadable image"):
        ImageFolderSource(tmp_path / "f")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        ImageFolderSource(tmp_path / "empty")
