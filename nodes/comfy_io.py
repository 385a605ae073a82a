"""ComfyUI's V3 node API (``io``, ``ComfyExtension``) for GenSR's node classes.

Inside a ComfyUI that has the V3 API these are ComfyUI's own, from a pinned API
version (``comfy_api.v0_0_3``, else ``v0_0_2``) with the unstable
``comfy_api.latest`` as the last resort. Elsewhere (ComfyUI before the V3 API,
tests, scripts) they come from the small stand-in below, whose ``ComfyNode``
derives V1's ``INPUT_TYPES`` / ``RETURN_TYPES`` / ``FUNCTION`` / ``CATEGORY``
from the node's ``define_schema()``, so V1 and V3 cannot drift apart.

Cheap: imports neither torch nor a model.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
from types import SimpleNamespace
from typing import Any, Optional, Sequence

log = logging.getLogger(__name__)

#: Where GenSR's nodes are in ComfyUI's node menu.
CATEGORY = "image/upscaling/GenSR"

#: Pinned V3 API versions, newest first; ``latest`` is tried after them.
PINNED_VERSIONS = ("v0_0_3", "v0_0_2")

#: What the nodes use from ``io``: a ComfyUI lacking any of it gets V1 nodes.
USED = ("ComfyNode", "Schema", "NodeOutput", "Combo", "Int", "Float", "String", "Image", "UpscaleModel")


def find_comfy_api() -> Optional[tuple[str, Any, Any]]:
    """``(version, io, ComfyExtension)`` of the first usable V3 API version, or ``None``."""
    for version in (*PINNED_VERSIONS, "latest"):
        name = f"comfy_api.{version}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name not in ("comfy_api", name):  # the version is there but needs something missing
                log.warning("GenSR: %s does not import (%s)", name, e)
            continue
        except Exception as e:  # present but broken: try the next version
            log.warning("GenSR: %s does not import (%s)", name, e)
            continue
        io_module, extension = getattr(module, "io", None), getattr(module, "ComfyExtension", None)
        missing = [attr for attr in USED if not hasattr(io_module, attr)] if io_module is not None else ["io"]
        if extension is None or missing:
            log.warning("GenSR: %s lacks %s; not using it", name, ", ".join(missing) or "ComfyExtension")
            continue
        return version, io_module, extension
    return None


class _classproperty:
    def __init__(self, getter) -> None:
        self.getter = getter

    def __get__(self, obj, cls):
        return self.getter(cls)


# ---- the stand-in for ComfyUI without the V3 API


class _Input:
    io_type = ""

    def __init__(self, id: str, *, display_name: Optional[str] = None, optional: bool = False,
                 tooltip: Optional[str] = None, default: Any = None, **widget: Any) -> None:
        self.id, self.display_name, self.optional = id, display_name, optional
        self.tooltip, self.default, self.widget = tooltip, default, widget

    def as_v1(self) -> tuple:
        """``(type, options)`` for V1's ``INPUT_TYPES``; a combo's type is its list of options."""
        options = {"display_name": self.display_name, "tooltip": self.tooltip, "default": self.default, **self.widget}
        kind = list(options.pop("options")) if self.io_type == "COMBO" else self.io_type
        return kind, {k: v for k, v in options.items() if v is not None}


class _Output:
    io_type = ""

    def __init__(self, id: Optional[str] = None, display_name: Optional[str] = None,
                 tooltip: Optional[str] = None, is_output_list: bool = False) -> None:
        self.id, self.display_name, self.tooltip, self.is_output_list = id, display_name or id, tooltip, is_output_list


def _v1_type(io_type: str, *widget_options: str, **defaults: Any) -> type:
    """``io.<Type>`` for ``io_type``: its ``Input`` takes the common options
    plus ``widget_options``, with ComfyUI's ``defaults`` for them."""
    allowed = {"display_name", "optional", "tooltip", "default", *widget_options}

    class Input(_Input):
        def __init__(self, id: str, **kwargs: Any) -> None:
            unknown = sorted(set(kwargs) - allowed)
            if unknown:
                raise TypeError(f"{io_type} input {id!r} has no option {', '.join(unknown)}")
            super().__init__(id, **{**defaults, **kwargs})

    Input.io_type = io_type
    output = type("Output", (_Output,), {"io_type": io_type})
    return type(io_type, (), {"io_type": io_type, "Input": Input, "Output": output})


