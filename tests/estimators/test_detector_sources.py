"""A detector given data left on disk (over the memory budget): its training rows are read into
memory when they fit the budget, with the same results as the array, otherwise one DataError saying
the sizes; rows it scores are read a block at a time when they do not fit, with the same scores,
baselines and figures. Through the CLI: `aekit detect fit --train-size` and `aekit detect score` on a
.npy larger than the budget (they used to stop with "it uses .dtype", then scoring was refused)."""
import warnings

import numpy as np
import pytest

from aekit import AutoEncoder, AutoEncoderDetector
from aekit.data import Dataset
from aekit.data.limits import memory_budget_scope
from aekit.data.sources import MemmapSource, RowView
from aekit.data.streamed import StreamedDataset
from aekit.errors import AekitWarning, DataError
from aekit.evaluation import evaluate_detector
from aekit.report.detector import detector_figures


@pytest.fixture(scope="module")
def pixels(tmp_path_factory):
    """600 × 64 uint8 pixels in a .npy (the float32 array the loaders make of them, alongside)."""
    rng = np.random.default_rng(0)
    P = (rng.random((600, 64)) ** 2 * 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("detsrc") / "pixels.npy"
    np.save(path, P)
    return path, MemmapSource(path).read(np.arange(600))


def detector(epochs: int = 2, **options):
    return AutoEncoderDetector(AutoEncoder(hidden=(16,), latent_dim=4, epochs=epochs, random_state=0), random_state=0,
                               **options)


def test_a_source_that_fits_the_budget_gives_the_arrays_results(pixels):
    path, X = pixels
    on_array = detector().fit(X)
    with memory_budget_scope("1MiB"):  # 600 × 64 float32 = 150 KiB: fits
        on_source = detector().fit(MemmapSource(path))
        scores = on_source.decision_function(RowView(MemmapSource(path), np.arange(100, 200)))
    assert on_source.threshold_ == on_array.threshold_
    np.testing.assert_array_equal(scores, on_array.decision_function(X[100:200]))


def test_a_source_over_the_budget_that_must_be_in_memory_is_one_data_error_with_the_sizes(pixels):
    path, _ = pixels
    with memory_budget_scope("64KiB"), pytest.raises(DataError) as e:  # "mse+code" needs every row's code
        detector(score="mse+code").fit(MemmapSource(path))
    msg = str(e.value)
    assert "score='mse+code'" in msg and "reads its data into memory" in msg and "600 samples of 64 values" in msg
    assert "150.0 KiB" in msg and "64.0 KiB" in msg and "--memory-budget" in msg


def test_the_cli_fits_and_scores_a_file_over_the_budget_as_in_memory(tmp_path, capsys):
    from support import run_cli

    rng = np.random.default_rng(1)
    big = tmp_path / "big.npy"
    np.save(big, (rng.random((4000, 64)) * 255).astype(np.uint8))  # 1,000 KiB as float32
    run, whole = tmp_path / "det", tmp_path / "whole"
    fit = ["detect", "fit", "--data", big, "--epochs", "1", "--quiet"]
    code, out, err = run_cli([*fit, "--out", run, "--memory-budget", "300KiB"], capsys)  # read a block at a time
    assert code == 0, err
    code, out, err = run_cli([*fit, "--out", whole], capsys)  # in memory
    assert code == 0, err
    assert (run / "train_scores.npy").read_bytes() == (whole / "train_scores.npy").read_bytes()
    assert (run / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()
    # "mse+code" needs the training rows in memory: refused in one line, before the run folder is touched
    before = {f.name: f.read_bytes() for f in run.iterdir() if f.is_file()}
    code, out, err = run_cli([*fit, "--out", run, "--score", "mse+code", "--overwrite", "--memory-budget", "300KiB"],
                             capsys)
    assert code == 2 and err.count("\n") == 1 and "reads its data into memory" in err and "--memory-budget" in err
    assert {f.name: f.read_bytes() for f in run.iterdir() if f.is_file()} == before
    # errors found once the streamed fit has begun (a batch over the budget, NaN in the file) put it back too
    bad = tmp_path / "nan.npy"
    np.save(bad, np.where(np.arange(4000)[:, None] == 3900, np.nan, rng.random((4000, 64))).astype(np.float32))
    for data, options, message in ((big, ["--batch-size", "256", "--memory-budget", "20KiB"], "smaller than one batch"),
                                   (bad, ["--memory-budget", "300KiB"], "NaN, inf or a value too large")):
        code, out, err = run_cli(["detect", "fit", "--data", data, "--epochs", "1", "--quiet", "--out", run,
                                  "--overwrite", *options], capsys)
        assert code == 2 and message in err, err
        assert {f.name: f.read_bytes() for f in run.iterdir() if f.is_file()} == before
        assert sorted(f.name for f in run.iterdir()) == sorted(before)  # no folder set aside is left behind
    code, out, err = run_cli([*fit, "--out", run, "--score", "mse+code", "--overwrite", "--memory-budget", "300KiB",
                              "--train-size", "500"], capsys)
    assert code == 0 and "trained on 500 samples" in " ".join(out.split()), err
    code, out, err = run_cli(["detect", "score", run, "--memory-budget", "100KiB", "--limit", "200"], capsys)
    assert code == 0, err
    assert (run / "scores" / "scores.csv").read_text().count("\n") == 201  # a header and 200 rows
    # the whole test split (800 rows, 200 KiB as float32) over the budget: scored in blocks, as in memory
    code, out, err = run_cli(["detect", "score", run, "--memory-budget", "100KiB", "--out", tmp_path / "blocks"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["detect", "score", run, "--out", tmp_path / "scored"], capsys)
    assert code == 0, err
    blocks, scored = ((tmp_path / d / "scores.csv").read_text() for d in ("blocks", "scored"))
    assert blocks.count("\n") == 801 and blocks == scored


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """600 uint8 8×8 images in a .npy: label 0 smooth gradients, label 1 (one in five) noise; the
    float32 array the loaders make of them, and the labels."""
    rng = np.random.default_rng(2)
    ramp = np.linspace(0, 1, 8)
    smooth = (ramp[:, None] * rng.random((600, 1, 1, 1)) + ramp[None, :] * rng.random((600, 1, 1, 1))) / 2
    y = (rng.random(600) < 0.2).astype(int)
    P = np.where(y[:, None, None, None] == 1, rng.random((600, 1, 8, 8)), smooth)
    path = tmp_path_factory.mktemp("detimg") / "images.npy"
    np.save(path, np.rint(P * 255).astype(np.uint8))
    return path, MemmapSource(path).read(np.arange(600)), y


def test_rows_over_the_budget_are_scored_in_blocks_with_the_arrays_scores(images):
    path, X, _ = images
    det = detector().fit(X[:300])
    with memory_budget_scope("16KiB"):  # 300 images of 64 float32 values = 75 KiB: blocks of 2 KiB
        view = RowView(MemmapSource(path), np.arange(300, 600))
        scores, labels = det.decision_function(view), det.predict(view)
    np.testing.assert_array_equal(scores, det.decision_function(X[300:]))
    np.testing.assert_array_equal(labels, det.predict(X[300:]))


def test_a_split_over_the_budget_is_evaluated_beside_the_baselines_and_drawn(images, tmp_path):
    path, X, y = images
    det = detector(epochs=40).fit(X[:300][y[:300] == 0])  # trained enough to tell noise from gradients
    train = Dataset(X[:300], y[:300], "images", (0.0, 1.0), split="train")
    in_memory = evaluate_detector(det, Dataset(X[300:], y[300:], "images", (0.0, 1.0), split="test"), [0], train=train)
    with memory_budget_scope("16KiB"):
        split = StreamedDataset(MemmapSource(path), np.arange(300, 600), y=y, split="test")
        metrics, scores, is_anomaly = evaluate_detector(det, split, [0], train=train)
        written = detector_figures(scores, det.threshold_, is_anomaly, split, tmp_path, top=8)
    assert metrics["roc_auc"] > 0.9 and metrics["roc_auc"] == in_memory[0]["roc_auc"]
    assert metrics["baselines"] == in_memory[0]["baselines"] and len(metrics["baselines"]) == 2
    np.testing.assert_array_equal(scores, in_memory[1])
    assert sorted(written) == ["histogram", "most_anomalous", "roc"] and written["most_anomalous"].stat().st_size > 0


def test_training_rows_over_the_budget_leave_out_the_baselines_with_a_warning(images):
    path, X, y = images
    det = detector(epochs=40).fit(X[:300][y[:300] == 0])
    with memory_budget_scope("16KiB"):
        train = StreamedDataset(MemmapSource(path), np.arange(300), y=y, split="train")
        split = StreamedDataset(MemmapSource(path), np.arange(300, 600), y=y, split="test")
        with pytest.warns(AekitWarning, match="no baselines beside the detector: .*reads its data into memory"):
            metrics, scores, _ = evaluate_detector(det, split, [0], train=train)
    assert "baselines" not in metrics and metrics["roc_auc"] > 0.9 and len(scores) == 300
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # with room for them, the baselines are there, without a warning
        assert len(evaluate_detector(det, split, [0], train=train)[0]["baselines"]) == 2


@pytest.mark.parametrize("options", [{}, {"contamination": 0.05}, {"n_estimators": 3}])
def test_a_fit_on_rows_over_the_budget_reads_them_in_blocks_with_the_arrays_results(images, options):
    path, X, _ = images
    on_array = detector(**options).fit(X)
    with memory_budget_scope("16KiB"):
        on_disk = detector(**options).fit(MemmapSource(path))
    assert on_disk.threshold_ == on_array.threshold_ and on_disk.threshold_source_ == on_array.threshold_source_
    np.testing.assert_array_equal(on_disk.decision_scores_, on_array.decision_scores_)
    np.testing.assert_array_equal(on_disk.decision_function(X[:50]), on_array.decision_function(X[:50]))


def test_the_flat_rows_default_over_the_budget_is_refused_before_training(images):
    path, _, _ = images
    det = AutoEncoderDetector(random_state=0)  # flat rows: RobustAutoEncoder and "mse+code"
    with memory_budget_scope("16KiB"), pytest.raises(DataError, match="score='mse\\+code'.*reads its data into memory"):
        det.fit(RowView(MemmapSource(path), flat=True))
    assert not hasattr(det, "estimator_")
