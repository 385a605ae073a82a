"""Option types shared by the ``gensr`` commands: a bad value is an argparse
error (one line, exit code 2) before anything is loaded."""
from __future__ import annotations

import argparse
import re
from pathlib import Path


def device_option(text: str) -> str:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, and present on this machine."""
    name = text.strip().lower()
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", name):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, not {text!r}")
    if name in ("auto", "cpu"):
        return name
    import torch

    if name.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.partition(":")[2] or 0)
        if index >= count:
            have = f"{count} CUDA device(s)" if count else "no CUDA device"
            raise argparse.ArgumentTypeError(f"{text!r}: this machine has {have}; use auto or cpu")
    elif not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise argparse.ArgumentTypeError(f"{text!r}: MPS is not available on this machine; use auto or cpu")
    return name


def new_safetensors_path(text: str, overwrite: bool) -> Path:
    """The output path of a command that writes one ``.safetensors`` file: that
    suffix, and not an existing file unless ``overwrite``."""
    from .errors import UsageError

    out = Path(text)
    if out.suffix != ".safetensors":
        raise UsageError(f"the output must be a .safetensors file, not {out.name}")
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it")
    return out
