"""Devices and precision: choosing the compute device, what it has free
(memory, CPU threads), recognising out-of-memory errors, and the compute
dtype ``precision="auto"`` tries (the quality check that makes a model fall
back to float32 is a measurement: ``measure.checked_precision``)."""
from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Iterator, Tuple, Union

import torch

from ..hardware import cpu_cache_bytes, cpu_has_fast_bf16  # noqa: F401 - cpu_cache_bytes re-exported

DeviceLike = Union[str, torch.device, None]
PrecisionLike = Union[str, torch.dtype]

#: The precision choices, as the CLI and the node offer them.
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
NAMES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}

# ------------------------------------------------------------------ devices


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def pick_device(name: DeviceLike = "auto") -> torch.device:
    """``name`` as a device; ``"auto"`` (or None) is CUDA, else MPS, else the CPU.
    A device that is not available here is a clear error."""
    if name is None or name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(name)!r} requested but CUDA is not available here; use device='cpu'")
    if dev.type == "mps" and not _mps_available():
        raise ValueError(f"device {str(name)!r} requested but MPS is not available here; use device='cpu'")
    return dev


def resolve_device(device: DeviceLike, fallback: torch.device) -> torch.device:
    """``device`` as a ``torch.device``; ``None`` / ``"auto"`` mean ``fallback`` (the model's device)."""
    return fallback if device is None or device == "auto" else pick_device(device)


def same_device(a: torch.device, b: torch.device) -> bool:
    """Whether ``a`` and ``b`` name the same device (``cuda`` == the current ``cuda:N``)."""
    if a.type != b.type:
        return False
    if a.index is None or b.index is None:
        current = torch.cuda.current_device() if a.type == "cuda" and torch.cuda.is_available() else 0
        return (a.index if a.index is not None else current) == (b.index if b.index is not None else current)
    return a.index == b.index


def is_oom(error: BaseException) -> bool:
    """Whether ``error`` is an out-of-memory error of any device."""
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(error, oom_type):
        return True
    if isinstance(error, (RuntimeError, MemoryError)):
        text = str(error).lower()
        return isinstance(error, MemoryError) or "out of memory" in text or "can't allocate memory" in text
    return False


def release_cached_memory(device: torch.device) -> None:
    """Give cached blocks back after an out-of-memory error."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def _cpu_available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def free_memory(device: torch.device) -> int:
    """Bytes that can still be allocated on ``device`` (approximate)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        # Blocks cached by PyTorch's allocator are free for us too.
        stats = torch.cuda.memory_stats(device)
        cached = stats.get("reserved_bytes.all.current", 0) - stats.get("allocated_bytes.all.current", 0)
        return int(free + max(0, cached))
    if device.type == "mps":
        try:
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        except AttributeError:
            return _cpu_available_bytes() // 2
    return _cpu_available_bytes()


# ------------------------------------------------------------------ CPU threads


def _our_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _running_elsewhere() -> int:
    """Runnable threads on the machine that are not ours, right now (Linux;
    0 where /proc is missing). ``/proc/loadavg``'s 4th field counts every
    runnable thread; ours (including torch's spinning workers) are taken off."""
    with open("/proc/loadavg") as f:
        running = int(f.read().split()[3].split("/")[0])
    ours = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] == "R":
            ours += 1
    return max(0, running - ours)


def busy_elsewhere(samples: int = 3, gap: float = 0.002) -> int:
    """Threads other processes keep runnable now (the least of a few quick
    samples, so a passing burst does not count; 0 where /proc is missing)."""
    try:
        busy = []
        for i in range(samples):
            if i:
                time.sleep(gap)
            busy.append(_running_elsewhere())
    except (OSError, ValueError, IndexError):
        return 0
    return min(busy)


#: Band height factor while other processes are busy (see ``cpu_plan``).
BUSY_BANDS = 4
#: ... and when every CPU is busy and the model streams in bands.
OVERSUBSCRIBED_BANDS = 16


def cpu_plan(requested: Union[str, int], streams: bool = False) -> Tuple[int, int]:
    """(threads, band height factor) for one upscale on the CPU.

    Every parallel region waits for its slowest thread, so a thread that
    shares a CPU with another busy process stalls all the others. With
    ``"auto"``: on a quiet machine, torch's thread count. When some of our
    CPUs are busy, only the free ones (bands 4 times taller when that is
    still several threads: fewer regions to stall). When every CPU is busy
    (as many other runnable threads as CPUs, or more), the scheduler shares
    CPUs per thread: a model that ``streams`` (row bands as tall as we like)
    keeps torch's thread count with bands 16 times taller (few, large
    regions), any other runs one thread. Measured on 2 cores at load ~7:
    Compact 512x512 12.1-12.9 s with two threads and tall bands against
    13.5 s with one; RRDBNet 128x128 4.9 s with one thread against 14-20 s
    with two. A number of threads is used as given, with normal bands."""
    if requested != "auto":
        return int(requested), 1
    have = torch.get_num_threads()
    if have == 1:
        return 1, 1
    others = busy_elsewhere()
    if others == 0:
        return have, 1
    cpus = _our_cpus()
    if others >= cpus:
        return (have, OVERSUBSCRIBED_BANDS) if streams else (1, 1)
    threads = max(1, min(have, cpus - others))
    return threads, BUSY_BANDS if threads > 1 else 1


def free_cpus() -> int:
    """CPUs of ours that other work is not using now (at least 1)."""
    return max(1, _our_cpus() - busy_elsewhere())


_THREADS_LOCK = threading.RLock()


@contextlib.contextmanager
def cpu_threads(n: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``n`` for the block and restored
    after it. With OpenMP the count belongs to the calling thread and is the
    default for threads that first use torch meanwhile (such a thread keeps
    ``n``; inside ComfyUI every node runs in the one executor thread, so this
    does not arise there). Calls that change it are serialised (a lock held for
    the block), so two upscales in two threads never change it under each other."""
    if n == torch.get_num_threads():
        yield
        return
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)


# ------------------------------------------------------------------ precision

def parse_precision(precision: PrecisionLike) -> Union[str, torch.dtype]:
    """``"auto"`` or a dtype, from a name or a dtype."""
    if isinstance(precision, torch.dtype):
        if precision not in (torch.float32, torch.float16, torch.bfloat16):
            raise ValueError(f"precision {precision} is not supported; use fp32, fp16 or bf16")
        return precision
    key = str(precision).lower()
    if key == "auto":
        return "auto"
    if key not in NAMES:
        raise ValueError(f"unknown precision {precision!r}; choose {', '.join(PRECISIONS)}")
    return NAMES[key]


def auto_dtype(device: torch.device, allowed: Tuple[torch.dtype, ...]) -> torch.dtype:
    """The precision ``auto`` tries first among the reduced precisions
    ``allowed`` (the architecture's): fp16 on CUDA (bf16 where fp16 is not
    allowed and the GPU has it), bf16 on CPUs with native bf16 (AVX512-BF16 /
    AMX), fp32 otherwise (MPS included)."""
    if device.type == "cuda":
        if torch.float16 in allowed:
            return torch.float16
        if torch.bfloat16 in allowed and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if device.type == "cpu" and torch.bfloat16 in allowed and cpu_has_fast_bf16():
        return torch.bfloat16
    return torch.float32
