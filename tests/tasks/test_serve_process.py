"""aekit serve --pin-cores: the plan of cores (checked before the model loads), the model thread and
the event loop really on their cores (in-process and in a real server, read back from /proc), and
the refusals as one line with exit 2."""
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from aekit import AutoEncoder, AutoEncoderDetector
from aekit.errors import ConfigError
from aekit.runs import RunRecord
from aekit.tasks.serve_process import core_plan, pin_cores

linux = pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                           reason="pinning needs Linux's sched_setaffinity and two cores")


def test_the_plan_gives_the_model_the_last_cores_and_the_event_loop_the_rest(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 4, 5}, raising=False)
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cores: None, raising=False)
    assert core_plan(1) == {"model_thread": [5], "event_loop": [0, 1, 4]}
    assert core_plan(3) == {"model_thread": [1, 4, 5], "event_loop": [0]}
    with pytest.raises(ConfigError, match="--pin-cores .* 4 core.* this process may use 4"):
        core_plan(4)  # nothing would be left for the event loop
    monkeypatch.delattr(os, "sched_setaffinity")
    with pytest.raises(ConfigError, match="sched_setaffinity"):
        core_plan(1)


@linux
def test_pinning_puts_the_model_thread_and_the_calling_thread_on_their_cores():
    before = os.sched_getaffinity(0)
    result = {}

    def pinned_in_a_thread():  # the calling thread stands for the event loop; restored after
        with ThreadPoolExecutor(max_workers=1) as model_thread:
            plan = core_plan(1)
            assert pin_cores(model_thread, plan) is plan
            result["model"] = model_thread.submit(os.sched_getaffinity, 0).result()
            result["loop"] = os.sched_getaffinity(0)
            result["plan"] = plan
            # a thread the model thread starts (torch's own threads) inherits its core
            started = model_thread.submit(lambda: ThreadPoolExecutor(1).submit(os.sched_getaffinity, 0).result())
            result["child"] = started.result()

    t = threading.Thread(target=pinned_in_a_thread)
    t.start()
    t.join(timeout=30)
    plan = result["plan"]
    assert result["model"] == set(plan["model_thread"]) == result["child"]
    assert result["loop"] == set(plan["event_loop"])
    assert not result["model"] & result["loop"]
    assert os.sched_getaffinity(0) == before  # this thread was not touched


def cores_of(pid: int, tid: int) -> set[int]:
    """A thread's allowed cores, from /proc (its Cpus_allowed_list, e.g. "0-2,5")."""
    line = next(x for x in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines()
                if x.startswith("Cpus_allowed_list:"))
    out = set()
    for part in line.split(":", 1)[1].strip().split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


@pytest.fixture(scope="module")
def det_run(tmp_path_factory):
    X = np.random.default_rng(2).normal(size=(120, 10)).astype(np.float32)
    det = AutoEncoderDetector(AutoEncoder(hidden=(8,), latent_dim=2, epochs=2, random_state=0), random_state=0).fit(X)
    return det.save(tmp_path_factory.mktemp("pin") / "det"), det, X


@linux
def test_a_real_server_with_pinned_cores_reports_them_and_its_threads_are_on_them(det_run):
    import httpx
    from support import aekit_serve

    run, det, X = det_run
    with aekit_serve(run, "--pin-cores", "--threads", "1", "--log-level", "warning") as (proc, url):
        got = httpx.post(f"{url}/score", json={"instances": X[:7].tolist()}, timeout=30).json()["scores"]
        np.testing.assert_allclose(got, det.decision_function(X[:7]), rtol=1e-5)
        cores = httpx.get(f"{url}/metadata", timeout=10).json()["cores"]
        assert cores == core_plan(1)
        threads = {int(t): cores_of(proc.pid, int(t)) for t in os.listdir(f"/proc/{proc.pid}/task")}
        assert threads[proc.pid] == set(cores["event_loop"])  # the main thread runs the event loop
        assert sum(c == set(cores["model_thread"]) for c in threads.values()) >= 1  # the model thread
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn stops gracefully, then re-raises it
        said = " ".join(proc.stdout.read().decode().split())
        assert f"the model on core(s) {cores['model_thread']}" in said


def test_pinning_that_cannot_be_done_is_one_line_and_exit_2_before_the_model_loads(tmp_path, capsys):
    from support import run_cli

    X = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    run = AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0).fit(X).save(tmp_path / "ae")
    RunRecord(run).weights_path.write_bytes(b"not the weights")  # loading would say "altered"
    too_many = str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    for args in (["--pin-cores", "--workers", "2"], ["--pin-cores", "--threads", too_many]):
        code, _, err = run_cli(["serve", run, "--port", "0", *args], capsys)
        assert code == 2 and err.count("\n") == 1 and "--pin-cores" in err and "altered" not in err, err
