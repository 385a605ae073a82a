"""What ComfyUI reads from the pack: ``NODE_CLASS_MAPPINGS``,
``NODE_DISPLAY_NAME_MAPPINGS`` and ``comfy_entrypoint``.

With ComfyUI's V3 API (``comfy_api.latest``) the classes are ``io.ComfyNode``
subclasses, else V1 classes; both come from ``definitions.NODES`` (same ids,
inputs and behaviour). ComfyUI reads ``NODE_CLASS_MAPPINGS`` first and accepts
V3 classes in it, so the same classes reach ComfyUI either way.

Cheap and offline: nothing here loads a model, touches the network or imports
torch.
"""
from __future__ import annotations

import logging

from .definitions import NODES
from .v1 import v1_class

log = logging.getLogger(__name__)


def _v3_classes():
    """The V3 classes, or ``None`` when this ComfyUI has no usable V3 API."""
    try:
        from . import v3
    except ImportError:
        return None, None  # no comfy_api.latest: older ComfyUI, or not inside ComfyUI
    except Exception as e:  # an older comfy_api.latest lacking what v3.py uses
        log.warning("GenSR: ComfyUI's V3 node API is not usable (%s); registering V1 nodes", e)
        return None, None
    try:
        return [v3.v3_class(node) for node in NODES], v3.GenSRExtension
    except Exception as e:  # an older V3 API we do not fit: V1 works everywhere
        log.warning("GenSR: ComfyUI's V3 node API is not usable (%s); registering V1 nodes", e)
        return None, None


_classes, _extension = _v3_classes()
API = "v3" if _classes is not None else "v1"
if _classes is None:
    _classes = [v1_class(node) for node in NODES]

NODE_CLASS_MAPPINGS: dict[str, type] = {node.node_id: cls for node, cls in zip(NODES, _classes)}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {node.node_id: node.display_name for node in NODES}


async def comfy_entrypoint():
    """V3 entry point (used by ComfyUI when ``NODE_CLASS_MAPPINGS`` is absent)."""
    if _extension is None:
        raise RuntimeError("ComfyUI's V3 node API (comfy_api.latest) is not available; use NODE_CLASS_MAPPINGS")
    return _extension(list(_classes))
