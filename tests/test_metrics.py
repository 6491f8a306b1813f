"""aekit.metrics: the one SSIM (against scikit-image, the small-image window rule, gradients, the
training loss), PSNR, precision@k / knn precision and detection_metrics on hand-made cases."""
from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

import aekit.metrics as metrics
from aekit.errors import AekitWarning, ConfigError, DataError
from aekit.metrics import (detection_metrics, knn_precision, precision_at_k, psnr, psnr_rgb, ssim, ssim_tensor,
                           ssim_window)
from aekit.models.losses import reconstruction_loss


def skimage_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """scikit-image's SSIM per image of N×C×H×W arrays, with the settings aekit.metrics documents."""
    side = min(a.shape[-2:])
    if side >= 11:
        kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    else:
        kw = dict(win_size=side if side % 2 else side - 1)
    return np.array([structural_similarity(x, y, data_range=data_range, channel_axis=0, **kw) for x, y in zip(a, b)])


def structured(n: int, c: int, h: int, w: int, rng) -> np.ndarray:
    """Smooth images with edges: gradients, a disc, stripes, and the camera photo's corner."""
    from skimage.data import camera

    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    photo = camera()[:h, :w] / 255.0
    bases = [xx, (xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1, 0.5 + 0.5 * np.sin(12 * xx + 5 * yy), photo]
    out = np.empty((n, c, h, w))
    for i in range(n):
        for ch in range(c):
            out[i, ch] = np.clip(bases[(i + ch) % len(bases)] * rng.uniform(0.5, 1.0) + rng.uniform(0, 0.2), 0, 1)
    return out


# -- SSIM against scikit-image ------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(11, 11), (16, 16), (28, 28), (64, 64), (70, 65), (23, 40)])
@pytest.mark.parametrize("kind", ["random", "structured"])
def test_ssim_agrees_with_scikit_image(channels, size, kind):
    rng = np.random.default_rng(sum(size) + channels)
    shape = (4, channels, *size)
    a = rng.random(shape) if kind == "random" else structured(*shape, rng)
    b = np.clip(a + rng.choice([0.02, 0.1, 0.4]) * rng.standard_normal(shape), 0, 1)
    ref = skimage_ssim(a, b)
    np.testing.assert_allclose(ssim(a, b), ref, rtol=0, atol=1e-4)
    # the float32 torch computation the loss trains on agrees as well
    ours32 = ssim_tensor(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32))
    np.testing.assert_allclose(ours32.numpy(), ref, rtol=0, atol=1e-4)


def test_ssim_with_another_data_range_agrees_with_scikit_image():
    rng = np.random.default_rng(1)
    a = rng.random((3, 3, 28, 28)) * 255
    b = np.clip(a + 20 * rng.standard_normal(a.shape), 0, 255)
    np.testing.assert_allclose(ssim(a, b, 255.0), skimage_ssim(a, b, 255.0), rtol=0, atol=1e-4)


def test_ssim_is_one_on_identical_images_and_falls_with_noise():
    rng = np.random.default_rng(2)
    a = structured(2, 1, 28, 28, rng)
    scores = [ssim(a, np.clip(a + s * rng.standard_normal(a.shape), 0, 1)).mean() for s in (0.0, 0.05, 0.2, 0.5)]
    assert scores[0] == pytest.approx(1.0, abs=1e-12)
    assert scores == sorted(scores, reverse=True) and scores[-1] < 0.3


def test_ssim_takes_flat_rows_flipped_views_and_chunks(monkeypatch):
    rng = np.random.default_rng(3)
    a = rng.random((5, 1, 12, 12))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    whole = ssim(a, b)
    np.testing.assert_array_equal(ssim(a, b.reshape(5, -1)), whole)
    np.testing.assert_allclose(ssim(a[:, :, ::-1], b[:, :, ::-1]), skimage_ssim(a[:, :, ::-1], b[:, :, ::-1]),
                               atol=1e-12)
    monkeypatch.setattr(metrics, "_SSIM_CHUNK_VALUES", 2 * 144)  # two images a chunk: 3 chunks
    np.testing.assert_allclose(ssim(a, b), whole, atol=1e-15)


def test_ssim_refuses_bad_input():
    with pytest.raises(DataError, match="N×C×H×W"):
        ssim(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)))
    with pytest.raises(DataError, match="values"):
        ssim(np.zeros((2, 1, 8, 8)), np.zeros((2, 60)))
    with pytest.raises(DataError, match="at least 3×3"):
        ssim(np.zeros((1, 1, 2, 9)), np.zeros((1, 1, 2, 9)))
    with pytest.raises(DataError, match="one shape"):
        ssim_tensor(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9))
    with pytest.raises(ConfigError, match="data_range"):
        ssim_tensor(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), data_range=0)


