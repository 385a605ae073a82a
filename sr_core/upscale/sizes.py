"""Output size from ``outscale`` / ``target`` and input padding for a model."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

Target = Union[int, Sequence[int], None]


def output_size(height: int, width: int, scale: int, outscale: Optional[float], target: Target) -> Tuple[int, int]:
    """(height, width) of the result: the model's own scale by default,
    ``outscale`` times the input, or ``target`` = (width, height) or an int
    long side (aspect ratio kept)."""
    if outscale is not None and target is not None:
        raise ValueError("give either outscale or target, not both")
    if outscale is not None:
        f = float(outscale)
        if not f > 0:
            raise ValueError(f"outscale must be a positive number, not {outscale!r}")
        return max(1, round(height * f)), max(1, round(width * f))
    if target is None:
        return height * scale, width * scale
    if isinstance(target, bool):
        raise ValueError(f"target must be (width, height) or a long-side length, not {target!r}")
    if isinstance(target, int):
        if target < 1:
            raise ValueError(f"target long side must be positive, not {target}")
        if width >= height:
            return max(1, round(height * target / width)), target
        return target, max(1, round(width * target / height))
    try:
        tw, th = (int(v) for v in target)
    except (TypeError, ValueError):
        raise ValueError(f"target must be (width, height) or a long-side length, not {target!r}") from None
    if tw < 1 or th < 1:
        raise ValueError(f"target size must be positive, not {tw}x{th}")
    return th, tw


def padded_size(height: int, width: int, multiple: int, minimum: int, square: bool) -> Tuple[int, int]:
    """Smallest size >= the image that the model accepts."""
    up = lambda v: -(-max(v, minimum) // multiple) * multiple  # noqa: E731
    h, w = up(height), up(width)
    if square:
        h = w = max(h, w)
    return h, w
