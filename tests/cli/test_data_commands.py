"""`aekit data ...` and the PNG grid helpers."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from PIL import Image

from aekit.cli import app
from aekit.report.grid import image_grid, save_image_grid, save_image_rows
from support import SHARED, run_main, runner

importlib.import_module("aekit.cli.data")  # registers `data` on app



def test_info_digits_writes_a_grid_only_where_asked(tmp_path, monkeypatch):
    """The grid was written silently into the current folder; now only with --grid. The split sizes
    are shown."""
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["data", "info", "digits"], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    out = res.output
    for word in ("digits", "1797", "1 × 8 × 8", "float32", "[0, 1]", "178", "train 1258 / val 180 / test 359"):
        assert word in out
    assert list(tmp_path.iterdir()) == []
    res = runner.invoke(app, ["data", "info", "digits", "--grid", "digits-samples.png"])
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "digits-samples.png") as im:
        assert im.mode == "L" and min(im.size) >= 8 * 32
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_info_split_and_grid_path(tmp_path):
    res = runner.invoke(app, ["data", "info", "digits", "--split", "test", "--grid", str(tmp_path / "g" / "x.png")])
    assert res.exit_code == 0, res.output
    assert "359" in res.output and (tmp_path / "g" / "x.png").is_file()


@pytest.mark.slow  # reads the real MNIST / Fashion-MNIST files (make test-slow)
def test_info_fashion_class_names(tmp_path):
    if not (SHARED / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real Fashion-MNIST not found in {SHARED} (CI always has it)")
    res = runner.invoke(app, ["data", "info", "fashion-mnist", "--split", "test", "--data-dir", str(SHARED),
                              "--grid", str(tmp_path / "f.png")], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    assert "Ankle boot" in res.output and "10000" in res.output and "1000" in res.output


def test_info_table_csv(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,label\n" + "\n".join(f"{i},{i * 2},{i % 2}" for i in range(20)))
    res = runner.invoke(app, ["data", "info", str(p), "--label-column", "label"], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    assert "20" in res.output and "features" in res.output and "[0, 38]" in res.output


def test_main_error_is_one_line(monkeypatch, capsys):
    code, out, err = run_main(["data", "info", "no-such-dataset"], monkeypatch, capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "unknown dataset 'no-such-dataset'" in lines[0]
    assert "Traceback" not in err + out


def test_main_mnist_missing(monkeypatch, capsys, tmp_path):
    code, out, err = run_main(["data", "info", "mnist", "--data-dir", str(tmp_path)], monkeypatch, capsys)
    assert code == 2 and "aekit data download mnist" in err and "Traceback" not in err


def test_main_download_failure(monkeypatch, capsys, tmp_path):
    code, out, err = run_main(["data", "download", "mnist", "--mirror", str(tmp_path / "none"),
                               "--data-dir", str(tmp_path / "c"), "--no-progress"], monkeypatch, capsys)
    assert code == 2 and "could not download" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c" / "mnist").exists()


@pytest.mark.slow  # reads the real MNIST / Fashion-MNIST files (make test-slow)
def test_download_local_mirror(tmp_path):
    if not (SHARED / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not found in {SHARED} (CI always has it)")
    res = runner.invoke(app, ["data", "download", "mnist", "--mirror", str(tmp_path / "x"), "--mirror",
                              str(SHARED / "mnist"), "--data-dir", str(tmp_path), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "mnist").iterdir())) == 4
    res = runner.invoke(app, ["data", "list", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert res.exit_code == 0 and str(tmp_path / "mnist") in res.output
    assert "missing" in res.output  # fashion-mnist


def test_list_and_help(tmp_path):
    res = runner.invoke(app, ["data", "list", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    assert "digits" in res.output and "aekit data download mnist" in res.output
    for cmd in (["data", "--help"], ["data", "info", "--help"], ["data", "download", "--help"]):
        res = runner.invoke(app, cmd, env={"COLUMNS": "250"})
        assert res.exit_code == 0 and "Usage" in res.output


# ---------------------------------------------------------------- grids
def test_image_grid_shapes():
    g = image_grid(np.zeros((10, 1, 8, 8)), ncols=5, pad=1)
    assert g.shape == (2 * 9 + 1, 5 * 9 + 1) and g.dtype == np.uint8
    c = image_grid(np.ones((3, 3, 4, 5)), pad=0)
    assert c.shape == (2 * 4, 2 * 5, 3) and c[0, 0].tolist() == [255, 255, 255]
    assert image_grid(np.full((1, 1, 2, 2), 5.0), value_range=(0, 10), pad=0).tolist() == [[128, 128], [128, 128]]


def test_save_grid_and_rows(tmp_path):
    rng = np.random.default_rng(0)
    p = save_image_grid(rng.random((5, 1, 8, 8)), tmp_path / "g.png")
    with Image.open(p) as im:
        assert im.size[0] >= 3 * 32
    rows = [rng.random((6, 1, 8, 8)), rng.random((6, 3, 8, 8)), rng.random((4, 1, 8, 8))]
    p = save_image_rows(rows, tmp_path / "r.png", labels=["noisy", "denoised", "clean"])
    with Image.open(p) as im:
        assert im.mode == "RGB" and im.size[0] > 6 * 32
    assert sorted(x.name for x in tmp_path.iterdir()) == ["g.png", "r.png"]
