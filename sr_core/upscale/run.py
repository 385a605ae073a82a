"""Running an upscale: ``upscale()`` measures what it must, plans (see
``plan.py``), then executes the plan window by window, handing every result
to the writer and re-planning the unfinished windows after an out-of-memory
error. The model runs through a :class:`Runner`, whose weights on the
compute device and dtype are converted once per model and kept while the
model lives."""
from __future__ import annotations

import copy
import threading
import weakref
from collections import deque
from typing import Any, Callable, Deque, Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from ..archs.bands import larger_bands
from ..archs.registry import Sink, architecture_of
from ..noise import Origin
from .devices import (
    DeviceLike, auto_dtype, cpu_plan, cpu_threads, is_oom, parse_precision, release_cached_memory,
    resolve_device, same_device,
)
from .errors import UpscaleCancelled, UpscaleOutOfMemory
from .measure import (
    cache_friendly_pixels, checked_precision, default_budget, model_context, model_profile, profile_bytes_per_pixel, weights_key,
)
from .options import UpscaleOptions, options_from
from .plan import Budget, ModelFacts, Tile, UpscalePlan, backoff, plan_upscale
from .resample import Resizer2d
from .spec import ChannelPlan, ModelSpec, as_bchw, detect_layout, empty_like_layout, model_spec, pad_edges
from .write import Writer

IN_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.uint8)

# ------------------------------------------------------------------ weights


def wants_channels_last(device: torch.device) -> bool:
    """Channels-last convolutions are faster on CPUs (oneDNN) and CUDA tensor cores."""
    return device.type in ("cpu", "cuda")


