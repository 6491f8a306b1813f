"""Denoising synthetic speech: the 1-D convolutional DAE against the noisy input, PCA on frames and
`scipy.signal.wiener`, at 0, 5 and 10 dB SNR in white, pink and brown noise.

Needs Debian's espeak-ng (``apt-get install -y espeak-ng``), which synthesizes speech offline; the
script stops with a message without it. STOI and PESQ (narrow-band) are computed when `pystoi` and
`pesq` are installed (the bench extra), else left out.

The speech set: 40 sentences written for this benchmark, spoken by espeak-ng voices at several
rates and pitches, resampled to 8 kHz and scaled to one RMS level.

- training: sentences 1–25 by five voices, each utterance at a random rate (140, 175 wpm) and pitch
  (40, 60); validation (PCA's component count, Wiener's window): sentences 26–30, same voices;
- test: sentences 31–40 (never trained on) by three other voices at rate 160, pitch 50 — held-out
  sentences and voices — each mixed with white, pink and brown noise (`aekit.data.noise.colored_noise`,
  seeds never used in training) at 0, 5 and 10 dB SNR over the whole utterance.

The DAE (`conv1d-dae`, windows of 1024 samples = 128 ms, hop 512) trains on clean windows with
additive noise from a folder of white/pink/brown recordings made with training seeds (`file:
FOLDER:snr=-5:15`, SNR drawn per window), fresh every batch, for `--epochs` or `--max-seconds`.
A file is denoised window by window with overlap-add (`aekit.tasks.signals.denoise_signal`, what
`aekit denoise RUN --input noisy.wav` does). PCA keeps the k leading components of the clean
training frames (k in {8, ..., 256} best on validation) and projects the noisy frames on them,
with the same windows and overlap-add. Wiener: `scipy.signal.wiener` with the window size best on
validation. Metrics per test utterance: SI-SDR, segmental SNR (32 ms frames, clamped to
[−10, 35] dB), STOI, PESQ; tables give the means.

Target: ≥ +6 dB SI-SDR over the noisy input at 0 dB SNR, and ahead of both baselines.

    .venv/bin/python benchmarks/speech_denoise.py --max-seconds 1500 --json benchmarks/out/speech_denoise.json
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from aekit.data.audio import read_wav, write_wav
from aekit.data.noise import COLORS, colored_noise, mix_at_snr
from aekit.data.windows import frame
from aekit.estimators import AutoEncoder
from aekit.metrics import segmental_snr, si_sdr
from aekit.models.pca import fit_pca, pca_reconstruct, truncate_pca
from aekit.report.signals import spectrogram_rows
from aekit.tasks.signals import denoise_signal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

ROOT = Path(__file__).resolve().parents[1]
RATE = 8000
WINDOW, HOP = 1024, 512
LEVEL_RMS = 0.1
SNRS = (0, 5, 10)
TARGET_DB = 6.0
PCA_CANDIDATES = (8, 16, 32, 64, 128, 256, 384, 512)
WIENER_SIZES = (3, 5, 7, 9, 13, 17, 25, 35)
TRAIN_VOICES = ("en-us", "en-gb+f2", "en-gb-scotland", "en-029+f4", "en-gb-x-rp+m3")
TEST_VOICES = ("en-us+f5", "en-gb-x-gbclan", "en-gb-x-gbcwmd+f3")
SENTENCES = (
    "The old lighthouse keeper climbed the stairs every evening at dusk.",
    "A cold wind blew across the harbour and rattled the windows.",
    "She packed three apples, a map and a small brass compass.",
    "Nobody expected the train to arrive twenty minutes early.",
    "The children built a tall tower out of wooden blocks.",
    "Please remember to water the tomatoes before you leave.",
    "His grandfather repaired clocks in a narrow shop by the river.",
    "We counted seventeen boats sailing past the rocky point.",
    "The library closes at nine on weekdays and at noon on Sundays.",
    "A loud thunderclap woke the whole village in the middle of the night.",
    "The recipe calls for two cups of flour and a pinch of salt.",
    "They painted the fence bright yellow to cheer up the street.",
    "My neighbour plays the violin every morning before breakfast.",
    "The museum displays a dinosaur skeleton in its main hall.",
    "Heavy snow blocked the mountain road for almost a week.",
    "The pilot announced that we would land in fifteen minutes.",
    "Fresh bread smells wonderful when it comes out of the oven.",
    "The committee will vote on the proposal next Thursday.",
    "A family of ducks crossed the road in a neat little line.",
    "He forgot his umbrella and walked home in the pouring rain.",
    "The garden was full of roses, tulips and purple lavender.",
    "Our teacher asked us to write a story about the sea.",
    "The bridge was closed while workers replaced the old cables.",
    "Bright stars filled the sky above the quiet desert camp.",
    "The market sells fish, cheese and vegetables every Saturday.",
    "She solved the puzzle faster than anyone in the room.",
    "The engine made a strange noise as we drove up the hill.",
    "A gentle breeze carried the scent of pine through the forest.",
    "The orchestra tuned their instruments before the concert began.",
    "Two owls were calling to each other from the tall oak trees.",
    "The doctor told him to rest and drink plenty of water.",
    "Every summer the town holds a festival with music and dancing.",
    "The ship left the port carrying coffee, sugar and cotton.",
    "A curious cat watched the goldfish swim around the bowl.",
    "The workers finished the new school just before the autumn term.",
    "Light rain fell softly on the roof throughout the afternoon.",
    "He keeps his old letters in a box under the bed.",
    "The hikers reached the summit just as the sun came up.",
    "Our bakery opens early so that people can buy warm rolls.",
    "The river flooded the meadow after three days of storms.",
)
N_TRAIN, N_VAL = 25, 5  # sentences 1–25 train, 26–30 validation, 31–40 test


def speak(text: str, voice: str, wpm: int, pitch: int, path: Path) -> np.ndarray:
    """espeak-ng's rendering of `text` at 8 kHz, scaled to LEVEL_RMS (cached in `path`)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", str(path), text],
                       check=True, capture_output=True)
    x = read_wav(path, rate=RATE)[0][0].astype(np.float64)
    x = x[np.flatnonzero(np.abs(x) > 1e-4)[0]:]  # espeak's leading silence
    return (x * LEVEL_RMS / np.sqrt(np.mean(x**2))).astype(np.float32)


