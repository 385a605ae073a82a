"""The model and the image as the engine sees them: one view of the two
kinds of model the upscaler accepts, how an image's channels go through it
(gray, gray+alpha, RGB, RGBA) and image tensor layouts (BCHW / BHWC).

Models:

* a GenSR generator: an ``nn.Module`` with ``scale``, ``in_channels``,
  ``out_channels`` and ``size_multiple``;
* a spandrel-style descriptor (what ComfyUI's core "Load Upscale Model" node
  returns): an object with ``.model`` (the ``nn.Module``), ``.scale``,
  ``.input_channels``, ``.output_channels`` and
  ``.size_requirements.multiple_of`` / ``.minimum`` / ``.square``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..archs.registry import SizeRules, architecture_of
from ..noise import Origin


def pad_edges(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pad (..., H, W) at the bottom/right to (height, width): mirrored where
    the image is large enough, else the edge pixel repeated. The one edge
    padding of the engine (frames, windows and size rules all use it)."""
    ph, pw = height - x.shape[-2], width - x.shape[-1]
    if ph == 0 and pw == 0:
        return x
    if ph < 0 or pw < 0:
        raise ValueError(f"cannot pad {tuple(x.shape[-2:])} to the smaller {(height, width)}")
    mode = "reflect" if ph < x.shape[-2] and pw < x.shape[-1] else "replicate"
    if x.dim() == 3:
        return F.pad(x.unsqueeze(0), (0, pw, 0, ph), mode=mode)[0]
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def accepted_size(height: int, width: int, rules: SizeRules) -> Tuple[int, int]:
    """Smallest (height, width) >= the given one that ``rules`` accept."""
    m = rules.multiple
    up = lambda v: -(-max(v, rules.minimum, 1) // m) * m  # noqa: E731
    h, w = up(height), up(width)
    if rules.square:
        h = w = max(h, w)
    return h, w


@dataclass
class ModelSpec:
    """What the upscaler needs to know about a model."""

    module: nn.Module
    scale: int
    in_channels: int
    out_channels: int
    multiple: int = 1
    minimum: int = 0
    square: bool = False
    supports_half: bool = True
    supports_bfloat16: bool = True
    call: Optional[Callable[[nn.Module, torch.Tensor], torch.Tensor]] = None
    name: str = ""
    #: reduced compute dtypes the model may use (its architecture's
    #: tolerance, narrowed by a descriptor's support flags)
    precisions: Tuple[torch.dtype, ...] = (torch.float16, torch.bfloat16)

    @property
    def rules(self) -> SizeRules:
        return SizeRules(self.multiple, self.minimum, self.square)

    @property
    def takes_origins(self) -> bool:
        """Whether the model's call wants each window's position (a noisy
        model's :class:`~gensr.sr_core.noise.SeededNoise`)."""
        return bool(getattr(self.call, "takes_origins", False))

    def forward(self, module: nn.Module, x: torch.Tensor, origins: Optional[Sequence[Origin]] = None) -> torch.Tensor:
        """The model on ``x`` (B, C, h, w), honouring its size rules the way
        spandrel's descriptor call does: a window the rules do not accept is
        padded (mirrored) to the next accepted size and the output cropped.
        ``origins``: the (top, left) of each window in the padded image, passed
        on to a call that :attr:`takes_origins` (others ignore them)."""
        h, w = x.shape[-2:]
        ph, pw = accepted_size(h, w, self.rules)
        if (ph, pw) != (h, w):
            x = pad_edges(x, ph, pw)
        if self.call is None:
            y = module(x)
        elif origins is not None and self.takes_origins:
            y = self.call(module, x, origins=origins)
        else:
            y = self.call(module, x)
        if (ph, pw) != (h, w) and isinstance(y, torch.Tensor):
            y = y[..., : h * self.scale, : w * self.scale]
        return y


def _int_attr(obj: Any, name: str, what: str) -> int:
    value = getattr(obj, name, None)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError(f"{what} has no usable {name!r} (got {value!r}); expected a positive integer")
    return value


def _precisions(module: nn.Module, half: bool, bf16: bool) -> Tuple[torch.dtype, ...]:
    """Reduced precisions the model may run in: what its architecture
    tolerates (registry), narrowed by the descriptor's support flags."""
    arch = architecture_of(module)
    known = arch.precisions if arch is not None else (torch.float16, torch.bfloat16)
    allowed = {torch.float16: half, torch.bfloat16: bf16}
    return tuple(d for d in known if allowed.get(d, True))


def model_spec(model: Any) -> ModelSpec:
    """Normalise a GenSR generator, a spandrel-style descriptor or a ``ModelSpec``."""
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, nn.Module):
        what = f"model {type(model).__name__}"
        if not hasattr(model, "scale"):
            raise TypeError(
                f"{what} has no 'scale' attribute: pass a model from gensr.load_model, "
                "or a descriptor with .model/.scale/.input_channels/.output_channels"
            )
        arch = architecture_of(model)
        rules = arch.size_rules(model) if arch is not None else SizeRules(int(getattr(model, "size_multiple", 1) or 1))
        return ModelSpec(
            module=model,
            scale=_int_attr(model, "scale", what),
            in_channels=_int_attr(model, "in_channels", what),
            out_channels=_int_attr(model, "out_channels", what),
            multiple=max(1, int(rules.multiple)),
            minimum=int(rules.minimum),
            square=bool(rules.square),
            name=str(getattr(model, "arch", type(model).__name__)),
            precisions=_precisions(model, True, True),
        )
    module = getattr(model, "model", None)
    if isinstance(module, nn.Module):
        what = f"model descriptor {type(model).__name__}"
        req = getattr(model, "size_requirements", None)
        arch = getattr(model, "architecture", None)
        half = bool(getattr(model, "supports_half", True))
        bf16 = bool(getattr(model, "supports_bfloat16", True))
        return ModelSpec(
            module=module,
            scale=_int_attr(model, "scale", what),
            in_channels=_int_attr(model, "input_channels", what),
            out_channels=_int_attr(model, "output_channels", what),
            multiple=max(1, int(getattr(req, "multiple_of", 1) or 1)),
            minimum=int(getattr(req, "minimum", 0) or 0),
            square=bool(getattr(req, "square", False)),
            supports_half=half,
            supports_bfloat16=bf16,
            call=getattr(model, "_call_fn", None),
            name=str(getattr(arch, "name", None) or type(module).__name__),
            precisions=_precisions(module, half, bf16),
        )
    raise TypeError(
        f"cannot upscale with a {type(model).__name__}: pass a GenSR model (gensr.load_model) "
        "or a ComfyUI/spandrel upscale model descriptor"
    )


