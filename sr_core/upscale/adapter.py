"""One view of the two kinds of model the upscaler accepts.

* a GenSR generator: an ``nn.Module`` with ``scale``, ``in_channels``,
  ``out_channels`` and ``size_multiple``;
* a spandrel-style descriptor (what ComfyUI's core "Load Upscale Model" node
  returns): an object with ``.model`` (the ``nn.Module``), ``.scale``,
  ``.input_channels``, ``.output_channels`` and
  ``.size_requirements.multiple_of`` / ``.minimum`` / ``.square``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import nn


@dataclass
class ModelSpec:
    """What the upscaler needs to know about a model."""

    module: nn.Module
    scale: int
    in_channels: int
    out_channels: int
    multiple: int = 1
    minimum: int = 0
    square: bool = False
    supports_half: bool = True
    supports_bfloat16: bool = True
    call: Optional[Callable[[nn.Module, torch.Tensor], torch.Tensor]] = None
    name: str = ""

    def forward(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return self.call(module, x) if self.call is not None else module(x)


def _int_attr(obj: Any, name: str, what: str) -> int:
    value = getattr(obj, name, None)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError(f"{what} has no usable {name!r} (got {value!r}); expected a positive integer")
    return value


def model_spec(model: Any) -> ModelSpec:
    """Normalise a GenSR generator, a spandrel-style descriptor or a ``ModelSpec``."""
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, nn.Module):
        what = f"model {type(model).__name__}"
        if not hasattr(model, "scale"):
            raise TypeError(
                f"{what} has no 'scale' attribute: pass a model from gensr.load_model, "
                "or a descriptor with .model/.scale/.input_channels/.output_channels"
            )
        return ModelSpec(
            module=model,
            scale=_int_attr(model, "scale", what),
            in_channels=_int_attr(model, "in_channels", what),
            out_channels=_int_attr(model, "out_channels", what),
            multiple=int(getattr(model, "size_multiple", 1) or 1),
            name=str(getattr(model, "arch", type(model).__name__)),
        )
    module = getattr(model, "model", None)
    if isinstance(module, nn.Module):
        what = f"model descriptor {type(model).__name__}"
        req = getattr(model, "size_requirements", None)
        arch = getattr(model, "architecture", None)
        return ModelSpec(
            module=module,
            scale=_int_attr(model, "scale", what),
            in_channels=_int_attr(model, "input_channels", what),
            out_channels=_int_attr(model, "output_channels", what),
            multiple=int(getattr(req, "multiple_of", 1) or 1),
            minimum=int(getattr(req, "minimum", 0) or 0),
            square=bool(getattr(req, "square", False)),
            supports_half=bool(getattr(model, "supports_half", True)),
            supports_bfloat16=bool(getattr(model, "supports_bfloat16", True)),
            call=getattr(model, "_call_fn", None),
            name=str(getattr(arch, "name", None) or type(module).__name__),
        )
    raise TypeError(
        f"cannot upscale with a {type(model).__name__}: pass a GenSR model (gensr.load_model) "
        "or a ComfyUI/spandrel upscale model descriptor"
    )
