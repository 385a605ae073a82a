"""A stand-in for ComfyUI's versioned V3 node API (``comfy_api.latest`` and the
pinned ``comfy_api.v0_0_2`` / ``v0_0_3``, which re-export latest's ``io`` and
``ComfyExtension``), so the node tests can import GenSR's classes the way
ComfyUI does and read them the way ComfyUI reads them.

It follows ComfyUI's ``comfy_api/latest/_io.py`` (Comfy-Org/ComfyUI, 2025-2026)
for what GenSR uses: the ``Input`` / ``WidgetInput`` / ``Output`` signatures of
``Int``, ``Float``, ``String``, ``Combo``, ``Image`` and ``UpscaleModel``;
``Schema`` with ``validate`` (unique ids; ids shared by an input and an output
are refused, as before 2026), ``finalize`` and ``get_v1_info`` (what the server
sends as ``/object_info`` and what V1 validation reads); ``ComfyNode``'s V1
view (``INPUT_TYPES``, ``RETURN_TYPES``, ... read from the schema,
``FUNCTION = "EXECUTE_NORMALIZED"``); ``NodeOutput``; ``ComfyExtension``.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import types
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional


def _prune(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


class Input:
    io_type = ""

    def __init__(self, id: str, display_name: str = None, optional=False, tooltip: str = None, lazy: bool = None,
                 extra_dict=None, raw_link: bool = None, advanced: bool = None):
        self.id, self.display_name, self.optional, self.tooltip, self.lazy = id, display_name, optional, tooltip, lazy
        self.extra_dict = extra_dict or {}
        self.raw_link, self.advanced = raw_link, advanced

    def as_dict(self) -> dict:
        return _prune({"display_name": self.display_name, "optional": self.optional, "tooltip": self.tooltip,
                       "lazy": self.lazy, "rawLink": self.raw_link, "advanced": self.advanced}) | _prune(self.extra_dict)

    def get_io_type(self) -> str:
        return self.io_type


class WidgetInput(Input):
    def __init__(self, id: str, display_name: str = None, optional=False, tooltip: str = None, lazy: bool = None,
                 default: Any = None, socketless: bool = None, widget_type: str = None, force_input: bool = None,
                 extra_dict=None, raw_link: bool = None, advanced: bool = None):
        super().__init__(id, display_name, optional, tooltip, lazy, extra_dict, raw_link, advanced)
        self.default, self.socketless, self.widget_type, self.force_input = default, socketless, widget_type, force_input

    def as_dict(self) -> dict:
        return super().as_dict() | _prune({"default": self.default, "socketless": self.socketless,
                                           "widgetType": self.widget_type, "forceInput": self.force_input})


class Output:
    io_type = ""

    def __init__(self, id: str = None, display_name: str = None, tooltip: str = None, is_output_list=False):
        self.id = id
        self.display_name = display_name if display_name else id
        self.tooltip, self.is_output_list = tooltip, is_output_list


def _comfytype(io_type: str, input_class: type = Input) -> type:
    cls = type(io_type, (), {"io_type": io_type})
    cls.Input = type("Input", (input_class,), {"io_type": io_type})
    cls.Output = type("Output", (Output,), {"io_type": io_type})
    return cls


class _IntInput(WidgetInput):
    def __init__(self, id: str, display_name: str = None, optional=False, tooltip: str = None, lazy: bool = None,
                 default: int = None, min: int = None, max: int = None, step: int = None, control_after_generate=None,
                 display_mode=None, socketless: bool = None, force_input: bool = None, extra_dict=None,
                 raw_link: bool = None, advanced: bool = None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input, extra_dict,
                         raw_link, advanced)
        self.min, self.max, self.step = min, max, step
        self.control_after_generate, self.display_mode = control_after_generate, display_mode

    def as_dict(self) -> dict:
        return super().as_dict() | _prune({"min": self.min, "max": self.max, "step": self.step,
                                           "control_after_generate": self.control_after_generate,
                                           "display": self.display_mode})


class _FloatInput(WidgetInput):
    def __init__(self, id: str, display_name: str = None, optional=False, tooltip: str = None, lazy: bool = None,
                 default: float = None, min: float = None, max: float = None, step: float = None, round: float = None,
                 display_mode=None, gradient_stops=None, socketless: bool = None, force_input: bool = None,
                 extra_dict=None, raw_link: bool = None, advanced: bool = None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input, extra_dict,
                         raw_link, advanced)
        self.min, self.max, self.step, self.round = min, max, step, round
        self.display_mode, self.gradient_stops = display_mode, gradient_stops

    def as_dict(self) -> dict:
        return super().as_dict() | _prune({"min": self.min, "max": self.max, "step": self.step, "round": self.round,
                                           "display": self.display_mode, "gradient_stops": self.gradient_stops})


class _StringInput(WidgetInput):
    def __init__(self, id: str, display_name: str = None, optional=False, tooltip: str = None, lazy: bool = None,
                 multiline=False, placeholder: str = None, default: str = None, dynamic_prompts: bool = None,
                 socketless: bool = None, force_input: bool = None, extra_dict=None, raw_link: bool = None,
                 advanced: bool = None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input, extra_dict,
                         raw_link, advanced)
        self.multiline, self.placeholder, self.dynamic_prompts = multiline, placeholder, dynamic_prompts

    def as_dict(self) -> dict:
        return super().as_dict() | _prune({"multiline": self.multiline, "placeholder": self.placeholder,
                                           "dynamicPrompts": self.dynamic_prompts})


class _ComboInput(WidgetInput):
    def __init__(self, id: str, options: list = None, display_name: str = None, optional=False, tooltip: str = None,
                 lazy: bool = None, default: Any = None, control_after_generate=None, upload=None, image_folder=None,
                 remote=None, remote_combo=None, socketless: bool = None, extra_dict=None, raw_link: bool = None,
                 advanced: bool = None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, None, extra_dict,
                         raw_link, advanced)
        self.multiselect = False
        self.options, self.control_after_generate = options, control_after_generate

    def as_dict(self) -> dict:
        return super().as_dict() | _prune({"multiselect": self.multiselect, "options": self.options,
                                           "control_after_generate": self.control_after_generate})


@dataclass
class Schema:
    node_id: str
    display_name: str = None
    category: str = "sd"
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    hidden: list = field(default_factory=list)
    description: str = ""
    is_input_list: bool = False
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    is_api_node: bool = False
    not_idempotent: bool = False
    enable_expand: bool = False

    def validate(self) -> None:
        input_ids = [i.id for i in self.inputs]
        output_ids = [o.id for o in self.outputs]
        issues = []
        for kind, ids in (("Input", input_ids), ("Output", output_ids)):
            repeated = [i for i, n in Counter(ids).items() if n > 1]
            if repeated:
                issues.append(f"{kind} ids must be unique, but {repeated} are not.")
        shared = set(input_ids) & set(output_ids)
        if shared:
            issues.append(f"Ids must be unique between inputs and outputs, but {shared} are not.")
        if issues:
            raise ValueError("\n".join(issues))

    def finalize(self) -> None:
        if self.is_output_node:
            for hidden in ("PROMPT", "EXTRA_PNGINFO"):
                if hidden not in self.hidden:
                    self.hidden.append(hidden)
        for i, output in enumerate(self.outputs):
            if output.id is None:
                output.id = f"_{i}_{output.io_type}_"

    def get_v1_info(self) -> dict:
        """What ComfyUI's server sends for this node in ``/object_info``."""
        inputs: dict = {"required": {}}
        for i in self.inputs:
            options = i.as_dict()
            options.pop("optional", None)
            inputs.setdefault("optional" if i.optional else "required", {})[i.id] = (i.get_io_type(), options)
        return {
            "input": inputs,
            "input_order": {key: list(value) for key, value in inputs.items()},
            "output": [o.io_type for o in self.outputs],
            "output_is_list": [o.is_output_list for o in self.outputs],
            "output_name": [o.display_name if o.display_name else o.io_type for o in self.outputs],
            "output_tooltips": [o.tooltip if o.tooltip else None for o in self.outputs],
            "name": self.node_id,
            "display_name": self.display_name,
            "description": self.description,
            "category": self.category,
            "output_node": self.is_output_node,
        }


