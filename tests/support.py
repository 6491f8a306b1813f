"""What several test modules share: paths, the in-process CLI runners, a loopback HTTP server,
a real `aekit serve` process, synthetic photos."""
from __future__ import annotations

import contextlib
import http.server
import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import aekit.cli

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SHARED = ROOT.parent / "shared" / "data"  # ../shared/data beside the checkout (CI always has it)
FIXTURES = TESTS / "fixtures"
runner = CliRunner()  # typer's runner over aekit.cli.app, with the data commands registered
importlib.import_module("aekit.cli.data")
DARK, BRIGHT = np.array([0.05, 0.15, 0.7]), np.array([1.0, 0.75, 0.2])  # blue shadows, orange highlights


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `aekit ARGV`."""
    with pytest.raises(SystemExit) as e:
        aekit.cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def aekit_serve(run, *options, timeout: float = 90):
    """`python -m aekit serve RUN --port P OPTIONS` in its own process group, once it answers
    /health: yields (process, base URL); the whole group is killed on the way out, whatever failed."""
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "aekit", "serve", str(run), "--port", str(port), *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the service did not answer"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield proc, url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def run_main(argv, monkeypatch, capsys):
    """aekit.cli.main (the console entry point) with only the data commands registered."""
    monkeypatch.setattr(aekit.cli, "_register", lambda: importlib.import_module("aekit.cli.data"))
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(argv)
        raise SystemExit(0)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


class Server:
    """A threaded http.server on 127.0.0.1:0 serving files from folders under URL prefixes:
    /good/<name>, /bad/<name>, and /drop/<name> (announces the full length, sends half, closes)."""

    def __init__(self, folders: dict[str, Path]):
        folders = dict(folders)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parts = self.path.strip("/").split("/")
                if len(parts) != 2 or parts[0] not in folders and parts[0] != "drop":
                    self.send_error(404)
                    return
                kind, name = parts
                src = folders["good" if kind == "drop" else kind] / name
                if not src.is_file():
                    self.send_error(404)
                    return
                data = src.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if kind == "drop":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(small_files):
    good, bad = small_files
    s = Server({"good": good, "bad": bad})
    yield s
    s.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def synthetic_photo(rng, h: int, w: int) -> np.ndarray:
    """Smooth random brightness t; the colour is a fixed function of t (so of L)."""
    small = rng.random((h // 4 + 2, w // 4 + 2))
    t = np.kron(small, np.ones((4, 4)))[:h, :w]
    rgb = (1 - t)[..., None] * DARK + t[..., None] * BRIGHT
    return (rgb * 255).astype(np.uint8)
