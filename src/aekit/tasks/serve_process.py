"""What each `aekit serve` process sets up besides the app: torch threads and malloc
(`configure_process`), and the address checked before the model loads (`check_address`)."""
from __future__ import annotations

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


__all__ = ["check_address", "configure_process"]