@dataclasses.dataclass
class _Schema:
    node_id: str
    display_name: Optional[str] = None
    category: str = "sd"
    inputs: list = dataclasses.field(default_factory=list)
    outputs: list = dataclasses.field(default_factory=list)
    description: str = ""
    search_aliases: list = dataclasses.field(default_factory=list)
    is_output_node: bool = False


class _NodeOutput:
    def __init__(self, *args: Any, ui: Optional[dict] = None) -> None:
        self.args, self.ui = args, ui

    @property
    def result(self) -> Optional[tuple]:
        return self.args or None


class _ComfyNode:
    """A V3-style node class that V1 ComfyUI can run: every V1 attribute is
    read from ``define_schema()``, and ``FUNCTION`` calls ``execute()``."""

    FUNCTION = "execute_v1"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "validate_inputs" in vars(cls):
            cls.VALIDATE_INPUTS = cls.validate_inputs

    @classmethod
    def define_schema(cls) -> _Schema:
        raise NotImplementedError

    @classmethod
    def execute(cls, **kwargs: Any) -> _NodeOutput:
        raise NotImplementedError

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, dict[str, tuple]]:
        inputs: dict[str, dict[str, tuple]] = {"required": {}}
        for i in cls.define_schema().inputs:
            inputs.setdefault("optional" if i.optional else "required", {})[i.id] = i.as_v1()
        return inputs

    RETURN_TYPES = _classproperty(lambda cls: tuple(o.io_type for o in cls.define_schema().outputs))
    RETURN_NAMES = _classproperty(lambda cls: tuple(o.display_name or o.io_type for o in cls.define_schema().outputs))
    OUTPUT_TOOLTIPS = _classproperty(lambda cls: tuple(o.tooltip for o in cls.define_schema().outputs))
    CATEGORY = _classproperty(lambda cls: cls.define_schema().category)
    DESCRIPTION = _classproperty(lambda cls: cls.define_schema().description)
    OUTPUT_NODE = _classproperty(lambda cls: cls.define_schema().is_output_node)
    SEARCH_ALIASES = _classproperty(lambda cls: list(cls.define_schema().search_aliases))

    def execute_v1(self, **inputs: Any):
        out = type(self).execute(**inputs)
        return out.args if out.ui is None else {"ui": out.ui, "result": out.args}


class _ComfyExtension:
    async def on_load(self) -> None:
        pass

    async def get_node_list(self) -> list:
        raise NotImplementedError


_V1_IO = SimpleNamespace(
    ComfyNode=_ComfyNode,
    Schema=_Schema,
    NodeOutput=_NodeOutput,
    Combo=_v1_type("COMBO", "options"),
    Int=_v1_type("INT", "min", "max", "step"),
    Float=_v1_type("FLOAT", "min", "max", "step", "round"),
    String=_v1_type("STRING", "multiline", "placeholder", multiline=False),
    Image=_v1_type("IMAGE"),
    UpscaleModel=_v1_type("UPSCALE_MODEL"),
)

_found = find_comfy_api()
#: Which API the node classes are built on: a ``comfy_api`` version, or "v1".
API_VERSION: str = _found[0] if _found else "v1"
io: Any = _found[1] if _found else _V1_IO
ComfyExtension: Any = _found[2] if _found else _ComfyExtension
if _found:  # inside ComfyUI: say which API the nodes use (outside it there is nothing to say)
    log.info("GenSR: nodes use ComfyUI's comfy_api.%s", API_VERSION)


def schema(*, search_aliases: Sequence[str] = (), **fields: Any):
    """``io.Schema(**fields)``, with ``search_aliases`` where this ComfyUI knows them."""
    known = {f.name for f in dataclasses.fields(io.Schema)} if dataclasses.is_dataclass(io.Schema) else set()
    if "search_aliases" in known:
        fields["search_aliases"] = list(search_aliases)
    return io.Schema(**fields)
