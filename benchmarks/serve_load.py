"""Load test of `aekit serve` (loopback only, bounded): a detector of MNIST's input size (784
features) behind the HTTP service, beside the same detector called in-process.

The detector: `aekit detect fit`'s default model (AutoEncoder 784-64-32-8, the detector's
DEFAULT_MODEL; --hidden/--latent for another size, --model for another preset such as conv-ae) trained for --epochs epochs on the first --train MNIST training images of digit 1
(the real MNIST from --data-dir; --random trains on uniform random data of that shape instead).
The service runs as `aekit serve RUN --log-level warning --http H --loop L --workers W --threads T`
(and --merge-rows when given) in a subprocess on 127.0.0.1 (a free port): W processes (--workers, default 1) of --threads torch
threads each; the in-process detector runs with --inproc-threads torch threads (default: as many as
one service process). --http auto --loop auto: httptools and uvloop when installed; --http h11
--loop asyncio: uvicorn's pure-Python stack. Two comparisons this makes:
- per process: 1 worker of T threads against the in-process call with T threads (the default);
- per machine: --workers 2 --threads 1 --inproc-threads 2 --clients 4 on 2 cores, the service as
  deployed for concurrent clients against the in-process call with the whole machine's threads.
The client is this process: keep-alive connections on plain sockets (`Connection`: whole requests
built before the clock starts, answers read by their Content-Length and checked with orjson; it
costs the two shared cores less CPU than http.client, which parses each answer's head with the
email package), one request at a time per connection; latency = send to full answer.

Measured, on MNIST test images:
- batch 1: --requests-1 requests (default 10,000) of one image each, JSON, on one connection; then
  the same requests over --clients-1 connections at once (default 8), where requests that wait for
  the model together run as one call (aekit serve's dynamic batching, --merge-rows; the service's
  /metadata counts the model calls);
- batch 1,000: --requests-1000 requests (default 100) of 1,000 images, JSON, .npy float32 and .npy
  uint8 bodies (Content-Type application/x-npy: the same service without JSON parsing; uint8: the
  images' 8-bit pixels as MNIST stores them, which the service divides by 255 as aekit's loaders
  do, so its scores are the in-process call's on the float32 images: checked before timing);
- in-process, two ways, on the same batches as float32: `det.decision_function`, and the
  detector's traced scoring graph called directly (`aekit.tasks.serve.traced_scorer`, what the
  service's model thread runs: the same scores, without decision_function's input checks, which
  the service does on its event loop). "÷ in-process" divides by the faster of the two, so the
  service is not credited with checks it moves off the model's thread; the in-process side is
  not charged the division by 255 that the service does for uint8 bodies either.
The batch-1,000 runs are interleaved in --blocks blocks (in-process, JSON, .npy, …) so that the
shared machine's load hits every mode alike; ratios are of the same run. "block median" is the
median over blocks of each block's own ratio (that block's service rows/s over the faster
in-process way's rows/s in the same block, seconds apart): robust to the machine's drift over
minutes, though each block is short (with 2 clients, 5 requests each per block at the defaults,
and the pipeline's fill and drain in every block). Besides wall-clock
figures, each mode's CPU time per request is recorded (the server process's, from /proc on
Linux; the in-process call's): on a loaded machine it separates the service's own work from
waiting for a core.

    .venv/bin/python benchmarks/serve_load.py --data-dir ../shared/data --json benchmarks/out/serve_load.json
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)

START_TIMEOUT_S = 120
REQUEST_TIMEOUT_S = 60


def train_detector(args, out: Path):
    """A detector of 784 features saved to `out`, and the test images (N × 784, float32)."""
    import torch

    from aekit import AutoEncoderDetector
    from aekit.estimators import detector_model

    torch.set_num_threads(args.threads)
    if args.random:
        rng = np.random.default_rng(0)
        train, test = rng.random((args.train, 784), dtype=np.float32), rng.random((10_000, 784), dtype=np.float32)
        source = "uniform random data, 784 features"
    else:
        from aekit.data import load

        tr = load("mnist", split="train", data_dir=args.data_dir)
        ones = tr.flat()[tr.y == 1][: args.train]
        train, test = ones, load("mnist", split="test", data_dir=args.data_dir).flat()
        source = f"MNIST digit 1, first {len(ones)} training images"
    sizes = {} if args.hidden is None else {"hidden": tuple(int(h) for h in args.hidden.split(",")),
                                            "latent_dim": args.latent}
    images = "conv" in args.model  # a convolutional model is fitted on 1 × 28 × 28 images (it serves rows too)
    det = AutoEncoderDetector(detector_model(args.model, epochs=args.epochs, random_state=0, **sizes),
                              random_state=0).fit(train.reshape(-1, 1, 28, 28) if images else train)
    det.save(out)
    return det, np.ascontiguousarray(test, dtype=np.float32), source


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: Path, port: int, threads: int, http_impl: str = "auto", loop: str = "auto",
                 workers: int = 1, merge_rows: int | None = None) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "aekit", "serve", str(run), "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--http", http_impl, "--loop", loop, "--workers", str(workers),
           "--threads", str(threads), *([] if merge_rows is None else ["--merge-rows", str(merge_rows)])]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"aekit serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"aekit serve did not answer /health within {START_TIMEOUT_S} s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process and its children (a service's workers) have used so
    far; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(process_cpu_s(int(c)) or 0.0 for c in children)


class CpuMeter:
    """CPU seconds spent per mode: the server process's (pid) or this process's (pid None)."""

    def __init__(self):
        self.seconds: dict[str, float | None] = {}

    def measure(self, name: str, pid: int | None, fn):
        now = (lambda: time.process_time()) if pid is None else (lambda: process_cpu_s(pid))
        c0 = now()
        out = fn()
        c1 = now()
        prev = self.seconds.get(name, 0.0)
        self.seconds[name] = None if None in (c0, c1, prev) else prev + (c1 - c0)
        return out


def json_body(X: np.ndarray) -> bytes:
    return json.dumps({"instances": X.tolist()}).encode()


def npy_body(X: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, X)
    return buf.getvalue()


def request_bytes(body: bytes, content_type: str) -> bytes:
    """A whole POST /score request (head and body), built before the clock starts."""
    head = (f"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


class Connection:
    """One keep-alive HTTP/1.1 connection that sends prebuilt requests and reads each answer by its
    Content-Length: a load generator that costs the two shared cores little CPU (http.client parses
    every answer's head with the email package; the service's own cost is what is measured)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """(status, body) of one request."""
        self.sock.sendall(request)
        data = self.pending
        while b"\r\n\r\n" not in data:
            data += self.recv()
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = next(int(v) for k, _, v in (line.partition(b":") for line in lines[1:])
                      if k.strip().lower() == b"content-length")
        chunks, have = [data], len(data)
        while have < length:
            chunk = self.recv()
            chunks.append(chunk)
            have += len(chunk)
        data = b"".join(chunks)
        self.pending = data[length:]
        return status, data[:length]

    def recv(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("the service closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def post_all(port: int, requests: list[bytes], rows: int) -> list[float]:
    """Seconds per request (`request_bytes`), one at a time on a new keep-alive connection (uvicorn
    closes one idle for 5 s); each answer checked."""
    loads = answer_parser()
    out = []
    conn = Connection(port)
    try:
        for request in requests:
            t0 = time.perf_counter()
            status, data = conn.exchange(request)
            out.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"/score answered {status}: {data[:300]!r}")
            if len(loads(data)["scores"]) != rows:
                raise RuntimeError("/score answered the wrong number of scores")
    finally:
        conn.close()
    return out


def answer_parser():
    """orjson.loads where installed (the serve extra's; C, a fraction of json.loads's CPU), else json.loads."""
    try:
        import orjson
    except ImportError:
        return json.loads
    return orjson.loads


def post_concurrent(port: int, requests: list[bytes], rows: int, clients: int) -> tuple[list[float], float]:
    """(seconds per request, wall seconds) of `clients` keep-alive connections in threads, each
    sending its share of `requests` one at a time: the service's throughput under concurrent load."""
    import threading

    shares = [requests[i::clients] for i in range(clients)]
    times: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def client(i: int) -> None:
        try:
            times[i] = post_all(port, shares[i], rows)
        except BaseException as exc:  # re-raised below: a failed client must not pass as fast
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=REQUEST_TIMEOUT_S * (len(requests) + 1))
    wall = time.perf_counter() - t0
    if errors or any(t.is_alive() for t in threads):
        raise RuntimeError(f"a client failed: {errors[:1]}")
    return [x for ts in times for x in ts], wall


