"""`aekit serve`: an HTTP scoring service over a run folder (FastAPI + uvicorn)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from aekit.cli import app, console


@app.command()
def serve(
    run: Annotated[Path, typer.Argument(help="A run folder of an autoencoder, a VAE or a detector.")],
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only; the service has no authentication).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8000,
    max_batch: Annotated[int, typer.Option("--max-batch", help="Most instances (or generated samples) one request may hold; more are refused with 413.")] = 4096,
    max_body_mb: Annotated[float, typer.Option("--max-body-mb", help="Largest request body in MiB; larger bodies are refused with 413 before they are read.")] = 64.0,
    device: Annotated[str, typer.Option(help="Torch device of the model: cpu, cuda, cuda:N, mps.")] = "cpu",
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level: critical, error, warning, info (one line per request) or debug.")] = "info",
    http: Annotated[str, typer.Option(help="uvicorn's HTTP parser: auto (httptools when installed, else h11), httptools or h11.")] = "auto",
    loop: Annotated[str, typer.Option(help="uvicorn's event loop: auto (uvloop when installed, else asyncio), uvloop or asyncio.")] = "auto",
    workers: Annotated[int, typer.Option(help="Processes serving the port, each with its own copy of the model: more than 1 lets several clients be answered at once on several cores (one process runs one model call at a time).")] = 1,
    threads: Annotated[Optional[int], typer.Option(help="Torch threads per process (default: torch's own for one worker; the cores shared out among several).")] = None,
    merge_rows: Annotated[int, typer.Option("--merge-rows", help="Dynamic batching: requests of at most this many rows that wait for the model together run as one model call of up to --max-batch rows (each gets its own rows of the answer); 0 runs every request alone. /metadata counts the calls.")] = 256,
) -> None:
    """Serve a run folder over HTTP: POST /encode, /reconstruct, /score (detectors), /generate (VAEs).

    JSON in and out: `{"instances": [[...], ...]}` (rows, or images in the trained shape), or a
    .npy body with `Content-Type: application/x-npy` for large batches (a JSON body of plain rows
    is parsed in C; .npy needs no parsing at all; uint8 .npy for a model trained on [0, 1] is
    8-bit pixels, divided by 255). GET /health, /metadata
    (kind, input shape, threshold, versions, the weights' sha256, the model card) and /docs
    (OpenAPI). Small requests that wait for the model together run as one model call (--merge-rows).
    A run folder whose weights were altered is refused. Ctrl-C stops taking connections and lets
    requests in flight finish.
    """
    from aekit.tasks.serve import serve as run_serve

    def ready(api) -> None:
        model = api.state.model
        where = f"http://{host}:{port}" if port else f"{host}, on a free port that uvicorn names below"
        processes = f"; {workers} processes" if workers > 1 else ""
        console.print(f"serving the {model.kind} [bold]{run}[/bold] on {where} "
                      f"({', '.join('/' + e for e in model.endpoints)}; docs at /docs{processes})")

    run_serve(run, host=host, port=port, max_batch=max_batch, max_body_mb=max_body_mb, device=device,
              log_level=log_level, http=http, loop=loop, workers=workers, threads=threads, merge_rows=merge_rows,
              on_ready=ready)