# -- images under 11 pixels: one documented window rule -------------------------------------
@pytest.mark.parametrize("hw, size", [((8, 8), 7), ((10, 12), 9), ((5, 40), 5), ((3, 3), 3), ((4, 4), 3)])
def test_small_images_use_the_largest_odd_uniform_window(hw, size):
    weights, norm = ssim_window(*hw)
    assert len(weights) == size and np.allclose(weights, 1 / size)
    assert norm == pytest.approx(size**2 / (size**2 - 1))
    rng = np.random.default_rng(size)
    a = rng.random((3, 2, *hw))
    b = np.clip(a + 0.2 * rng.standard_normal(a.shape), 0, 1)
    ref = [structural_similarity(x, y, data_range=1.0, channel_axis=0, win_size=size) for x, y in zip(a, b)]
    np.testing.assert_allclose(ssim(a, b), ref, rtol=0, atol=1e-4)


def test_images_of_11_pixels_and_more_use_the_gaussian_window():
    weights, norm = ssim_window(11, 300)
    x = np.arange(11) - 5
    g = np.exp(-(x**2) / (2 * 1.5**2))
    np.testing.assert_allclose(weights, g / g.sum())
    assert norm == 1.0
    assert len(ssim_window(10, 300)[0]) == 9  # the smaller side decides


def test_the_ssim_loss_is_one_minus_the_reported_ssim(digits_splits):
    """On the 8×8 digits the loss trains on exactly what the reports measure."""
    X = digits_splits[2].X[:32]
    rng = np.random.default_rng(4)
    R = np.clip(X + 0.2 * rng.standard_normal(X.shape), 0, 1).astype(np.float32)
    loss = reconstruction_loss("ssim", None, torch.from_numpy(R).reshape(32, -1), torch.from_numpy(X).reshape(32, -1),
                               image_shape=X.shape[1:])
    assert float(loss) == pytest.approx(1.0 - ssim(X, R).mean(), abs=1e-5)
    with pytest.raises(ConfigError, match="C×H×W"):
        reconstruction_loss("ssim", None, torch.zeros(2, 64), torch.zeros(2, 64), image_shape=(64,))


# -- gradients ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 1, 8, 8), (1, 3, 12, 13)])
def test_ssim_gradients_match_finite_differences(shape):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(shape, dtype=torch.float64, generator=gen)
    y = (x + 0.2 * torch.rand(shape, dtype=torch.float64, generator=gen)).clamp(0, 1).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: ssim_tensor(x, t), (y,), eps=1e-6, atol=1e-6)


def test_ssim_loss_gradient_improves_a_reconstruction():
    gen = torch.Generator().manual_seed(1)
    target = torch.rand(16, 1, 28, 28, generator=gen)
    out = (target + 0.3 * torch.randn(target.shape, generator=gen)).requires_grad_()
    before = reconstruction_loss("ssim", None, out, target, image_shape=(1, 28, 28))
    before.backward()
    assert out.grad is not None and torch.isfinite(out.grad).all() and out.grad.abs().sum() > 0
    with torch.no_grad():
        after = reconstruction_loss("ssim", None, out - 20.0 * out.grad, target, image_shape=(1, 28, 28))
    assert after < before


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_ssim_on_cuda_matches_the_cpu():
    gen = torch.Generator().manual_seed(2)
    x, y = torch.rand(2, 8, 3, 28, 28, generator=gen)
    for a, b in ((x, y), (x[..., :8, :8], y[..., :8, :8]), (torch.rand(2, 1, 80, 90, generator=gen),) * 2):
        cpu = ssim_tensor(a, b)
        torch.testing.assert_close(ssim_tensor(a.cuda(), b.cuda()).cpu(), cpu, atol=1e-5, rtol=0)


# -- PSNR ----------------------------------------------------------------------------------
def test_psnr_known_values():
    clean = np.zeros((3, 1, 2, 2))
    other = np.stack([np.full((1, 2, 2), 0.1), np.full((1, 2, 2), 0.01), clean[0]])
    np.testing.assert_allclose(psnr(clean, other), [20.0, 40.0, 100.0])
    # with a range of 255, an RMSE of 25.5 is 20 dB
    np.testing.assert_allclose(psnr(np.zeros((1, 4)), np.full((1, 4), 25.5), 255.0), [20.0])
    # half the values off by 1 on a range of 1: MSE 0.5, 10·log10(2)
    assert psnr(np.zeros((1, 4)), np.array([[1.0, 0, 1.0, 0]]))[0] == pytest.approx(10 * np.log10(2))
    assert psnr_rgb(np.zeros((4, 5, 3)), np.full((4, 5, 3), 0.1)) == pytest.approx(20.0)
    assert psnr_rgb(np.ones((2, 2, 3)), np.ones((2, 2, 3))) == pytest.approx(100.0)


