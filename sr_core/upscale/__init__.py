"""Tiled, seam-free, memory-bounded upscaling with any GenSR or spandrel-style model.

``upscale(model, image, ...)`` is the entry point (also ``gensr.upscale``).
"""
from .adapter import ModelSpec, model_spec
from .engine import upscale
from .errors import UpscaleCancelled, UpscaleOutOfMemory
from .resample import Resizer2d, resize
from .tiles import Tile, plan_tiles

__all__ = [
    "ModelSpec",
    "Resizer2d",
    "Tile",
    "UpscaleCancelled",
    "UpscaleOutOfMemory",
    "model_spec",
    "plan_tiles",
    "resize",
    "upscale",
]