# ------------------------------------------------------------------ channels



_LUMA = (0.299, 0.587, 0.114)
IMAGE_CHANNELS = (1, 2, 3, 4)


def luma(rgb: torch.Tensor, dim: int) -> torch.Tensor:
    w = torch.tensor(_LUMA, dtype=rgb.dtype, device=rgb.device)
    shape = [1] * rgb.dim()
    shape[dim] = 3
    return (rgb * w.view(shape)).sum(dim, keepdim=True)


class ChannelPlan:
    """How one image's channels go through one model."""

    def __init__(self, image_channels: int, spec: ModelSpec) -> None:
        if image_channels not in IMAGE_CHANNELS:
            raise ValueError(
                f"images must have 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels, not {image_channels}"
            )
        if spec.in_channels not in (1, 3, 4) or spec.out_channels not in (1, 3, 4):
            raise ValueError(
                f"models with {spec.in_channels} input / {spec.out_channels} output channels are not supported "
                "(1, 3 or 4 are)"
            )
        self.image_channels = image_channels
        self.spec = spec
        self.colour = 3 if image_channels >= 3 else 1
        self.has_alpha = image_channels in (2, 4)
        #: the model produces the alpha channel itself
        self.model_alpha = self.has_alpha and spec.in_channels == 4 and spec.out_channels == 4
        #: planes per frame (3 when an RGB image runs through a 1-channel model)
        self.planes = 3 if spec.in_channels == 1 and self.colour == 3 else 1

    def model_input(self, frame: torch.Tensor) -> torch.Tensor:
        """(C, H, W) image frame -> (planes, model in channels, H, W)."""
        colour = frame[: self.colour]
        alpha = frame[self.colour:] if self.has_alpha else None
        cin = self.spec.in_channels
        if cin == 1:
            return colour.unsqueeze(1)  # one plane per colour channel
        rgb = colour.expand(3, -1, -1) if self.colour == 1 else colour
        if cin == 3:
            return rgb.unsqueeze(0)
        a = alpha if alpha is not None else torch.ones_like(rgb[:1])
        return torch.cat((rgb, a), 0).unsqueeze(0)

    @property
    def output_channels(self) -> int:
        """Channels ``model_output`` returns (colour, plus alpha when the model makes it)."""
        return self.colour + (1 if self.model_alpha else 0)

    def model_output(self, y: torch.Tensor) -> torch.Tensor:
        """(planes, model out channels, h, w) -> (output_channels, h, w)."""
        if self.planes == 3:
            y = y[:, :1] if y.shape[1] == 1 else luma(y[:, :3], 1)
            return y[:, 0]
        y = y[0]
        cout = y.shape[0]
        rgb_like = y[:3] if cout >= 3 else y[:1]
        if self.colour == 1:
            colour = luma(rgb_like, 0) if rgb_like.shape[0] == 3 else rgb_like
        else:
            colour = rgb_like.expand(3, -1, -1) if rgb_like.shape[0] == 1 else rgb_like
        if self.model_alpha:
            return torch.cat((colour, y[3:4]), 0)
        return colour

    def interpolated_alpha(self, frame: torch.Tensor) -> Optional[torch.Tensor]:
        """The (1, H, W) alpha to interpolate, or None (no alpha, or the model makes it)."""
        if not self.has_alpha or self.model_alpha:
            return None
        return frame[self.colour: self.colour + 1]


