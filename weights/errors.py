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
