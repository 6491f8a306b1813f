"""`aekit demo`'s speech section: a 1-D convolutional denoising autoencoder on the bundled speech,
beside PCA on frames, with spectrograms and the WAV files.

The speech is the package's own (`aekit/data/speech`, synthesized once with espeak-ng; its
README gives the commands), so the demo needs no synthesizer: four sentences by two voices to
train on, two other sentences by two other voices to test on, 8 kHz mono.

- The model: `conv1d-dae` made small (convolutions 16-32-32) on windows of 256 samples (32 ms)
  every 128, trained on the clean windows with additive noise cut from white, pink and brown
  noise recordings (`file:FOLDER:snr=-5:15`, a fresh SNR and segment every batch); the
  recordings are made with seeds the test mixtures never use.
- PCA on frames: the k leading principal components of the clean training windows, k chosen
  on one training sentence (both voices) set aside, then refitted on all; a noisy window is
  projected on them and back.
- Both denoise a file the same way: window by window, put back together by overlap-add
  (`aekit.tasks.signals.denoise_signal`, what `aekit denoise RUN --input noisy.wav` runs).
- Test: each test utterance mixed with white, pink and brown noise at 0 dB SNR over the
  utterance; SI-SDR and segmental SNR against the clean utterance.
"""
from __future__ import annotations

import time
from importlib.resources import files
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from aekit.data.audio import read_wav, write_wav
from aekit.data.dataset import Dataset
from aekit.data.noise import COLORS, colored_noise, mix_at_snr
from aekit.data.windows import frame
from aekit.errors import DataError
from aekit.estimators import AutoEncoder
from aekit.metrics import segmental_snr, si_sdr
from aekit.models.pca import fit_pca, pca_reconstruct, truncate_pca
from aekit.report.html import Section, Table
from aekit.report.signals import audio_players, spectrogram_rows
from aekit.runs import DataRecord, write_json
from aekit.tasks.signals import denoise_signal

SPEECH_RATE = 8000
WINDOW, HOP = 256, 128
HIDDEN = (16, 32, 32)
SPEECH_EPOCHS = 15  # the section's epochs; a smaller `epochs` given to the demo caps them
BATCH_SIZE = 32
TRAIN_SNR = "-5:15"  # dB, drawn per window in training
TEST_SNR_DB = 0.0
PCA_CANDIDATES = (8, 16, 32, 64, 96, 128, 192)
SET_ASIDE = "train_4_"  # the training sentence PCA's k is chosen on (then refitted on every sentence)
SHOWN = ("test_5_en-gb-scotland_f4", "pink")  # the utterance and noise of the spectrograms and WAV files
NOISE_SEEDS = {"train": 10_000, "choose": 20_000, "test": 90_000}


def speech_folder() -> Path:
    """The folder of the bundled speech WAV files (inside the installed package)."""
    return Path(str(files("aekit.data").joinpath("speech")))


def bundled_speech() -> dict[str, dict[str, np.ndarray]]:
    """The bundled speech: {"train": {name: signal}, "test": {name: signal}}, float32 1-D at 8 kHz.

    Returns
    -------
    dict
        Names are the file names without ".wav"; train_* (4 sentences × 2 voices) and test_*
        (2 other sentences by 2 other voices).

    Raises
    ------
    DataError
        The package's speech folder is missing or holds a file at another rate (a broken install).

    Examples
    --------
    >>> sets = bundled_speech()
    >>> len(sets["train"]), len(sets["test"])
    (8, 2)
    """
    folder = speech_folder()
    paths = sorted(folder.glob("*.wav")) if folder.is_dir() else []
    if not paths:
        raise DataError(f"{folder}: the bundled speech files are missing; reinstall aekit (pip install --force-reinstall aekit)")
    sets: dict[str, dict[str, np.ndarray]] = {"train": {}, "test": {}}
    for p in paths:
        x, rate = read_wav(p)
        if rate != SPEECH_RATE:
            raise DataError(f"{p}: {rate} Hz, expected the bundled speech's {SPEECH_RATE} Hz; reinstall aekit")
        sets["test" if p.stem.startswith("test_") else "train"][p.stem] = x[0]
    return sets


class FramePCA:
    """PCA on frames behind the estimator interface `denoise_signal` takes (same windows, same
    overlap-add as the autoencoder)."""

    def __init__(self, pca, window: int = WINDOW):
        self.pca = pca
        self.model_config_ = SimpleNamespace(input_shape=(1, window))

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        return pca_reconstruct(self.pca, np.asarray(rows, dtype=np.float32))


