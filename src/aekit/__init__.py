"""aekit: autoencoders that work, always measured against PCA."""

__version__ = "0.1.0"

from aekit.errors import AekitError  # noqa: E402

# The estimators pull in torch and scikit-learn; import them on first use so `aekit --help`
# and `aekit.data` stay quick.
_LAZY = {"AutoEncoder": "aekit.estimators", "AutoEncoderDetector": "aekit.estimators",
         "ImageIndex": "aekit.tasks.index", "Colorizer": "aekit.estimators",
         "VariationalAutoEncoder": "aekit.estimators", "AutoEncoderClassifier": "aekit.estimators"}

__all__ = ["AekitError", "AutoEncoder", "AutoEncoderClassifier", "AutoEncoderDetector", "Colorizer", "ImageIndex", "VariationalAutoEncoder", "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aekit' has no attribute {name!r}")