# -- precision@k and knn precision ----------------------------------------------------------------
def test_precision_at_k_by_hand():
    neighbours = np.array([[1, 1, 2, 2], [0, 0, 0, 0], [3, 1, 1, 1]])
    assert precision_at_k(neighbours, np.array([1, 0, 3])) == pytest.approx((2 + 4 + 1) / 12)


def test_knn_precision_by_hand():
    # two clusters on a line; item 2 (label 0) sits nearer the 1s
    codes = np.array([[0.0], [1.0], [8.0], [10.0], [11.0]])
    labels = np.array([0, 0, 0, 1, 1])
    # k=1 without self: 0→1 (0 ✓), 1→0 (✓), 2→3 (✗), 3→4 (✓), 4→3 (✓)
    assert knn_precision(codes, labels, codes, labels, k=1, exclude_self=True) == pytest.approx(4 / 5)
    # with self each item is its own nearest neighbour
    assert knn_precision(codes, labels, codes, labels, k=1) == 1.0
    # a query at 9.2 with label 1: neighbours 8 (0), 10 (1) -> 1/2
    assert knn_precision(codes, labels, [[9.2]], [1], k=2) == 0.5


def test_knn_precision_matches_exact_neighbours_of_scikit_learn():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(5)
    centers = rng.normal(size=(5, 6)) * 2
    y = rng.integers(0, 5, 400)
    codes = (centers[y] + rng.normal(size=(400, 6))).astype(np.float32)
    _, idx = NearestNeighbors(n_neighbors=8).fit(codes).kneighbors(codes[:100])
    expected = precision_at_k(y[idx[:, 1:]], y[:100])
    assert knn_precision(codes, y, codes[:100], y[:100], k=7, exclude_self=True) == pytest.approx(expected)
    assert 0.3 < expected < 1.0  # neither trivial nor hopeless, so the comparison means something


def test_knn_precision_clamps_k_and_refuses_bad_input():
    codes, labels = np.eye(3), np.array([0, 1, 2])
    with pytest.warns(AekitWarning, match="k=5 is larger than the 2 candidates"):
        assert knn_precision(codes, labels, codes, labels, k=5, exclude_self=True) == 0.0
    with pytest.raises(ConfigError, match="k must be ≥ 1"):
        knn_precision(codes, labels, codes, labels, k=0)
    with pytest.raises(DataError, match="size 2 do not match"):
        knn_precision(codes, labels, np.zeros((1, 2)), [0])
    with pytest.raises(DataError, match="labels"):
        knn_precision(codes, labels[:2], codes, labels)
    with pytest.raises(DataError, match="NaN or inf"):
        knn_precision(codes, labels, [[np.nan, 0, 0]], [0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert knn_precision(codes, labels, codes, labels, k=3) == pytest.approx(1 / 3)


# -- detection metrics ----------------------------------------------------------------------
def test_detection_metrics_by_hand():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    is_anomaly = np.array([0, 0, 1, 1])
    m = detection_metrics(scores, is_anomaly, threshold=0.3)
    # anomalies beat normals in 3 of the 4 pairs; ranked 0.8 (a), 0.4 (n), 0.35 (a): AP = ½·1 + ½·⅔
    assert m == pytest.approx({"n": 4, "n_anomalies": 2, "threshold": 0.3, "flagged": 3, "roc_auc": 0.75,
                               "pr_auc": 0.5 + 0.5 * 2 / 3, "tpr_at_threshold": 1.0, "fpr_at_threshold": 0.5})


def test_detection_metrics_one_class_and_non_finite_scores():
    m = detection_metrics(np.array([1.0, 2.0]), np.array([0, 0]), 1.5)
    assert m == {"n": 2, "n_anomalies": 0, "threshold": 1.5, "flagged": 1}
    # an infinite score ranks above every finite one, negative scores included
    m = detection_metrics(np.array([-5.0, -3.0, np.inf]), np.array([0, 0, 1]), -4.0)
    assert m["roc_auc"] == 1.0 and m["flagged"] == 2
    with pytest.raises(DataError, match="finite"):
        detection_metrics(np.array([np.nan, np.inf]), np.array([0, 1]), 0.0)


def test_docstring_examples():
    result = doctest.testmod(metrics, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0