def windows_of(signals) -> np.ndarray:
    """N×1×WINDOW windows, every HOP samples, of 1-D signals (each at least one window long)."""
    return np.concatenate([frame(np.asarray(x)[None], WINDOW, HOP) for x in signals]).astype(np.float32)


def choose_pca(train: dict[str, np.ndarray]) -> tuple[FramePCA, int, dict[int, float]]:
    """PCA on frames with k chosen by mean SI-SDR on the set-aside training sentence in each noise
    colour at the test SNR, refitted on every training sentence: (PCA, k, SI-SDR by k)."""
    fit_on = [x for n, x in train.items() if not n.startswith(SET_ASIDE)]
    aside = [x for n, x in train.items() if n.startswith(SET_ASIDE)]
    frames = windows_of(fit_on).reshape(-1, WINDOW)
    candidates = [k for k in PCA_CANDIDATES if k < min(WINDOW, len(frames))]
    full = fit_pca(frames, max(candidates))
    mixes = [(x, mix_at_snr(x, c, TEST_SNR_DB, NOISE_SEEDS["choose"] + 10 * i + j))
             for i, x in enumerate(aside) for j, c in enumerate(COLORS)]
    scores = {k: float(np.mean([si_sdr(x, denoise_signal(FramePCA(truncate_pca(full, k)), noisy, hop=HOP)[0])
                                for x, noisy in mixes])) for k in candidates}
    k = max(scores, key=scores.get)
    every = windows_of(train.values()).reshape(-1, WINDOW)
    return FramePCA(fit_pca(every, k)), k, scores


def write_noise_recordings(folder: Path, seconds: float = 5.0) -> Path:
    """White, pink and brown noise recordings (training seeds) for the DAE's `file:` noise."""
    for k, color in enumerate(COLORS):
        write_wav(folder / f"{color}.wav", 0.1 * colored_noise(color, int(seconds * SPEECH_RATE),
                                                               rng=NOISE_SEEDS["train"] + k), SPEECH_RATE)
    return folder