def check_same_scores(port: int, det, X: np.ndarray, bodies: dict) -> None:
    """Each body kind's answer for the first batch equals the in-process scores (float32 precision)."""
    expected = det.decision_function(X)
    for name, (bs, ctype) in bodies.items():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        conn.request("POST", "/score", body=bs[0], headers={"Content-Type": ctype})
        got = np.asarray(json.loads(conn.getresponse().read())["scores"])
        conn.close()
        if not np.allclose(got, expected, rtol=1e-5, atol=1e-7):
            raise RuntimeError(f"{name} bodies: the service's scores differ from the in-process call's")


def batching(port: int) -> dict:
    """The service's /metadata "batching" counters (model calls made for mergeable requests)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    conn.request("GET", "/metadata")
    out = json.loads(conn.getresponse().read())["batching"]
    conn.close()
    return out


def in_process(det, batches: list[np.ndarray]) -> list[float]:
    """Seconds per batch of det.decision_function (or of `det(X)` for a plain scorer)."""
    score = getattr(det, "decision_function", det)
    out = []
    for X in batches:
        t0 = time.perf_counter()
        score(X)
        out.append(time.perf_counter() - t0)
    return out


def summary(times: list[float], rows: int, wall: float | None = None, cpu_s: float | None = None) -> dict:
    """Latency percentiles, rows/s (over the requests' summed time, or the wall time of
    concurrent clients) and CPU milliseconds per request."""
    t = np.asarray(times)
    return {"requests": len(t), "rows_per_request": rows, "p50_ms": float(np.percentile(t, 50) * 1e3),
            "p99_ms": float(np.percentile(t, 99) * 1e3),
            "rows_per_s": float(rows * len(t) / (t.sum() if wall is None else wall)),
            "cpu_ms_per_request": None if cpu_s is None else float(cpu_s * 1e3 / len(t))}


def stack() -> str:
    """What uvicorn's "auto" picks in this environment (the server runs in the same one)."""
    import importlib.util

    have = {m: importlib.util.find_spec(m) is not None for m in ("httptools", "uvloop")}
    return (f"auto = {'httptools' if have['httptools'] else 'h11'} + {'uvloop' if have['uvloop'] else 'asyncio'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--random", action="store_true", help="train on random data of MNIST's shape, not MNIST")
    p.add_argument("--train", type=int, default=6000, help="training images")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--model", default="ae", help="the detector's model preset (aekit detect fit --model), e.g. conv-ae")
    p.add_argument("--hidden", default=None, help="hidden sizes, e.g. 1000,500,250 (default: the detector's 64,32)")
    p.add_argument("--latent", type=int, default=30, help="code size with --hidden")
    p.add_argument("--threads", type=int, default=1, help="torch threads of each service process")
    p.add_argument("--workers", type=int, default=1, help="service processes (aekit serve --workers)")
    p.add_argument("--inproc-threads", type=int, default=None,
                   help="torch threads of the in-process calls (default: --threads)")
    p.add_argument("--requests-1", type=int, default=10_000)
    p.add_argument("--requests-1000", type=int, default=100)
    p.add_argument("--blocks", type=int, default=10, help="interleaved blocks of the batch-1,000 runs")
    p.add_argument("--http", default="auto", help="the server's HTTP parser (aekit serve --http)")
    p.add_argument("--loop", default="auto", help="the server's event loop (aekit serve --loop)")
    p.add_argument("--clients", type=int, default=2, help="concurrent connections of the batch-1,000 .npy and JSON "
                                                          "throughput runs (besides one connection)")
    p.add_argument("--clients-1", type=int, default=8,
                   help="concurrent connections of a second batch-1 run (requests that wait together merge)")
    p.add_argument("--merge-rows", type=int, default=None, help="aekit serve --merge-rows (0: no dynamic batching)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    # `aekit serve` keeps large freed blocks for reuse (serve_bodies.reuse_freed_memory); the
    # in-process calls here get the same malloc settings, so the ratio compares like with like
    from aekit.data.dataset import scale_pixels
    from aekit.tasks.serve_bodies import reuse_freed_memory

    malloc_tuned = reuse_freed_memory()

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "det"
        t0 = time.perf_counter()
        det, test, source = train_detector(args, run)
        print(f"detector trained on {source} in {time.perf_counter() - t0:.1f} s; threshold {det.threshold_:.4g}")
        import torch

        from aekit.tasks.serve import traced_scorer

        inproc_threads = args.inproc_threads or args.threads
        torch.set_num_threads(inproc_threads)
        graph, how = traced_scorer(det, "cpu")
        if graph is None:
            raise RuntimeError(f"the service would not use the traced graph for this detector: {how}")
        port = free_port()
        proc = start_server(run, port, args.threads, args.http, args.loop, args.workers, args.merge_rows)
        cpu = CpuMeter()
        try:
            rng = np.random.default_rng(0)
            # batch 1,000, interleaved blocks: in-process, JSON, .npy, .npy uint8, then concurrent clients
            idx = [rng.choice(len(test), 1000, replace=False) for _ in range(args.requests_1000)]
            big = [test[i] for i in idx]
            pixels = [np.rint(X * 255).astype(np.uint8) for X in big]  # MNIST's own 8-bit values
            bodies = {"JSON": ([json_body(X) for X in big], "application/json"),
                      ".npy": ([npy_body(X) for X in big], "application/x-npy")}
            if all(np.array_equal(scale_pixels(P), X) for P, X in zip(pixels, big)):
                bodies[".npy uint8"] = ([npy_body(P) for P in pixels], "application/x-npy")
            else:  # --random: not 8-bit values
                print("the test data are not 8-bit pixels divided by 255: no uint8 mode")
            check_same_scores(port, det, big[0], bodies)
            requests = {b: [request_bytes(body, ctype) for body in bs] for b, (bs, ctype) in bodies.items()}
            post_all(port, requests["JSON"][:2], 1000)  # warm-up
            in_process(det, big[:2])
            in_process(graph, big[:2])
            many = f"{args.clients} clients"
            names = ["in-process", "in-process, traced graph", *[f"service, {b}" for b in bodies],
                     *[f"service, {b}, {many}" for b in bodies]]
            times: dict[str, list[float]] = {k: [] for k in names}
            walls = {f"service, {b}, {many}": 0.0 for b in bodies}
            block_rps: dict[str, list[float]] = {k: [] for k in names}  # rows/s of each mode in each block

            def timed(name: str, ts: list[float], wall: float | None = None) -> None:
                times[name] += ts
                block_rps[name].append(1000 * len(ts) / (sum(ts) if wall is None else wall))
                if wall is not None:
                    walls[name] += wall

            for blk in range(args.blocks):
                sl = slice(blk * len(big) // args.blocks, (blk + 1) * len(big) // args.blocks)
                timed("in-process", cpu.measure("in-process", None, lambda: in_process(det, big[sl])))
                timed("in-process, traced graph", cpu.measure("in-process, traced graph", None,
                                                              lambda: in_process(graph, big[sl])))
                for b, reqs in requests.items():
                    name = f"service, {b}"
                    timed(name, cpu.measure(name, proc.pid, lambda: post_all(port, reqs[sl], 1000)))
                for b, reqs in requests.items():
                    name = f"service, {b}, {many}"
                    timed(name, *cpu.measure(name, proc.pid, lambda: post_concurrent(port, reqs[sl], 1000,
                                                                                   args.clients)))
            results = {f"{k}, batch 1000": summary(v, 1000, walls.get(k), cpu.seconds[k]) for k, v in times.items()}
            # the same ratio block by block (each block's service against that block's in-process calls,
            # made seconds apart): the median is robust to this shared machine's drift over minutes
            fast = max(("in-process", "in-process, traced graph"), key=lambda k: results[f"{k}, batch 1000"]["rows_per_s"])
            for k in names:
                ratios = np.array(block_rps[k]) / np.array(block_rps[fast])
                results[f"{k}, batch 1000"]["block_ratios"] = ratios.tolist()
            # batch 1
            one = test[rng.integers(0, len(test), args.requests_1)][:, None, :]
            one_json = [request_bytes(json_body(X), "application/json") for X in one]
            ts = cpu.measure("in-process 1", None, lambda: in_process(det, list(one)))
            results["in-process, batch 1"] = summary(ts, 1, cpu_s=cpu.seconds["in-process 1"])
            ts = cpu.measure("graph 1", None, lambda: in_process(graph, list(one)))
            results["in-process, traced graph, batch 1"] = summary(ts, 1, cpu_s=cpu.seconds["graph 1"])
            ts = cpu.measure("service 1", proc.pid, lambda: post_all(port, one_json, 1))
            results["service, JSON, batch 1"] = summary(ts, 1, cpu_s=cpu.seconds["service 1"])
            before = batching(port)
            name = f"service, JSON, batch 1, {args.clients_1} clients"
            ts, wall = cpu.measure(name, proc.pid, lambda: post_concurrent(port, one_json, 1, args.clients_1))
            results[name] = summary(ts, 1, wall, cpu.seconds[name])
            after = batching(port)
            results[name]["model_calls"] = after["model_calls"] - before["model_calls"]
        finally:
            stop_server(proc)

    base = {n: max(results[f"in-process, batch {n}"]["rows_per_s"], results[f"in-process, traced graph, batch {n}"]
                   ["rows_per_s"]) for n in (1, 1000)}  # the faster in-process way
    print(f"\nserver: --http {args.http} --loop {args.loop} ({stack()}), --workers {args.workers} --threads "
          f"{args.threads}; in-process: {inproc_threads} torch threads; load average {os.getloadavg()[0]:.1f}; "
          f"malloc keeps large blocks, both sides: {malloc_tuned}")
    print(f"{'mode':<46}{'requests':>9}{'p50 ms':>10}{'p99 ms':>10}{'rows/s':>12}{'÷ in-process':>14}"
          f"{'block median':>14}{'CPU ms/req':>12}")
    for name, r in results.items():
        r["vs_in_process"] = r["rows_per_s"] / base[r["rows_per_request"]]
        if "block_ratios" in r:
            r["vs_in_process_block_median"] = float(np.median(r["block_ratios"]))
        cpu_ms = "-" if r["cpu_ms_per_request"] is None else f"{r['cpu_ms_per_request']:.2f}"
        block = f"{r['vs_in_process_block_median']:.1%}" if "block_ratios" in r else "-"
        print(f"{name:<46}{r['requests']:>9}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['rows_per_s']:>12.0f}"
              f"{r['vs_in_process']:>13.1%}{block:>14}{cpu_ms:>12}")
        if "model_calls" in r:
            print(f"  {r['requests']} requests in {r['model_calls']} model calls (aekit serve --merge-rows "
                  f"{'default' if args.merge_rows is None else args.merge_rows})")
    if args.json:
        write_json(args.json, {"benchmark": "serve_load", "data": source, "epochs": args.epochs,
                               "model": args.model, "hidden": args.hidden or "64,32", "latent": args.latent if args.hidden else 8,
                               "threads": args.threads, "workers": args.workers, "inproc_threads": inproc_threads,
                               "clients": args.clients, "clients_1": args.clients_1, "merge_rows": args.merge_rows,
                               "http": args.http, "loop": args.loop,
                               "server_stack": stack(), "machine": machine(), "results": results,
                               "malloc_reuse_both_sides": malloc_tuned,
                               "command": " ".join([Path(sys.executable).name, *sys.argv])})
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
