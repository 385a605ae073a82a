"""``save_model``: write a generator as ``.safetensors``, atomically, with metadata."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from torch import nn

from ..sr_core.files import atomic_write

PathLike = Union[str, Path]


def _meta_str(value: Any) -> str:
    """safetensors metadata values are strings: others are JSON-encoded, and so is
    a string that would otherwise read back as JSON (``"1.0"``, ``"true"``), so
    that ``load_model(...).metadata`` returns exactly what was saved."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, sort_keys=True)


def model_metadata(model: nn.Module, extra: Optional[Mapping[str, Any]] = None) -> dict[str, str]:
    """safetensors metadata for ``model``: architecture, config, scale, channels, plus ``extra``."""
    meta = {
        "format": "pt",
        "gensr.arch": model.arch,
        "gensr.config": _meta_str(model.config),
        "gensr.scale": str(model.scale),
    }
    for k, v in (extra or {}).items():
        meta[str(k)] = _meta_str(v)
    return meta


def save_model(model: nn.Module, path: PathLike, metadata: Optional[Mapping[str, Any]] = None) -> Path:
    """Write ``model``'s weights to ``path`` (``.safetensors``) in its standard key layout."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"save_model writes .safetensors files; got {path.name}")
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    meta = model_metadata(model, metadata)
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))
