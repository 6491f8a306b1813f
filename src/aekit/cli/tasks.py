"""Task sub-commands that use a trained run folder: denoise."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from aekit.cli import app, console
from aekit.cli.core import DataDirOpt, LimitOpt, print_tables
from aekit.errors import ConfigError


@app.command()
def denoise(
    run: Annotated[Path, typer.Argument(help="A run folder (a denoising model: --model dae or conv-dae).")],
    data: Annotated[Optional[str], typer.Option("--data", help="Data source whose test split is corrupted and denoised (default: the run's).")] = None,
    noise: Annotated[Optional[str], typer.Option(help="gaussian:σ, masking:ν or salt-pepper:ν (default: the model's training noise, else gaussian:0.5).")] = None,
    input: Annotated[Optional[Path], typer.Option("--input", help="Denoise one image or WAV file (any length) instead of a data split.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder (split mode), or image / WAV file (--input mode).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the corruption.")] = 0,
    limit: LimitOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Denoise a test split (or one image or WAV file) with a trained model, beside PCA.

    Prints PSNR and SSIM for the noisy input, PCA-projection denoising (same latent size, and the
    component count best on the validation split) and the model; writes the arrays
    (denoised.npz), metrics.json and a noisy / PCA / denoised / clean grid PNG. A signal run (a
    conv1d model on WAV or series windows) is scored by SI-SDR and segmental SNR instead, beside
    PCA on frames, with spectrograms and WAV files of a stretch of the test split. With --input,
    denoises one image or WAV file into --out.
    """
    from aekit.data.noise import parse_noise
    from aekit.tasks.denoise import default_noise, denoise_image, denoise_split, save_denoise_outputs

    from aekit.kinds import limit_rows, load_estimator, recorded_splits
    from aekit.report.task_results import denoise_table
    from aekit.runs import RunRecord

    est = load_estimator(run)
    if input is not None and input.suffix.lower() in (".wav", ".wave"):
        from aekit.tasks.signals import denoise_wav, recorded_signal_options

        if out is None:
            raise ConfigError("--input needs --out FILE.wav for the denoised signal")
        info = denoise_wav(est, input, out, **recorded_signal_options(run),
                           notice=lambda s: console.print(f"[yellow]note:[/yellow] {s}"))
        console.print(f"denoised {input} ({info['samples']} samples at {info['rate']} Hz, {info['windows']} windows) "
                      f"→ [bold]{info['out']}[/bold]")
        return
    if input is not None:
        if out is None:
            raise ConfigError("--input needs --out FILE.png for the denoised image")
        path, (w, h) = denoise_image(est, input, out)
        console.print(f"denoised {input} ({w}×{h}) → [bold]{path}[/bold]")
        return
    spec = parse_noise(noise) if noise else default_noise(est)
    train_ds, val_ds, test_ds = recorded_splits(run, data, data_dir)
    test_ds = limit_rows(test_ds, limit, "--limit", notice=lambda s: console.print(f"[yellow]note:[/yellow] {s}"))
    signal = test_ds.X.ndim == 3
    if not test_ds.is_image and not signal:
        console.print("[yellow]note: not image data; SSIM is not computed[/yellow]")
    with console.status(f"denoising {len(test_ds)} test samples beside PCA (choosing PCA's size on validation)…"):
        metrics, arrays = denoise_split(est, train_ds, val_ds, test_ds, spec, seed=seed)
    out = out or run / "denoise"
    metrics["noise"] = str(spec)
    picture = save_denoise_outputs(out, metrics, arrays, test_ds.value_range)
    RunRecord(run).record_task("denoise", out, noise=str(spec))
    what = "signal windows" if signal else "images" if test_ds.is_image else "rows"
    table = denoise_table({**metrics, "warnings": []},
                          title=f"denoising {test_ds.name} test split ({len(test_ds)} {what}), noise {spec}")
    print_tables([table])
    for w in metrics["warnings"]:
        console.print(f"[red]warning:[/red] {w}")
    written = "arrays, metrics" + (f" and [bold]{picture}[/bold]" if picture is not None else "")
    if signal and picture is not None:
        written += " (with noisy / PCA / denoised / clean WAV files of the same stretch)"
    console.print(f"{written} written to {out}; `aekit report {run}` shows them")