class _classproperty:
    def __init__(self, getter) -> None:
        self.getter = getter

    def __get__(self, obj, cls):
        return self.getter(cls)


class ComfyNode:
    """ComfyUI's V3 node base class, as the server and the executor see it."""

    hidden = None

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError

    @classmethod
    def execute(cls, **kwargs):
        raise NotImplementedError

    @classmethod
    def validate_inputs(cls, **kwargs):
        raise NotImplementedError

    @classmethod
    def FINALIZE_SCHEMA(cls) -> Schema:
        schema = cls.define_schema()
        schema.finalize()
        return schema

    @classmethod
    def GET_SCHEMA(cls) -> Schema:
        schema = cls.FINALIZE_SCHEMA()
        schema.validate()
        return schema

    @classmethod
    def GET_NODE_INFO_V1(cls) -> dict:
        return cls.GET_SCHEMA().get_v1_info()

    @classmethod
    def INPUT_TYPES(cls, include_hidden=True) -> dict:
        inputs = cls.FINALIZE_SCHEMA().get_v1_info()["input"]
        return inputs

    FUNCTION = "EXECUTE_NORMALIZED"
    CATEGORY = _classproperty(lambda cls: cls.GET_SCHEMA().category)
    DESCRIPTION = _classproperty(lambda cls: cls.GET_SCHEMA().description)
    OUTPUT_NODE = _classproperty(lambda cls: cls.GET_SCHEMA().is_output_node)
    RETURN_TYPES = _classproperty(lambda cls: cls.GET_NODE_INFO_V1()["output"])
    RETURN_NAMES = _classproperty(lambda cls: cls.GET_NODE_INFO_V1()["output_name"])
    OUTPUT_TOOLTIPS = _classproperty(lambda cls: cls.GET_NODE_INFO_V1()["output_tooltips"])

    @classmethod
    def EXECUTE_NORMALIZED(cls, *args, **kwargs) -> "NodeOutput":
        out = cls.execute(*args, **kwargs)
        if out is None:
            return NodeOutput()
        if isinstance(out, tuple):
            return NodeOutput(*out)
        if not isinstance(out, NodeOutput):
            raise Exception(f"Invalid return type from node: {type(out)}")
        return out

    @classmethod
    def PREPARE_CLASS_CLONE(cls, hidden_inputs: dict) -> type:
        """A throwaway subclass per run, as ComfyUI's executor makes (it sets ``hidden`` on it)."""
        clone = type(cls.__name__, (cls,), {})
        clone.hidden = types.SimpleNamespace(**hidden_inputs)
        return clone