def speech_set(work: Path, seed: int) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    sets: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for i, text in enumerate(SENTENCES):
        part = "train" if i < N_TRAIN else "val" if i < N_TRAIN + N_VAL else "test"
        voices = TEST_VOICES if part == "test" else TRAIN_VOICES
        for v in voices:
            wpm, pitch = (160, 50) if part == "test" else (int(rng.choice([140, 175])), int(rng.choice([40, 60])))
            name = f"{i:02d}_{v.replace('+', '_')}_{wpm}_{pitch}.wav"
            sets[part].append(speak(text, v, wpm, pitch, work / "speech" / name))
    return sets


def mixtures(utterances: list[np.ndarray], seed0: int) -> list[dict]:
    out = []
    for u, clean in enumerate(utterances):
        for c, color in enumerate(COLORS):
            for snr in SNRS:
                seed = seed0 + 1000 * u + 10 * c + snr
                out.append({"utt": u, "color": color, "snr": snr, "clean": clean, "noisy": mix_at_snr(clean, color, snr, seed)})
    return out


class FramePCA:
    """PCA on frames behind the estimator interface `denoise_signal` uses (same windows, overlap-add)."""

    def __init__(self, pca):
        self.pca = pca
        self.model_config_ = SimpleNamespace(input_shape=(1, WINDOW))

    def reconstruct(self, rows):
        return pca_reconstruct(self.pca, np.asarray(rows, dtype=np.float32))


def wiener(x: np.ndarray, size: int) -> np.ndarray:
    from scipy.signal import wiener as scipy_wiener

    return scipy_wiener(x.astype(np.float64), mysize=size).astype(np.float32)


