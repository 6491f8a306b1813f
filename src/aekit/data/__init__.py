"""Datasets: built-in (digits, MNIST, Fashion-MNIST), files (npz/npy/csv/IDX/image folders),
download (mirrors + md5 + cache) and noise (the corruptions used by denoising autoencoders)."""
from aekit.data.builtin import default_data_dir, list_datasets
from aekit.data.dataset import Dataset
from aekit.data.loader import SPLITS, load, split_indices

__all__ = ["Dataset", "SPLITS", "default_data_dir", "list_datasets", "load", "split_indices"]
