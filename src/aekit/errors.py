"""Error types. Every problem a user can cause ends in one of these, with a message that names
the file or parameter and what is wrong; the CLI prints the message without a traceback."""


class AekitError(Exception):
    """Base class of every error aekit raises on purpose.

    Catch it to handle any problem aekit reports with a message meant for the user; its
    subclasses say what kind of problem it is.

    Examples
    --------
    >>> try:
    ...     raise DataError("X has 3 columns, the model expects 4")
    ... except AekitError as exc:
    ...     print(type(exc).__name__, "-", exc)
    DataError - X has 3 columns, the model expects 4
    """


class DataError(AekitError, ValueError):
    """Input data is missing, malformed, or not what the operation needs.

    A ``ValueError`` too, so code written for scikit-learn's checks catches it.

    Examples
    --------
    >>> issubclass(DataError, ValueError)
    True
    """


class DownloadError(AekitError):
    """A dataset download failed or did not verify."""


class ConfigError(AekitError, ValueError):
    """A model or training option is invalid or inconsistent.

    A ``ValueError`` too, as scikit-learn raises for a bad parameter.

    Examples
    --------
    >>> try:
    ...     raise ConfigError("latent_dim must be ≥ 1, got 0")
    ... except ValueError as exc:
    ...     print(exc)
    latent_dim must be ≥ 1, got 0
    """


class RunFolderError(AekitError):
    """A run folder is missing, incomplete, altered, or from another model."""


class TrainingError(AekitError):
    """Training could not continue (for example the loss became NaN or inf)."""


class AekitWarning(UserWarning):
    """Something works but is probably not what the user wants."""