def scores(clean: np.ndarray, est: np.ndarray, extra: bool) -> dict[str, float]:
    out = {"si_sdr": float(si_sdr(clean, est)), "seg_snr": float(segmental_snr(clean, est))}
    if extra:
        try:
            from pystoi import stoi

            out["stoi"] = float(stoi(clean, est, RATE, extended=False))
        except ImportError:
            pass
        try:
            from pesq import pesq

            out["pesq"] = float(pesq(RATE, clean, est, "nb"))
        except ImportError:
            pass
        except Exception:  # pesq refuses some signals (no utterance found): not scored
            out["pesq"] = float("nan")
    return out


def tune(candidates, denoise, val: list[dict]) -> tuple[object, dict]:
    """The candidate with the best mean validation SI-SDR, and every candidate's mean."""
    means = {c: float(np.mean([si_sdr(m["clean"], denoise(c, m["noisy"])) for m in val])) for c in candidates}
    return max(means, key=means.get), means


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out" / "speech")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "speech_denoise.json")
    ap.add_argument("--figure", type=Path, default=ROOT / "benchmarks" / "out" / "speech_denoise_spectrograms.png")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--max-seconds", type=float, default=1500.0, help="training-time budget")
    ap.add_argument("--hidden", default="32,64,64")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-stoi-pesq", action="store_true", help="leave STOI and PESQ out (faster)")
    ap.add_argument("--reuse", action="store_true", help="evaluate the model saved in WORK/dae instead of training")
    args = ap.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("this benchmark needs espeak-ng to synthesize its speech: apt-get install -y espeak-ng")
    torch.manual_seed(args.seed)
    t_start = time.perf_counter()
    sets = speech_set(args.work, args.seed)
    train_windows = np.concatenate([frame(u[None], WINDOW, HOP) for u in sets["train"] if len(u) >= WINDOW])
    print(f"speech: {len(sets['train'])} training utterances ({len(train_windows)} windows), "
          f"{len(sets['val'])} validation, {len(sets['test'])} test "
          f"({sum(map(len, sets['test'])) / RATE:.0f} s); made in {time.perf_counter() - t_start:.0f} s", flush=True)

    # the training noise: recordings made with seeds the test mixtures never use
    noise_dir = args.work / "noise_train"
    for k, color in enumerate(COLORS):
        write_wav(noise_dir / f"{color}.wav", 0.1 * colored_noise(color, 20 * RATE, rng=10_000 + k), RATE)
    dae = AutoEncoder.from_preset(
        "conv1d-dae", hidden=tuple(int(h) for h in args.hidden.split(",")), noise=f"file:{noise_dir}:snr=-5:15",
        epochs=args.epochs, batch_size=args.batch_size, max_seconds=args.max_seconds, early_stopping=False,
        validation_fraction=0.05, random_state=args.seed, verbose=1)
    run_dir = args.work / "dae"
    if args.reuse and (run_dir / "config.json").exists():
        dae = AutoEncoder.load(run_dir)  # the model a previous run trained (its training time is not re-measured)
        train_seconds = float("nan")
    else:
        t0 = time.perf_counter()
        dae.fit(train_windows)
        train_seconds = time.perf_counter() - t0
        dae.save(run_dir)  # `aekit denoise` takes it: aekit denoise DIR --input noisy.wav --out clean.wav
    print(f"DAE trained {dae.n_epochs_} epochs in {train_seconds:.0f} s", flush=True)

    val = mixtures(sets["val"][::len(TRAIN_VOICES)], seed0=5_000_000)  # one voice per sentence: 45 mixtures
    full_pca = fit_pca(train_windows.reshape(len(train_windows), -1), max(PCA_CANDIDATES))
    k_best, k_means = tune(PCA_CANDIDATES, lambda k, x: denoise_signal(FramePCA(truncate_pca(full_pca, k)), x)[0], val)
    w_best, w_means = tune(WIENER_SIZES, lambda s, x: wiener(x, s), val)
    print(f"PCA components {k_best} (validation SI-SDR {k_means[k_best]:.2f} dB), "
          f"Wiener window {w_best} ({w_means[w_best]:.2f} dB)", flush=True)
    pca = FramePCA(truncate_pca(full_pca, k_best))

    test = mixtures(sets["test"], seed0=9_000_000)
    methods = {
        "noisy": lambda x: x,
        f"PCA-{k_best} on frames": lambda x: denoise_signal(pca, x)[0],
        f"Wiener ({w_best})": lambda x: wiener(x, w_best),
        "conv1d DAE": lambda x: denoise_signal(dae, x)[0],
    }
    rows = []
    t0 = time.perf_counter()
    for m in test:
        for name, fn in methods.items():
            est = fn(m["noisy"])
            rows.append({"method": name, "utt": m["utt"], "color": m["color"], "snr": m["snr"],
                         **scores(m["clean"], est, not args.no_stoi_pesq)})
    eval_seconds = time.perf_counter() - t0

    metric_names = [k for k in ("si_sdr", "seg_snr", "stoi", "pesq") if k in rows[0]]
    summary: dict = {}
    for snr in SNRS:
        for name in methods:
            sel = [r for r in rows if r["snr"] == snr and r["method"] == name]
            entry = {k: float(np.nanmean([r[k] for r in sel])) for k in metric_names}
            entry["by_color"] = {c: float(np.mean([r["si_sdr"] for r in sel if r["color"] == c])) for c in COLORS}
            summary.setdefault(str(snr), {})[name] = entry
    header = f"{'SNR':>4} {'method':<22}" + "".join(f"{k:>10}" for k in metric_names) + f"{'ΔSI-SDR':>10}" + \
        "".join(f"{c:>8}" for c in COLORS)
    print(header)
    for snr in SNRS:
        base = summary[str(snr)]["noisy"]["si_sdr"]
        for name, e in summary[str(snr)].items():
            print(f"{snr:>4} {name:<22}" + "".join(f"{e[k]:>10.2f}" for k in metric_names) +
                  f"{e['si_sdr'] - base:>+10.2f}" + "".join(f"{e['by_color'][c]:>8.2f}" for c in COLORS))
    at0 = summary["0"]
    dae_gain = at0["conv1d DAE"]["si_sdr"] - at0["noisy"]["si_sdr"]
    best_baseline = max(v["si_sdr"] for k, v in at0.items() if k not in ("noisy", "conv1d DAE"))
    met = dae_gain >= TARGET_DB and at0["conv1d DAE"]["si_sdr"] > best_baseline
    print(f"target (≥ +{TARGET_DB:g} dB SI-SDR over noisy at 0 dB, ahead of both baselines): "
          f"{'met' if met else 'NOT met'} (+{dae_gain:.2f} dB; best baseline {best_baseline:.2f} dB, "
          f"DAE {at0['conv1d DAE']['si_sdr']:.2f} dB)")

    # the picture: one held-out utterance in pink noise at 0 dB
    m = next(r for r in test if r["color"] == "pink" and r["snr"] == 0)
    figure = spectrogram_rows({
        "noisy (pink, 0 dB)": m["noisy"], f"PCA-{k_best} on frames": methods[f"PCA-{k_best} on frames"](m["noisy"]),
        f"Wiener ({w_best})": methods[f"Wiener ({w_best})"](m["noisy"]), "conv1d DAE": methods["conv1d DAE"](m["noisy"]),
        "clean": m["clean"]}, RATE, args.figure, title="held-out sentence and voice")
    print(f"spectrograms: {figure}")
    write_json(args.json, {
        "benchmark": "speech_denoise", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv), "machine": machine(), "rate": RATE, "window": WINDOW, "hop": HOP,
        "n_train_utterances": len(sets["train"]), "n_train_windows": int(len(train_windows)),
        "n_test_utterances": len(sets["test"]), "train_voices": TRAIN_VOICES, "test_voices": TEST_VOICES,
        "dae": {"hidden": args.hidden, "epochs": int(dae.n_epochs_), "train_seconds": train_seconds,
                "noise": dae.model_config_.noise},
        "pca": {"n_components": k_best, "validation": k_means}, "wiener": {"size": w_best, "validation": w_means},
        "summary": summary, "target_met": bool(met), "dae_gain_at_0db": dae_gain, "eval_seconds": eval_seconds,
        "rows": rows, "figure": str(figure)})


if __name__ == "__main__":
    main()
