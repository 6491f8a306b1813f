"""AutoEncoderDetector and AutoEncoder on tables (pandas DataFrames): mixed columns, missing
cells, explanations, the column encoding in the run folder, and bad input."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from aekit import AutoEncoder, AutoEncoderDetector
from aekit.data.tabular import TableEncoder
from aekit.errors import AekitWarning, ConfigError, DataError
from aekit.estimators.tabular import TABLE_ENCODER_FILE

SEGMENTS = np.array(["retail", "online", "wholesale", "partner"])
REGIONS = np.array(["north", "south", "north", "east"])
NUMERIC = ["n0", "n1", "n2", "n3", "n4", "n5", "n_items"]


def planted_table(n: int, seed: int) -> pd.DataFrame:
    """Rows from four segments: six numeric columns around the segment's centre plus a shared
    factor, the segment and its region as categories, and a count driven by the factor."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 4, size=n)
    centers = np.random.default_rng(99).normal(scale=3, size=(4, 6))
    t = rng.normal(size=(n, 1))
    load = np.random.default_rng(97).normal(size=(1, 6))
    df = pd.DataFrame(centers[k] + t @ load + 0.3 * rng.normal(size=(n, 6)), columns=NUMERIC[:6])
    df["segment"] = SEGMENTS[k]
    df["region"] = REGIONS[k]
    df["n_items"] = np.round(np.exp(1 + 0.5 * t[:, 0] + 0.3 * rng.normal(size=n)))
    return df


