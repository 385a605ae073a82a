"""``save_model``: write a generator as ``.safetensors``, atomically, with metadata."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import torch
from torch import nn

PathLike = Union[str, Path]


def atomic_write(path: PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, flush it to
    disk, then rename it over ``path``: readers see the old file or the new one,
    never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


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
