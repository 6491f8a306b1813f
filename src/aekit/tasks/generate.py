"""`aekit generate`: new samples from a trained VAE (and, for a 2-D latent, its latent map)."""
from __future__ import annotations

from pathlib import Path

from aekit.errors import ConfigError
from aekit.specs import positive_int
from aekit.kinds import load_estimator, recorded_splits
from aekit.runs import RunRecord, check_output_file
from aekit.report.vae import latent_map, latent_scatter, require_vae, sample_grid


MAX_GRID = 10_000  # images in one sample grid PNG


def _grid_pixels(est, n: int) -> int:
    shape = est.model_config_.input_shape
    return int(n) * int(shape[-1] * shape[-2] if len(shape) == 3 else shape[-1])


def generate(run, *, n: int = 64, out=None, label=None, seed: int = 0, data: str | None = None,
             data_dir=None, scatter: bool = True) -> dict[str, Path]:
    """What `aekit generate` does: a sample grid; for a 2-D latent also the latent map and the
    test set's latent scatter. Returns the written paths by name."""
    est = require_vae(load_estimator(run), "aekit generate")
    run = Path(run)
    n = positive_int(n, "-n", "samples")
    if n > MAX_GRID:
        raise ConfigError(f"-n {n}: a grid of that many images would be about {_grid_pixels(est, n) / 1e6:.0f} "
                          f"megapixels; draw at most {MAX_GRID} into one PNG (VariationalAutoEncoder.sample gives "
                          "arrays in batches)")
    out = Path(out) if out is not None else run / "samples.png"
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out must be a .png file, got {out}")
    check_output_file(out)
    written = {"samples": sample_grid(est, out, int(n), label=label, random_state=seed)}
    if est.model_config_.code_size == 2:
        written["latent_map"] = latent_map(est, out.with_name(out.stem + "-latent-map.png"), 20, label=label)
        if scatter and (data is not None or RunRecord(run).data_record().source):
            train, _, test = recorded_splits(run, data, data_dir)
            if test.y is not None:
                written["latent_scatter"] = latent_scatter(est, test, out.with_name(out.stem + "-latent.png"), train)
    return written


__all__ = ["MAX_GRID", "generate"]
