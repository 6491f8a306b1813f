"""The run record: layout, format versions, the data record, and folders written by aekit 0.1.0."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from aekit.data import load
from aekit.errors import DataError, RunFolderError
from aekit.kinds import kind_of, load_estimator, recorded_splits
from aekit.runs import FORMAT_VERSION, DataRecord, RunRecord
from support import FIXTURES

V1 = FIXTURES / "runs_v1"
V1_KINDS = {"ae": "autoencoder", "conv-dae": "autoencoder", "stacked": "autoencoder", "vae": "vae", "cvae": "vae",
            "colorizer": "colorizer", "detector": "detector"}


@pytest.fixture
def v1(tmp_path):
    """A writable copy of the format-1 fixtures."""
    shutil.copytree(V1, tmp_path / "v1")
    return tmp_path / "v1"


def test_save_load_round_trip_with_format_version(tmp_path):
    run = RunRecord(tmp_path / "r")
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    run.save({"kind": "autoencoder", "model": {}}, state, metrics={"a": 1.0}, history=[{"epoch": 1, "loss": 0.5}])
    config, back = run.load(kind="autoencoder")
    assert config["format_version"] == FORMAT_VERSION and config["weights_sha256"]
    assert torch.equal(back["w"], state["w"])
    assert run.read_metrics() == {"a": 1.0}
    assert run.history() == [{"epoch": 1.0, "loss": 0.5}]
    with pytest.raises(RunFolderError, match="not a 'vae' model"):
        run.load(kind="vae")


def test_unknown_format_version_is_refused(tmp_path):
    run = RunRecord(tmp_path / "r")
    run.save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(1)})
    config = json.loads(run.config_path.read_text())
    config["format_version"] = FORMAT_VERSION + 1
    run.config_path.write_text(json.dumps(config))
    with pytest.raises(RunFolderError, match="format_version"):
        run.read_config()


def test_check_writable_refuses_a_trained_folder_and_a_file(tmp_path):
    run = RunRecord(tmp_path / "r")
    run.save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(1)})
    with pytest.raises(RunFolderError, match="already holds a trained run"):
        run.check_writable()
    run.check_writable(resume=True)
    run.check_writable(overwrite=True)
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunFolderError, match="is a file"):
        RunRecord(tmp_path / "f").check_writable()


@pytest.mark.parametrize("name", sorted(V1_KINDS))
def test_format_1_folders_load_and_compute_what_0_1_0_computed(v1, name):
    """Folders written by aekit 0.1.0 (no format_version, the VAE's and colorizer's options in an
    untyped `extra`) load as their kind and give the numbers that release gave."""
    assert kind_of(v1 / name).name == V1_KINDS[name]
    est = load_estimator(v1 / name)
    test = load("digits", split="test")
    X, y = test.X[:5], test.y[:5]
    if name == "detector":
        got, want = est.decision_function(X), np.load(v1 / name / "expected_scores.npy")
    elif name == "colorizer":
        L = np.linspace(0, 100, 32 * 32, dtype=np.float32).reshape(1, 1, 32, 32)
        got, want = est.predict_ab(L), np.load(v1 / name / "expected_ab.npy")
        assert est.model_config_.ab_gain == pytest.approx(0.15146361299140826)
    else:
        got = est.transform(X, y) if name == "cvae" else est.transform(X)
        want = np.load(v1 / name / "expected_codes.npy")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_format_1_folder_resaved_as_format_2_keeps_its_numbers(v1, tmp_path):
    est = load_estimator(v1 / "vae")
    est.save(tmp_path / "vae2")
    config = RunRecord(tmp_path / "vae2").read_config()
    assert config["format_version"] == FORMAT_VERSION and "extra" not in config["model"]
    assert config["model"]["likelihood"] == "bernoulli"
    X = load("digits", split="test").X[:5]
    np.testing.assert_allclose(load_estimator(tmp_path / "vae2").transform(X), np.load(v1 / "vae" / "expected_codes.npy"),
                               rtol=1e-5, atol=1e-6)


def test_data_record_of_a_file_is_resolved_and_hashed(tmp_path, monkeypatch):
    """A relative --data path is stored resolved with its size and hash; later commands use that
    file wherever they run, and refuse it once it changed (it was read relative to the current
    folder before, silently scoring another file)."""
    a = tmp_path / "a"
    a.mkdir()
    X = np.random.default_rng(0).random((40, 3)).astype(np.float32)
    np.save(a / "data.npy", X)
    monkeypatch.chdir(a)
    rec = DataRecord.of("data.npy", None, 0, load("data.npy"))
    assert Path(rec.path) == a / "data.npy" and rec.size == (a / "data.npy").stat().st_size and len(rec.sha256) == 64
    back = DataRecord.from_dict(rec.to_dict())
    assert back == rec
    b = tmp_path / "b"
    b.mkdir()
    np.save(b / "data.npy", X * 100)  # another file of the same name elsewhere
    monkeypatch.chdir(b)
    assert back.resolved_source() == str(a / "data.npy")
    np.save(a / "data.npy", X * 2)
    with pytest.raises(DataError, match="changed since this run was trained"):
        back.resolved_source()
    (a / "data.npy").unlink()
    with pytest.raises(DataError, match="is gone"):
        back.resolved_source()


def test_recorded_splits_follow_the_record_from_another_folder(tmp_path, monkeypatch):
    from aekit import AutoEncoder

    a = tmp_path / "a"
    a.mkdir()
    rng = np.random.default_rng(0)
    np.save(a / "d.npy", rng.random((60, 4)).astype(np.float32))
    monkeypatch.chdir(a)
    train = load("d.npy", split="train")
    est = AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0).fit(train.X)
    est.save(tmp_path / "run", data=DataRecord.of("d.npy", None, 0, train).to_dict())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.npy").write_bytes(b"not the data")
    tr, _, _ = recorded_splits(tmp_path / "run")
    np.testing.assert_array_equal(tr.X, train.X)


def test_extra_entries_of_the_data_record_round_trip():
    rec = DataRecord.from_dict({"source": "digits", "seed": 3, "normal_labels": [0, 1]})
    assert rec.extra == {"normal_labels": [0, 1]} and rec.to_dict()["normal_labels"] == [0, 1]


def test_a_folder_with_a_checkpoint_of_a_killed_run_is_not_overwritten_silently(tmp_path):
    run = RunRecord(tmp_path / "r")
    run.checkpoint_dir.mkdir(parents=True)
    (run.checkpoint_dir / "checkpoint.safetensors").write_bytes(b"x")
    with pytest.raises(RunFolderError, match="unfinished run: continue it with --resume"):
        run.check_writable()
    run.check_writable(resume=True)
    run.check_writable(overwrite=True)


def test_lock_refuses_a_second_writer_and_takes_over_a_dead_ones(tmp_path):
    import os
    import subprocess
    import sys

    from aekit.errors import AekitWarning

    run = RunRecord(tmp_path / "r")
    with run.lock():
        assert (run.path / ".aekit.lock").read_text() == str(os.getpid())
    assert not run.path.exists()  # created for the lock, left empty: removed
    run.path.mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (run.path / ".aekit.lock").write_text(str(live.pid))
        with pytest.raises(RunFolderError, match=f"in use by another aekit process \\(pid {live.pid}\\)"):
            with run.lock():
                pass
    finally:
        live.kill()
        live.wait()
    with pytest.warns(AekitWarning, match=f"taking over a lock left by process {live.pid}"):
        with run.lock():
            pass
    assert not (run.path / ".aekit.lock").exists()


def test_clear_removes_an_old_run_so_files_never_mix(tmp_path):
    run = RunRecord(tmp_path / "r")
    run.save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(1)})
    (run.path / "report.html").write_text("old")
    (run.checkpoint_dir).mkdir()
    (run.checkpoint_dir / "checkpoint.safetensors").write_bytes(b"x")
    run.clear()
    assert list(run.path.iterdir()) == []


def folder_bytes(path: Path) -> dict:
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()}


@pytest.mark.parametrize("failure", [DataError("bad data"), KeyboardInterrupt()])
def test_replacing_puts_the_earlier_run_back_when_the_new_one_fails(tmp_path, failure):
    run = RunRecord(tmp_path / "r")
    run.save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(1)})
    (run.path / "logs").mkdir()
    (run.path / "logs" / "epochs.csv").write_text("old")
    before = folder_bytes(run.path)
    with pytest.raises(type(failure)), run.lock(), run.replacing():
        assert [c.name for c in run.path.iterdir() if not c.name.startswith(".")] == []  # the old run is set aside
        run.save({"kind": "autoencoder", "model": {"new": 1}}, {"w": torch.ones(1)})  # half a new run
        (run.path / "report.html").write_text("new")
        raise failure
    assert folder_bytes(run.path) == before


def test_replacing_removes_the_earlier_run_when_the_new_one_is_written(tmp_path):
    run = RunRecord(tmp_path / "r")
    run.save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(1)})
    (run.path / "report.html").write_text("old")
    with run.lock(), run.replacing():
        run.save({"kind": "autoencoder", "model": {"new": 1}}, {"w": torch.ones(1)})
    assert sorted(c.name for c in run.path.iterdir()) == ["config.json", "model.safetensors"]
    assert run.read_config()["model"] == {"new": 1}
    with run.lock(), run.replacing(overwrite=False):  # not replacing: the block writes beside what is there
        (run.path / "report.html").write_text("beside")
    assert (run.path / "config.json").exists()


class Resumable(Exception):
    resumable = True  # as aekit.train.trainer.TrainingInterrupted after a finished epoch


def test_replacing_keeps_a_new_run_that_can_be_resumed(tmp_path):
    run = RunRecord(tmp_path / "r")
    run.save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(1)})
    with pytest.raises(Resumable), run.lock(), run.replacing():
        run.checkpoint_dir.mkdir()
        (run.checkpoint_dir / "checkpoint.safetensors").write_bytes(b"new")  # the interrupted run's checkpoint
        raise Resumable
    assert [c.name for c in run.path.iterdir()] == ["checkpoint"]  # the earlier run is gone, as --overwrite asked
    assert (run.checkpoint_dir / "checkpoint.safetensors").read_bytes() == b"new"


def test_a_file_that_cannot_be_set_aside_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    run = RunRecord(tmp_path / "r")
    run.save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(1)})
    (run.path / "zz-busy").mkdir()  # a mount point, say: rename refuses it
    before = folder_bytes(run.path)
    rename = Path.rename

    def busy(self, target):
        if self.name == "zz-busy":
            raise OSError(16, "Device or resource busy", str(self))
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", busy)
    with pytest.raises(RunFolderError, match="could not set the earlier run's .*zz-busy aside .*busy.*as it was"):
        with run.lock(), run.replacing():
            pytest.fail("the block must not run")
    assert folder_bytes(run.path) == before and sorted(c.name for c in run.path.iterdir()) == [
        "config.json", "model.safetensors", "zz-busy"]


def test_a_run_set_aside_by_a_killed_overwrite_is_pointed_out(tmp_path):
    run = RunRecord(tmp_path / "r")
    run.save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(1)})
    aside = run.path / ".aekit-replaced-4242"  # what SIGKILL leaves mid --overwrite
    aside.mkdir()
    for name in ("config.json", "model.safetensors"):
        (run.path / name).rename(aside / name)
    with pytest.raises(RunFolderError, match="an --overwrite was stopped before it finished.*aekit-replaced-4242"):
        run.read_config()
    with pytest.raises(RunFolderError, match="set aside in .aekit-replaced-4242: move its files back"):
        run.check_writable(resume=True)
    run.check_writable(overwrite=True)
    with run.lock(), run.replacing():  # a finished --overwrite removes it with the rest
        run.save({"kind": "autoencoder", "model": {"new": 1}}, {"w": torch.ones(1)})
    assert sorted(c.name for c in run.path.iterdir()) == ["config.json", "model.safetensors"]


def test_a_run_being_replaced_by_a_live_process_is_not_called_stopped(tmp_path):
    import os

    run = RunRecord(tmp_path / "r")
    run.save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(1)})
    with run.lock(), run.replacing():  # this process is the live writer, as another would be
        assert (run.path / f".aekit-replaced-{os.getpid()}").is_dir() and run.set_aside() == []
        with pytest.raises(RunFolderError) as e:
            run.read_config()
        assert "stopped" not in str(e.value)


def test_a_full_disk_reported_by_safetensors_is_one_message(tmp_path, monkeypatch):
    from safetensors import SafetensorError

    import aekit.runs

    def full(*a, **k):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(aekit.runs, "save_file", full)
    with pytest.raises(RunFolderError, match="^no space left on device while writing .*model.safetensors$"):
        RunRecord(tmp_path / "r").save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(1)})


def test_a_full_disk_is_one_message_naming_the_file(tmp_path, monkeypatch):
    import errno

    import aekit.runs

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(aekit.runs, "save_file", full)
    run = RunRecord(tmp_path / "r")
    with pytest.raises(RunFolderError, match="no space left on device while writing .*model.safetensors"):
        run.save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(1)})
    assert not run.exists()


def test_a_tampered_config_is_checked_against_the_weights_before_anything_is_built(v1):
    """config.json claiming a 2**40-unit layer used to allocate 256 TiB; the shapes are now checked
    against the weights on the meta device first."""
    cfg_path = v1 / "ae" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model"]["hidden"] = [2**40]
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(RunFolderError, match="weights do not match the model config"):
        load_estimator(v1 / "ae")


@pytest.mark.parametrize("field,value,message", [
    ("estimator", "torch", "unknown estimator 'torch'"),
    ("estimator", "__builtins__", "unknown estimator"),
    ("threshold", "abc", "not a valid detector description"),
    ("threshold", float("nan"), "not a valid detector description"),
    ("params", {"score": "bogus"}, "not a valid detector description"),
    ("params", {"fpr": 5}, "not a valid detector description"),
    ("params", {"unknown_key": 1}, "not a valid detector description"),
])
def test_detector_json_fields_are_validated(v1, field, value, message):
    path = v1 / "detector" / "detector.json"
    meta = json.loads(path.read_text())
    meta[field] = value if field != "params" else {**meta["params"], **value}
    path.write_text(json.dumps(meta))
    with pytest.raises(RunFolderError, match=message):
        load_estimator(v1 / "detector")


def test_every_file_of_a_run_follows_the_umask(tmp_path):
    """model.safetensors, the checkpoint, grids and figures were created 0600."""
    import os
    import stat

    from aekit.tasks.train import train_run

    old = os.umask(0o022)
    try:
        # the module read the umask at import: what a process started with umask 022 would see
        import aekit.runs

        saved, aekit.runs.UMASK = aekit.runs.UMASK, 0o022
        import aekit.train.checkpoint

        saved_ck, aekit.train.checkpoint.UMASK = aekit.train.checkpoint.UMASK, 0o022
        train_run(tmp_path / "r", "digits", hidden=(8,), latent_dim=2, epochs=1, random_state=0)
    finally:
        os.umask(old)
        aekit.runs.UMASK, aekit.train.checkpoint.UMASK = saved, saved_ck
    modes = {p.relative_to(tmp_path / "r").as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in (tmp_path / "r").rglob("*") if p.is_file()}
    assert modes and all(m == 0o644 for m in modes.values()), modes
    assert {"model.safetensors", "checkpoint/checkpoint.safetensors", "report.html"} <= set(modes)
    assert any(name.endswith(".png") for name in modes)
