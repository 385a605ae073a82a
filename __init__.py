"""ComfyUI-GenSR: generative super-resolution for ComfyUI.

As a ComfyUI custom-node folder this module registers the nodes; installed with
pip it is the ``gensr`` package. Public API (imported lazily, so registering the
nodes stays cheap): ``load_model``, ``save_model``, ``upscale``.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_model": ("weights", "load_model"),
    "save_model": ("weights", "save_model"),
    "upscale": ("sr_core.upscale", "upscale"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ComfyUI node registration: cheap and offline (no model loading, no network,
# no torch import); see nodes/__init__.py. WEB_DIRECTORY holds the small
# front-end extension that shows GenSR Compare Images' numbers on the node.
# Imported as a loose top-level module (pytest >= 9.1 imports a rootdir's
# __init__.py that way) there is no package to register from: skip it.
if __package__:
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS, comfy_entrypoint  # noqa: E402,F401

WEB_DIRECTORY = "./web"

__all__ = [
    "NODE_CLASS_MAPPINGS",
    "NODE_DISPLAY_NAME_MAPPINGS",
    "WEB_DIRECTORY",
    "comfy_entrypoint",
    "load_model",
    "save_model",
    "upscale",
]
