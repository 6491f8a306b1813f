"""`aekit index build | add | query` (similar-image search) and `aekit colorize`."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from aekit.cli import app, console
from aekit.cli.core import DataDirOpt

index_app = typer.Typer(rich_markup_mode="markdown", help="Similar-image search: index a collection by a run's encoder codes, then query it.",
                        no_args_is_help=True)
app.add_typer(index_app, name="index")

RunOpt = Annotated[Optional[Path], typer.Option("--run", help="The run folder, if it moved since the index was built (it must hold the same weights).")]
KindOpt = Annotated[str, typer.Option("--kind", help="auto (flat below 100k items, else ivf), flat (exact), ivf or hnsw (approximate).")]


@index_app.command("build")
def build(
    run: Annotated[Path, typer.Argument(help="A run folder whose encoder makes the codes.")],
    out: Annotated[Path, typer.Option("--out", help="Index folder to write (index.faiss, items.npz, manifest.json).")],
    data: Annotated[Optional[str], typer.Option("--data", help="Collection to index (default: the run's data source).")] = None,
    split: Annotated[str, typer.Option(help="train, val, test, train+val or all.")] = "train",
    kind: KindOpt = "auto",
    nlist: Annotated[Optional[int], typer.Option(help="ivf: number of lists (default ≈ √N).")] = None,
    nprobe: Annotated[int, typer.Option(help="ivf: lists searched per query (default; query --nprobe overrides).")] = 16,
    hnsw_m: Annotated[int, typer.Option(help="hnsw: links per node.")] = 32,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing index folder.", metavar="")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Index only the first N samples of the split, for a quick run.", metavar="N")] = None,
    colour: Annotated[str, typer.Option("--colour", help="keep: search by the colour images; drop: by their luminance (a run trained on grey images, or grey repeated in 3 channels for a colour run), so that colour does not decide the neighbours. Queries are treated the same way.", metavar="keep|drop")] = "keep",
    data_dir: DataDirOpt = None,
) -> None:
    """Encode a collection with a run's encoder and write a FAISS index of the codes."""
    import time

    from aekit.tasks.search import build_index

    t0 = time.perf_counter()
    index = build_index(run, out, data, split=split, data_dir=data_dir, kind=kind, overwrite=overwrite,
                        nlist=nlist, nprobe=nprobe, hnsw_m=hnsw_m, limit=limit, colour=colour,
                        notice=lambda s: console.print(f"[yellow]note:[/yellow] {s}"))
    console.print(f"indexed {len(index)} codes of size {index.code_size} ({index.kind}, colour {index.colour}) in "
                  f"{time.perf_counter() - t0:.1f} s: [bold]{out}[/bold]")


@index_app.command("add")
def add(
    index: Annotated[Path, typer.Argument(help="An index folder written by `aekit index build`.")],
    data: Annotated[str, typer.Option("--data", help="Collection to encode and add.")],
    split: Annotated[str, typer.Option(help="train, val, test, train+val or all.")] = "train",
    seed: Annotated[int, typer.Option(help="Seed of the data split.")] = 0,
    run: RunOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Encode more items with the index's run and add them to the index."""
    from aekit.tasks.search import add_to_index

    idx, new = add_to_index(index, data, split=split, data_dir=data_dir, seed=seed, run=run)
    console.print(f"added {len(new)} items (ids {int(new[0])}–{int(new[-1])}); the index holds {len(idx)}: "
                  f"[bold]{index}[/bold]")


@index_app.command("query")
def query(
    index: Annotated[Path, typer.Argument(help="An index folder written by `aekit index build`.")],
    image: Annotated[Optional[list[Path]], typer.Option("--image", help="Query image file (repeatable). Other sizes are resized and colour/grey converted, with a notice.")] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="Query with the first --limit samples of this data source instead.")] = None,
    split: Annotated[str, typer.Option(help="Split of --data.")] = "test",
    limit: Annotated[int, typer.Option("--limit", help="Number of --data queries.")] = 5,
    k: Annotated[int, typer.Option("-k", "--k", help="Neighbours per query (clamped to the index size, with a notice).")] = 10,
    nprobe: Annotated[Optional[int], typer.Option(help="ivf: lists searched (default: the index's).")] = None,
    grid: Annotated[Optional[Path], typer.Option("--grid", help="Grid PNG to write (default INDEX/query-grid.png).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --data split.")] = 0,
    run: RunOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Print the nearest neighbours of query images and write a query / results grid PNG."""
    from aekit.runs import RunRecord
    from aekit.tasks.search import query_index

    res = query_index(index, images=[str(p) for p in image] if image else None, source=data, split=split,
                      limit=limit, k=k, data_dir=data_dir, seed=seed, grid=grid or index / "query-grid.png",
                      nprobe=nprobe, run=run)
    for note in res["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
    for q in res["queries"]:
        t = Table(title=f"{q['query']}: {res['k']} nearest")
        for col, just in (("rank", "right"), ("id", "right"), ("distance", "right"), ("label", "left"),
                          ("path", "left")):
            t.add_column(col, justify=just)
        for r in q["neighbours"]:
            label = "" if r["label"] is None else (r["class"] or str(r["label"]))
            t.add_row(str(r["rank"]), str(r["id"]), f"{r['distance']:.4f}", label, r["path"] or "")
        console.print(t)
    if "precision_at_k" in res:
        console.print(f"precision@{res['k']} by label: {res['precision_at_k']:.3f}")
    if res.get("run") and RunRecord(res["run"]).exists():
        RunRecord(res["run"]).record_task("search", index, k=res["k"], precision_at_k=res.get("precision_at_k"),
                                          grid=str(Path(res["grid"]).resolve()) if res.get("grid") else None)
    if "grid" in res:
        console.print(f"grid: [bold]{res['grid']}[/bold]")


@app.command()
def colorize(
    run: Annotated[Path, typer.Argument(help="A colorizer run folder (aekit train --model colorizer).")],
    input: Annotated[Path, typer.Option("--input", help="Image to colorize, any size (a colour image: its L channel is used).")],
    out: Annotated[Path, typer.Option("--out", help="PNG to write, the input's size.")] = Path("colorized.png"),
    original: Annotated[Optional[Path], typer.Option("--original", help="The colour original, to report PSNR against.")] = None,
    grid: Annotated[Optional[Path], typer.Option("--grid", help="Also write a grey / colorized (/ original) PNG.")] = None,
) -> None:
    """Colorize a grey image with a trained colorizer."""
    from aekit.tasks.colorize import colorize_file

    res = colorize_file(run, input, out, original=original, grid=grid)
    for note in res["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
    if "psnr_model" in res:
        console.print(f"PSNR vs the original: colorized {res['psnr_model']:.2f} dB, grey {res['psnr_grey']:.2f} dB")
    console.print(f"wrote {res['width']}×{res['height']} colour image: [bold]{out}[/bold]")
