"""Architectures GenSR does not implement, built by spandrel when it is installed.

GenSR reads the file itself (``safe_read``: safetensors, or a weights-only
pickle) and hands spandrel only the tensors, so nothing in the file runs.
spandrel detects the architecture and builds the model; the result is
spandrel's own ``ImageModelDescriptor`` (what ComfyUI's core loader returns),
which GenSR's engine runs honouring its size requirements and its fp16/bf16
flags, with GenSR's attributes added (``arch``, ``config``, ``in_channels``,
``out_channels``, ``metadata``, ``source``, and the module's ``parameters``,
``buffers`` and ``state_dict``), so ``gensr info`` and ``gensr convert`` work too.

spandrel is optional: inside ComfyUI it is always there; elsewhere
``pip install "comfyui-gensr[spandrel]"``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional

import torch

from ..sr_core.noise import SeededNoise
from .errors import UnknownArchitectureError, WeightFileError

#: Prefix of ``arch`` for models spandrel builds (``"spandrel:DAT"``).
ARCH_PREFIX = "spandrel:"
#: The command that adds spandrel to a GenSR installation.
INSTALL_HINT = 'pip install "comfyui-gensr[spandrel]"'
#: spandrel architectures that draw random numbers in their forward pass: they
#: run under :class:`~gensr.sr_core.noise.SeededNoise` (reproducible, tiling-independent).
NOISY_ARCHITECTURES = frozenset({"AuraSR", "GFPGAN"})


@lru_cache(maxsize=None)
def _spandrel() -> Optional[Any]:
    try:
        import spandrel
    except Exception:  # not installed, or broken (its torchvision import needs the matching torch)
        return None
    return spandrel


def spandrel_available() -> bool:
    """Whether spandrel can be imported here."""
    return _spandrel() is not None


def spandrel_version() -> Optional[str]:
    module = _spandrel()
    return getattr(module, "__version__", "?") if module is not None else None


def spandrel_architecture_names() -> list[str]:
    """Display names of the architectures spandrel can build ([] without spandrel)."""
    module = _spandrel()
    if module is None:
        return []
    return [support.architecture.name for support in module.MAIN_REGISTRY.architectures("insertion")]


def is_spandrel_model(model: Any) -> bool:
    return str(getattr(model, "arch", "")).startswith(ARCH_PREFIX)


def _detected(spandrel: Any, sd: dict) -> Optional[Any]:
    """The spandrel registry entry that claims ``sd``, in spandrel's detection order."""
    for support in spandrel.MAIN_REGISTRY.architectures("detection"):
        try:
            if support.detect(sd):
                return support
        except Exception:  # a detector tripping over an unexpected layout does not claim it
            continue
    return None


def load_with_spandrel(sd: dict[str, torch.Tensor], source: str = "state dict") -> Optional[Any]:
    """spandrel's descriptor for ``sd``, decorated for GenSR; ``None`` when
    spandrel is not installed or does not know the architecture."""
    spandrel = _spandrel()
    if spandrel is None:
        return None
    sd = spandrel.canonicalize_state_dict(dict(sd))
    support = _detected(spandrel, sd)
    if support is None:
        return None
    arch = support.architecture
    try:
        descriptor = arch.load(sd)
    except Exception as e:  # spandrel's loaders raise KeyError, RuntimeError, AssertionError, ...
        detail = " ".join(str(e).split())[:300] or type(e).__name__
        raise WeightFileError(
            f"{source} looks like {arch.name} (detected by spandrel {spandrel_version()}), but spandrel could not build it "
            f"({type(e).__name__}: {detail}). The file is damaged or a variant spandrel does not know."
        ) from None
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        purpose = getattr(descriptor, "purpose", "?")
        raise UnknownArchitectureError(
            f"{source} is a {arch.name} model for {purpose} (it takes an image and a mask), not an upscaler: "
            "GenSR upscales with single-image models only."
        )
    return decorate(descriptor, arch)


def decorate(descriptor: Any, arch: Any) -> Any:
    """Add GenSR's model attributes to a spandrel descriptor (in place) and,
    for noisy architectures, a seeded call (``descriptor.noise.seed``)."""
    descriptor.eval()
    # What GenSR's tools (info, convert, save_model) ask of a loaded model.
    descriptor.parameters = descriptor.model.parameters
    descriptor.buffers = descriptor.model.buffers
    descriptor.state_dict = descriptor.model.state_dict
    descriptor.arch = ARCH_PREFIX + str(arch.id)
    descriptor.in_channels = int(descriptor.input_channels)
    descriptor.out_channels = int(descriptor.output_channels)
    req = descriptor.size_requirements
    descriptor.config = {
        "architecture": arch.name,
        "tags": list(descriptor.tags),
        "size_requirements": {"minimum": req.minimum, "multiple_of": req.multiple_of, "square": req.square},
        "supports_half": bool(descriptor.supports_half),
        "supports_bfloat16": bool(descriptor.supports_bfloat16),
        "tiling": getattr(descriptor.tiling, "name", str(descriptor.tiling)),
    }
    if str(arch.id) in NOISY_ARCHITECTURES:
        noise = SeededNoise(0, descriptor._call_fn)
        descriptor._call_fn = noise  # what spandrel's __call__ and GenSR's engine call
        descriptor.noise = noise
    return descriptor
