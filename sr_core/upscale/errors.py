"""Exceptions raised by the upscaler."""
from __future__ import annotations


class UpscaleCancelled(Exception):
    """The ``cancel`` callback or event asked the upscale to stop (raised
    between tiles; the partial output is discarded)."""


class UpscaleOutOfMemory(RuntimeError):
    """Out of memory even with the smallest tile the model's overlap allows."""
