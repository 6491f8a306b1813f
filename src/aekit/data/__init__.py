"""Datasets: built-in (digits, MNIST, Fashion-MNIST), files (npz/npy/csv/IDX/image folders),
download (mirrors + md5 + cache: `aekit.data.download.download`) and noise (the corruptions
used by denoising autoencoders: `aekit.data.noise`)."""
from aekit.data.builtin import default_data_dir, list_datasets
from aekit.data.dataset import Dataset
from aekit.data.loader import SPLITS, load, split_indices
from aekit.data.noise import Noise, parse_noise

__all__ = [
    "Dataset", "Noise", "SPLITS", "default_data_dir", "list_datasets", "load", "parse_noise", "split_indices",
]
