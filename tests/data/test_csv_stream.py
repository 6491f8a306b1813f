"""A CSV file larger than the memory budget: read once in chunks into a float32 .npy in the spool
folder and streamed from there, giving what the in-memory read gives."""
import numpy as np
import pytest

from aekit import AutoEncoder
from aekit.data.files import load_path
from aekit.data.streamed import is_streamed, spool_folder
from aekit.errors import DataError


@pytest.fixture
def table_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("AEKIT_DATA_DIR", str(tmp_path / "data"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6)).round(4)
    y = rng.integers(0, 3, 400)
    path = tmp_path / "t.csv"
    lines = ["a,b,c,d,e,f,label"] + [",".join(f"{v:g}" for v in row) + f",{k}" for row, k in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")
    return path, X.astype(np.float32), y


def test_a_csv_over_the_budget_streams_and_equals_the_in_memory_read(table_csv):
    path, X, y = table_csv
    in_ram = load_path(path, label_column="label")
    streamed = load_path(path, label_column="label", memory_budget="4KiB")
    assert not is_streamed(in_ram) and is_streamed(streamed)
    rows = np.arange(len(X))
    assert np.array_equal(streamed.X.read(rows), in_ram.X) and np.array_equal(in_ram.X, X)
    assert np.array_equal(streamed.y, in_ram.y) and streamed.meta["columns"] == list("abcdef")
    assert streamed.value_range == pytest.approx(in_ram.value_range)
    assert list(spool_folder().glob("t-*.npy"))  # the float32 copy lies in the spool folder, not /tmp
    kw = dict(hidden=(8,), latent_dim=2, epochs=2, batch_size=32, random_state=0)
    a, b = AutoEncoder(**kw).fit(in_ram.X), AutoEncoder(**kw).fit(streamed.X)
    sa, sb = a.model_.state_dict(), b.model_.state_dict()
    assert max(float((sa[k] - sb[k]).abs().max()) for k in sa) < 1e-6


def test_a_bad_cell_in_a_csv_over_the_budget_says_how_to_find_it(table_csv, tmp_path):
    path, _, _ = table_csv
    bad = tmp_path / "bad.csv"
    text = path.read_text().splitlines()
    text[200] = text[200].replace(",", ",oops,", 1).replace(",oops,", ",oops", 1)
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match="raise --memory-budget to read it in memory"):
        load_path(bad, label_column="label", memory_budget="4KiB")
    assert not list(spool_folder().glob("bad-*.npy"))  # the partial copy is removed
