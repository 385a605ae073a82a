"""V3 node classes (``comfy_api.latest.io.ComfyNode``) built from the shared
node definitions. Imported only when ``comfy_api.latest`` is importable."""
from __future__ import annotations

import inspect
from typing import Any

from comfy_api.latest import ComfyExtension, io

from .spec import COMBO, FLOAT, IMAGE, INT, STRING, UPSCALE_MODEL, NodeDef, Param, Result

_TYPES = {UPSCALE_MODEL: io.UpscaleModel, IMAGE: io.Image, INT: io.Int, FLOAT: io.Float, STRING: io.String, COMBO: io.Combo}


def _input(p: Param):
    kind = _TYPES[p.type]
    if p.type == COMBO:
        return kind.Input(p.name, options=p.choices(), default=p.default, tooltip=p.tooltip)
    if p.type in (INT, FLOAT):
        return kind.Input(p.name, default=p.default, min=p.min, max=p.max, step=p.step, tooltip=p.tooltip)
    if p.type == STRING:
        return kind.Input(p.name, default=p.default, tooltip=p.tooltip)
    return kind.Input(p.name, tooltip=p.tooltip)


def _output(r: Result, input_names: set[str]):
    # V3 ids must differ from input ids; the name shown on the socket stays r.name.
    out_id = f"{r.name}_out" if r.name in input_names else r.name
    return _TYPES[r.type].Output(out_id, display_name=r.name, tooltip=r.tooltip)


def schema(node: NodeDef) -> "io.Schema":
    """The V3 schema of ``node`` (built on each call: combo lists stay fresh)."""
    names = {p.name for p in node.inputs}
    kwargs: dict[str, Any] = dict(
        node_id=node.node_id,
        display_name=node.display_name,
        category=node.category,
        description=node.description,
        inputs=[_input(p) for p in node.inputs],
        outputs=[_output(r, names) for r in node.outputs],
        is_output_node=node.output_node,
    )
    if "search_aliases" in inspect.signature(io.Schema).parameters:  # newer ComfyUI only
        kwargs["search_aliases"] = list(node.search_aliases)
    return io.Schema(**kwargs)


def v3_class(node: NodeDef) -> type:
    """A ``io.ComfyNode`` subclass for ``node``."""

    def define_schema(cls):
        return schema(node)

    def execute(cls, **kwargs: Any):
        result = node.execute(**kwargs)
        return io.NodeOutput(*result.values, ui=result.ui)

    attrs: dict[str, Any] = {
        "__doc__": node.description,
        "define_schema": classmethod(define_schema),
        "execute": classmethod(execute),
        "GENSR_NODE": node,
    }
    if node.validate is not None:
        attrs["validate_inputs"] = classmethod(node.validate)
    return type(node.node_id, (io.ComfyNode,), attrs)


class GenSRExtension(ComfyExtension):
    """The pack as a V3 extension."""

    def __init__(self, classes: list[type]) -> None:
        self._classes = classes

    async def get_node_list(self) -> list[type]:
        return list(self._classes)