def plant(df: pd.DataFrame, train: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Change one column per row: a numeric cell moved by 4 to 6 standard deviations, or a
    category swapped for another level of the column. Returns the table and the changed columns."""
    rng = np.random.default_rng(seed)
    changed = rng.choice(np.array(df.columns), size=len(df))
    out = df.copy()
    for i, col in enumerate(changed):
        j = out.columns.get_loc(col)
        if col in NUMERIC:
            out.iloc[i, j] = df[col].iloc[i] + rng.choice([-1, 1]) * rng.uniform(4, 6) * train[col].std()
        else:
            out.iloc[i, j] = rng.choice(sorted(v for v in train[col].unique() if v != df[col].iloc[i]))
    return out, changed


def small_model(**kw):
    kw.setdefault("random_state", 0)
    return AutoEncoder(hidden=(32,), latent_dim=3, epochs=kw.pop("epochs", 60), batch_size=64, **kw)


@pytest.fixture(scope="module")
def train_df():
    return planted_table(1500, 0)


@pytest.fixture(scope="module")
def det(train_df):
    return AutoEncoderDetector(small_model(), random_state=0).fit(train_df)


def test_explain_names_the_changed_column(det, train_df):
    test = planted_table(400, 1)
    changed_df, changed = plant(test, train_df, seed=5)
    ex = det.explain(changed_df, top=3)
    first = ex[ex["rank"] == 1].set_index("row")["column"].reindex(changed_df.index).to_numpy()
    accuracy = float(np.mean(first == changed))
    assert accuracy >= 0.9, accuracy
    # shares are per row, sum to 1 over the row's columns, and ranks are in order
    full = det.explain(changed_df.head(20), top=len(det.table_encoder_.encoded_columns_))
    assert np.allclose(full.groupby("row")["share"].sum(), 1.0)
    assert (full.groupby("row")["share"].apply(lambda s: bool(np.all(np.diff(s.to_numpy()) <= 0)))).all()
    # the changed rows score above the unchanged ones
    assert np.median(det.decision_function(changed_df)) > np.quantile(det.decision_function(test), 0.9)


def test_wide_explanation_matches_long(det, train_df):
    rows = planted_table(30, 2)
    wide = det.explain(rows, top=2, form="wide")
    long = det.explain(rows, top=2)
    assert list(wide.columns) == ["row", "score", "column_1", "share_1", "column_2", "share_2"]
    assert np.allclose(wide["score"], det.decision_function(rows))
    first = long[long["rank"] == 1].set_index("row")["column"]
    assert (wide.set_index("row")["column_1"] == first.reindex(wide["row"])).all()


def test_missing_cells_neither_raise_nor_force_an_anomaly(det, train_df):
    rows = planted_table(300, 3)
    holes = rows.copy()
    rng = np.random.default_rng(0)
    for i in range(len(holes)):  # one missing cell per row, any column
        holes.iloc[i, rng.integers(0, holes.shape[1])] = np.nan
    scores = det.decision_function(holes)
    assert np.isfinite(scores).all()
    # rows with a hole are flagged about as often as complete rows, not all of them
    assert det.predict(holes).mean() <= det.predict(rows).mean() + 0.05
    # a missing cell gets no share of the explanation
    ex = det.explain(holes.head(50), top=10)
    for row, group in ex.groupby("row"):
        missing = set(holes.columns[holes.loc[row].isna()])
        assert not missing & set(group["column"])


def test_training_with_missing_cells_uses_a_masked_loss():
    """Cells missing in training are imputed for the input and left out of the loss: the
    imputed value is never a target, so training on data with holes reconstructs the column as
    well as training on the complete data."""
    df = planted_table(1200, 4)
    holes = df.copy()
    holes.loc[np.random.default_rng(1).random(len(df)) < 0.3, "n0"] = np.nan
    ae = small_model().fit(holes)
    enc = ae.table_encoder_
    assert "n0__missing" in enc.feature_names_out_
    test = planted_table(300, 5)
    err = ae.reconstruction_error(test)
    full = small_model().fit(df).reconstruction_error(test)
    assert np.median(err) < 3 * np.median(full)
    # reconstruction error is the mean over observed cells only
    X, observed = enc.transform(test.head(1).assign(n1=np.nan))
    assert not observed[0, enc.feature_names_out_.index("n1")]


def test_run_folder_holds_the_encoding_as_json(det, train_df, tmp_path):
    run = det.save(tmp_path / "det")
    state = json.loads((run / TABLE_ENCODER_FILE).read_text())
    assert state["format"] == "aekit.table-encoder"
    assert not list(run.glob("*.pkl")) and not list(run.glob("*.pickle"))
    again = AutoEncoderDetector.load(run)
    rows = planted_table(50, 6)
    assert np.allclose(again.decision_function(rows), det.decision_function(rows), atol=1e-6)
    assert again.table_encoder_.feature_names_out_ == det.table_encoder_.feature_names_out_
    ae = AutoEncoder.load(run)
    assert ae.table_encoder_ is not None and ae.transform(rows).shape == (50, 3)


def test_columns_are_matched_by_name(det):
    rows = planted_table(40, 7)
    base = det.decision_function(rows)
    assert np.allclose(det.decision_function(rows[rows.columns[::-1]]), base)
    with pytest.warns(AekitWarning, match="ignoring column.*'note'"):
        extra = det.decision_function(rows.assign(note="x"))
    assert np.allclose(extra, base)
    with pytest.raises(DataError, match="missing column.*'region'"):
        det.decision_function(rows.drop(columns="region"))
    with pytest.raises(DataError, match="fitted on a table"):
        det.decision_function(rows.to_numpy())


def test_unseen_category_is_scored_and_explained(det):
    rows = planted_table(40, 8)
    rows.loc[rows.index[:10], "segment"] = "reseller"  # never seen in training
    scores = det.decision_function(rows)
    assert np.isfinite(scores).all()
    assert (scores[:10] > np.quantile(scores[10:], 0.9)).mean() >= 0.9
    ex = det.explain(rows.head(10), top=3)
    first = ex[ex["rank"] == 1]
    assert (first["column"] == "segment").all() and first["unseen"].all()


def test_text_in_a_numeric_column(det):
    rows = planted_table(20, 9).astype({"n2": object})
    rows.loc[7, "n2"] = "n/a?"
    with pytest.raises(DataError, match=r"column 'n2', row 7: 'n/a\?' is not a finite number"):
        det.decision_function(rows)
    det.table_encoder_.errors = "coerce"  # read such cells as missing instead
    try:
        assert np.isfinite(det.decision_function(rows)).all()
    finally:
        det.table_encoder_.errors = "raise"


def test_degenerate_columns_are_handled():
    df = planted_table(600, 10)
    df["empty"] = np.nan
    df["constant"] = 3.0
    df["one_level"] = "same"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        det = AutoEncoderDetector(small_model(epochs=10), random_state=0).fit(df)
    text = " ".join(str(w.message) for w in caught)
    assert "'empty' has no values" in text and "'constant' has one value" in text and "'one_level' has one category" in text
    rows = planted_table(30, 11).assign(empty=np.nan, constant=3.0, one_level="same")
    assert np.isfinite(det.decision_function(rows)).all()
    # the dropped all-missing column is not required at scoring
    assert np.isfinite(det.decision_function(rows.drop(columns="empty"))).all()


def test_label_and_ignored_columns_are_left_out():
    df = planted_table(600, 12).assign(id=np.arange(600), fraud=0)
    det = AutoEncoderDetector(small_model(epochs=5), random_state=0).fit(
        df, table_encoder=TableEncoder(label_column="fraud", ignore_columns=["id"]))
    assert "id" not in det.table_encoder_.encoded_columns_ and "fraud" not in det.table_encoder_.encoded_columns_
    assert np.isfinite(det.decision_function(df.drop(columns=["id", "fraud"]).head(5))).all()


def test_datetime_columns_are_refused_or_expanded():
    df = planted_table(300, 13).assign(when=pd.date_range("2024-01-01", periods=300, freq="h"))
    with pytest.raises(DataError, match="column 'when' holds dates"):
        AutoEncoderDetector(small_model(epochs=2), random_state=0).fit(df)
    det = AutoEncoderDetector(small_model(epochs=2), random_state=0).fit(df, table_encoder=TableEncoder(datetime="expand"))
    assert "when.elapsed_days" in det.table_encoder_.feature_names_out_


def test_table_options_are_checked():
    df = planted_table(100, 14)
    with pytest.raises(ConfigError, match="not for tables"):
        AutoEncoderDetector(small_model(), score="ssim").fit(df)
    with pytest.raises(ConfigError, match="table_encoder must be"):
        AutoEncoderDetector(small_model(epochs=1), random_state=0).fit(df, table_encoder={"label_column": "x"})
    with pytest.raises(ConfigError, match="table_encoder is for tables"):
        AutoEncoderDetector(small_model()).fit(df[NUMERIC].to_numpy(), table_encoder=TableEncoder())
    with pytest.raises(DataError, match="no rows"):
        AutoEncoderDetector(small_model()).fit(df.iloc[:0])
    arrays = AutoEncoderDetector(small_model(epochs=1), random_state=0).fit(df[NUMERIC].to_numpy())
    with pytest.raises(ConfigError, match="explain names the columns of a table"):
        arrays.explain(df[NUMERIC].to_numpy())
    fitted = AutoEncoderDetector(small_model(epochs=1), random_state=0).fit(df)
    with pytest.raises(ConfigError, match="top must be"):
        fitted.explain(df, top=0)


def test_autoencoder_takes_a_table():
    df = planted_table(400, 15)
    ae = small_model(epochs=5).fit(df)
    assert not ae.model_config_.standardize  # the encoding already scaled the columns
    assert ae.transform(df).shape == (400, 3)
    assert ae.reconstruct(df).shape == (400, ae.table_encoder_.n_features_out_)
    # arrays given to a table model are taken as encoded
    X, _ = ae.table_encoder_.transform(df)
    assert np.allclose(ae.transform(X), ae.transform(df))
    # a refit on arrays forgets the table
    ae.fit(np.random.default_rng(0).normal(size=(100, 4)))
    assert not hasattr(ae, "table_encoder_")