class NodeOutput:
    def __init__(self, *args: Any, ui: Optional[dict] = None, expand: dict = None, block_execution: str = None):
        self.args, self.ui, self.expand, self.block_execution = args, ui, expand, block_execution

    @property
    def result(self):
        return self.args if len(self.args) > 0 else None


class ComfyExtension:
    async def on_load(self) -> None:
        pass

    async def get_node_list(self) -> list:
        raise NotImplementedError


def make_io(*, search_aliases: bool = True, with_upscale_model: bool = True) -> types.ModuleType:
    """An ``io`` module; ``search_aliases=False`` is a ComfyUI from before
    ``Schema.search_aliases`` (2025), ``with_upscale_model=False`` one lacking ``io.UpscaleModel``."""
    io = types.ModuleType("comfy_api.latest._io")
    schema = Schema
    if search_aliases:
        schema = dataclass(type("Schema", (Schema,), {"__annotations__": {"search_aliases": list},
                                                     "search_aliases": field(default_factory=list)}))
    io.Schema, io.ComfyNode, io.NodeOutput = schema, ComfyNode, NodeOutput
    io.Int = _comfytype("INT", _IntInput)
    io.Float = _comfytype("FLOAT", _FloatInput)
    io.String = _comfytype("STRING", _StringInput)
    io.Combo = _comfytype("COMBO", _ComboInput)
    io.Image = _comfytype("IMAGE")
    if with_upscale_model:
        io.UpscaleModel = _comfytype("UPSCALE_MODEL")
    return io


class _Broken(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes importing the given modules fail, as a ``comfy_api`` version whose
    own imports are broken would."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname, path, target=None):
        return importlib.util.spec_from_loader(fullname, self) if fullname in self.names else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise ImportError(f"cannot import name 'Types' from 'comfy_api.latest' (while importing {module.__name__})")


_FINDER = "<broken comfy_api versions>"


def install(versions: tuple[str, ...] = ("latest", "v0_0_2", "v0_0_3"), *, broken: tuple[str, ...] = (),
            **io_options: Any) -> dict:
    """Put ``comfy_api`` and the given versions into ``sys.modules`` (each
    pinned version re-exports latest's ``io``, as in ComfyUI); versions in
    ``broken`` raise on import. Returns the previous entries for :func:`uninstall`."""
    names = ["comfy_api"] + [f"comfy_api.{v}" for v in ("latest", "v0_0_1", "v0_0_2", "v0_0_3", "v0_0_4")]
    saved = {n: sys.modules.get(n) for n in names}
    for n in names:
        sys.modules.pop(n, None)
    package = types.ModuleType("comfy_api")
    package.__path__ = []  # a package: unknown versions raise ModuleNotFoundError
    sys.modules["comfy_api"] = package
    io = make_io(**io_options)
    for version in versions:
        module = types.ModuleType(f"comfy_api.{version}")
        module.io, module.ComfyExtension = io, ComfyExtension
        module.VERSION = version
        sys.modules[module.__name__] = module
        setattr(package, version, module)
    if broken:
        finder = _Broken({f"comfy_api.{v}" for v in broken})
        sys.meta_path.insert(0, finder)
        saved[_FINDER] = finder
    return saved


def uninstall(saved: dict) -> None:
    finder = saved.pop(_FINDER, None)
    if finder is not None:
        sys.meta_path.remove(finder)
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
