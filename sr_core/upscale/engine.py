"""``upscale``: run a super-resolution model over images of any size, tile by
tile, writing straight into one preallocated output."""
from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any, Callable, Deque, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from .adapter import ModelSpec, model_spec
from .channels import ChannelPlan
from .context import model_context
from .devices import DeviceLike, is_oom, release_cached_memory, resolve_device
from .errors import UpscaleCancelled, UpscaleOutOfMemory
from .layout import as_bchw, detect_layout, empty_like_layout
from .memory import cache_friendly_pixels, default_budget, max_tile_batch, model_profile, profile_bytes_per_pixel, tile_for_budget
from .precision import PrecisionLike, auto_dtype, checked_precision, parse_precision
from .resample import Resizer2d
from .runner import Runner, wants_channels_last
from .sizes import Target, output_size, padded_size
from .tiles import Tile, plan_tiles

TileLike = Union[str, int, Sequence[int]]
Progress = Optional[Callable[[int, int], Any]]
Cancel = Union[None, threading.Event, Callable[[], bool]]

OUT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.uint8)
IN_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.uint8)


def _model_device(spec: ModelSpec, fallback: torch.device) -> torch.device:
    for p in spec.module.parameters():
        return p.device
    return fallback


def _cancel_check(cancel: Cancel) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if hasattr(cancel, "is_set"):
        return cancel.is_set  # threading.Event and friends
    if callable(cancel):
        return lambda: bool(cancel())
    raise TypeError("cancel must be a callable returning bool or a threading.Event")


def _parse_tile(tile: TileLike, multiple: int) -> Optional[Tuple[int, int]]:
    if isinstance(tile, str):
        if tile != "auto":
            raise ValueError(f"tile must be 'auto', a size in pixels or (height, width), not {tile!r}")
        return None
    hw = (tile, tile) if isinstance(tile, int) else tuple(int(v) for v in tile)
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f"tile must be a positive size or (height, width), not {tile!r}")
    return tuple(max(multiple, v - v % multiple) for v in hw)  # type: ignore[return-value]


