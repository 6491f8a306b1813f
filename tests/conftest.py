import os

import numpy as np
import pytest
import torch

# Under pytest-xdist each worker gets one thread, so 2 workers use the 2 cores without fighting.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture(scope="session")
def digits_flat() -> np.ndarray:
    from sklearn.datasets import load_digits

    return (load_digits().data / 16.0).astype(np.float32)


@pytest.fixture(scope="session")
def digits_splits():
    from aekit.data import load

    return load("digits", split="train"), load("digits", split="val"), load("digits", split="test")