def speech_section(train, val, test, out: Path, seed: int, epochs: int, progress: bool, log) -> Section:
    """Train the speech DAE, denoise the held-out utterances beside PCA on frames, write the WAV files,
    spectrograms and metrics; the report's section (the digits splits are not used: the section has its
    own data and recipe, its epochs capped by `epochs`)."""
    t0 = time.perf_counter()
    sets = bundled_speech()
    X = windows_of(sets["train"].values())
    folder = out / "speech"
    noise_dir = write_noise_recordings(folder / "noise-recordings")
    n_epochs = min(SPEECH_EPOCHS, int(epochs))
    dae = AutoEncoder.from_preset("conv1d-dae", hidden=HIDDEN, noise=f"file:{noise_dir.resolve()}:snr={TRAIN_SNR}",
                                  epochs=n_epochs, batch_size=BATCH_SIZE, early_stopping=False,
                                  validation_fraction=0.05, random_state=seed, verbose=int(progress))
    dae.fit(X)
    train_seconds = time.perf_counter() - t0
    pca, k, k_scores = choose_pca(sets["train"])
    methods = {"noisy input": lambda x: x, f"PCA-{k} on frames": lambda x: denoise_signal(pca, x, hop=HOP)[0],
               "conv1d DAE": lambda x: denoise_signal(dae, x, hop=HOP)[0]}
    rows, shown = [], {}
    for i, (name, clean) in enumerate(sets["test"].items()):
        for j, color in enumerate(COLORS):
            noisy = mix_at_snr(clean, color, TEST_SNR_DB, NOISE_SEEDS["test"] + 10 * i + j)
            for method, fn in methods.items():
                y = fn(noisy)
                rows.append({"utterance": name, "color": color, "method": method,
                             "si_sdr": float(si_sdr(clean, y)), "seg_snr": float(segmental_snr(clean, y))})
                if (name, color) == SHOWN:
                    shown[method] = y
            if (name, color) == SHOWN:
                shown["clean"] = clean
    summary = {m: {"si_sdr": float(np.mean([r["si_sdr"] for r in rows if r["method"] == m])),
                   "seg_snr": float(np.mean([r["seg_snr"] for r in rows if r["method"] == m])),
                   "si_sdr_by_color": {c: float(np.mean([r["si_sdr"] for r in rows if r["method"] == m
                                                         and r["color"] == c])) for c in COLORS}}
               for m in methods}
    wav_names = {"noisy input": "noisy.wav", f"PCA-{k} on frames": "pca.wav", "conv1d DAE": "dae.wav",
                 "clean": "clean.wav"}
    wavs = {}
    for label, y in shown.items():
        wavs[label] = folder / wav_names[label]
        write_wav(wavs[label], y, SPEECH_RATE, sample_format="int16")
    utterance, color = SHOWN
    spec = spectrogram_rows({f"noisy input ({color}, {TEST_SNR_DB:g} dB)": shown["noisy input"],
                             f"PCA-{k} on frames": shown[f"PCA-{k} on frames"], "conv1d DAE": shown["conv1d DAE"],
                             "clean": shown["clean"]}, SPEECH_RATE, out / "speech-spectrograms.png",
                            title=f"held-out sentence and voice ({utterance})")
    metrics = {"rate": SPEECH_RATE, "window": WINDOW, "hop": HOP, "test_snr_db": TEST_SNR_DB,
               "epochs": int(dae.n_epochs_), "train_seconds": train_seconds, "pca_components": k,
               "pca_choice_si_sdr": k_scores, "summary": summary, "rows": rows}
    write_json(folder / "metrics.json", metrics)
    record = DataRecord.of(speech_folder(), None, seed, Dataset(X, None, "bundled speech", (float(X.min()), float(X.max()))),
                           sample_rate=SPEECH_RATE, window=WINDOW, hop=HOP)
    dae.save(out / "speech-dae", data=record.to_dict(),
             metrics={"speech_denoise": {m: {"si_sdr": s["si_sdr"], "seg_snr": s["seg_snr"]} for m, s in summary.items()}})
    base = summary["noisy input"]["si_sdr"]
    table = Table(["method", "SI-SDR (dB)", "Δ vs noisy (dB)", "seg. SNR (dB)",
                   *(f"SI-SDR {c} (dB)" for c in COLORS)],
                  [[m, s["si_sdr"], s["si_sdr"] - base, s["seg_snr"], *(s["si_sdr_by_color"][c] for c in COLORS)]
                   for m, s in summary.items()])
    n_train = sum(len(x) for x in sets["train"].values()) / SPEECH_RATE
    log(f"speech denoising (0 dB SNR, held-out sentences and voices): SI-SDR noisy {base:.2f} dB, PCA-{k} "
        f"{summary[f'PCA-{k} on frames']['si_sdr']:.2f} dB, conv1d DAE {summary['conv1d DAE']['si_sdr']:.2f} dB "
        f"({train_seconds:.0f} s) → {folder}")
    return Section(
        "Denoising speech: a 1-D convolutional DAE beside PCA on frames",
        text=[f"The first source text's example: noisy speech in, clean speech out. Synthetic speech that ships with "
              f"aekit (espeak-ng, 8 kHz): {len(sets['train'])} utterances ({n_train:.0f} s; four sentences by two "
              f"voices) to train on, {len(sets['test'])} other sentences by two other voices to test on. The model "
              f"(`conv1d-dae`, strided 1-D convolutions {'-'.join(map(str, HIDDEN))} with residual blocks) sees "
              f"windows of {WINDOW} samples ({WINDOW * 1000 // SPEECH_RATE} ms) every {HOP}, each corrupted afresh "
              f"every batch with white, pink or brown noise at {TRAIN_SNR.replace(':', ' to ')} dB SNR, the clean "
              f"window as the target; {dae.n_epochs_} epochs. A file is denoised window by window and put back "
              "together by overlap-add (`aekit denoise RUN --input noisy.wav --out clean.wav`).",
              f"PCA on frames keeps the {k} leading principal components of the clean training windows (k chosen on "
              "a training sentence set aside) and projects each noisy window on them, with the same windows and "
              f"overlap-add. Each test utterance is mixed with white, pink and brown noise at {TEST_SNR_DB:g} dB SNR; "
              "the table gives the means over those mixtures of the scale-invariant signal-to-distortion ratio "
              "(SI-SDR) and the segmental SNR (32 ms frames, clamped to [−10, 35] dB) against the clean speech. "
              f"The WAV files and the model's run folder are in {folder} and {out / 'speech-dae'}; "
              "benchmarks/speech_denoise.py is the larger study (40 sentences, 8 voices, STOI and PESQ)."],
        tables=[table],
        figures=[(spec, f"Log-power spectrograms of the held-out utterance in {color} noise at "
                        f"{TEST_SNR_DB:g} dB SNR: noisy, PCA on frames, the DAE, the clean speech.")],
        blocks=[audio_players({label: wavs[label] for label in ("noisy input", f"PCA-{k} on frames", "conv1d DAE",
                                                                "clean")})],
    )


__all__ = ["BATCH_SIZE", "HIDDEN", "HOP", "SPEECH_EPOCHS", "SPEECH_RATE", "WINDOW", "FramePCA", "bundled_speech",
           "choose_pca", "mix_at_snr", "speech_folder", "speech_section", "windows_of", "write_noise_recordings"]
