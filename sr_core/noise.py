"""Reproducible randomness for models that draw noise while they upscale.

Some generators draw random numbers in their forward pass (AuraSR adds
``randn_like`` noise to its input and draws a random style vector per call;
StyleGAN-based face restorers draw noise maps). Run as they are, two runs of
the same image differ, and a tiled run differs from an untiled one because
every window draws its own noise. :class:`SeededNoise` runs such a model with

* noise shaped like the model's input (``randn_like(input)``) taken from one
  field keyed by absolute pixel position (:func:`positional_normal`): a window
  at ``(top, left)`` sees exactly the crop of the whole image's noise, so
  tiling does not change it;
* every other random draw (style vectors, noise maps) from a generator seeded
  afresh for each window from the seed: every window draws the same numbers,
  so all windows share one style;

and the global random state is left untouched. The same seed gives the same
result on every call.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

Origin = Tuple[int, int]
_MASK32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, m: int) -> torch.Tensor:
    """``x * m mod 2**32`` for int64 ``x`` in [0, 2**32) without int64 overflow."""
    lo, hi = m & 0xFFFF, m >> 16
    return (x * lo + (((x * hi) & 0xFFFF) << 16)) & _MASK32


def hash32(x: torch.Tensor) -> torch.Tensor:
    """An avalanching 32-bit integer hash (xor-shift-multiply), elementwise on int64."""
    x = x & _MASK32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def positional_normal(
    seed: int,
    channels: int,
    height: int,
    width: int,
    origin: Origin = (0, 0),
    *,
    device: Optional[torch.device] = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Standard normal noise (C, H, W) whose value at channel c and absolute
    pixel (origin[0] + y, origin[1] + x) depends only on (seed, c, row, column).

    So the noise of a window is the crop of the noise of the whole image."""
    rows = torch.arange(height, dtype=torch.int64, device=device) + int(origin[0])
    cols = torch.arange(width, dtype=torch.int64, device=device) + int(origin[1])
    chans = torch.arange(channels, dtype=torch.int64, device=device)
    key = hash32(torch.full((), int(seed) & _MASK32, dtype=torch.int64, device=device) + 0x9E3779B9)
    key = hash32(key + chans.view(-1, 1, 1) * 0x632BE5AB)
    key = hash32(key + (rows.view(1, -1, 1) & _MASK32))
    key = hash32(key ^ (cols.view(1, 1, -1) & _MASK32))
    a = hash32(key ^ 0x68E31DA4)
    b = hash32(key ^ 0xB5297A4D)
    u1 = (a.double() + 0.5) / 2.0**32  # (0, 1): log is finite
    u2 = b.double() / 2.0**32
    z = torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)
    return z.to(dtype)


_DRAWS = {
    torch.randn: "randn",
    torch.rand: "rand",
    torch.randn_like: "randn_like",
    torch.rand_like: "rand_like",
    torch.Tensor.normal_: "normal_",
    torch.Tensor.uniform_: "uniform_",
}


class _Draws(TorchFunctionMode):
    """Redirects a forward pass's random draws (see :class:`SeededNoise`)."""

    def __init__(self, seed: int, image: torch.Tensor, origins: Sequence[Origin]) -> None:
        super().__init__()
        self.seed = seed
        self.image_shape = tuple(image.shape)
        self.origins = origins
        self.generators: dict = {}

    def _generator(self, device: torch.device) -> torch.Generator:
        key = str(device)
        if key not in self.generators:
            self.generators[key] = torch.Generator(device=device).manual_seed(self.seed)
        return self.generators[key]

    def _input_noise(self, like: torch.Tensor) -> torch.Tensor:
        b, c, h, w = like.shape
        fields = [positional_normal(self.seed, c, h, w, self.origins[i], device=like.device) for i in range(b)]
        return torch.stack(fields).to(like.dtype)

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: Optional[dict] = None) -> Any:
        kwargs = kwargs or {}
        kind = _DRAWS.get(func)
        if kind is None:
            return func(*args, **kwargs)
        if kind in ("randn_like", "rand_like"):
            like = args[0]
            if kind == "randn_like" and tuple(like.shape) == self.image_shape and like.dim() == 4:
                return self._input_noise(like)
            dtype = kwargs.get("dtype") or like.dtype
            device = kwargs.get("device") or like.device
            draw = torch.randn if kind == "randn_like" else torch.rand
            return draw(like.shape, generator=self._generator(torch.device(device)), dtype=dtype, device=device)
        if kind in ("randn", "rand"):
            device = torch.device(kwargs.get("device") or "cpu")
            return func(*args, **{**kwargs, "generator": self._generator(device)})
        # in-place fills: normal_ / uniform_
        tensor = args[0]
        return func(*args, **{**kwargs, "generator": self._generator(tensor.device)})


class SeededNoise:
    """A model call (``call(module, x)``) that makes a noisy forward reproducible
    and independent of tiling (see the module docstring).

    ``seed``: change it for another draw. ``origins``: the (top, left) of each
    window of the batch in the whole (padded) image; without them every
    window counts as the image's top-left corner, which is exact untiled.
    The engine passes them when ``takes_origins`` is true.
    """

    takes_origins = True

    def __init__(self, seed: int = 0, call: Optional[Callable[[nn.Module, torch.Tensor], torch.Tensor]] = None) -> None:
        self.seed = int(seed)
        self.call = call or (lambda module, x: module(x))

    def __call__(self, module: nn.Module, x: torch.Tensor, origins: Optional[Sequence[Origin]] = None) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"expected a (B, C, H, W) batch, got shape {tuple(x.shape)}")
        if origins is None:
            origins = [(0, 0)] * x.shape[0]
        elif len(origins) != x.shape[0]:
            raise ValueError(f"{len(origins)} origins for a batch of {x.shape[0]} windows")
        # One window at a time, each with a freshly seeded generator: every
        # window draws exactly what it would draw alone (the same style vector).
        outputs = []
        for i in range(x.shape[0]):
            with _Draws(self.seed, x[i : i + 1], [origins[i]]):
                outputs.append(self.call(module, x[i : i + 1]))
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs)

    def __repr__(self) -> str:
        return f"SeededNoise(seed={self.seed})"
