"""Read a weight file into a dict of tensors without executing anything in it.

``.safetensors`` is read directly. PyTorch pickles (``.pth``, ``.pt``, ``.ckpt``,
``.bin``) go through ``torch.load(weights_only=True)``, which refuses any
pickle that would need to import or call Python code.
"""
from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path
from typing import Any, Union

import torch

from .errors import UnsafeWeightFileError, WeightFileError

PathLike = Union[str, Path]
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
WEIGHT_SUFFIXES = (".safetensors",) + PICKLE_SUFFIXES


def sniff_format(path: Path) -> str:
    """'safetensors', 'zip' (PyTorch >= 1.6 pickle), 'pickle' (legacy) or 'unknown'."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:2] == b"PK":
        return "zip"
    if head[:1] == b"\x80":
        return "pickle"
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if 0 < n < 100_000_000 and head[8:9] == b"{":
            return "safetensors"
    return "unknown"


def _check_path(path: Path) -> None:
    if not path.exists():
        raise WeightFileError(f"{path}: no such file. Check the path, or put the file in ComfyUI's models/upscale_models folder.")
    if path.is_dir():
        raise WeightFileError(f"{path} is a directory; give the path of the weight file inside it ({', '.join(WEIGHT_SUFFIXES)}).")
    if path.stat().st_size == 0:
        raise WeightFileError(f"{path} is empty (0 bytes): the download or copy did not finish. Download it again.")


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types and OSError
        raise WeightFileError(
            f"{path} is not a readable .safetensors file (it is truncated or corrupt: {e}). Download it again."
        ) from None
    return tensors, metadata


def read_pickle(path: Path) -> Any:
    """Load a PyTorch pickle with ``weights_only=True``: plain containers and tensors only."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        reason = str(e).strip().splitlines()
        detail = next((line for line in reason if "GLOBAL" in line or "Unsupported" in line), reason[0] if reason else "")
        raise UnsafeWeightFileError(
            f"{path} is a pickle that needs Python code to load ({detail.strip()}). "
            "GenSR does not run code from weight files, so nothing in it was executed. "
            "If you trust where it came from, convert it once with "
            f"`gensr convert --trust-pickle {path} {path.with_suffix('.safetensors')}` "
            "and load the .safetensors file instead."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, struct.error) as e:
        raise WeightFileError(
            f"{path} is not a readable PyTorch weight file (it is truncated or corrupt: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}). Download it again."
        ) from None


def read_unsafe_pickle(path: Path) -> Any:
    """Load a pickle with full code execution. Only for explicit, trusted conversion."""
    return torch.load(str(path), map_location="cpu", weights_only=False)


def read_weight_file(path: PathLike, *, trust_pickle: bool = False) -> tuple[Any, dict[str, str]]:
    """Raw content (a tensor dict, or the pickled object) and metadata of a weight file."""
    path = Path(path)
    _check_path(path)
    kind = sniff_format(path)
    if kind == "safetensors":
        return read_safetensors(path)
    if kind in ("zip", "pickle"):
        obj = read_unsafe_pickle(path) if trust_pickle else read_pickle(path)
        return obj, {}
    raise WeightFileError(
        f"{path} is neither a .safetensors file nor a PyTorch pickle (unrecognised content). "
        f"GenSR reads {', '.join(WEIGHT_SUFFIXES)} files; check that the download is a weight file and not an HTML page."
    )


def parse_metadata_value(value: str) -> Any:
    """Metadata values are strings; JSON-encoded ones are decoded."""
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value
