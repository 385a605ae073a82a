"""The architecture registry: everything GenSR knows about a generator
architecture, asked of the architecture instead of guessed from class names.

Each architecture is a package ``sr_core/archs/<id>/`` (model, shape-only
state-dict detection, and where it has them a streamed CPU forward and an
exact context) whose ``__init__`` defines ``ARCH = Architecture(...)``. The
loader, the upscaling engine, the nodes, the CLI's help and the training
presets read :data:`ARCHITECTURES`; adding an architecture means adding one
package and registering it (:func:`register`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterator, Optional, Tuple

import torch
from torch import nn

StateDict = Dict[str, torch.Tensor]
#: ``detect(sd) -> (config, canonical state dict)`` or None when ``sd`` is not
#: this architecture. Shape-only (never runs the model); raises KeyError or
#: IndexError when the marker keys are there but the rest is missing.
Detect = Callable[[StateDict], Optional[Tuple[dict, StateDict]]]
#: ``between()`` is called by streamed forwards at safe points (it may raise to stop).
Between = Optional[Callable[[], None]]
#: ``sink(first_output_row, rows)`` receives output rows band by band.
Sink = Callable[[int, torch.Tensor], None]


@dataclass(frozen=True)
class SizeRules:
    """What every window given to the model must satisfy."""

    multiple: int = 1
    minimum: int = 0
    square: bool = False


class Streamed:
    """An architecture's exact, cache-friendly CPU forward for one model.

    ``forward(x, between=..., sink=...)`` equals ``model(x)`` up to rounding;
    with ``sink`` (only when ``takes_sink``) the output rows go to the sink
    band by band and nothing is returned.
    """

    takes_sink: bool = False

    def forward(self, x: torch.Tensor, between: Between = None, sink: Optional[Sink] = None) -> Optional[torch.Tensor]:
        raise NotImplementedError


@dataclass(frozen=True)
class Architecture:
    """One generator architecture.

    Attributes:
        id: short name, saved as the ``gensr.arch`` metadata of exported weights.
        name: display name (errors, CLI help, node tooltips).
        model: the ``nn.Module`` class, built as ``model(**config)``.
        detect: shape-only state-dict detection (see :data:`Detect`).
        size_rules: the window rules of a built model.
        exact_context: input pixels of context a window needs for tiled ==
            untiled output, when it is known exactly (else the engine measures it).
        streamed: a :class:`Streamed` CPU forward for a built model, or None
            when the model (e.g. a variant) cannot be streamed.
        precisions: compute dtypes the architecture tolerates besides float32.
        claims: whether a built module (GenSR's, or another implementation
            of the same network, such as spandrel's) is this architecture;
            default: an instance of ``model``.
        portability: ``portability(config)`` says why weights of this
            config would not load in spandrel (ComfyUI's core loader) and the
            tools built on it, or None when they do; training warns with it.
    """

    id: str
    name: str
    model: type
    detect: Detect
    size_rules: Callable[[nn.Module], SizeRules] = lambda module: SizeRules(int(getattr(module, "size_multiple", 1) or 1))
    exact_context: Optional[Callable[[nn.Module], Optional[int]]] = None
    streamed: Optional[Callable[[nn.Module], Optional[Streamed]]] = None
    precisions: Tuple[torch.dtype, ...] = (torch.float16, torch.bfloat16)
    claims: Optional[Callable[[nn.Module], bool]] = None
    portability: Callable[[dict], Optional[str]] = lambda config: None

    def owns(self, module: nn.Module) -> bool:
        return self.claims(module) if self.claims is not None else isinstance(module, self.model)

    def build(self, config: dict) -> nn.Module:
        return self.model(**config)


ARCHITECTURES: Dict[str, Architecture] = {}


def register(arch: Architecture) -> Architecture:
    """Add ``arch`` (replacing one with the same id)."""
    ARCHITECTURES[arch.id] = arch
    return arch


def unregister(arch_id: str) -> None:
    ARCHITECTURES.pop(arch_id, None)


def architectures() -> Iterator[Architecture]:
    return iter(tuple(ARCHITECTURES.values()))


def get_architecture(arch_id: str) -> Architecture:
    try:
        return ARCHITECTURES[arch_id]
    except KeyError:
        raise ValueError(f"unknown architecture {arch_id!r}; known: {', '.join(ARCHITECTURES)}") from None


def architecture_of(module: nn.Module) -> Optional[Architecture]:
    """The registered architecture that claims ``module``, if any."""
    for arch in ARCHITECTURES.values():
        if arch.owns(module):
            return arch
    return None
