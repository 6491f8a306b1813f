"""Training from a row source: the same weights as from memory (same seed, same order), in the
training process or in DataLoader workers, and a worker's error as one DataError."""
import textwrap

import numpy as np
import pytest
import torch

from aekit.data.sources import MemmapSource, RowSource
from aekit.errors import ConfigError, DataError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
from aekit.train.batches import EpochBatches, epoch_index_batches
from aekit.train.trainer import TrainConfig, Trainer

from tests.train.test_distributed import TORCHRUN, launch, max_difference


def write_uint8(path, n=203, d=12, seed=0):
    X = np.random.default_rng(seed).integers(0, 256, (n, d), dtype=np.uint8)
    np.save(path, X)
    Xf = X.astype(np.float32)
    Xf *= np.float32(1 / 255)
    return Xf


def train(X, X_val=None, epochs=3, **config):
    torch.manual_seed(0)
    model = AutoEncoderModel(ModelConfig(input_shape=(12,), hidden=(8,), latent_dim=3))
    history = Trainer(TrainConfig(epochs=epochs, batch_size=32, progress=False, **config)).fit(model, X, X_val)
    return model.state_dict(), history


@pytest.mark.parametrize("workers", [0, 2])
def test_a_streamed_run_trains_the_weights_of_the_in_ram_run(tmp_path, workers):
    Xf = write_uint8(tmp_path / "x.npy")
    source = MemmapSource(tmp_path / "x.npy", num_workers=workers)
    X_val = torch.from_numpy(Xf[:20])
    ram, h_ram = train(torch.from_numpy(Xf), X_val)
    disk, h_disk = train(source, X_val)
    assert max_difference(ram, disk) < 1e-6
    assert [r["loss"] for r in h_ram] == pytest.approx([r["loss"] for r in h_disk], rel=1e-6)


def test_a_validation_source_is_read_once_into_memory(tmp_path):
    Xf = write_uint8(tmp_path / "x.npy")
    _, history = train(MemmapSource(tmp_path / "x.npy"), MemmapSource(tmp_path / "x.npy"), epochs=1)
    _, ram = train(torch.from_numpy(Xf), torch.from_numpy(Xf), epochs=1)
    assert history[0]["val_loss"] == pytest.approx(ram[0]["val_loss"], rel=1e-6)


class BrokenImages(RowSource):
    """A source whose row 5 is a file that does not decode (as an image folder's would)."""

    def __init__(self, workers):
        self.shape, self.value_range, self.num_workers, self.name = (40, 12), (0.0, 1.0), workers, "broken"

    def read(self, index):
        if 5 in index:
            raise DataError("photos/cat-005.png: cannot decode the image (truncated file)")
        return np.zeros((len(index), 12), np.float32)

    def describe(self):
        return {"kind": "test", "rows": 40}


@pytest.mark.parametrize("workers", [0, 2])
def test_a_worker_error_is_one_data_error_with_the_file_name(workers):
    model = AutoEncoderModel(ModelConfig(input_shape=(12,), hidden=(8,), latent_dim=3))
    trainer = Trainer(TrainConfig(epochs=1, batch_size=8, progress=False))
    with pytest.raises(DataError) as info:
        trainer.fit(model, BrokenImages(workers))
    assert str(info.value) == "photos/cat-005.png: cannot decode the image (truncated file)"
    assert "Traceback" not in str(info.value) and "worker" not in str(info.value)


class Exploding(BrokenImages):
    def read(self, index):
        raise OSError("disk went away")


def test_another_worker_error_is_a_data_error_naming_the_source():
    with pytest.raises(DataError, match=r"broken: reading a batch failed in a DataLoader worker \(OSError: disk"):
        list(EpochBatches(Exploding(1), epoch_index_batches(torch.arange(40), 8, 0, 1), torch.device("cpu"),
                          torch.float32))


def test_masks_of_observed_cells_need_data_in_memory(tmp_path):
    write_uint8(tmp_path / "x.npy")
    model = AutoEncoderModel(ModelConfig(input_shape=(12,), hidden=(8,), latent_dim=3))
    with pytest.raises(ConfigError, match="observed-value masks need the training data in memory"):
        Trainer(TrainConfig(epochs=1, progress=False)).fit(model, MemmapSource(tmp_path / "x.npy"),
                                                           observed=torch.ones(203, 12, dtype=torch.bool))


# Each rank reads only its share of each global batch (counted), and the 2-process weights equal
# the 1-process ones trained from memory.
STREAM_SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np, torch
    from aekit.data.sources import MemmapSource
    from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
    from aekit.train.distributed import distributed_session
    from aekit.train.trainer import TrainConfig, Trainer

    class Counting(MemmapSource):
        rows_read = 0
        def read(self, index):
            Counting.rows_read += len(index)
            return super().read(index)

    out = sys.argv[1]
    with distributed_session() as (rank, world):
        torch.manual_seed(0)
        model = AutoEncoderModel(ModelConfig(input_shape=(12,), hidden=(8,), latent_dim=3))
        source = Counting(f"{out}/x.npy")
        Trainer(TrainConfig(epochs=2, batch_size=32, progress=False)).fit(model, source)
        torch.save(model.state_dict(), f"{out}/stream-{rank}-of-{world}.pt")
        with open(f"{out}/rows-{rank}-of-{world}.json", "w") as f:
            json.dump(Counting.rows_read, f)
''')


@pytest.mark.slow  # a torchrun launch takes ~20 s on 2 busy cores
def test_two_gloo_ranks_each_read_their_share_and_train_the_one_process_weights(tmp_path):
    Xf = write_uint8(tmp_path / "x.npy")
    script = tmp_path / "stream_ddp.py"
    script.write_text(STREAM_SCRIPT)
    done = launch([*TORCHRUN, str(script), str(tmp_path)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    w0, w1 = (torch.load(tmp_path / f"stream-{r}-of-2.pt") for r in (0, 1))
    ram, _ = train(torch.from_numpy(Xf), epochs=2)
    assert max_difference(w0, w1) == 0.0
    assert max_difference(w0, ram) < 1e-4
    rows = [int((tmp_path / f"rows-{r}-of-2.json").read_text()) for r in (0, 1)]
    # 2 epochs of 203 rows split across the ranks (+1 row each for sizing the thread count)
    assert rows == [2 * 102 + 1, 2 * 101 + 1]
