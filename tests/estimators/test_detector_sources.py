"""A detector given data left on disk (over the memory budget): its rows are read into memory when
they fit the budget, with the same results as the array; otherwise one DataError saying the sizes.
Through the CLI: `aekit detect fit --train-size` and `aekit detect score --limit` on a .npy larger
than the budget (they used to stop with "it uses .dtype")."""
import numpy as np
import pytest

from aekit import AutoEncoder, AutoEncoderDetector
from aekit.data.limits import memory_budget_scope
from aekit.data.sources import MemmapSource, RowView
from aekit.errors import DataError


@pytest.fixture(scope="module")
def pixels(tmp_path_factory):
    """600 × 64 uint8 pixels in a .npy (the float32 array the loaders make of them, alongside)."""
    rng = np.random.default_rng(0)
    P = (rng.random((600, 64)) ** 2 * 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("detsrc") / "pixels.npy"
    np.save(path, P)
    return path, MemmapSource(path).read(np.arange(600))


def detector():
    return AutoEncoderDetector(AutoEncoder(hidden=(16,), latent_dim=4, epochs=2, random_state=0), random_state=0)


def test_a_source_that_fits_the_budget_gives_the_arrays_results(pixels):
    path, X = pixels
    on_array = detector().fit(X)
    with memory_budget_scope("1MiB"):  # 600 × 64 float32 = 150 KiB: fits
        on_source = detector().fit(MemmapSource(path))
        scores = on_source.decision_function(RowView(MemmapSource(path), np.arange(100, 200)))
    assert on_source.threshold_ == on_array.threshold_
    np.testing.assert_array_equal(scores, on_array.decision_function(X[100:200]))


def test_a_source_over_the_budget_is_one_data_error_with_the_sizes(pixels):
    path, _ = pixels
    with memory_budget_scope("64KiB"), pytest.raises(DataError) as e:
        detector().fit(MemmapSource(path))
    msg = str(e.value)
    assert "AutoEncoderDetector reads its data into memory" in msg and "600 samples of 64 values" in msg
    assert "150.0 KiB" in msg and "64.0 KiB" in msg and "--memory-budget" in msg


def test_the_cli_fits_a_part_and_scores_a_part_of_a_file_over_the_budget(tmp_path, capsys):
    from support import run_cli

    rng = np.random.default_rng(1)
    big = tmp_path / "big.npy"
    np.save(big, (rng.random((4000, 64)) * 255).astype(np.uint8))  # 1,000 KiB as float32
    run = tmp_path / "det"
    common = ["--memory-budget", "300KiB", "--quiet"]
    code, out, err = run_cli(["detect", "fit", "--data", big, "--out", run, "--epochs", "1", *common], capsys)
    assert code == 2 and err.count("\n") == 1 and "reads its data into memory" in err and "--memory-budget" in err
    code, out, err = run_cli(["detect", "fit", "--data", big, "--out", run, "--epochs", "1", "--train-size", "500",
                              *common], capsys)
    assert code == 0, err
    assert "trained on 500 samples" in " ".join(out.split())
    before = {f.name: f.read_bytes() for f in run.iterdir() if f.is_file()}
    code, out, err = run_cli(["detect", "fit", "--data", big, "--out", run, "--epochs", "1", "--overwrite", *common],
                             capsys)
    assert code == 2 and "reads its data into memory" in err
    assert {f.name: f.read_bytes() for f in run.iterdir() if f.is_file()} == before  # refused before the folder is touched
    code, out, err = run_cli(["detect", "score", run, "--memory-budget", "100KiB"], capsys)
    assert code == 2 and err.count("\n") == 1 and "reads its data into memory" in err
    code, out, err = run_cli(["detect", "score", run, "--memory-budget", "100KiB", "--limit", "200"], capsys)
    assert code == 0, err
    assert (run / "scores" / "scores.csv").read_text().count("\n") == 201  # a header and 200 rows