# ------------------------------------------------------------------ layouts


LAYOUTS = ("auto", "bchw", "bhwc")
_CHANNELS = (1, 2, 3, 4)


def detect_layout(image: torch.Tensor, layout: str = "auto") -> str:
    """``"bchw"`` or ``"bhwc"`` for a 4D (or 3D, unbatched) image tensor.

    ``auto`` decides by where the channel axis (1 to 4 entries) is: dim 1 for
    BCHW, the last dim for BHWC. When both or neither look like channels (an
    image 4 pixels tall or less) it asks for ``layout=``.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if image.dim() not in (3, 4):
        raise ValueError(
            f"expected an image tensor of shape (B, C, H, W) or (B, H, W, C) (or without B), got {tuple(image.shape)}"
        )
    shape = image.shape if image.dim() == 4 else (1,) + tuple(image.shape)
    if layout != "auto":
        c = shape[1] if layout == "bchw" else shape[3]
        if c not in _CHANNELS:
            raise ValueError(f"a {layout.upper()} tensor of shape {tuple(image.shape)} has {c} channels; expected 1 to 4")
        return layout
    first, last = shape[1] in _CHANNELS, shape[3] in _CHANNELS
    if first and not last:
        return "bchw"
    if last and not first:
        return "bhwc"
    if first and last:
        raise ValueError(
            f"cannot tell whether an image of shape {tuple(image.shape)} is BCHW or BHWC; pass layout='bchw' or 'bhwc'"
        )
    raise ValueError(f"image of shape {tuple(image.shape)} has no axis of 1 to 4 channels (gray, gray+alpha, RGB, RGBA)")


def as_bchw(image: torch.Tensor, layout: str) -> Tuple[torch.Tensor, bool]:
    """A BCHW view of ``image`` (no copy) and whether a batch axis was added."""
    added = image.dim() == 3
    x = image.unsqueeze(0) if added else image
    return (x.permute(0, 3, 1, 2) if layout == "bhwc" else x), added


def empty_like_layout(
    layout: str, batch: int, channels: int, height: int, width: int, dtype: torch.dtype, device: torch.device
) -> Tuple[torch.Tensor, torch.Tensor]:
    """(tensor in ``layout``, its BCHW view) for the output."""
    if layout == "bhwc":
        out = torch.empty(batch, height, width, channels, dtype=dtype, device=device)
        return out, out.permute(0, 3, 1, 2)
    out = torch.empty(batch, channels, height, width, dtype=dtype, device=device)
    return out, out
