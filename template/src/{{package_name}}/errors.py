"""Domain errors with actionable messages.

Every error the CLI can hit derives from :class:`ProjectError`, so the CLI can
print one clear line and exit non-zero instead of a traceback.
"""


class ProjectError(Exception):
    """Base class for errors a user can fix; the message says how."""


class ConfigError(ProjectError):
    """``params.yaml`` (or another configuration file) is missing or invalid."""


class DataValidationError(ProjectError):
    """Input data does not match its declared schema."""


class ModelNotFittedError(ProjectError):
    """A model was asked to predict before it was trained."""


class ModelNotFoundError(ProjectError):
    """A requested model, strategy or artifact does not exist."""


class GateFailedError(ProjectError):
    """A promotion was refused by one or more gates; nothing was changed."""


class RegistryError(ProjectError):
    """A registry operation is not allowed in the registry's current state."""


class ProvenanceError(ProjectError):
    """A model artifact does not match the digests recorded when it was registered."""


class TrackingServerError(ProjectError):
    """The MLflow tracking server is unreachable or refused the request."""
