"""Hostile input through the command line: each case makes a bad file, folder or argument in a
temporary folder, runs `aekit`, and asserts one clear message, exit code 2, no traceback, and
nothing changed or left behind in that folder."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from support import FIXTURES

V1 = FIXTURES / "runs_v1"
TINY = ["--hidden", "4", "--latent", "2", "--quiet"]


def snapshot(root) -> dict:
    """Every file and folder under root with its size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns)
    return out


def _changed_data(tmp):
    """A run trained on ./data.npy, then the file is replaced: evaluate must not score the new one."""
    np.save(tmp / "data.npy", np.random.default_rng(0).random((60, 4)).astype(np.float32))
    code, _, err = run_cli_here(tmp, ["train", "--data", "data.npy", "--epochs", "1", *TINY, "--out", tmp / "r"])
    assert code == 0, err
    np.save(tmp / "data.npy", np.random.default_rng(1).random((60, 4)).astype(np.float32) * 100)
    return ["evaluate", tmp / "r"]


def _other_options_on_resume(tmp):
    code, _, err = run_cli_here(tmp, ["train", "--epochs", "1", "--lr", "0.001", *TINY, "--out", tmp / "r"])
    assert code == 0, err
    return ["train", "--epochs", "2", "--lr", "0.05", "--resume", *TINY, "--out", tmp / "r"]


def _killed_run(tmp):
    (tmp / "r" / "checkpoint").mkdir(parents=True)
    (tmp / "r" / "checkpoint" / "checkpoint.safetensors").write_bytes(b"a killed run's epochs")
    return ["train", "--epochs", "1", *TINY, "--out", tmp / "r"]


def _locked(tmp):
    (tmp / "r").mkdir()
    (tmp / "r" / ".aekit.lock").write_text(str(os.getppid()))  # a live process holds the folder
    return ["train", "--epochs", "1", *TINY, "--out", tmp / "r"]


def _copy(tmp, name):
    shutil.copytree(V1 / name, tmp / name)
    return tmp / name


def _edit_json(path, **changes):
    d = json.loads(path.read_text())
    for key, value in changes.items():
        target = d
        *parents, last = key.split(".")
        for p in parents:
            target = target[p]
        target[last] = value
    path.write_text(json.dumps(d))


def _detector_estimator_torch(tmp):
    run = _copy(tmp, "detector")
    _edit_json(run / "detector.json", estimator="torch")
    return ["detect", "score", run, "--out", tmp / "scores"]


def _detector_threshold_text(tmp):
    run = _copy(tmp, "detector")
    _edit_json(run / "detector.json", threshold="abc")
    return ["evaluate", run]


def _huge_hidden(tmp):
    run = _copy(tmp, "ae")
    _edit_json(run / "config.json", **{"model.hidden": [2**40]})
    return ["report", run]


