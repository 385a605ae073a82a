"""Read a weight file into a dict of tensors without executing anything in it.

``.safetensors`` is read directly. PyTorch pickles (``.pth``, ``.pt``, ``.ckpt``,
``.bin``) go through ``torch.load(weights_only=True)``, which refuses any
pickle that would need to import or call Python code. Before torch 2.6 that
reader could itself be made to run code (CVE-2025-32434), so on older torch
every pickle is refused (local or from the Hub): only ``.safetensors`` load.
"""
from __future__ import annotations

import json
import pickle
import re
import shlex
import struct
import warnings
from pathlib import Path
from typing import Any, Union

import torch

from .errors import UnsafeWeightFileError, WeightFileError

PathLike = Union[str, Path]
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
#: The first torch whose ``torch.load(weights_only=True)`` cannot run code (CVE-2025-32434).
SAFE_PICKLE_TORCH = (2, 6)
WEIGHT_SUFFIXES = (".safetensors",) + PICKLE_SUFFIXES


SAFETENSORS_MAX_HEADER = 100_000_000  # the largest header the safetensors library reads


def sniff_format(path: Path) -> str:
    """'safetensors', 'safetensors-truncated' (a safetensors file cut inside its
    header), 'zip' (PyTorch >= 1.6 pickle), 'pickle' (legacy) or 'unknown'.

    safetensors is tested first: its 8-byte header length can begin with the
    bytes that mark a pickle (0x80) or a zip ("PK")."""
    with open(path, "rb") as f:
        head = f.read(16)
    size = path.stat().st_size
    if len(head) >= 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if 0 < n <= size - 8:
            return "safetensors"
        if size - 8 < n <= SAFETENSORS_MAX_HEADER:
            return "safetensors-truncated"
    if len(head) < 9 and path.suffix.lower() == ".safetensors":
        return "safetensors-truncated"  # shorter than a header's length and its first byte
    if head[:2] == b"PK":
        return "zip"
    if head[:1] == b"\x80":
        return "pickle"
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
            f"{path} is not a readable .safetensors file (it is truncated or corrupt: {_first_sentence(e)}). Download it again."
        ) from None
    return tensors, metadata


def _first_sentence(message: str, limit: int = 160) -> str:
    """The gist of a library's error message, without its advice to developers."""
    text = " ".join(str(message).split())
    text = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _refusal_reason(error: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a pickle, in plain words."""
    text = str(error)
    found = re.search(r"GLOBAL ([\w.]+)", text) or re.search(r"Unsupported global: ([\w.]+)", text)
    if found:
        return f"it refers to the Python object `{found.group(1)}`, which only running code could rebuild"
    found = re.search(r"Unsupported operand (\d+)", text)
    if found:
        return (
            f"it uses pickle instruction {found.group(1)}, which the safe reader does not accept "
            "(the file was saved with pickle protocol 4 or newer, or it is damaged)"
        )
    lines = [line for line in text.splitlines() if "weights_only" not in line and line.strip()]
    return _first_sentence(lines[-1] if lines else type(error).__name__)


def torch_version() -> tuple[int, int]:
    """(major, minor) of the installed torch."""
    found = re.match(r"(\d+)\.(\d+)", str(torch.__version__))
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def pickles_are_safe() -> bool:
    """Whether this torch reads weights-only pickles without any way to run code."""
    return torch_version() >= SAFE_PICKLE_TORCH


def old_torch_refusal(what: str, convert_hint: str = "") -> str:
    """Why a pickle is refused on torch < 2.6, and what to do instead."""
    have = ".".join(map(str, torch_version()))
    need = ".".join(map(str, SAFE_PICKLE_TORCH))
    return (
        f"{what} is a PyTorch pickle, and this torch ({have}) can be made to run code while reading one even in its "
        f"safe mode (CVE-2025-32434), so GenSR reads pickles only with torch >= {need}. Upgrade torch "
        f"(pip install \"torch>={need}\"), or convert the file to .safetensors on a machine that trusts it"
        f"{convert_hint}, or use a .safetensors version of the model."
    )


def check_pickles_allowed(path: Path) -> None:
    """Refuse every pickle on torch < 2.6 (see :func:`old_torch_refusal`)."""
    if not pickles_are_safe():
        hint = f" (`gensr convert --trust-pickle {shlex.quote(str(path))} {shlex.quote(str(path.with_suffix('.safetensors')))}`)"
        raise UnsafeWeightFileError(old_torch_refusal(str(path), hint))


def read_pickle(path: Path) -> Any:
    """Load a PyTorch pickle with ``weights_only=True``: plain containers and tensors only
    (torch >= 2.6; refused on older torch)."""
    check_pickles_allowed(path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pickle protocol.*")
            with open(path, "rb") as f:  # a file object: torch.load must not guess the format from the name
                return torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeWeightFileError(
            f"{path} cannot be read safely: {_refusal_reason(e)}. "
            "GenSR does not run code from weight files, so nothing in it was executed. "
            "If you trust where it came from, convert it once with "
            f"`gensr convert --trust-pickle {shlex.quote(str(path))} {shlex.quote(str(path.with_suffix('.safetensors')))}` "
            "and load the .safetensors file instead."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, struct.error) as e:
        raise WeightFileError(
            f"{path} is not a readable PyTorch weight file (it is truncated or corrupt: "
            f"{_first_sentence(e) or type(e).__name__}). Download it again."
        ) from None


def read_unsafe_pickle(path: Path) -> Any:
    """Load a pickle with full code execution. Only for explicit, trusted conversion."""
    try:
        with open(path, "rb") as f:
            return torch.load(f, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as e:
        raise WeightFileError(
            f"{path} needs the Python module {e.name!r} to load, which is not installed "
            "(it pickles objects of the program that trained it). Install that program, or ask for a state-dict file."
        ) from None
    except Exception as e:  # code in a trusted pickle can raise anything
        raise WeightFileError(
            f"{path} could not be loaded even with --trust-pickle ({type(e).__name__}: "
            f"{_first_sentence(e)}). The file is truncated, corrupt or not a PyTorch weight file."
        ) from None


def _unrecognised(path: Path) -> WeightFileError:
    with open(path, "rb") as f:
        head = f.read(256).lstrip()
    if head.startswith(b"version https://git-lfs"):
        what = "a Git LFS pointer, not the weights: fetch the real file (`git lfs pull`, or the download link)"
    elif head[:1] == b"<":
        what = "an HTML/XML page, not weights: the download link returned a web page; download the file itself"
    else:
        what = "neither a .safetensors file nor a PyTorch pickle (unrecognised content)"
    return WeightFileError(f"{path} is {what}. GenSR reads {', '.join(WEIGHT_SUFFIXES)} weight files.")


def read_weight_file(path: PathLike, *, trust_pickle: bool = False) -> tuple[Any, dict[str, str]]:
    """Raw content (a tensor dict, or the pickled object) and metadata of a weight file."""
    path = Path(path)
    _check_path(path)
    kind = sniff_format(path)
    if kind == "safetensors":
        return read_safetensors(path)
    if kind == "safetensors-truncated":
        raise WeightFileError(
            f"{path} is a damaged or truncated .safetensors file: it ends inside its header "
            f"({path.stat().st_size} bytes). Download it again."
        )
    if kind in ("zip", "pickle"):
        obj = read_unsafe_pickle(path) if trust_pickle else read_pickle(path)
        return obj, {}
    raise _unrecognised(path)


def parse_metadata_value(value: str) -> Any:
    """Metadata values are strings; JSON-encoded ones are decoded."""
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value
