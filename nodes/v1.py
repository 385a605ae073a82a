"""V1 node classes (``INPUT_TYPES`` / ``RETURN_TYPES`` / ``FUNCTION``) built
from the shared node definitions, for ComfyUI versions without ``comfy_api.latest``."""
from __future__ import annotations

from typing import Any

from .spec import COMBO, NodeDef


def input_types(node: NodeDef) -> dict[str, dict[str, tuple]]:
    """``INPUT_TYPES()`` of ``node``: cheap (lists file names, loads nothing)."""
    required: dict[str, tuple] = {}
    for p in node.inputs:
        kind = p.choices() if p.type == COMBO else p.type
        required[p.name] = (kind, p.widget_options())
    return {"required": required}


def v1_class(node: NodeDef) -> type:
    """A V1 node class for ``node``."""

    def run(self, **kwargs: Any):
        result = node.execute(**kwargs)
        if result.ui is None:
            return result.values
        return {"ui": result.ui, "result": result.values}

    attrs: dict[str, Any] = {
        "__doc__": node.description,
        "INPUT_TYPES": classmethod(lambda cls: input_types(node)),
        "RETURN_TYPES": tuple(r.type for r in node.outputs),
        "RETURN_NAMES": tuple(r.name for r in node.outputs),
        "OUTPUT_TOOLTIPS": tuple(r.tooltip for r in node.outputs),
        "FUNCTION": "run",
        "CATEGORY": node.category,
        "DESCRIPTION": node.description,
        "OUTPUT_NODE": node.output_node,
        "SEARCH_ALIASES": list(node.search_aliases),
        "run": run,
        "GENSR_NODE": node,
    }
    if node.validate is not None:
        attrs["VALIDATE_INPUTS"] = classmethod(node.validate)
    return type(node.node_id, (), attrs)
