"""Find the generator's state dict inside a loaded weight file and clean it."""
from __future__ import annotations

from typing import Any, Mapping

import torch

from .errors import WeightFileError

# Keys that training programs wrap the generator weights in, most preferred first
# (BasicSR saves the EMA weights as ``params_ema`` beside ``params``).
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model", "net", "g", "netG", "generator")
PREFIXES = ("module.", "netG.", "generator.", "model.module.")


def _is_tensor_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and any(isinstance(v, torch.Tensor) for v in obj.values())


def unwrap(obj: Any, source: str = "file", _depth: int = 0) -> dict[str, torch.Tensor]:
    """Return the dict of tensors, looking inside the usual wrapper keys.
    A pickled ``nn.Module`` (only readable with ``trust_pickle``) gives its state dict."""
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, Mapping):
        for key in WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, (Mapping, torch.nn.Module)) and _depth < 4:
                try:
                    return unwrap(inner, source, _depth + 1)
                except WeightFileError:
                    continue
        if _is_tensor_dict(obj):
            return {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    kind = type(obj).__name__
    keys = ", ".join(map(str, list(obj)[:8])) if isinstance(obj, Mapping) else ""
    raise WeightFileError(
        f"{source} holds no model weights: found a {kind}" + (f" with keys {keys}" if keys else "")
        + f"; expected a dict of tensors, possibly inside one of {', '.join(WRAPPER_KEYS)}."
    )


def strip_prefixes(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove DataParallel / training-wrapper prefixes shared by the keys."""
    changed = True
    while changed:
        changed = False
        for prefix in PREFIXES:
            if sd and all(k.startswith(prefix) for k in sd):
                sd = {k[len(prefix):]: v for k, v in sd.items()}
                changed = True
    return sd


def check_finite(sd: dict[str, torch.Tensor], source: str) -> None:
    """Refuse weights with NaN or infinite values."""
    for k, v in sd.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise WeightFileError(
                f"{source}: tensor {k!r} contains NaN or infinite values, so the model would output garbage "
                "(the training run that produced it probably diverged). Use another checkpoint of it."
            )


def generator_state_dict(obj: Any, source: str = "file") -> dict[str, torch.Tensor]:
    """The cleaned generator state dict inside a loaded weight file."""
    sd = strip_prefixes(unwrap(obj, source))
    check_finite(sd, source)
    return sd
