"""`aekit data ...`: inspect, list and download datasets."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from aekit.cli import app

data_app = typer.Typer(
    rich_markup_mode="markdown",  # docstring paragraphs reflow instead of keeping hard line breaks
    help="Inspect, list and download datasets (built in: digits, mnist, fashion-mnist, cifar10, cifar100; "
    "or a path to .npz/.npy/.csv/IDX files or a folder of images).",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

DATA_DIR_HELP = (
    "Folder that holds mnist/, fashion-mnist/, cifar10/ and cifar100/ (default: $AEKIT_DATA_DIR, else "
    "$XDG_CACHE_HOME/aekit, else ~/.cache/aekit). Offline copies: --data-dir ../shared/data."
)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@data_app.command("info")
def info(
    source: str = typer.Argument(
        "digits", help="A built-in name (digits, mnist, fashion-mnist, cifar10, cifar100) or a path to a file "
        "or image folder."
    ),
    split: str = typer.Option("all", "--split", help="Which split: train, val, test, train+val or all."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    seed: int = typer.Option(0, "--seed", help="Seed of the train/val/test split."),
    label_column: Optional[str] = typer.Option(
        None, "--label-column", help="For CSV files: the header name (or index) of the label column."
    ),
    grid: Optional[Path] = typer.Option(
        None, "--grid", help="Also write a PNG grid of up to 64 samples to this file (image data only). "
        "Nothing is written without it."
    ),
) -> None:
    """Show a dataset's size per split, shapes, value range and label counts; with --grid, a PNG of samples."""
    from aekit.data import load
    from aekit.runs import check_output_file

    if grid is not None:
        check_output_file(grid)
    parts = {s: load(source, s, data_dir=data_dir, seed=seed, label_column=label_column) for s in ("train", "val", "test")}
    ds = parts[split] if split in parts else load(source, split, data_dir=data_dir, seed=seed, label_column=label_column)
    sizes = {s: len(d) for s, d in parts.items()}
    con = _console()
    t = Table(title=f"{ds.name} ({ds.split})", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value")
    t.add_row("name", ds.name)
    t.add_row("split", ds.split)
    t.add_row("samples", f"{len(ds)}")
    t.add_row("splits", f"train {sizes['train']} / val {sizes['val']} / test {sizes['test']} (seed {seed})")
    t.add_row("sample shape", " × ".join(str(s) for s in ds.sample_shape) + ("  (C×H×W)" if ds.is_image else "  (features)"))
    t.add_row("dtype", str(ds.X.dtype))
    lo, hi = ds.value_range
    t.add_row("value range", f"[{lo:g}, {hi:g}]")
    if ds.y is None:
        t.add_row("labels", "none")
    con.print(t)
    if ds.y is not None:
        lt = Table(title="labels")
        lt.add_column("label", justify="right")
        lt.add_column("class")
        lt.add_column("count", justify="right")
        values, counts = np.unique(ds.y, return_counts=True)
        for v, c in zip(values.tolist(), counts.tolist()):
            cname = ds.classes[v] if ds.classes is not None and 0 <= v < len(ds.classes) else ""
            lt.add_row(str(v), cname, str(c))
        con.print(lt)
    if grid is not None and ds.is_image:
        from aekit.report.grid import save_image_grid

        n = min(64, len(ds))
        save_image_grid(ds.X[:n], grid, ncols=min(8, n), value_range=ds.value_range)
        con.print(f"wrote {n} samples to {grid}")
    elif grid is not None:
        con.print(f"[yellow]note:[/yellow] {ds.name} is not image data: no grid written")


@data_app.command("download")
def download_cmd(
    name: str = typer.Argument(
        ..., help="Dataset to fetch: mnist, fashion-mnist, cifar10 or cifar100 (CIFAR: the binary release, "
        "unpacked into <data-dir>/<name>/)."
    ),
    mirror: Optional[List[str]] = typer.Option(
        None, "--mirror", help="A mirror to try (URL, file:// URL or local folder); repeat for several, "
        "tried in order. Default: the published mirrors. Offline: --mirror ../shared/data/mnist, or a "
        "folder holding cifar-10-binary.tar.gz."
    ),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait on a silent connection."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Download a dataset's files into the cache, md5-verified (files already there are kept)."""
    from aekit.data.download import download

    folder = download(name, mirrors=mirror or None, data_dir=data_dir, timeout=timeout, progress=progress)
    _console().print(f"{name}: verified files in {folder}")


@data_app.command("list")
def list_cmd(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """List the built-in datasets and where each is found (or that it is missing)."""
    from aekit.data.builtin import BUILTINS, dataset_folder, missing_files, required_files, resolve_data_dir

    root = resolve_data_dir(data_dir)
    t = Table(title=f"built-in datasets (data folder: {root})")
    t.add_column("name", style="bold")
    t.add_column("what")
    t.add_column("where", overflow="fold")
    for name, meta in BUILTINS.items():
        if not meta.downloadable:
            where = "built in (scikit-learn)"
        else:
            missing = missing_files(name, data_dir)
            if not missing:
                where = str(dataset_folder(name, data_dir))
            else:
                where = (f"[red]missing[/red] ({len(missing)} of {len(required_files(name))} files); "
                         f"run `aekit data download {name}`")
        t.add_row(name, meta.description, where)
    _console().print(t)
