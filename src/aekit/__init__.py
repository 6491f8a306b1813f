"""aekit: autoencoders that work, always measured against PCA."""

__version__ = "0.1.0"

from aekit.errors import AekitError  # noqa: E402

__all__ = ["AekitError", "__version__"]
