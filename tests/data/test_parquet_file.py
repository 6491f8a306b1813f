"""A lone Parquet file as training data (`aekit train --data table.parquet`): read whole like a
numeric CSV, a label column apart, and one clear DataError for what it cannot train on."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aekit.data.files import load_csv, load_parquet, load_path
from aekit.errors import DataError
from support import run_cli


@pytest.fixture()
def table():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=50), "b": rng.integers(0, 5, 50), "flag": rng.random(50) > 0.5,
                         "kind": rng.choice(["cat", "dog"], 50)})


def test_a_parquet_file_reads_as_the_same_table_as_its_csv(table, tmp_path):
    table.to_parquet(tmp_path / "t.parquet")
    table.assign(flag=table["flag"].astype(int)).to_csv(tmp_path / "t.csv", index=False)
    pq = load_path(tmp_path / "t.parquet", label_column="kind")
    csv = load_csv(tmp_path / "t.csv", "t", label_column="kind")
    np.testing.assert_array_equal(pq.X, csv.X)
    np.testing.assert_array_equal(pq.y, csv.y)
    assert pq.classes == csv.classes == ["cat", "dog"] and pq.meta["columns"] == ["a", "b", "flag"]
    assert pq.name == "t"


@pytest.mark.parametrize("change, message", [
    (lambda df: df, "column(s) ['kind'] are not numeric"),  # no label column given
    (lambda df: df.drop(columns="kind").assign(a=lambda d: d["a"].where(d.index != 7)), "column 'a', row 7"),
    (lambda df: df.iloc[:0], "no rows"),
])
def test_what_cannot_train_is_one_clear_error(table, tmp_path, change, message):
    change(table).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load_parquet(tmp_path / "t.parquet", "t")


def test_a_damaged_file_and_the_memory_budget_are_refused(table, tmp_path):
    path = tmp_path / "t.parquet"
    table.drop(columns="kind").to_parquet(path)
    with pytest.raises(DataError, match="over the memory budget.*folder of its own"):
        load_parquet(path, "t", memory_budget=100)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load_parquet(path, "t")


def test_aekit_train_takes_a_parquet_file(table, tmp_path, capsys):
    table.to_parquet(tmp_path / "t.parquet")
    code, out, err = run_cli(["train", "--data", tmp_path / "t.parquet", "--label-column", "kind", "--epochs", "2",
                              "--latent", "2", "--out", tmp_path / "run", "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "run" / "model.safetensors").exists()
