"""The ``UPSCALE_MODEL`` GenSR's loaders output.

ComfyUI's core "Load Upscale Model" outputs a spandrel ``ImageModelDescriptor``
and its "Upscale Image (using Model)" node uses ``.model``, ``.scale``,
``.to(device)``, calling the descriptor on a (1, C, H, W) tile, and on newer
ComfyUI ``.patcher``. Inside ComfyUI (where spandrel is always installed) our
generator is wrapped in a real ``ImageModelDescriptor``; without spandrel
(tests, the CLI) :class:`GenSRUpscaleModel` offers the same attributes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional, Union

import torch
from torch import nn

from ..sr_core.archs.registry import SizeRules, architecture_of
from ..sr_core.upscale.spec import pad_edges
from . import comfy_bridge

log = logging.getLogger(__name__)


@dataclass
class SizeRequirements:
    """Input size constraints, with spandrel's field names."""

    minimum: int = 0
    multiple_of: int = 1
    square: bool = False

    @property
    def none(self) -> bool:
        return self.minimum == 0 and self.multiple_of == 1 and not self.square

    def get_padding(self, width: int, height: int) -> tuple[int, int]:
        """(pad_width, pad_height) that makes a ``width`` x ``height`` input acceptable."""
        m = self.multiple_of
        w = -(-max(self.minimum, width) // m) * m
        h = -(-max(self.minimum, height) // m) * m
        if self.square:
            w = h = max(w, h)
        return w - width, h - height

    def check(self, width: int, height: int) -> bool:
        return self.get_padding(width, height) == (0, 0)


@dataclass(frozen=True)
class ArchitectureInfo:
    """``descriptor.architecture`` outside spandrel: an id and a display name."""

    id: str
    name: str


def _arch_name(model: nn.Module) -> str:
    arch = architecture_of(model)
    return arch.name if arch is not None else str(getattr(model, "arch", type(model).__name__))


def _size_rules(model: nn.Module) -> SizeRules:
    arch = architecture_of(model)
    return arch.size_rules(model) if arch is not None else SizeRules(int(getattr(model, "size_multiple", 1) or 1))


def _precisions(model: nn.Module) -> tuple:
    arch = architecture_of(model)
    return arch.precisions if arch is not None else (torch.float16, torch.bfloat16)


def _tags(model: nn.Module) -> list[str]:
    cfg = getattr(model, "config", {}) or {}
    tags = []
    if "num_feat" in cfg:
        tags.append(f"{cfg['num_feat']}nf")
    for key, suffix in (("num_block", "nb"), ("num_conv", "nc")):
        if key in cfg:
            tags.append(f"{cfg[key]}{suffix}")
    return tags


class GenSRUpscaleModel:
    """A spandrel-style image model descriptor around one of our generators."""

    purpose = "SR"

    def __init__(self, model: nn.Module) -> None:
        self.model = model.eval()
        self.architecture = ArchitectureInfo(id=f"GenSR-{model.arch}", name=_arch_name(model))
        self.tags = _tags(model)
        self.supports_half = torch.float16 in _precisions(model)
        self.supports_bfloat16 = torch.bfloat16 in _precisions(model)
        self.scale = int(model.scale)
        self.input_channels = int(model.in_channels)
        self.output_channels = int(model.out_channels)
        rules = _size_rules(model)
        self.size_requirements = SizeRequirements(minimum=rules.minimum, multiple_of=rules.multiple, square=rules.square)
        self.tiling = "SUPPORTED"

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def to(self, *args: Any, **kwargs: Any) -> "GenSRUpscaleModel":
        self.model.to(*args, **kwargs)
        return self

    def cpu(self) -> "GenSRUpscaleModel":
        return self.to("cpu")

    def float(self) -> "GenSRUpscaleModel":
        return self.to(torch.float32)

    def half(self) -> "GenSRUpscaleModel":
        return self.to(torch.float16)

    def bfloat16(self) -> "GenSRUpscaleModel":
        return self.to(torch.bfloat16)

    def eval(self) -> "GenSRUpscaleModel":
        self.model.eval()
        return self

    @torch.inference_mode()
    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in 0..1 -> (B, C_out, H*scale, W*scale) in 0..1, padding
        (mirrored, see ``pad_edges``) to the size requirements and cropping the padding off again."""
        if image.ndim != 4:
            raise ValueError(f"expected a (B, C, H, W) tensor, got shape {tuple(image.shape)}")
        h, w = image.shape[-2:]
        pad_w, pad_h = self.size_requirements.get_padding(w, h)
        image = pad_edges(image, h + pad_h, w + pad_w)
        out = self.model(image).clamp_(0, 1)
        return out[..., : h * self.scale, : w * self.scale]

    def __repr__(self) -> str:
        return f"GenSRUpscaleModel({self.architecture.name}, x{self.scale}, {self.input_channels}->{self.output_channels}ch)"


@lru_cache(maxsize=None)
def _spandrel_architecture(arch: str, name: str) -> Any:
    """Our architecture ``arch`` as a spandrel ``Architecture``. It is not added
    to spandrel's registry (its ``detect`` never claims a file): ComfyUI's own
    loader keeps using spandrel's architectures."""
    import spandrel

    class GenSRArchitecture(spandrel.Architecture):
        def __init__(self) -> None:
            super().__init__(id=f"GenSR-{arch}", name=name, detect=lambda state_dict: False)
            self.arch = arch

        def load(self, state_dict):
            from ..weights.loader import detect_architecture, model_from_state_dict

            found, _, _ = detect_architecture(state_dict)
            if found != arch:
                raise ValueError(f"state dict is a {found} model, not {arch}")
            return _spandrel_descriptor(model_from_state_dict(state_dict))

    return GenSRArchitecture()


def _spandrel_descriptor(model: nn.Module) -> Optional[Any]:
    """A real spandrel ``ImageModelDescriptor`` for ``model``, or ``None`` when
    spandrel is not importable."""
    try:
        import spandrel
    except Exception:  # not installed, or broken (e.g. its torchvision import)
        return None
    return spandrel.ImageModelDescriptor(
        model,
        model.state_dict(),
        architecture=_spandrel_architecture(model.arch, _arch_name(model)),
        purpose="SR",
        tags=_tags(model),
        supports_half=torch.float16 in _precisions(model),
        supports_bfloat16=torch.bfloat16 in _precisions(model),
        scale=int(model.scale),
        input_channels=int(model.in_channels),
        output_channels=int(model.out_channels),
        size_requirements=spandrel.SizeRequirements(
            minimum=_size_rules(model).minimum, multiple_of=_size_rules(model).multiple, square=_size_rules(model).square
        ),
        tiling=spandrel.ModelTiling.SUPPORTED,
    )


def as_upscale_model(model: nn.Module) -> Union[GenSRUpscaleModel, Any]:
    """Wrap a loaded generator as ComfyUI's ``UPSCALE_MODEL``: a spandrel
    ``ImageModelDescriptor`` when spandrel is importable, else
    :class:`GenSRUpscaleModel`; with a ComfyUI ``.patcher`` inside ComfyUI.
    ``metadata`` and ``source`` of the loaded model are carried over. A model
    that spandrel built (an architecture GenSR does not implement) already is
    such a descriptor and gets only the patcher."""
    if not isinstance(model, nn.Module):
        model.model.eval()
        return comfy_bridge.attach_patcher(model)
    model = model.eval()
    descriptor = None
    try:
        descriptor = _spandrel_descriptor(model)
    except Exception as e:  # an incompatible spandrel version: duck typing still works
        log.warning("GenSR: could not build a spandrel descriptor (%s); using GenSR's own", e)
    if descriptor is None:
        descriptor = GenSRUpscaleModel(model)
    for attr in ("metadata", "source"):
        if hasattr(model, attr):
            try:
                setattr(descriptor, attr, getattr(model, attr))
            except AttributeError:
                pass
    return comfy_bridge.attach_patcher(descriptor)


def load_upscale_model(*args: Any, **kwargs: Any) -> Any:
    """``weights.load_model(*args, **kwargs)`` wrapped by :func:`as_upscale_model`.

    Loaded outside inference mode: ComfyUI runs every node under
    ``torch.inference_mode()``, and weights created there would be inference
    tensors that cannot be modified, trained or versioned afterwards."""
    from ..weights.loader import load_model

    with torch.inference_mode(False):
        return as_upscale_model(load_model(*args, **kwargs))
