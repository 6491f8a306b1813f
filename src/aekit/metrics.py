"""Every metric aekit reports or trains on, in one place.

Reconstruction errors, PSNR, SSIM (one batched torch implementation: the `ssim` training loss
and the reports compute the same quantity), precision@k of nearest-neighbour search, and the
anomaly-detection scores. This module sits at the bottom of the layering: it imports only
numpy, torch, sklearn.metrics and aekit.errors, so any layer may use it.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from aekit.specs import positive_int
from aekit.errors import AekitWarning, ConfigError, DataError

# SSIM constants of Wang et al. 2004 (and scikit-image's defaults with gaussian_weights=True).
SSIM_WINDOW = 11  # side of the Gaussian window (scikit-image: truncate 3.5 · σ, rounded, ·2 + 1)
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
# A blur along one axis of L pixels is a matrix product with an L×(L−k+1) band matrix: L
# multiply-adds per output instead of a convolution's k, but a GEMM runs far faster than a grouped
# convolution on small images (measured on the CPU: 2.2 ms vs 7.4 ms forward+backward for 128
# 28×28 images; equal at 64 px; the convolution twice as fast at 256 px).
_BAND_MATRIX_MAX_SIDE = 64
# The numpy SSIM works in float64 chunks of at most this many input values (its ~15 temporary
# maps then stay under ~250 MB).
_SSIM_CHUNK_VALUES = 1 << 21
# knn_precision compares query chunks with every indexed code: at most this many distances at once.
_KNN_CHUNK_DISTANCES = 1 << 24


# -- reconstruction errors -------------------------------------------------------------------
def reconstruction_errors(X: np.ndarray, X_hat: np.ndarray) -> dict[str, float]:
    """Both conventions people quote for a reconstruction's error.

    Parameters
    ----------
    X, X_hat : np.ndarray
        Originals and reconstructions, N×D or N×C×H×W (in any mix; each row is flattened).

    Returns
    -------
    dict
        ``mse_per_value``: mean squared error per value; ``sse_per_sample``: the squared error
        summed over each sample's values, then averaged over samples (Hinton & Salakhutdinov 2006).

    Examples
    --------
    >>> reconstruction_errors(np.zeros((2, 4)), np.full((2, 4), 0.5))
    {'mse_per_value': 0.25, 'sse_per_sample': 1.0}
    """
    sq = per_value_sq(X, X_hat)
    return {"mse_per_value": float(sq.mean()), "sse_per_sample": float(sq.sum(1).mean())}


def per_value_sq(X: np.ndarray, X_hat: np.ndarray) -> np.ndarray:
    """Squared errors, one row per sample.

    Parameters
    ----------
    X, X_hat : np.ndarray
        Originals and reconstructions with the same number of values per sample, N×D or
        N×C×H×W (in any mix).

    Returns
    -------
    np.ndarray
        float64, N×D (D: values per sample).

    Examples
    --------
    >>> per_value_sq(np.zeros((1, 1, 2, 2)), np.ones((1, 4))).tolist()
    [[1.0, 1.0, 1.0, 1.0]]
    """
    a = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    b = np.asarray(X_hat, dtype=np.float64).reshape(len(X_hat), -1)
    return (a - b) ** 2


def per_sample_sse(X: np.ndarray, X_hat: np.ndarray) -> np.ndarray:
    """Squared error summed over each sample's values.

    Parameters
    ----------
    X, X_hat : np.ndarray
        As in `per_value_sq`.

    Returns
    -------
    np.ndarray
        float64, shape (N,).

    Examples
    --------
    >>> per_sample_sse(np.zeros((2, 3)), np.ones((2, 3))).tolist()
    [3.0, 3.0]
    """
    return per_value_sq(X, X_hat).sum(1)


# -- PSNR -----------------------------------------------------------------------------------
def psnr(clean: np.ndarray, other: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio per image, in dB: 10·log10(range² / MSE).

    Identical images are capped at 100 dB (MSE floored at range²·1e-10) rather than infinity.

    Parameters
    ----------
    clean, other : np.ndarray
        Reference and compared images, N×D or N×C×H×W (each row is flattened).
    data_range : float, default 1.0
        Distance between the lowest and the highest possible value (1 for [0, 1], 255 for uint8).

    Returns
    -------
    np.ndarray
        float64, shape (N,).

    Examples
    --------
    >>> psnr(np.zeros((2, 4)), np.array([[0.1] * 4, [0.0] * 4])).round(6).tolist()
    [20.0, 100.0]
    """
    mse = per_value_sq(clean, other).mean(1)
    return 10.0 * np.log10(data_range**2 / np.maximum(mse, data_range**2 * 1e-10))


