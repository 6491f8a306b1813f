"""What each `aekit serve` process sets up besides the app: torch threads and malloc
(`configure_process`), the address checked before the model loads (`check_address`), and the
model thread's own cores (`core_plan`, `pin_cores`: `aekit serve --pin-cores`)."""
from __future__ import annotations

import os
from concurrent.futures import Executor

from aekit.errors import ConfigError
from aekit.tasks.serve_bodies import reuse_freed_memory


def configure_process(threads: int | None) -> None:
    """What every serving process does once: torch threads (None: torch's default) and malloc that
    keeps large freed blocks (serve_bodies.reuse_freed_memory)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    reuse_freed_memory()  # large bodies without a page fault per page (serve_bodies.MMAP_THRESHOLD_BYTES)


def check_address(host: str, port: int) -> None:
    """ConfigError when `host`:`port` cannot be listened on (in use, or not an address of this
    machine), said before the model loads; uvicorn would say it after "serving ..." with exit 3.
    Port 0 (any free port) is not checked."""
    import errno
    import socket

    if port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host!r} is not an address this machine can listen on ({exc})") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(address)
        except OSError as exc:
            why = ("is in use (another service?): choose another with --port" if exc.errno == errno.EADDRINUSE
                   else f"cannot be listened on: {exc.strerror}")
            raise ConfigError(f"{host}:{port} {why}") from None


def core_plan(torch_threads: int) -> dict:
    """Which cores `pin_cores` gives the model thread (the last `torch_threads` this process may
    use) and the event loop (the others): {"model_thread": [...], "event_loop": [...]}, what
    /metadata reports. Checked before the model loads.

    Raises
    ------
    ConfigError
        The system cannot pin threads (Linux's sched_setaffinity), or the process may use no more
        than `torch_threads` cores (nothing would be left for the event loop).
    """
    if not hasattr(os, "sched_setaffinity"):
        raise ConfigError("--pin-cores needs a system where a thread can choose its cores (Linux's sched_setaffinity)")
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) <= torch_threads:
        raise ConfigError(f"--pin-cores gives the model {torch_threads} core(s) of its own and the event loop at "
                          f"least one, but this process may use {len(cores)}: lower --threads or leave out --pin-cores")
    return {"model_thread": cores[-torch_threads:], "event_loop": cores[:-torch_threads]}


def pin_cores(model_thread: Executor, plan: dict) -> dict:
    """Put the model thread (and the torch threads it starts) on the plan's model cores
    (`core_plan`), and the calling thread (the event loop, and threads it starts later) on the
    others; returns the plan.

    Why: unpinned, the kernel moves the model thread between cores and lets the event loop, the
    clients and the kernel's own network work share its core; pinned, it keeps a core (and that
    core's caches) to itself while requests are read on the other (benchmarks/RESULTS.md,
    "Scoring service": two to three points more of the in-process rows/s at batch 1,000 on 2
    cores, within that machine's run-to-run spread). Pinning only pays on cores that nothing else
    busies: it is asked for (``--pin-cores``), not the default.
    """
    model_thread.submit(os.sched_setaffinity, 0, plan["model_thread"]).result()  # pid 0: the calling thread
    os.sched_setaffinity(0, plan["event_loop"])
    return plan


__all__ = ["check_address", "configure_process", "core_plan", "pin_cores"]
