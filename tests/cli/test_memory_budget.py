"""`aekit train --memory-budget`: data over the budget trains from disk and the run records its
source; a budget smaller than one batch is one clear error."""
import json

import numpy as np
import pytest

from tests.support import run_cli


def write_images(path, n=240):
    np.save(path, np.random.default_rng(0).integers(0, 256, (n, 1, 6, 6), dtype=np.uint8))


@pytest.mark.slow  # trains, evaluates and writes a report: ~12 s on 2 busy cores
def test_train_streams_data_over_the_budget_and_records_the_source(tmp_path, capsys):
    write_images(tmp_path / "x.npy")
    code, out, err = run_cli(["train", "--data", tmp_path / "x.npy", "--out", tmp_path / "run", "--epochs", "1",
                              "--batch-size", "16", "--memory-budget", "20KiB", "--quiet"], capsys)
    assert code == 0, err
    stream = json.loads((tmp_path / "run" / "config.json").read_text())["data"]["stream"]
    assert stream["kind"] == "memmap" and stream["rows"] == 240 and stream["dtype"] == "uint8"
    assert stream["rows_used"] == 168  # the training split (70 %)
    code, out, err = run_cli(["encode", tmp_path / "run", "--out", tmp_path / "codes.npy",
                              "--memory-budget", "20KiB"], capsys)
    assert code == 0, err
    assert np.load(tmp_path / "codes.npy").shape == (48, 8)


def test_a_budget_smaller_than_a_batch_is_one_clear_error(tmp_path, capsys):
    write_images(tmp_path / "x.npy")
    code, out, err = run_cli(["train", "--data", tmp_path / "x.npy", "--out", tmp_path / "run", "--epochs", "1",
                              "--batch-size", "64", "--memory-budget", "4KiB", "--quiet"], capsys)
    assert code != 0
    assert "smaller than one batch of 64 rows × 144 bytes" in err + out
    assert "Traceback" not in err + out


def test_a_refusal_under_the_flag_names_the_flag(tmp_path):
    """Under --memory-budget (memory_budget_scope) the message names the flag, not the variable
    the scope sets for the loaders."""
    from aekit.data.limits import check_memory, memory_budget_scope
    from aekit.errors import DataError

    with memory_budget_scope("1KiB"), pytest.raises(DataError) as e:
        check_memory(4096, "x.npy", "the data take")
    assert "(--memory-budget 1KiB)" in str(e.value)
