"""Error types. Every problem a user can cause ends in one of these, with a message that names
the file or parameter and what is wrong; the CLI prints the message without a traceback."""


class AekitError(Exception):
    """Base class of every error aekit raises on purpose."""


class DataError(AekitError, ValueError):
    """Input data is missing, malformed, or not what the operation needs."""


class DownloadError(AekitError):
    """A dataset download failed or did not verify."""


class ConfigError(AekitError, ValueError):
    """A model or training option is invalid or inconsistent."""


class RunFolderError(AekitError):
    """A run folder is missing, incomplete, altered, or from another model."""


class TrainingError(AekitError):
    """Training could not continue (for example the loss became NaN or inf)."""


class AekitWarning(UserWarning):
    """Something works but is probably not what the user wants."""