def canonical_channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` channels-last with the standard strides. A frame cut from a BHWC
    batch is channels-last already but its size-1 batch axis can carry an odd
    stride, which sends oneDNN down a slower path (~20% for RRDBNet)."""
    if x.dim() != 4:
        return x
    x = x.contiguous(memory_format=torch.channels_last)
    n, c, h, w = x.shape
    if n == 1 and x.stride(0) != c * h * w:
        x = x.as_strided(x.shape, (c * h * w, 1, w * c, c), x.storage_offset())
    return x


def _runs_as_is(module: nn.Module, device: torch.device, dtype: torch.dtype) -> bool:
    if module.training:
        return False
    for p in list(module.parameters()) + list(module.buffers()):
        if not same_device(p.device, device) or (p.is_floating_point() and p.dtype != dtype):
            return False
    return True


def _device_key(device: torch.device) -> str:
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        return f"cuda:{torch.cuda.current_device()}"
    return str(device)


#: Converted copies: model -> {(device, dtype, channels_last): (weights key, copy)}.
#: Weak on the model: a copy lives exactly as long as the model it was made from.
_CONVERTED: "weakref.WeakKeyDictionary[nn.Module, Dict[Tuple, Tuple[Tuple, nn.Module]]]" = weakref.WeakKeyDictionary()
_CONVERTED_LOCK = threading.Lock()


def prepared_module(module: nn.Module, device: torch.device, dtype: torch.dtype, channels_last: bool) -> nn.Module:
    """``module`` ready to run on ``device`` in ``dtype`` (eval mode): the
    module itself when it already is, else a converted copy made once per
    (model, device, dtype) and kept while the model lives and its weights do
    not change. Casting the caller's weights in place would change the model
    for everyone else using it."""
    if _runs_as_is(module, device, dtype):
        return module
    key = (_device_key(device), dtype, bool(channels_last))
    version = weights_key(module)
    with _CONVERTED_LOCK:
        held = _CONVERTED.setdefault(module, {})
        hit = held.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        held.pop(key, None)  # stale: free it before making the new copy
    converted = copy.deepcopy(module).to(device=device, dtype=dtype).eval().requires_grad_(False)
    if channels_last:
        converted = converted.to(memory_format=torch.channels_last)
    with _CONVERTED_LOCK:
        _CONVERTED.setdefault(module, {})[key] = (version, converted)
    return converted


def _module_of(model: Any) -> nn.Module:
    return model_spec(model).module


def converted_weights_bytes(model: Any = None, device: DeviceLike = None) -> int:
    """Bytes of the converted weight copies the engine holds (for ``model``,
    or all models; on ``device``, or every device)."""
    with _CONVERTED_LOCK:
        items = [(_CONVERTED.get(_module_of(model)) or {})] if model is not None else list(_CONVERTED.values())
        total = 0
        for held in items:
            for (dev, _dtype, _cl), (_v, copy_) in held.items():
                if device is not None and dev != _device_key(torch.device(device)):
                    continue
                total += sum(t.numel() * t.element_size() for t in list(copy_.parameters()) + list(copy_.buffers()))
    return total


def weights_memory_required(model: Any, device: DeviceLike, precision: Any = "auto") -> int:
    """Bytes the engine's own copy of ``model``'s weights takes on ``device``
    at ``precision`` (``auto``: the precision auto tries first there), held
    or about to be made: 0 when the model, once on ``device`` (where ComfyUI
    puts it), runs as it is (same dtype, eval mode). Add it to what is asked
    of ComfyUI's memory management (``memory_required``)."""
    spec = model_spec(model)
    dev = resolve_device(device, _model_device(spec, torch.device("cpu")))
    wanted = parse_precision(precision)
    dtype = auto_dtype(dev, spec.precisions) if wanted == "auto" else wanted
    tensors = list(spec.module.parameters()) + list(spec.module.buffers())
    if not spec.module.training and all(t.dtype == dtype for t in tensors if t.is_floating_point()):
        return 0
    with _CONVERTED_LOCK:  # a copy already made takes memory that the device reports as used
        held = _CONVERTED.get(spec.module) or {}
        version = weights_key(spec.module) if held else None
        if any(d == _device_key(dev) and t == dtype and v == version for (d, t, _cl), (v, _c) in held.items()):
            return 0
    elem = torch.empty((), dtype=dtype).element_size()
    return sum(t.numel() * (elem if t.is_floating_point() else t.element_size()) for t in tensors)


def forget_converted_weights(model: Any = None) -> None:
    """Drop the converted copies (of ``model``, or all) now, e.g. before
    memory is needed for something else; they are made again when needed."""
    with _CONVERTED_LOCK:
        if model is None:
            _CONVERTED.clear()
        else:
            _CONVERTED.pop(_module_of(model), None)


class Runner:
    """Calls ``spec``'s model on batches of windows (B, C, h, w) -> float32 output."""

    def __init__(self, spec: ModelSpec, device: torch.device, dtype: torch.dtype, channels_last: bool) -> None:
        self.spec = spec
        self.device = device
        self.dtype = dtype
        self.channels_last = channels_last
        self.module = prepared_module(spec.module, device, dtype, channels_last)
        # On CPUs, an architecture's streamed forward (exact, cache-friendly) when it has one.
        arch = architecture_of(self.module)
        self.streamed = arch.streamed(self.module) if device.type == "cpu" and arch and arch.streamed else None

    @property
    def streaming(self) -> bool:
        """Whether the model's output rows can go straight to a sink."""
        return self.streamed is not None and self.streamed.takes_sink

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        # Asynchronous only from the host to CUDA: a non_blocking copy to the
        # host (an image on the GPU, a model on the CPU) is not complete when
        # it returns and would be read before it lands.
        async_ok = self.device.type == "cuda" and x.device.type == "cpu"
        x = x.to(device=self.device, dtype=self.dtype, non_blocking=async_ok)
        if self.channels_last:
            x = canonical_channels_last(x)
        return x

    def __call__(
        self, x: torch.Tensor, sink: Optional[Sink] = None, between: Optional[Callable[[], None]] = None,
        origins: Optional[Sequence[Origin]] = None,
    ) -> Optional[torch.Tensor]:
        """The model's output as float32; with ``sink`` (streaming models only)
        the output rows go to ``sink(first_row, rows)`` band by band instead.
        Banded models call ``between()`` after each block (it may raise to stop).
        ``origins``: each window's (top, left) in the padded image, for a model
        whose call takes them (see :attr:`ModelSpec.takes_origins`)."""
        with torch.inference_mode():
            x = self.prepare(x)
            if sink is not None and not self.streaming:
                raise ValueError("only streaming models take a sink")
            if self.streamed is not None and self.spec.rules.square is False:
                if sink is not None:
                    self.streamed.forward(x, between, lambda r, band: sink(r, band.float()))
                    return None
                y = self.streamed.forward(x, between)
            else:
                y = self.spec.forward(self.module, x, origins)
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"{self.spec.name} returned {type(y).__name__}, not a tensor")
        return y.float()


# ------------------------------------------------------------------ measuring


def _model_device(spec: ModelSpec, fallback: torch.device) -> torch.device:
    for p in spec.module.parameters():
        return p.device
    return fallback


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


def _precision(spec: ModelSpec, device: torch.device, options: UpscaleOptions, channels_last: bool) -> torch.dtype:
    if options.precision != "auto":
        return options.precision  # type: ignore[return-value]
    dtype = auto_dtype(device, spec.precisions)
    if dtype == torch.float32:
        return dtype
    return checked_precision(
        spec, device, dtype, weights_key(spec.module), lambda dt: Runner(spec, device, dt, channels_last)
    )


def _facts(spec: ModelSpec, runner: Runner, channels: ChannelPlan, options: UpscaleOptions,
           device: torch.device, dtype: torch.dtype) -> Tuple[ModelFacts, Budget]:
    budget_bytes = default_budget(device, runner.module, options.memory_budget)
    profile = _probing(device, lambda: model_profile(spec, runner.module, runner))
    bpp = profile_bytes_per_pixel(profile, spec, dtype) * channels.planes
    if runner.streaming:  # only the window's input and output are full size
        bpp = (2 * spec.out_channels * spec.scale**2 + spec.in_channels) * 4 * channels.planes
    cache_px = None
    if device.type == "cpu" and options.memory_budget is None:
        cache_px = cache_friendly_pixels(profile, dtype)  # larger windows run slower per pixel on CPUs

    def context() -> int:
        return _probing(device, lambda: model_context(spec, runner, key=(device.type, dtype)))

    facts = ModelFacts(
        scale=spec.scale, rules=spec.rules, bytes_per_pixel=bpp, context=context, streaming=runner.streaming,
        model_alpha=channels.model_alpha, device=device, dtype=dtype,
    )
    return facts, Budget(budget_bytes, cache_px)


# ------------------------------------------------------------------ executing


def _checked_out(out: torch.Tensor, layout: str, unbatched: bool, bchw: Tuple[int, int, int, int]) -> torch.Tensor:
    """The BCHW view of a caller's ``out`` after checking it fits the result."""
    b, c, h, w = bchw
    shape = (b, h, w, c) if layout == "bhwc" else bchw
    if unbatched:
        shape = shape[1:]
    if tuple(out.shape) != shape:
        raise ValueError(f"out has shape {tuple(out.shape)}; this upscale needs {shape}")
    view, _ = as_bchw(out, layout)
    return view


def _to_float(frame: torch.Tensor) -> torch.Tensor:
    if frame.dtype == torch.uint8:
        return frame.float().div_(255)
    return frame.float()


class _Execution:
    """One upscale being run: the plan, the runner, the writer and progress."""

    def __init__(self, plan: UpscalePlan, spec: ModelSpec, runner: Runner, channels: ChannelPlan,
                 writer: Writer, options: UpscaleOptions, context: Callable[[], int]) -> None:
        self.plan, self.spec, self.runner, self.channels = plan, spec, runner, channels
        self.writer, self.options, self.context = writer, options, context
        h, w = plan.size
        s = spec.scale
        self.colour_rs = Resizer2d((h * s, w * s), plan.out_size, options.resize_filter)
        self.alpha_rs = (
            Resizer2d((h, w), plan.out_size, options.alpha_filter)
            if channels.has_alpha and not channels.model_alpha else None
        )
        self.mixing = channels.planes > 1 or channels.colour != min(3, spec.out_channels) or channels.model_alpha
        self.colour_slice = slice(0, channels.output_channels)
        self.done = 0
        self.total = plan.batch * len(plan.tiles)

    def check_cancel(self, where: str) -> None:
        if self.options.cancelled():
            raise UpscaleCancelled(f"upscale cancelled {where}")

    def emit(self, b: int, t: Tile, y: torch.Tensor, row0: int, streamed: bool = False) -> None:
        """Write model-output rows ``[row0, row0 + rows)`` of window ``t`` (all
        rows when resizing) into frame ``b`` of the result: the core only.
        Streamed bands also check ``cancel``, so large windows stop early too."""
        if streamed:
            self.check_cancel(f"during tile {self.done + 1} of {self.total}")
        s = self.spec.scale
        if self.options.clamp and (self.mixing or not self.colour_rs.identity):
            y = y.clamp(0, 1)  # like an RGB image, before any channel mixing or resizing
        colour = self.channels.model_output(y)
        if self.colour_rs.identity:
            top = t.y0 * s + row0
            y0, y1 = max(t.cy0 * s, top), min(t.cy1 * s, top + colour.shape[-2])
            if y0 >= y1:
                return
            part = colour[:, y0 - top: y1 - top, (t.cx0 - t.x0) * s: (t.cx1 - t.x0) * s]
            box = (y0, y1, t.cx0 * s, t.cx1 * s)
        else:
            box = self.colour_rs.owned((t.cy0 * s, t.cy1 * s, t.cx0 * s, t.cx1 * s))
            if box[0] >= box[1] or box[2] >= box[3]:
                return
            part = self.colour_rs.apply(colour, (t.y0 * s, t.x0 * s), box)
        self.writer.put(b, self.colour_slice, box, part)

    def emit_alpha(self, b: int, t: Tile, alpha: torch.Tensor) -> None:
        box = self.alpha_rs.owned((t.cy0, t.cy1, t.cx0, t.cx1))
        if box[0] < box[1] and box[2] < box[3]:
            h, w = self.plan.size
            win = alpha[:, t.y0: min(t.y0 + t.h, h), t.x0: min(t.x0 + t.w, w)]
            a = self.alpha_rs.apply(win, (t.y0, t.x0), box)
            c = self.plan.channels
            self.writer.put(b, slice(c - 1, c), box, a)

    def frame(self, b: int, x: torch.Tensor) -> None:
        plan, runner = self.plan, self.runner
        frame = _to_float(x[b])
        planes = pad_edges(self.channels.model_input(frame), *plan.padded)
        if runner.device.type != "cpu":
            planes = runner.prepare(planes)  # whole frame on the device once
        alpha = self.channels.interpolated_alpha(frame)
        queue: Deque[Tile] = deque(plan.tiles)
        stop = lambda: self.check_cancel(f"during tile {self.done + 1} of {self.total}")  # noqa: E731
        while queue:
            self.check_cancel(f"after {self.done} of {self.total} tiles")
            group = [queue.popleft()]
            while queue and len(group) < self.plan.per_call and (queue[0].h, queue[0].w) == (group[0].h, group[0].w):
                group.append(queue.popleft())
            crops = [planes[:, :, t.y0: t.y0 + t.h, t.x0: t.x0 + t.w] for t in group]
            inp = crops[0] if len(crops) == 1 else torch.cat(crops)
            # Streaming models hand over output rows as they are made, straight into the result.
            direct = runner.streaming and len(group) == 1 and self.colour_rs.identity and not self.spec.square
            sink = (lambda r, rows, t=group[0]: self.emit(b, t, rows, r, True)) if direct else None
            # Each window's position, once per plane: a noisy model draws the crop of one whole-image noise field.
            origins = [(t.y0, t.x0) for t in group for _ in range(self.channels.planes)] if self.spec.takes_origins else None
            failed = None
            try:
                y = runner(inp, sink, stop, origins)
            except Exception as e:  # noqa: BLE001 - only out-of-memory is handled
                if not is_oom(e):
                    raise
                failed = str(e)
            if failed is not None:
                # Recover outside the except block: until it ends, the error's
                # traceback keeps the failed call's frames and their tensors alive.
                del inp, crops
                release_cached_memory(runner.device)
                try:
                    self.plan, regrid = backoff(self.plan, group + list(queue), self.context, self.options.overlap)
                except UpscaleOutOfMemory as oom:
                    raise UpscaleOutOfMemory(str(oom) if "Last error" in str(oom) else f"{oom}. Last error: {failed}") from None
                queue = deque(regrid)
                self.total = self.done + len(queue) + (plan.batch - b - 1) * len(self.plan.tiles)
                continue
            for i, t in enumerate(group):
                if y is not None:
                    self.emit(b, t, y[i * self.channels.planes: (i + 1) * self.channels.planes], 0)
                if alpha is not None:
                    self.emit_alpha(b, t, alpha)
                self.done += 1
                if self.options.progress is not None:
                    self.options.progress(self.done, self.total)
            del y


def upscale(model: Any, image: torch.Tensor, options: Optional[UpscaleOptions] = None, *,
            out: Optional[torch.Tensor] = None, **changes: Any) -> torch.Tensor:
    """Upscale ``image`` with ``model``; returns the result in the input's layout.

    Args:
        model: a GenSR generator (``gensr.load_model``) or a spandrel-style
            descriptor (``.model``, ``.scale``, ``.input_channels``,
            ``.output_channels``, ``.size_requirements``), e.g. ComfyUI's.
        image: (B, C, H, W) or (B, H, W, C) (or unbatched) with 1 (gray),
            2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels; float in [0, 1]
            (fp32/fp16/bf16) or uint8. Frames are processed one at a time;
            the batch never goes to the device at once.
        options: an ``UpscaleOptions``; keyword arguments (its field names)
            override its fields:
        tile: ``"auto"`` (from the free memory of the device), a size, or
            (height, width): the largest window fed to the model, context
            included (a promise). When it leaves too little room for the
            context the model needs, the context shrinks and a warning says so.
        overlap: pixels of context around each tile's kept core; ``"auto"``
            is exact for convolution stacks and measured for deep models.
        precision: ``"auto"``, ``"fp32"``, ``"fp16"`` or ``"bf16"``. Auto
            uses fp16 on CUDA, bf16 on CPUs with native bf16, else fp32 (only
            among the precisions the architecture tolerates), and falls back
            to fp32 for a model whose output loses more than 0.5 dB.
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
        out_device: device of the result (default: the input's); any
            combination with ``device`` works.
        tile_batch: tiles per model call, ``"auto"`` (1 on CPU, what fits elsewhere).
        memory_budget: bytes the tiles may use (default: from free memory;
            at most 1 GiB on the CPU).
        resize_filter / alpha_filter: ``lanczos``, ``bicubic`` or ``bilinear``
            for the resize after the model and for interpolating alpha.
        channels_last: run convolutions channels-last (``"auto"``: on CPU and CUDA).
        clamp: clamp float output to [0, 1].
        threads: CPU threads for this call (``"auto"``: torch's count capped
            by the CPUs other processes leave free right now).
        on_warning: receives warnings meant for the user (default: ``warnings.warn``).
        out: a preallocated result to write into and return (the shape and
            layout this call returns; its dtype and device replace
            ``out_dtype`` and ``out_device``), e.g. one frame of a batch.

    On CPUs, Compact-style models run row-streamed (exactly the untiled
    result, cache-friendly, output rows written straight into the result), so
    their tiles can be as large as memory allows.
    """
    opts = options_from(options, **changes)
    spec = model_spec(model)
    layout = detect_layout(image, opts.layout)
    x, unbatched = as_bchw(image, layout)
    if x.dtype not in IN_DTYPES:
        raise ValueError(f"image dtype {x.dtype} is not supported; use float32/float16/bfloat16 in [0, 1] or uint8")
    if out is not None:
        if out.device == image.device and out.untyped_storage().data_ptr() == image.untyped_storage().data_ptr():
            raise ValueError("out must not share memory with image (later tiles read pixels already written)")
        opts = opts.replace(out_dtype=out.dtype, out_device=out.device)
    if min(x.shape[-2:]) < 1:
        raise ValueError(f"image has no pixels (shape {tuple(image.shape)})")
    channels = ChannelPlan(x.shape[1], spec)
    dev = resolve_device(opts.device, _model_device(spec, x.device))
    use_cl = wants_channels_last(dev) if opts.channels_last == "auto" else bool(opts.channels_last)
    with torch.no_grad():
        dtype = _precision(spec, dev, opts, use_cl)
        runner = Runner(spec, dev, dtype, use_cl)
    threads, bands = cpu_plan(opts.threads, runner.streaming) if dev.type == "cpu" else (torch.get_num_threads(), 1)
    with cpu_threads(threads), larger_bands(bands), torch.no_grad():
        facts, budget = _facts(spec, runner, channels, opts, dev, dtype)
        plan = plan_upscale(facts, x.shape, opts, budget, x.device)
        for message in plan.warnings:
            opts.warn(message)
        batch, c = x.shape[:2]
        if out is None:
            out, out_bchw = empty_like_layout(layout, batch, c, *plan.out_size, plan.out_dtype, plan.out_device)
        else:
            out_bchw = _checked_out(out, layout, unbatched, (batch, c, *plan.out_size))
        writer = Writer(out_bchw, dev, opts.clamp)
        run = _Execution(plan, spec, runner, channels, writer, opts, facts.context)  # type: ignore[arg-type]
        try:
            for b in range(batch):
                run.frame(b, x)
        finally:
            writer.finish()
    if out.dim() == 4 and unbatched:
        return out[0]
    return out
