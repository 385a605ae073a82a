"""Errors raised for weight files. Each message says what is wrong and what to do."""
from __future__ import annotations


class GenSRError(Exception):
    """Base class of every error GenSR raises on purpose."""


class WeightFileError(GenSRError, ValueError):
    """The file is missing, empty, truncated, corrupt or not a weight file."""


class UnsafeWeightFileError(WeightFileError):
    """The file is a pickle that needs code execution to load; it was not run."""


class UnknownArchitectureError(GenSRError, ValueError):
    """The tensors do not match any architecture GenSR implements."""


class HubError(GenSRError):
    """A Hugging Face Hub source could not be resolved to a usable local file."""


class HubSourceError(HubError, ValueError):
    """The ``hf://`` address or the repo/file/revision arguments are malformed or ambiguous."""


class HubOfflineError(HubError, ConnectionError):
    """The Hub cannot be reached (or offline mode is on) and the file is not in the local cache."""


class HubRepoNotFoundError(HubError, FileNotFoundError):
    """The repository does not exist, or is private and the token in use cannot see it."""


class HubRevisionNotFoundError(HubError, FileNotFoundError):
    """The repository has no such branch, tag or commit."""


class HubFileNotFoundError(HubError, FileNotFoundError):
    """The repository has no such file at the requested revision."""


class HubAccessError(HubError, PermissionError):
    """The repository is gated or private, or the token was refused."""


class HubDownloadError(HubError, OSError):
    """The download failed or was cut short; nothing incomplete was kept."""


class HubIntegrityError(HubError, WeightFileError):
    """The file's sha256 differs from the expected one; it was not loaded (and not deleted)."""


class HubUnsafeFileError(HubError, UnsafeWeightFileError):
    """A Hub pickle refused: ``allow_pickle=False``, torch < 2.6, or a file whose content is not what its name says."""