def _tampered_weights(tmp):
    run = _copy(tmp, "ae")
    data = bytearray((run / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (run / "model.safetensors").write_bytes(bytes(data))
    return ["evaluate", run]


def _unknown_format(tmp):
    run = _copy(tmp, "ae")
    _edit_json(run / "config.json", format_version=99)
    return ["evaluate", run]


def _pickle_as_weights(tmp):
    run = _copy(tmp, "ae")
    (run / "model.safetensors").write_bytes(b"\x80\x04\x95" + b"\x00" * 64)  # a pickle's opening bytes
    _edit_json(run / "config.json", weights_sha256=None)
    return ["evaluate", run]


def _huge_sample_grid(tmp):
    return ["generate", _copy(tmp, "vae"), "-n", "100000000", "--out", tmp / "s.png"]


def _encode_into_a_folder(tmp):
    (tmp / "out").mkdir()
    return ["encode", _copy(tmp, "ae"), "--out", tmp / "out"]


def _out_is_a_file(tmp):
    (tmp / "f").write_text("not a folder")
    return ["train", "--epochs", "1", *TINY, "--out", tmp / "f"]


def _arg(*argv):
    return lambda tmp: ["train", "--epochs", "1", *TINY, "--out", tmp / "r", *argv]


def _not_a_run(tmp):
    (tmp / "empty").mkdir()
    return ["report", tmp / "empty"]


def _fifo(tmp):
    os.mkfifo(tmp / "data.csv")
    return ["train", "--data", tmp / "data.csv", "--epochs", "1", *TINY, "--out", tmp / "r"]


CASES = {
    "data file changed since training": (_changed_data, "changed since this run was trained"),
    "--resume with another learning rate": (_other_options_on_resume, "lr 0.001 → 0.05"),
    "a killed run's checkpoint, no --resume": (_killed_run, "checkpoint of an unfinished run"),
    "a folder another process writes": (_locked, "in use by another aekit process"),
    "detector.json names torch": (_detector_estimator_torch, "unknown estimator 'torch'"),
    "detector.json threshold is text": (_detector_threshold_text, "not a valid detector description"),
    "config.json asks for 2**40 units": (_huge_hidden, "weights do not match the model config"),
    "altered weights": (_tampered_weights, "does not match the sha256"),
    "a run folder of a future format": (_unknown_format, "format_version 99"),
    "a pickle dropped in as weights": (_pickle_as_weights, "not a readable safetensors file"),
    "10^8 samples into one grid": (_huge_sample_grid, "draw at most"),
    "--out of encode is a folder": (_encode_into_a_folder, "is a folder"),
    "--out of train is a file": (_out_is_a_file, "is a file, not a run folder"),
    "--lr abc": (_arg("--lr", "abc"), "must be a number"),
    "--device cuda without CUDA": (_arg("--device", "cuda"), "no CUDA device"),
    "--device bogus": (_arg("--device", "bogus"), "unknown device 'bogus'"),
    "--lr-schedule exponential:nan": (_arg("--lr-schedule", "exponential:nan"), "not a finite number"),
    "--seed -1": (_arg("--seed", "-1"), "--seed must be ≥ 0"),
    "--hidden 4,x": (_arg("--hidden", "4,x"), "comma-separated"),
    "--noise blur:1": (_arg("--noise", "blur:1"), "unknown noise kind 'blur'"),
    "--beta on a plain autoencoder": (_arg("--beta", "2"), "not an option of --model ae"),
    "--model bogus": (_arg("--model", "bogus"), "unknown --model 'bogus'"),
    "a folder that is not a run": (_not_a_run, "config.json is missing"),
    "a FIFO given as data": (_fifo, "not a regular file"),
}


def run_cli_here(tmp, argv):
    """The CLI (in this process) with tmp as the current folder (a relative path means what a
    user's would)."""
    import contextlib
    import io

    import aekit.cli

    out, err, cwd = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(tmp)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                aekit.cli.main([str(a) for a in argv])
                code = 0
            except SystemExit as e:
                code = e.code
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_case_is_one_clear_message_and_changes_nothing(case, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    make, message = CASES[case]
    argv = make(tmp_path)
    before = snapshot(tmp_path)
    code, out, err = run_cli_here(tmp_path, argv)
    assert code == 2, f"{case}: exit {code}\n{out}\n{err}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err + out, err
    assert len(lines) == 1 and message in lines[0], f"{case}: {err!r}"
    assert snapshot(tmp_path) == before, f"{case}: the folder changed"


def test_every_case_says_what_it_checks():
    assert len(CASES) >= 20 and all(msg for _, msg in CASES.values())


def test_python_dash_m_aekit_gives_the_same_one_line_error(tmp_path):
    """`python -m aekit` (the entry torchrun uses) reports an error as the console script does."""
    p = subprocess.run([sys.executable, "-m", "aekit", "report", str(tmp_path / "none")], capture_output=True,
                       text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "no such run folder" in p.stderr and "Traceback" not in p.stderr


def _train(out, *options) -> list[str]:
    return [sys.executable, "-m", "aekit", "train", "--data", "digits", *TINY, "--out", str(out), *options]


def test_sigterm_during_an_overwrite_keeps_a_run_that_can_be_resumed(tmp_path):
    """SIGTERM (kill, timeout, docker stop) stops training as Ctrl-C does: the interrupted run's
    checkpoint stays (the earlier run is replaced, as --overwrite asked), the message says --resume,
    and --resume finishes it. It used to kill the process at once, leaving no checkpoint to resume.
    (A run stopped before any checkpoint to continue puts the earlier run back: tests/test_runs.py.)"""
    import signal
    import time

    run = tmp_path / "r"
    assert subprocess.run(_train(run, "--epochs", "1"), capture_output=True, timeout=300).returncode == 0
    proc = subprocess.Popen(_train(run, "--epochs", "100000", "--overwrite"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoint" / "checkpoint.safetensors").exists() or (run / "config.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "no new checkpoint was written"
            time.sleep(0.05)  # the earlier run is set aside once config.json is gone; then its first epochs
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
    assert proc.returncode == 2 and "training interrupted after epoch" in err and "continue with --resume" in err, err
    assert "Traceback" not in err and sorted(p.name for p in run.iterdir()) == ["checkpoint"]
    done = subprocess.run(_train(run, "--epochs", "100000", "--resume", "--max-seconds", "1"), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and (run / "config.json").exists(), done.stderr


@pytest.mark.parametrize("sig, status, said", [("SIGTERM", 143, "error: stopped by SIGTERM"),
                                              ("SIGINT", 130, "error: stopped by Ctrl-C")])
def test_a_signal_outside_training_is_one_line_and_its_exit_status(sig, status, said):
    """Typer turns Ctrl-C into exit status 130 without a word, and SIGTERM killed the process with
    nothing cleaned up; both now unwind (locks, --overwrite, spool files) and say so in one line."""
    code = f"""
import os, signal, sys, threading, time
import aekit.cli as cli

@cli.app.command("wait")
def wait():  # the signal comes once the command runs (main has set its handlers by then)
    threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.{sig})).start()
    time.sleep(60)

sys.argv = ["aekit", "wait"]
cli.main()
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == status and p.stderr.strip() == said, (p.returncode, p.stderr)
