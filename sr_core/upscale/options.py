"""``UpscaleOptions``: everything a caller can ask of an upscale, in one
checked, immutable object shared by ``gensr.upscale``, the CLI and the node."""
from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import torch

from .devices import DeviceLike, PrecisionLike, parse_precision
from .resample import FILTERS
from .spec import LAYOUTS

TileLike = Union[str, int, Sequence[int]]
Target = Union[int, Sequence[int], None]
Progress = Optional[Callable[[int, int], Any]]
Cancel = Union[None, threading.Event, Callable[[], bool]]
#: receives each warning's message (e.g. a tile too small for the model's context)
OnWarning = Optional[Callable[[str], Any]]

OUT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.uint8)


def _tile(tile: TileLike) -> Union[str, Tuple[int, int]]:
    if isinstance(tile, str):
        if tile != "auto":
            raise ValueError(f"tile must be 'auto', a size in pixels or (height, width), not {tile!r}")
        return tile
    if isinstance(tile, bool):
        raise ValueError(f"tile must be 'auto', a size in pixels or (height, width), not {tile!r}")
    try:
        hw = (int(tile), int(tile)) if isinstance(tile, int) else tuple(int(v) for v in tile)
    except (TypeError, ValueError):
        raise ValueError(f"tile must be 'auto', a size in pixels or (height, width), not {tile!r}") from None
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f"tile must be a positive size or (height, width), not {tile!r}")
    return hw  # type: ignore[return-value]


@dataclass(frozen=True)
class UpscaleOptions:
    """How to upscale (see ``gensr.upscale`` for each field's meaning).

    ``tile`` is a promise: no window given to the model, context included,
    is larger. ``threads`` is ``"auto"`` (what the CPU has free right now) or
    a number of CPU threads for this call. ``on_warning`` receives warnings
    meant for the user (default: Python's ``warnings.warn``).
    """

    tile: TileLike = "auto"
    overlap: Union[str, int] = "auto"
    precision: PrecisionLike = "auto"
    device: DeviceLike = None
    outscale: Optional[float] = None
    target: Target = None
    out_dtype: torch.dtype = torch.float32
    layout: str = "auto"
    out_device: DeviceLike = None
    tile_batch: Union[str, int] = "auto"
    memory_budget: Optional[int] = None
    resize_filter: str = "lanczos"
    alpha_filter: str = "bicubic"
    channels_last: Union[str, bool] = "auto"
    clamp: bool = True
    threads: Union[str, int] = "auto"
    progress: Progress = None
    cancel: Cancel = None
    on_warning: OnWarning = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tile", _tile(self.tile))
        if self.overlap != "auto" and (isinstance(self.overlap, bool) or not isinstance(self.overlap, int) or self.overlap < 0):
            raise ValueError(f"overlap must be 'auto' or a number of pixels >= 0, not {self.overlap!r}")
        object.__setattr__(self, "precision", parse_precision(self.precision))
        if self.out_dtype not in OUT_DTYPES:
            raise ValueError(f"out_dtype {self.out_dtype} is not supported; use float32, float16, bfloat16 or uint8")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {self.layout!r}")
        if self.tile_batch != "auto" and (isinstance(self.tile_batch, bool) or not isinstance(self.tile_batch, int) or self.tile_batch < 1):
            raise ValueError(f"tile_batch must be 'auto' or a positive integer, not {self.tile_batch!r}")
        if self.memory_budget is not None and not (isinstance(self.memory_budget, int) and self.memory_budget > 0):
            raise ValueError(f"memory_budget must be a positive number of bytes, not {self.memory_budget!r}")
        for name in ("resize_filter", "alpha_filter"):
            if getattr(self, name) not in FILTERS:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose one of {', '.join(FILTERS)}")
        if self.threads != "auto" and (isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"threads must be 'auto' or a positive integer, not {self.threads!r}")
        if self.channels_last not in ("auto", True, False):
            raise ValueError(f"channels_last must be 'auto', True or False, not {self.channels_last!r}")
        if self.cancel is not None and not (hasattr(self.cancel, "is_set") or callable(self.cancel)):
            raise TypeError("cancel must be a callable returning bool or a threading.Event")
        if self.outscale is not None and self.target is not None:
            raise ValueError("give either outscale or target, not both")

    def replace(self, **changes: Any) -> "UpscaleOptions":
        """A copy with ``changes`` (checked like the original)."""
        return dataclasses.replace(self, **changes)

    def cancelled(self) -> bool:
        """Whether ``cancel`` asks to stop now."""
        if self.cancel is None:
            return False
        if hasattr(self.cancel, "is_set"):
            return bool(self.cancel.is_set())
        return bool(self.cancel())

    def warn(self, message: str) -> None:
        if self.on_warning is not None:
            self.on_warning(message)
            return
        import warnings

        warnings.warn(message, UpscaleWarning, stacklevel=4)


class UpscaleWarning(UserWarning):
    """Something the user asked for could not be honoured exactly (e.g. a
    tile too small for the context the model needs: seams may show)."""


def options_from(options: Optional[UpscaleOptions], **changes: Any) -> UpscaleOptions:
    """``options`` (default: all defaults) with keyword ``changes`` applied."""
    base = options if options is not None else UpscaleOptions()
    if not isinstance(base, UpscaleOptions):
        raise TypeError(f"options must be an UpscaleOptions, not {type(base).__name__}")
    unknown = set(changes) - {f.name for f in dataclasses.fields(UpscaleOptions)}
    if unknown:
        raise TypeError(f"unknown upscale option(s): {', '.join(sorted(unknown))}")
    return base.replace(**changes) if changes else base
