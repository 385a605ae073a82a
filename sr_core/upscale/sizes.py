"""Transitional: the GenSR Upscale node imports ``output_size`` from here.
It lives in ``plan``; remove this module once nodes/ imports from
``sr_core.upscale`` directly."""
from .plan import output_size, padded_size  # noqa: F401
