"""Option types shared by the ``gensr`` commands: a bad value is an argparse
error (one line, exit code 2) before anything is loaded."""
from __future__ import annotations

import argparse
import re


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
