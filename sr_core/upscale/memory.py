"""Transitional: the GenSR Upscale node imports ``bytes_per_pixel`` from here.
Everything lives in ``measure`` (and ``run`` for the weights' memory); remove
this module once nodes/ imports from ``sr_core.upscale`` directly."""
from .measure import bytes_per_pixel  # noqa: F401
from .run import weights_memory_required  # noqa: F401
