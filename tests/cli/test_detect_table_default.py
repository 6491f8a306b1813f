"""`aekit detect fit` on a table file holds the table default (the RobustAutoEncoder the Python
detector picks for flat rows), not the image default; options given still override it."""
import json

import numpy as np
import pandas as pd

from tests.support import run_cli


def test_detect_fit_on_a_table_uses_the_table_default(tmp_path, capsys):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(300, 9)), columns=[f"c{i}" for i in range(9)])
    df.to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run_cli(["detect", "fit", "--data", tmp_path / "t.csv", "--out", tmp_path / "d", "--quiet"], capsys)
    assert code == 0, err
    config = json.loads((tmp_path / "d" / "config.json").read_text())
    assert config["estimator"] == "RobustAutoEncoder"
    assert config["model"]["latent_dim"] == 3  # ⌈√9⌉
    code, _, err = run_cli(["detect", "fit", "--data", tmp_path / "t.csv", "--out", tmp_path / "e", "--latent", "2",
                            "--quiet"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "e" / "config.json").read_text())["model"]["latent_dim"] == 2
