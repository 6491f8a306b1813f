"""Denoising with a trained model, beside PCA-projection denoising (noise reduction by
projecting onto the leading components).

PCA denoising keeps the leading principal components of the clean training data: the
noisy image is projected on them and back, dropping what the components cannot express.
Two PCA baselines are reported: the model's latent size (when smaller than the input), and
the number of components that denoises the validation split best (the strongest PCA).

Images and table rows are scored by PSNR (and SSIM for images). Signals (N×C×T windows: a
conv1d model trained on a WAV folder or on series) are scored as the speech benchmark scores
utterances: SI-SDR and segmental SNR (`aekit.metrics`), with PCA on frames (the windows) as the
baseline, its size chosen by validation SI-SDR. The test windows are joined end to end, one long
signal per channel, before scoring: a ratio over all of them, so that windows of near silence
(whose own SI-SDR means little) weigh by their energy, as in an utterance.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from aekit.data import Dataset
from aekit.data.files import read_image
from aekit.data.noise import Noise, parse_noise
from aekit.errors import DataError
from aekit.metrics import psnr, segmental_snr, si_sdr, ssim
from aekit.models.pca import fit_pca, pca_reconstruct, truncate_pca
from aekit.runs import atomic_write_bytes, write_json
from aekit.evaluation import model_input

PCA_CANDIDATES = (2, 4, 8, 16, 32, 64, 128, 256)
SIGNAL_PCA_CANDIDATES = (8, 16, 32, 64, 128, 256, 384, 512)  # PCA on frames (benchmarks/speech_denoise.py's)
SEGMENT = 256  # samples per segmental-SNR frame (32 ms at 8 kHz)
EXCERPT_SECONDS = 4.0  # of test signal drawn as spectrograms and written as WAV files


def default_noise(est) -> Noise:
    return parse_noise(est.model_config_.noise or "gaussian:0.5")


def tuned_pca(full, val_clean: np.ndarray, val_noisy: np.ndarray, value_range, max_k: int) -> tuple[object, int]:
    """From a fitted PCA, the number of leading components (≤ max_k) that maximizes validation PSNR."""
    candidates = [k for k in PCA_CANDIDATES if k <= max_k] or [1]
    best_k, best = candidates[0], -np.inf
    for k in candidates:
        comps = full.components_[:k]
        rec = (val_noisy.reshape(len(val_noisy), -1) - full.mean_) @ comps.T @ comps + full.mean_
        score = psnr(val_clean, np.clip(rec, *value_range), value_range[1] - value_range[0]).mean()
        if score > best:
            best_k, best = k, score
    return truncate_pca(full, best_k), best_k


def joined(windows: np.ndarray) -> np.ndarray:
    """N×C×T windows joined end to end: C×(N·T), one long signal per channel.

    Examples
    --------
    >>> joined(np.arange(12).reshape(2, 2, 3)).tolist()
    [[0, 1, 2, 6, 7, 8], [3, 4, 5, 9, 10, 11]]
    """
    w = np.asarray(windows)
    return np.moveaxis(w, 1, 0).reshape(w.shape[1], -1)


def signal_scores(clean: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """SI-SDR and segmental SNR (dB) of N×C×T windows against the clean ones, over the windows
    joined end to end (`joined`), the mean over channels.

    Examples
    --------
    >>> clean = np.sin(np.arange(4 * 512) / 5).reshape(4, 1, 512)
    >>> m = signal_scores(clean, 0.5 * clean)   # a gain: SI-SDR ignores it, segmental SNR does not
    >>> round(m["si_sdr"]) > 100, round(m["seg_snr"], 2)
    (True, 6.02)
    """
    s, e = joined(clean), joined(np.asarray(other).reshape(np.shape(clean)))
    return {"si_sdr": float(si_sdr(s, e).mean()),
            "seg_snr": float(segmental_snr(s, e, frame=min(SEGMENT, s.shape[1])).mean())}


def tuned_signal_pca(full, val_clean: np.ndarray, val_noisy: np.ndarray, max_k: int) -> tuple[object, int]:
    """From a PCA fitted on windows, the number of leading components (≤ max_k) that maximizes the
    validation SI-SDR (`signal_scores`); outputs are not clipped."""
    candidates = [k for k in SIGNAL_PCA_CANDIDATES if k <= max_k] or [1]
    noisy = val_noisy.reshape(len(val_noisy), -1) - full.mean_
    best_k, best = candidates[0], -np.inf
    for k in candidates:
        comps = full.components_[:k]
        score = signal_scores(val_clean, noisy @ comps.T @ comps + full.mean_)["si_sdr"]
        if score > best:
            best_k, best = k, score
    return truncate_pca(full, best_k), best_k


def _scores(clean: np.ndarray, other: np.ndarray, rng: float) -> dict[str, float]:
    if clean.ndim == 3:
        return signal_scores(clean, other)
    out = {"psnr": float(psnr(clean, other, rng).mean())}
    if clean.ndim == 4:
        out["ssim"] = float(ssim(clean, other.reshape(clean.shape), rng).mean())
    return out


def denoise_split(est, train: Dataset, val: Dataset, test: Dataset, noise: Noise, seed: int = 0,
                  pca=None) -> tuple[dict, dict]:
    """Corrupt the test split with `noise` (seeded), denoise it, and score each method against
    the clean data: PSNR (and SSIM) for images and rows, SI-SDR and segmental SNR for signals
    (N×C×T; then metrics["signal"] holds the window, hop and sample rate where known). Returns
    (metrics, arrays).

    `pca`: a PCA already fitted (svd_solver="full") on `train` with at least as many components
    as the baselines need; its leading components are used instead of fitting again (a caller
    that denoises one data set under several noises fits it once)."""
    expected = tuple(est.model_config_.input_shape)
    if test.X.ndim == 3 and tuple(test.sample_shape) != expected:
        raise DataError(
            f"{test.name}: the test windows are {'×'.join(map(str, test.sample_shape))} (channels × samples) but the "
            f"model takes {'×'.join(map(str, expected))}: it was trained on other windows than this data source cuts "
            "(a WAV folder given as --data is cut into 1024-sample windows); denoise a file with --input FILE.wav")
    lo, hi = test.value_range
    rng = hi - lo
    noisy = noise(test.X, rng=seed, value_range=test.value_range).astype(np.float32)
    val_noisy = noise(val.X, rng=seed + 1, value_range=val.value_range).astype(np.float32)
    denoised = est.reconstruct(model_input(est, Dataset(noisy, test.y, test.name, test.value_range)))
    denoised = np.asarray(denoised).reshape(test.X.shape)
    signal = test.X.ndim == 3
    # signals are not clipped: their value range is only the range the test split happened to span
    bound = (lambda a: a) if signal else (lambda a: np.clip(a, lo, hi))
    code = est.model_config_.code_size
    limit = min(test.n_features, len(train)) - 1  # fewer components than inputs, or PCA is the identity
    max_k = max([k for k in (SIGNAL_PCA_CANDIDATES if signal else PCA_CANDIDATES) if k <= limit] or [1])
    need = max(max_k, code if code <= limit else 1)
    full = pca if pca is not None and pca.n_components_ >= need else fit_pca(train.flat(), need)  # one SVD serves every size
    if signal:
        pca_t, k_t = tuned_signal_pca(full, val.X, val_noisy, max_k)
    else:
        pca_t, k_t = tuned_pca(full, val.X, val_noisy, test.value_range, max_k)
    arrays = {
        "clean": test.X,
        "noisy": noisy,
        "denoised": denoised,
        f"pca_{k_t}": bound(pca_reconstruct(pca_t, noisy)),
    }
    metrics = {
        "data": test.name, "noise": str(noise), "n_test": len(test), "seed": seed,
        "noisy": _scores(test.X, noisy, rng),
        "model": _scores(test.X, denoised, rng),
        "pca_tuned": {"n_components": k_t, **_scores(test.X, arrays[f"pca_{k_t}"], rng)},
    }
    if code <= limit:
        same = bound(pca_reconstruct(truncate_pca(full, code), noisy))
        arrays[f"pca_{code}"] = same
        metrics["pca_same_size"] = {"n_components": code, **_scores(test.X, same, rng)}
    if signal:
        metrics["signal"] = {"window": int(test.X.shape[-1]), "channels": int(test.X.shape[1]),
                             "sample_rate": test.meta.get("sample_rate"), "hop": test.meta.get("hop"),
                             "seg_snr_frame": min(SEGMENT, len(test) * int(test.X.shape[-1]))}
    metrics["warnings"] = denoise_warnings(metrics)
    return metrics, arrays


def denoise_warnings(m: dict) -> list[str]:
    """Plain sentences when the model denoises worse than leaving the noise in, or than PCA (by PSNR,
    or by SI-SDR for signals)."""
    out = []
    key, what = ("si_sdr", "signals (SI-SDR)") if "si_sdr" in m["model"] else ("psnr", "images")
    model = m["model"][key]
    if model <= m["noisy"][key]:
        out.append(f"the model's output ({model:.2f} dB) is no closer to the clean {what} than the noisy input "
                   f"({m['noisy'][key]:.2f} dB): it does not denoise (was it trained with noise, and long enough?)")
    if model < m["pca_tuned"][key]:
        out.append(f"PCA denoises better ({m['pca_tuned'][key]:.2f} dB with {m['pca_tuned']['n_components']} "
                   f"components) than the model ({model:.2f} dB)")
    return out


def signal_excerpt(windows: np.ndarray, hop: int | None, max_samples: int) -> np.ndarray:
    """A stretch of signal from N×C×T windows cut every `hop` samples: every (T/hop)-th window
    joined, so that each sample appears once (consecutive windows when the hop is unknown or does
    not divide T); C×S with S ≤ max(max_samples, T).

    Examples
    --------
    >>> from aekit.data.windows import frame
    >>> signal_excerpt(frame(np.arange(10.)[None], 4, 2), hop=2, max_samples=8).tolist()
    [[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]
    """
    t = windows.shape[-1]
    step = t // hop if hop and t % hop == 0 else 1
    picked = windows[::step][: max(1, max_samples // t)]
    return joined(picked)


def _save_signal_outputs(out: Path, metrics: dict, arrays: dict, names: list[str], labels: dict) -> Path | None:
    """The spectrograms (and WAV files, when the sample rate is known) of a stretch of the test
    signals: noisy / PCA / model / clean. None when the rate is unknown (no time axis to draw)."""
    from aekit.data.audio import write_wav
    from aekit.report.signals import spectrogram_rows

    info = metrics.get("signal", {})
    rate = info.get("sample_rate")
    if not rate:
        return None
    excerpts = {k: signal_excerpt(arrays[k], info.get("hop"), int(EXCERPT_SECONDS * rate)) for k in names}
    for k, x in excerpts.items():
        write_wav(out / f"{k}.wav", x, int(rate))
    return spectrogram_rows({labels[k]: x[0] for k, x in excerpts.items()}, int(rate), out / "denoise-spectrograms.png",
                            title=f"{metrics.get('data', '')} test windows, noise {metrics.get('noise', '')}".strip())


def save_denoise_outputs(out: Path, metrics: dict, arrays: dict, value_range, n_show: int = 10) -> Path | None:
    """Write denoised.npz, metrics.json and the picture: a noisy / PCA / denoised / clean grid of
    `n_show` images, or for signals (N×C×T) spectrograms of a stretch of the test signals (its first
    channel) with the same stretches as WAV files (noisy.wav, pca_K.wav, denoised.wav, clean.wav).
    Returns the picture's path (None for signals of unknown sample rate)."""
    from aekit.report.grid import save_image_rows

    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(out / "denoised.npz", buf.getvalue())
    write_json(out / "metrics.json", metrics)
    n = min(n_show, len(arrays["clean"]))
    names = ["noisy", *[k for k in arrays if k.startswith("pca_")], "denoised", "clean"]
    labels = {"noisy": "noisy", "denoised": "autoencoder", "clean": "clean"}
    if arrays["clean"].ndim == 3:
        return _save_signal_outputs(out, metrics, arrays, names,
                                    {k: labels.get(k, f"PCA-{k[4:]} on frames") for k in names})
    rows = [arrays[k][:n] for k in names]
    grid = save_image_rows(rows, out / "denoise-grid.png",
                           labels=[labels.get(k, f"PCA-{k[4:]}") for k in names], value_range=value_range)
    return grid


def denoise_image(est, path: Path, out: Path) -> tuple[Path, tuple[int, int]]:
    """Denoise one user image; a fully convolutional model takes any size, others need the
    training size."""
    import torch
    from PIL import Image

    cfg = est.model_config_
    channels = cfg.input_shape[0] if cfg.image_shape else 1
    x = read_image(path, channels, as_float=True)
    x = np.ascontiguousarray(x[None, None] if x.ndim == 2 else np.moveaxis(x, -1, 0)[None])  # 1×C×H×W
    hw = x.shape[-2:]
    if cfg.arch in ("conv", "resnet") and cfg.latent_dim is None and not cfg.standardize:
        with torch.inference_mode():
            y = est.model_.reconstruct_image(torch.from_numpy(x)).numpy()
    else:
        expected = tuple(cfg.input_shape[-2:]) if cfg.image_shape else None
        if expected is None or tuple(hw) != expected:
            raise DataError(
                f"{path}: the image is {hw[1]}×{hw[0]} pixels but the model was trained on "
                f"{'×'.join(map(str, reversed(expected))) if expected else f'{cfg.n_features} features'}; "
                "resize it, or use a fully convolutional model (--model conv-dae), which takes any size"
            )
        y = est.reconstruct(x)
    img = (np.clip(y[0], 0, 1) * 255).round().astype(np.uint8)
    img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    atomic_write_bytes(out, buf.getvalue())
    return Path(out), (int(hw[1]), int(hw[0]))
