"""`aekit compare`: runs side by side in one table and one page; other data refused unless allowed."""
from __future__ import annotations

import re

import pytest

from aekit.errors import DataError, RunFolderError
from aekit.report.compare import compare_table
from aekit.runs import UMASK
from aekit.tasks.compare import compare, compare_runs
from aekit.tasks.train import train_run

from support import run_cli as run
from test_report_page import parse


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    common = dict(train_size=200, epochs=3, hidden=(16,), random_state=0, report=False)
    train_run(root / "ae", "digits", preset="ae", latent_dim=4, **common)
    train_run(root / "vae", "digits", preset="vae", latent_dim=2, eval_options={"k": 20}, **common)
    train_run(root / "other-draw", "digits", preset="ae", latent_dim=4, **{**common, "train_size": 150})
    return root


def test_runs_are_shown_side_by_side_with_their_numbers(runs):
    entries = compare_runs([runs / "ae", runs / "vae"])
    table = compare_table(entries)
    assert table.headers == ["", "ae", "vae"]
    rows = {r[0]: r[1:] for r in table.rows}
    assert rows["kind"] == ["autoencoder", "vae"] and rows["code"] == ["4", "2"] and rows["epochs"] == ["3", "3"]
    assert rows["data"] == ["digits (200 training samples)"] * 2
    ae_metrics = entries[0].metrics
    assert rows["test MSE/value"][0] == f"{ae_metrics['model']['mse_per_value']:.4g}"
    assert rows["÷ PCA"][0] == f"{ae_metrics['model_vs_pca']:.3g}"
    assert "ELBO" in rows["task results"][1] and "log p(x)" in rows["task results"][1]
    assert int(rows["parameters"][0].replace(",", "")) == 64 * 16 + 16 + 16 * 4 + 4 + 4 * 16 + 16 + 16 * 64 + 64


def test_the_page_overlays_the_loss_curves_and_is_written_with_the_umask(runs, tmp_path):
    _, page = compare([runs / "ae", runs / "vae"], tmp_path / "cmp.html")
    text = page.read_text()
    parse(text)
    assert "Loss curves" in text and text.count("data:image/png;base64,") == 1
    assert "different losses" in text  # mse and the VAE's negative ELBO are not on one scale
    for path in (page, tmp_path / "cmp-loss.png"):
        assert path.stat().st_mode & 0o777 == 0o666 & ~UMASK


def test_task_results_found_in_the_run_folder_are_shown(runs, tmp_path):
    import shutil

    from aekit.data.noise import parse_noise
    from aekit.kinds import load_estimator, recorded_splits
    from aekit.runs import RunRecord
    from aekit.tasks.denoise import denoise_split, save_denoise_outputs

    copy = shutil.copytree(runs / "ae", tmp_path / "ae")
    train, val, test = recorded_splits(copy)
    metrics, arrays = denoise_split(load_estimator(copy), train, val, test, parse_noise("gaussian:0.5"), seed=0)
    save_denoise_outputs(copy / "denoise", metrics, arrays, test.value_range)
    RunRecord(copy).record_task("denoise", copy / "denoise", noise="gaussian:0.5")  # as `aekit denoise` notes it
    rows = {r[0]: r[1:] for r in compare_table(compare_runs([copy, runs / "vae"])).rows}
    assert f"denoise: gaussian:0.5: PSNR {metrics['model']['psnr']:.2f} dB" in rows["task results"][0]


def test_runs_on_other_data_are_refused_with_one_message_unless_allowed(runs):
    with pytest.raises(DataError, match=r"other-draw: train_size 200 vs 150.*--allow-different-data"):
        compare_runs([runs / "ae", runs / "other-draw"])
    entries = compare_runs([runs / "ae", runs / "other-draw"], allow_different_data=True)
    assert [e.marked for e in entries] == [False, True]
    table = compare_table(entries)
    assert table.headers[2] == "other-draw †" and "not comparable" in table.caption


def test_bad_input_gives_one_clear_message(runs, tmp_path, capsys):
    with pytest.raises(RunFolderError, match="two or more"):
        compare_runs([runs / "ae"])
    with pytest.raises(RunFolderError, match="given twice"):
        compare_runs([runs / "ae", runs / "ae"])
    with pytest.raises(RunFolderError, match="no such run folder"):
        compare_runs([runs / "ae", tmp_path / "missing"])
    code, out, err = run(["compare", runs / "ae", runs / "other-draw"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--allow-different-data" in err
    code, _, err = run(["compare", runs / "ae", runs / "vae", "--out", tmp_path], capsys)
    assert code == 2 and "is a folder" in err


def test_cli_prints_the_table_and_writes_the_page(runs, tmp_path, capsys):
    code, out, _ = run(["compare", runs / "ae", runs / "other-draw", "--allow-different-data",
                        "--out", tmp_path / "c.html"], capsys)
    assert code == 0 and "runs side by side" in out and "other-draw †" in out
    assert (tmp_path / "c.html").exists() and re.search(r"page: .*c\.html", out)