def _pad(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pad (N, C, H, W) at the bottom/right to (height, width), mirroring the edge."""
    ph, pw = height - x.shape[-2], width - x.shape[-1]
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if ph < x.shape[-2] and pw < x.shape[-1] else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def _to_float(frame: torch.Tensor) -> torch.Tensor:
    if frame.dtype == torch.uint8:
        return frame.float().div_(255)
    return frame.float()


def _write(dst: torch.Tensor, x: torch.Tensor, clamp: bool) -> None:
    """Store float ``x`` into a region of the output, converting to its dtype."""
    if dst.dtype == torch.uint8:
        dst.copy_(x.clamp(0, 1).mul_(255).round_())
        return
    if clamp and dst.dtype == x.dtype:
        torch.clamp(x, 0, 1, out=dst)  # one pass, straight into the (possibly strided) output
        return
    dst.copy_(x)
    if clamp:
        dst.clamp_(0, 1)


def _checked_out(out: torch.Tensor, layout: str, unbatched: bool, bchw: Tuple[int, int, int, int]) -> torch.Tensor:
    """The BCHW view of a caller's ``out`` after checking it fits the result."""
    b, c, h, w = bchw
    shape = (b, h, w, c) if layout == "bhwc" else bchw
    if unbatched:
        shape = shape[1:]
    if tuple(out.shape) != shape:
        raise ValueError(f"out has shape {tuple(out.shape)}; this upscale needs {shape}")
    if out.dtype not in OUT_DTYPES:
        raise ValueError(f"out dtype {out.dtype} is not supported; use float32, float16, bfloat16 or uint8")
    view, _ = as_bchw(out, layout)
    return view


def _probing(device: torch.device, measure: Callable[[], Any]) -> Any:
    """Run a measurement on a small probe; out of memory there is final."""
    try:
        return measure()
    except Exception as e:  # noqa: BLE001 - only out-of-memory is translated
        if not is_oom(e):
            raise
        message = str(e)
    release_cached_memory(device)
    raise UpscaleOutOfMemory(
        f"out of memory on {device} while measuring the model on a small probe image; "
        f"free memory or use device='cpu'. Last error: {message}"
    )


class _TileRunner:
    """The model on a batch of same-size tiles, padding to square if required."""

    def __init__(self, runner: Runner, spec: ModelSpec) -> None:
        self.runner, self.spec = runner, spec

    def __call__(self, x: torch.Tensor, sink=None, between=None) -> Optional[torch.Tensor]:
        h, w = x.shape[-2:]
        if self.spec.square and h != w:
            side = max(h, w)
            return self.runner(_pad(x, side, side))[..., : h * self.spec.scale, : w * self.spec.scale]
        return self.runner(x, sink, between)


def upscale(
    model: Any,
    image: torch.Tensor,
    *,
    tile: TileLike = "auto",
    overlap: Union[str, int] = "auto",
    precision: PrecisionLike = "auto",
    device: DeviceLike = None,
    outscale: Optional[float] = None,
    target: Target = None,
    out_dtype: torch.dtype = torch.float32,
    progress: Progress = None,
    cancel: Cancel = None,
    layout: str = "auto",
    out_device: DeviceLike = None,
    tile_batch: Union[str, int] = "auto",
    memory_budget: Optional[int] = None,
    resize_filter: str = "lanczos",
    alpha_filter: str = "bicubic",
    channels_last: Union[str, bool] = "auto",
    clamp: bool = True,
    out: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Upscale ``image`` with ``model``; returns the result in the input's layout.

    Args:
        model: a GenSR generator (``gensr.load_model``) or a spandrel-style
            descriptor (``.model``, ``.scale``, ``.input_channels``,
            ``.output_channels``, ``.size_requirements``), e.g. ComfyUI's.
        image: (B, C, H, W) or (B, H, W, C) (or unbatched) with 1 (gray),
            2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels; float in [0, 1]
            (fp32/fp16/bf16) or uint8. Frames are processed one at a time;
            the batch never goes to the device at once.
        tile: ``"auto"`` (from the free memory of the device), a size, or
            (height, width): the largest window fed to the model. Windows are
            shrunk to the smallest size that needs no more tiles.
        overlap: pixels of context around each tile's kept core; ``"auto"``
            is exact for convolution stacks and measured for deep models.
        precision: ``"auto"``, ``"fp32"``, ``"fp16"`` or ``"bf16"``. Auto
            uses bf16 on CPUs with native bf16, fp16 on CUDA, else fp32, and
            falls back to fp32 for a model whose output loses more than 0.5 dB.
        device: where the model runs (default: where its weights are).
        outscale: final size as a multiple of the input (any float).
        target: final (width, height), or an int long side.
        out_dtype: float32, float16, bfloat16 or uint8 (0..255).
        progress: ``progress(done, total)`` after every tile (the total is over
            the whole batch and can grow after an out-of-memory back-off).
            Exceptions it raises propagate.
        cancel: a callable returning True, or a ``threading.Event``, checked
            before every tile; raises ``UpscaleCancelled``.
        layout: ``"auto"``, ``"bchw"`` or ``"bhwc"``.
        out_device: device of the result (default: the input's).
        tile_batch: tiles per model call, ``"auto"`` (1 on CPU, what fits elsewhere).
        memory_budget: bytes the tiles may use (default: from free memory;
            at most 1 GiB on the CPU).
        resize_filter / alpha_filter: ``lanczos``, ``bicubic`` or ``bilinear``
            for the resize after the model and for interpolating alpha.
        channels_last: run convolutions channels-last (``"auto"``: on CPU and CUDA).
        clamp: clamp float output to [0, 1].
        out: a preallocated result to write into and return (the shape and
            layout this call returns; its dtype and device replace
            ``out_dtype`` and ``out_device``), e.g. one frame of a batch.

    On CPUs, Compact-style models run row-streamed (exactly the untiled
    result, cache-friendly, output rows written straight into the result), so
    their tiles can be as large as memory allows.
    """
    spec = model_spec(model)
    layout = detect_layout(image, layout)
    x, unbatched = as_bchw(image, layout)
    if x.dtype not in IN_DTYPES:
        raise ValueError(f"image dtype {x.dtype} is not supported; use float32/float16/bfloat16 in [0, 1] or uint8")
    if out is not None:
        if out.device == image.device and out.untyped_storage().data_ptr() == image.untyped_storage().data_ptr():
            raise ValueError("out must not share memory with image (later tiles read pixels already written)")
        out_dtype, out_device = out.dtype, out.device
    if out_dtype not in OUT_DTYPES:
        raise ValueError(f"out_dtype {out_dtype} is not supported; use float32, float16, bfloat16 or uint8")
    batch, channels, height, width = x.shape
    if height < 1 or width < 1:
        raise ValueError(f"image has no pixels (shape {tuple(image.shape)})")
    plan = ChannelPlan(channels, spec)
    s, m = spec.scale, spec.multiple
    dev = resolve_device(device, _model_device(spec, x.device))
    out_dev = torch.device(out_device) if out_device is not None else x.device
    use_cl = wants_channels_last(dev) if channels_last == "auto" else bool(channels_last)
    check_cancel = _cancel_check(cancel)

    wanted = parse_precision(precision)
    dtype = auto_dtype(dev, spec) if wanted == "auto" else wanted
    if wanted == "auto" and dtype != torch.float32:
        dtype = checked_precision(spec, dev, dtype, lambda dt: _TileRunner(Runner(spec, dev, dt, use_cl), spec))
    runner = _TileRunner(Runner(spec, dev, dtype, use_cl), spec)

    out_h, out_w = output_size(height, width, s, outscale, target)
    colour_rs = Resizer2d((height * s, width * s), (out_h, out_w), resize_filter)
    alpha_rs = Resizer2d((height, width), (out_h, out_w), alpha_filter) if plan.has_alpha and not plan.model_alpha else None
    margin = math.ceil(colour_rs.margin() / s) + (alpha_rs.margin() if alpha_rs is not None else 0)
    pad_h, pad_w = padded_size(height, width, m, spec.minimum, spec.square)

    budget = default_budget(dev, runner.runner.module, memory_budget)
    profile = _probing(dev, lambda: model_profile(spec, runner.runner.module, runner))
    bpp = profile_bytes_per_pixel(profile, spec, dtype) * plan.planes
    tile_budget = budget
    if runner.runner.streaming:  # only the tile's input and output are full size
        bpp = (2 * spec.out_channels * s * s + spec.in_channels) * 4 * plan.planes
    elif dev.type == "cpu" and memory_budget is None:
        # Larger tiles than the cache holds run slower per pixel on CPUs.
        tile_budget = min(budget, cache_friendly_pixels(profile, dtype) * bpp)
    tile_hw = _parse_tile(tile, m) or tile_for_budget(tile_budget, bpp, pad_h, pad_w, m)
    tile_hw = (min(tile_hw[0], pad_h), min(tile_hw[1], pad_w))
    tiling = tile_hw != (pad_h, pad_w)

    def context() -> int:
        if overlap == "auto":
            return _probing(dev, lambda: model_context(spec, runner, key=(dev.type, dtype))) + margin
        if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
            raise ValueError(f"overlap must be 'auto' or a number of pixels >= 0, not {overlap!r}")
        return overlap + margin

    ov = context() if tiling else 0
    if tiling and (tile == "auto" or overlap == "auto"):
        # Tiles must leave room for a core beside the context the model needs
        # (an explicit tile with an explicit overlap too small for it is an error).
        least = 2 * ov + 4 * m
        if tile == "auto":  # keep the recomputed overlap a modest share, memory allowing
            least = max(least, min(8 * ov, int(math.isqrt(int(budget / bpp)))))
        least = -(-least // m) * m
        tile_hw = (min(pad_h, max(tile_hw[0], least)), min(pad_w, max(tile_hw[1], least)))
    if tile_batch == "auto":
        per_call = 1 if dev.type == "cpu" else max_tile_batch(budget, bpp, tile_hw)
    elif isinstance(tile_batch, int) and tile_batch >= 1:
        per_call = tile_batch
    else:
        raise ValueError(f"tile_batch must be 'auto' or a positive integer, not {tile_batch!r}")

    region = (0, height, 0, width)

    def frame_tiles() -> List[Tile]:
        return plan_tiles(pad_h, pad_w, tile_hw, ov, m, region=region, minimum=spec.minimum)

    if out is None:
        out, out_bchw = empty_like_layout(layout, batch, channels, out_h, out_w, out_dtype, out_dev)
    else:
        out_bchw = _checked_out(out, layout, unbatched, (batch, channels, out_h, out_w))
    per_frame = len(frame_tiles())
    total = batch * per_frame
    done = 0
    colour_slice = slice(0, plan.output_channels)
    mixing = plan.planes > 1 or plan.colour != min(3, spec.out_channels) or plan.model_alpha

    def emit(b: int, t: Tile, y: torch.Tensor, row0: int, streamed: bool = False) -> None:
        """Write model-output rows ``[row0, row0 + rows)`` of tile ``t`` (all
        rows when resizing) into frame ``b`` of the result: the tile's core only.
        Streamed bands also check ``cancel``, so large tiles stop early too."""
        if streamed and check_cancel():
            raise UpscaleCancelled(f"upscale cancelled during tile {done + 1} of {total}")
        if clamp and (mixing or not colour_rs.identity):
            y = y.clamp(0, 1)  # like an RGB image, before any channel mixing or resizing
        colour = plan.model_output(y)
        if colour_rs.identity:
            top = t.y0 * s + row0
            y0, y1 = max(t.cy0 * s, top), min(t.cy1 * s, top + colour.shape[-2])
            if y0 >= y1:
                return
            part = colour[:, y0 - top: y1 - top, (t.cx0 - t.x0) * s: (t.cx1 - t.x0) * s]
            box = (y0, y1, t.cx0 * s, t.cx1 * s)
        else:
            box = colour_rs.owned((t.cy0 * s, t.cy1 * s, t.cx0 * s, t.cx1 * s))
            if box[0] >= box[1] or box[2] >= box[3]:
                return
            part = colour_rs.apply(colour, (t.y0 * s, t.x0 * s), box)
        _write(out_bchw[b, colour_slice, box[0]: box[1], box[2]: box[3]], part, clamp)

    def stop_if_cancelled() -> None:  # inside long tiles (between RRDB blocks)
        if check_cancel():
            raise UpscaleCancelled(f"upscale cancelled during tile {done + 1} of {total}")

    with torch.no_grad():
        for b in range(batch):
            frame = _to_float(x[b])
            planes = _pad(plan.model_input(frame), pad_h, pad_w)
            if dev.type != "cpu":
                planes = runner.runner.prepare(planes)  # whole frame on the device once
            alpha = plan.interpolated_alpha(frame)
            queue: Deque[Tile] = deque(frame_tiles())
            while queue:
                if check_cancel():
                    raise UpscaleCancelled(f"upscale cancelled after {done} of {total} tiles")
                group = [queue.popleft()]
                while queue and len(group) < per_call and (queue[0].h, queue[0].w) == (group[0].h, group[0].w):
                    group.append(queue.popleft())
                crops = [planes[:, :, t.y0: t.y0 + t.h, t.x0: t.x0 + t.w] for t in group]
                inp = crops[0] if len(crops) == 1 else torch.cat(crops)
                # Streaming models hand over output rows as they are made, straight into the result.
                direct = runner.runner.streaming and len(group) == 1 and colour_rs.identity and not spec.square
                sink = (lambda r, rows, t=group[0], b=b: emit(b, t, rows, r, True)) if direct else None
                try:
                    y = runner(inp, sink, stop_if_cancelled)
                    failed = None
                except Exception as e:  # noqa: BLE001 - only out-of-memory is handled
                    if not is_oom(e):
                        raise
                    failed = str(e)
                if failed is not None:
                    del inp, crops
                    release_cached_memory(dev)
                    if len(group) > 1:  # first fewer tiles per call, then smaller tiles
                        per_call = max(1, len(group) // 2)
                        queue.extendleft(reversed(group))
                        continue
                    smaller = tuple(max(m, (v // 2) - (v // 2) % m) for v in tile_hw)
                    if not tiling:
                        tiling, ov = True, context()
                    least = 2 * ov + m
                    if max(smaller) < least or smaller == tile_hw:
                        raise UpscaleOutOfMemory(
                            f"out of memory on {dev} even with {tile_hw[0]}x{tile_hw[1]} tiles "
                            f"(overlap {ov}); free memory, use a smaller model, fp16, or device='cpu'. "
                            f"Last error: {failed}"
                        )
                    tile_hw = (max(smaller[0], min(least, pad_h)), max(smaller[1], min(least, pad_w)))
                    pending = group + list(queue)
                    queue = deque(
                        sub
                        for t in pending
                        for sub in plan_tiles(pad_h, pad_w, tile_hw, ov, m, (t.cy0, t.cy1, t.cx0, t.cx1), spec.minimum)
                    )
                    total = done + len(queue) + (batch - b - 1) * len(frame_tiles())
                    continue
                for i, t in enumerate(group):
                    if y is not None:
                        emit(b, t, y[i * plan.planes: (i + 1) * plan.planes], 0)
                    if alpha is not None:
                        box = alpha_rs.owned((t.cy0, t.cy1, t.cx0, t.cx1))
                        if box[0] < box[1] and box[2] < box[3]:
                            win = alpha[:, t.y0: min(t.y0 + t.h, height), t.x0: min(t.x0 + t.w, width)]
                            a = alpha_rs.apply(win, (t.y0, t.x0), box)
                            _write(out_bchw[b, channels - 1:, box[0]: box[1], box[2]: box[3]], a, True)
                    done += 1
                    if progress is not None:
                        progress(done, total)
                del y
    return out[0] if unbatched else out
