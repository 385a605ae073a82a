"""A small declarative description of a node, from which both the V1
(``INPUT_TYPES``) and the V3 (``comfy_api.latest.io``) classes are built, so
the two registrations share ids, inputs, tooltips and behaviour.

Importing this module is cheap: no torch, no ComfyUI.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

#: Socket/widget types used by the pack (ComfyUI type names).
UPSCALE_MODEL, IMAGE, INT, FLOAT, STRING, COMBO = "UPSCALE_MODEL", "IMAGE", "INT", "FLOAT", "STRING", "COMBO"


@dataclass(frozen=True)
class Param:
    """One node input. ``options`` (combos) is a list or a zero-argument
    function listing them at input-listing time."""

    name: str
    type: str
    tooltip: str
    default: Any = None
    min: Optional[float] = None
    max: Optional[float] = None
    step: Optional[float] = None
    options: Union[Sequence[str], Callable[[], Sequence[str]], None] = None

    def choices(self) -> list[str]:
        opts = self.options() if callable(self.options) else self.options
        return list(opts or [])

    def widget_options(self) -> dict[str, Any]:
        """The V1 options dict (tooltip, default, bounds) of this input."""
        out: dict[str, Any] = {"tooltip": self.tooltip}
        for key in ("default", "min", "max", "step"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class Result:
    """One node output."""

    name: str
    type: str
    tooltip: str


@dataclass
class NodeResult:
    """What a node run returns: output values and optional UI data."""

    values: tuple
    ui: Optional[dict] = None


@dataclass(frozen=True)
class NodeDef:
    """A node: stable id, names, inputs, outputs and the dotted path of the
    function running it (imported only when the node runs)."""

    node_id: str
    display_name: str
    description: str
    category: str
    inputs: tuple[Param, ...]
    outputs: tuple[Result, ...]
    run: str
    output_node: bool = False
    validate: Optional[Callable[..., Union[bool, str]]] = None
    search_aliases: tuple[str, ...] = field(default_factory=tuple)

    def runner(self) -> Callable[..., NodeResult]:
        module, func = self.run.rsplit(":", 1)
        return getattr(importlib.import_module(module, __package__), func)

    def execute(self, **kwargs: Any) -> NodeResult:
        """Run the node on its inputs (shared by the V1 and V3 classes)."""
        result = self.runner()(**kwargs)
        if not isinstance(result, NodeResult):
            raise TypeError(f"{self.run} returned {type(result).__name__}, expected NodeResult")
        return result
