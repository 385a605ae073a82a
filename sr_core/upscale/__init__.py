"""Tiled, seam-free, memory-bounded upscaling with any GenSR or spandrel-style model.

``upscale(model, image, options, **changes)`` is the entry point (also
``gensr.upscale``). The modules, one per concern:

* ``options``: :class:`UpscaleOptions`, what a caller can ask;
* ``spec``: the model and the image as the engine sees them (size rules,
  channels, layouts);
* ``measure``: what is measured about a model (context, memory per pixel);
* ``plan``: the pure plan (windows, cores, context, batch, sizes) and the
  out-of-memory re-plan;
* ``run``: the executor and the model's converted weights;
* ``write``: the writer, the one place results reach the output's device and dtype;
* ``devices``: devices, CPU threads and precision;
* ``resample``: tile-by-tile resizing.
"""
from .devices import PRECISIONS, pick_device
from .errors import UpscaleCancelled, UpscaleOutOfMemory
from .options import UpscaleOptions, UpscaleWarning
from .plan import Budget, ModelFacts, Tile, UpscalePlan, backoff, output_size, plan_tiles, plan_upscale
from .resample import Resizer2d, resize
from .run import converted_weights_bytes, forget_converted_weights, upscale, weights_memory_required
from .spec import ModelSpec, model_spec

__all__ = [
    "Budget",
    "ModelFacts",
    "ModelSpec",
    "PRECISIONS",
    "Resizer2d",
    "Tile",
    "UpscaleCancelled",
    "UpscaleOptions",
    "UpscaleOutOfMemory",
    "UpscalePlan",
    "UpscaleWarning",
    "backoff",
    "converted_weights_bytes",
    "forget_converted_weights",
    "model_spec",
    "output_size",
    "pick_device",
    "plan_tiles",
    "plan_upscale",
    "resize",
    "upscale",
    "weights_memory_required",
]
