"""GenSR's ComfyUI nodes, one class per file, and what ComfyUI reads from the
pack: ``NODE_CLASS_MAPPINGS``, ``NODE_DISPLAY_NAME_MAPPINGS`` and ``comfy_entrypoint``.

The classes are written against ComfyUI's V3 node API (``define_schema`` /
``execute``); ``comfy_io`` gives them ComfyUI's own (a pinned API version when
there is one) or, on ComfyUI without the V3 API, a stand-in from which the V1
attributes are derived. ComfyUI reads ``NODE_CLASS_MAPPINGS`` first and accepts
V3 classes in it, so the same classes reach ComfyUI either way.

Cheap and offline: registering loads no model, touches no network and imports
no torch; the node bodies import the engine when they run.
"""
from __future__ import annotations

from .comfy_io import API_VERSION, ComfyExtension
from .compare_images import GenSRCompare
from .load_hub_model import GenSRHubModelLoader
from .load_model import GenSRModelLoader
from .upscale_image import GenSRUpscale

#: The pack's nodes. Ids, input names and output order are part of saved workflows: never change them.
NODES = (GenSRModelLoader, GenSRHubModelLoader, GenSRUpscale, GenSRCompare)

_SCHEMAS = [cls.define_schema() for cls in NODES]  # cheap: the loader's combo lists file names only
NODE_CLASS_MAPPINGS: dict[str, type] = {s.node_id: cls for s, cls in zip(_SCHEMAS, NODES)}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {s.node_id: s.display_name for s in _SCHEMAS}


class GenSRExtension(ComfyExtension):
    """The pack as a V3 extension."""

    async def get_node_list(self) -> list[type]:
        return list(NODES)


async def comfy_entrypoint() -> GenSRExtension:
    """V3 entry point (used by ComfyUI when ``NODE_CLASS_MAPPINGS`` is absent)."""
    if API_VERSION == "v1":
        raise RuntimeError("ComfyUI's V3 node API (comfy_api) is not available here; use NODE_CLASS_MAPPINGS")
    return GenSRExtension()