def psnr_rgb(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of one image (any shape, values in [0, 1]) against another, in dB, capped at 100.

    Parameters
    ----------
    a, b : np.ndarray
        The two images, same number of values (for example H×W×3 photos).

    Returns
    -------
    float

    Examples
    --------
    >>> round(psnr_rgb(np.zeros((2, 2, 3)), np.full((2, 2, 3), 0.01)), 6)
    40.0
    """
    return float(psnr(np.asarray(a)[None], np.asarray(b)[None], 1.0)[0])


# -- SSIM -----------------------------------------------------------------------------------
def ssim_window(height: int, width: int) -> tuple[np.ndarray, float]:
    """The SSIM window for images of a given size, and the covariance normalization with it.

    Images of at least 11 pixels a side use Wang et al.'s window: 11×11 Gaussian, σ = 1.5, with
    population (co)variances (scikit-image's ``gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False``). Smaller images (the 8×8 digits) cannot hold it; they use a
    uniform window of the largest odd size that fits (7×7 on 8×8 images), with sample
    (co)variances, n/(n−1), as scikit-image does by default for a uniform window. Both the
    `ssim` training loss and the reports follow this one rule.

    Parameters
    ----------
    height, width : int
        The image size in pixels (at least 3 each).

    Returns
    -------
    weights : np.ndarray
        float64, the 1-D window (it sums to 1); the 2-D window is its outer product with itself.
    cov_norm : float
        The factor applied to the windowed (co)variances: 1 (Gaussian) or n/(n−1) with n the
        window's pixel count (uniform).

    Raises
    ------
    DataError
        When a side is under 3 pixels.

    Examples
    --------
    >>> w, norm = ssim_window(8, 8)
    >>> len(w), round(float(w[0]), 4), round(norm, 4)
    (7, 0.1429, 1.0208)
    >>> w, norm = ssim_window(28, 32)
    >>> len(w), norm
    (11, 1.0)
    """
    side = min(int(height), int(width))
    if side < 3:
        raise DataError(f"ssim needs images of at least 3×3 pixels, got {int(height)}×{int(width)}")
    if side >= SSIM_WINDOW:
        x = np.arange(SSIM_WINDOW, dtype=np.float64) - (SSIM_WINDOW - 1) / 2
        g = np.exp(-(x**2) / (2 * SSIM_SIGMA**2))
        return g / g.sum(), 1.0
    size = side if side % 2 else side - 1
    return np.full(size, 1.0 / size), size * size / (size * size - 1.0)


def ssim_tensor(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity per image, batched and differentiable (torch).

    The mean over the valid window positions (no padding) and over the channels of Wang et al.
    2004's SSIM map, with K1 = 0.01, K2 = 0.03 and the window of `ssim_window` (11×11 Gaussian,
    σ = 1.5, on images of 11 pixels a side or more; on smaller images a uniform window of the
    largest odd size that fits). It agrees with ``skimage.metrics.structural_similarity`` called
    as `ssim` calls it: to about 1e-15 in float64, and within 1e-4 in float32 (measured at most
    8e-5, on images with flat areas).

    Parameters
    ----------
    x, y : torch.Tensor
        N×C×H×W images of the same shape, on any device; gradients flow to both.
    data_range : float, default 1.0
        Distance between the lowest and the highest possible value (sets C1 = (K1·range)²,
        C2 = (K2·range)²).

    Returns
    -------
    torch.Tensor
        Shape (N,), in x's floating dtype (or the default dtype for integer input).

    Raises
    ------
    DataError
        When the inputs are not N×C×H×W of one shape, or a side is under 3 pixels.
    ConfigError
        When `data_range` is not a positive number.

    Examples
    --------
    >>> x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> ssim_tensor(x, x).tolist()
    [1.0, 1.0]
    >>> bool((ssim_tensor(x, x.flip(-1)) < 0.5).all())
    True
    """
    if x.ndim != 4 or x.shape != y.shape:
        raise DataError(f"ssim needs two N×C×H×W images of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if not data_range > 0:
        raise ConfigError(f"ssim: data_range must be a positive number, got {data_range}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    x, y = x.to(dtype), y.to(dtype)
    c, h, w = x.shape[1:]
    weights, cov_norm = ssim_window(h, w)
    g = torch.as_tensor(weights, dtype=dtype, device=x.device)
    # (Co)variances do not change when each image is shifted by a constant; centring on the image
    # means makes E[x²] − E[x]² cancel less in float32 (half the error on images with flat areas).
    # The shift is detached: SSIM does not depend on it, so it carries no gradient.
    mx = x.detach().mean((2, 3), keepdim=True)
    my = y.detach().mean((2, 3), keepdim=True)
    x, y = x - mx, y - my
    # One blur of the five maps SSIM needs, stacked along the channels.
    stats = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1), g)
    mu_x, mu_y, xx, yy, xy = stats.split(c, dim=1)
    var_x = cov_norm * (xx - mu_x * mu_x)
    var_y = cov_norm * (yy - mu_y * mu_y)
    cov = cov_norm * (xy - mu_x * mu_y)
    mu_x, mu_y = mu_x + mx, mu_y + my
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1)


def _blur(t: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Valid (unpadded) separable filtering of N×C×H×W maps with the 1-D window g on both axes."""
    c, h, w = t.shape[1:]
    if max(h, w) <= _BAND_MATRIX_MAX_SIDE:
        return torch.matmul(_band(h, g).T, torch.matmul(t, _band(w, g)))
    kernel = torch.outer(g, g).expand(c, 1, len(g), len(g))
    return torch.nn.functional.conv2d(t, kernel, groups=c)


def _band(length: int, g: torch.Tensor) -> torch.Tensor:
    """The length×(length−k+1) matrix M with (v @ M)[j] = Σ_i g[i]·v[j + i] (a valid correlation)."""
    k = len(g)
    out = length - k + 1
    rows = torch.arange(length, device=g.device)[:, None] - torch.arange(out, device=g.device)[None, :]
    inside = (rows >= 0) & (rows < k)
    return torch.where(inside, g[rows.clamp(0, k - 1)], torch.zeros((), dtype=g.dtype, device=g.device))


def ssim(clean: np.ndarray, other: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Structural similarity per image, for arrays (the reports' SSIM).

    `ssim_tensor` computed in float64 under inference mode, in chunks. It equals
    ``skimage.metrics.structural_similarity(a, b, data_range=data_range, channel_axis=0,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`` per image when both sides
    are ≥ 11 pixels, and ``structural_similarity(a, b, data_range=data_range, channel_axis=0,
    win_size=s)`` with s the largest odd size that fits on smaller images (see `ssim_window`).
    Colour images are averaged over the channels.

    Parameters
    ----------
    clean : np.ndarray
        Reference images, N×C×H×W.
    other : np.ndarray
        Compared images: the same number of values, reshaped to clean's shape (N×D is accepted).
    data_range : float, default 1.0
        Distance between the lowest and the highest possible value.

    Returns
    -------
    np.ndarray
        float64, shape (N,).

    Raises
    ------
    DataError
        When clean is not N×C×H×W, other does not have as many values, or a side is under 3
        pixels.

    Examples
    --------
    >>> a = np.random.default_rng(0).random((3, 1, 8, 8))
    >>> ssim(a, a).tolist()
    [1.0, 1.0, 1.0]
    >>> bool((ssim(a, 1.0 - a) < 0).all())
    True
    """
    a = np.asarray(clean, dtype=np.float64)
    if a.ndim != 4:
        raise DataError(f"ssim needs N×C×H×W images, got shape {a.shape}")
    b = np.asarray(other, dtype=np.float64)
    if b.size != a.size:
        raise DataError(f"ssim: the compared images hold {b.size} values but the reference ones {a.size} ({a.shape})")
    # Contiguous copies where needed: torch.from_numpy refuses negative strides (flipped views).
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b.reshape(a.shape))
    per_chunk = max(1, _SSIM_CHUNK_VALUES // max(1, int(np.prod(a.shape[1:]))))
    out = np.empty(len(a), dtype=np.float64)
    with torch.inference_mode():
        for lo in range(0, len(a), per_chunk):
            sl = slice(lo, lo + per_chunk)
            out[sl] = ssim_tensor(torch.from_numpy(a[sl]), torch.from_numpy(b[sl]), data_range).numpy()
    return out


# -- nearest-neighbour search ---------------------------------------------------------------
def precision_at_k(neighbour_labels: np.ndarray, query_labels: np.ndarray) -> float:
    """Mean over queries of the share of their k neighbours that carry the query's label.

    Parameters
    ----------
    neighbour_labels : np.ndarray
        Q×k, the labels of each query's neighbours.
    query_labels : np.ndarray
        Shape (Q,).

    Returns
    -------
    float

    Examples
    --------
    >>> precision_at_k(np.array([[0, 0, 1], [2, 1, 1]]), np.array([0, 1]))
    0.6666666666666666
    """
    nl = np.asarray(neighbour_labels)
    return float((nl == np.asarray(query_labels)[:, None]).mean())


def knn_precision(train_codes, train_labels, query_codes, query_labels, k: int = 10,
                  exclude_self: bool = False) -> float:
    """precision@k by label of the exact Euclidean nearest neighbours of queries among codes.

    Parameters
    ----------
    train_codes : array-like
        N×D, the codes searched.
    train_labels : array-like
        Shape (N,).
    query_codes : array-like
        Q×D (or one code of D values).
    query_labels : array-like
        Shape (Q,).
    k : int, default 10
        Neighbours per query; more than there are candidates is clamped with an `AekitWarning`.
    exclude_self : bool, default False
        The queries are the first Q training codes (``query_codes = train_codes[:Q]``): query i
        does not count training item i among its neighbours.

    Returns
    -------
    float
        See `precision_at_k`.

    Raises
    ------
    DataError
        On shapes or counts that do not match, NaN/inf codes, or no candidates.
    ConfigError
        When k is not a positive integer.

    Examples
    --------
    >>> codes = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> knn_precision(codes, [0, 0, 1, 1], codes, [0, 0, 1, 1], k=1, exclude_self=True)
    1.0
    >>> knn_precision(codes, [0, 0, 1, 1], [[0.05]], [0], k=3)
    0.6666666666666666
    """
    train = _as_codes(train_codes, "training codes")
    query = _as_codes(query_codes, "query codes")
    if query.shape[1] != train.shape[1]:
        raise DataError(f"query codes of size {query.shape[1]} do not match training codes of size {train.shape[1]}")
    tl, ql = np.asarray(train_labels).reshape(-1), np.asarray(query_labels).reshape(-1)
    if len(tl) != len(train) or len(ql) != len(query):
        raise DataError(f"{len(train)} training codes with {len(tl)} labels, {len(query)} queries with {len(ql)} labels")
    if exclude_self and len(query) > len(train):
        raise DataError(f"exclude_self: the {len(query)} queries must be the first of the {len(train)} training codes")
    k = positive_int(k, "k")
    available = len(train) - int(bool(exclude_self))
    if available < 1:
        raise DataError("knn_precision: no training codes to search")
    if k > available:
        warnings.warn(f"k={k} is larger than the {available} candidates: using all {available}", AekitWarning,
                      stacklevel=2)
        k = available
    dtype = torch.float64 if np.float64 in (train.dtype, query.dtype) else torch.float32
    t = torch.from_numpy(train).to(dtype)
    q = torch.from_numpy(query).to(dtype)
    t_sq = (t * t).sum(1)  # ‖q − t‖² ranks as ‖t‖² − 2·q·t: ‖q‖² is the same for a query's candidates
    per_chunk = max(1, _KNN_CHUNK_DISTANCES // len(t))
    pos = torch.empty(len(q), k, dtype=torch.int64)
    with torch.inference_mode():
        for lo in range(0, len(q), per_chunk):
            d = torch.addmm(t_sq[None, :], q[lo:lo + per_chunk], t.T, alpha=-2.0)
            if exclude_self:
                rows = torch.arange(lo, lo + len(d))
                d[rows - lo, rows] = float("inf")
            pos[lo:lo + len(d)] = torch.topk(d, k, dim=1, largest=False, sorted=True).indices
    return precision_at_k(tl[pos.numpy()], ql)


def _as_codes(codes, what: str) -> np.ndarray:
    a = np.asarray(codes)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise DataError(f"{what} must be a non-empty N × code size array, got shape {a.shape}")
    if a.dtype.kind not in "fiub":
        raise DataError(f"{what} must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64 if a.dtype == np.float64 else np.float32)
    if not np.isfinite(a).all():
        raise DataError(f"{what} contain NaN or inf")
    return np.ascontiguousarray(a)


# -- anomaly detection ----------------------------------------------------------------------
def detection_metrics(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> dict:
    """ROC-AUC, PR-AUC (average precision) and the rates at a threshold of anomaly scores.

    Parameters
    ----------
    scores : np.ndarray
        Shape (N,), higher = more anomalous. A NaN or infinite score counts as above every
        finite one.
    is_anomaly : np.ndarray
        Shape (N,), true for the anomalies.
    threshold : float
        Scores above it are flagged.

    Returns
    -------
    dict
        ``n``, ``n_anomalies``, ``threshold``, ``flagged`` (how many scores exceed the
        threshold); when both classes are present also ``roc_auc``, ``pr_auc``,
        ``tpr_at_threshold`` and ``fpr_at_threshold``.

    Raises
    ------
    DataError
        When no score is finite.

    Examples
    --------
    >>> m = detection_metrics(np.array([0.1, 0.2, 0.9, np.inf]), np.array([0, 0, 1, 1]), 0.5)
    >>> m["roc_auc"], m["flagged"], m["tpr_at_threshold"], m["fpr_at_threshold"]
    (1.0, 2, 1.0, 0.0)
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores = np.asarray(scores, dtype=np.float64)
    is_anomaly = np.asarray(is_anomaly).astype(bool)
    ok = np.isfinite(scores)
    if not ok.any():
        raise DataError(f"detection_metrics: none of the {len(scores)} scores is finite")
    top = float(scores[ok].max())
    # Non-finite scores rank above every finite one (top·10 + 1 for the usual positive scores).
    finite = np.where(ok, scores, top + 9 * abs(top) + 1)
    pred = finite > threshold
    out = {"n": int(len(scores)), "n_anomalies": int(is_anomaly.sum()), "threshold": float(threshold),
           "flagged": int(pred.sum())}
    if 0 < is_anomaly.sum() < len(is_anomaly):
        out["roc_auc"] = float(roc_auc_score(is_anomaly, finite))
        out["pr_auc"] = float(average_precision_score(is_anomaly, finite))
        out["tpr_at_threshold"] = float(pred[is_anomaly].mean())
        out["fpr_at_threshold"] = float(pred[~is_anomaly].mean())
    return out


# -- signals ----------------------------------------------------------------------------------------
def si_sdr(clean: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Scale-invariant signal-to-distortion ratio in dB, per signal (Le Roux et al. 2019).

    Both are made zero-mean; the target is the clean signal scaled to fit the estimate best,
    α·s with α = ⟨ŝ, s⟩/‖s‖², and SI-SDR = 10·log10(‖α·s‖² / ‖α·s − ŝ‖²): a gain applied to
    the estimate does not change it.

    Parameters
    ----------
    clean, estimate : np.ndarray
        Same shape (..., T): the last axis is time (channels of one signal are scored apart).

    Returns
    -------
    np.ndarray
        float64 of shape (...,).

    Examples
    --------
    >>> s = np.sin(np.arange(1000) / 7)
    >>> n = np.random.default_rng(0).standard_normal(1000) * np.sqrt((s ** 2).mean() / 10)  # 10 dB below
    >>> a, b = si_sdr(s, s + n), si_sdr(s, 3 * (s + n))   # noise 10 dB below; a gain changes nothing
    >>> bool(abs(a - 10) < 0.5), bool(np.isclose(a, b))
    (True, True)
    """
    s, e = _pair(clean, estimate)
    s = s - s.mean(-1, keepdims=True)
    e = e - e.mean(-1, keepdims=True)
    alpha = (e * s).sum(-1, keepdims=True) / np.maximum((s * s).sum(-1, keepdims=True), 1e-20)
    target = alpha * s
    return 10 * np.log10(np.maximum((target**2).sum(-1), 1e-20) / np.maximum(((target - e) ** 2).sum(-1), 1e-20))


def segmental_snr(clean: np.ndarray, estimate: np.ndarray, frame: int = 256, clamp=(-10.0, 35.0)) -> np.ndarray:
    """Segmental SNR in dB, per signal: the mean over non-overlapping frames of each frame's SNR,
    10·log10(Σ s² / Σ (s − ŝ)²), clamped to `clamp` (the usual [−10, 35] dB keeps silent and
    perfect frames from dominating; Hansen & Pellom 1998).

    Parameters
    ----------
    clean, estimate : np.ndarray
        Same shape (..., T).
    frame : int, default 256
        Samples per frame (a tail shorter than a frame is left out; T must hold one frame).
    clamp : (float, float), default (-10.0, 35.0)

    Returns
    -------
    np.ndarray
        float64 of shape (...,).

    Examples
    --------
    >>> s = np.sin(np.arange(2048) / 7)
    >>> round(float(segmental_snr(s, 0.9 * s)), 1), float(segmental_snr(s, s))
    (20.0, 35.0)
    """
    s, e = _pair(clean, estimate)
    frame = positive_int(frame, "frame", "samples per frame")
    if s.shape[-1] < frame:
        raise DataError(f"segmental SNR needs at least one frame of {frame} samples, got {s.shape[-1]}")
    n = s.shape[-1] // frame
    s = s[..., : n * frame].reshape(*s.shape[:-1], n, frame)
    e = e[..., : n * frame].reshape(*e.shape[:-1], n, frame)
    snr = 10 * np.log10(np.maximum((s**2).sum(-1), 1e-20) / np.maximum(((s - e) ** 2).sum(-1), 1e-20))
    return np.clip(snr, *clamp).mean(-1)


def _pair(clean, estimate) -> tuple[np.ndarray, np.ndarray]:
    s, e = np.asarray(clean, dtype=np.float64), np.asarray(estimate, dtype=np.float64)
    if s.shape != e.shape or s.ndim == 0 or s.shape[-1] == 0:
        raise DataError(f"clean and estimate must be non-empty signals of one shape, got {s.shape} and {e.shape}")
    if not (np.isfinite(s).all() and np.isfinite(e).all()):
        raise DataError("the signals hold NaN or inf")
    return s, e


__all__ = ["segmental_snr", "si_sdr", "SSIM_K1", "SSIM_K2", "SSIM_SIGMA", "SSIM_WINDOW", "detection_metrics", "knn_precision", "per_sample_sse",
           "per_value_sq", "precision_at_k", "psnr", "psnr_rgb", "reconstruction_errors", "ssim", "ssim_tensor",
           "ssim_window"]
