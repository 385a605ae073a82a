"""Network interpolation (ESRGAN): blend the weights of two trainings of one
network, typically a PSNR model and its GAN fine-tune, to pick a point between
fidelity and generated texture without training again."""
from __future__ import annotations

import copy

import torch
from torch import nn

from .errors import WeightFileError


def interpolate_models(a: nn.Module, b: nn.Module, alpha: float) -> nn.Module:
    """A copy of ``a`` whose weights are ``(1 - alpha) * a + alpha * b``.

    Both must be the same architecture with the same hyper-parameters (one
    network trained two ways); ``alpha`` lies in 0..1 (0 gives ``a``, 1 gives ``b``).
    """
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie between 0 and 1 (the share of the second model), got {alpha}")
    shape_a = (getattr(a, "arch", None), getattr(a, "config", None), getattr(a, "scale", None))
    shape_b = (getattr(b, "arch", None), getattr(b, "config", None), getattr(b, "scale", None))
    if shape_a != shape_b:
        raise WeightFileError(
            f"only two trainings of one network can be interpolated: {shape_a[0]} {shape_a[1]} x{shape_a[2]} "
            f"and {shape_b[0]} {shape_b[1]} x{shape_b[2]} differ"
        )
    sa, sb = a.state_dict(), b.state_dict()
    mixed = {}
    for key, ta in sa.items():
        tb = sb[key]
        if ta.is_floating_point():
            mixed[key] = torch.lerp(ta.float(), tb.to(ta.device).float(), alpha).to(ta.dtype)
        else:  # counters and the like: the first model's
            mixed[key] = ta.clone()
    out = copy.deepcopy(a)
    out.load_state_dict(mixed)
    return out
