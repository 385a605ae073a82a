"""Peak memory of GenSR Compare's metrics (sr_core.metrics.ssim and psnr) on a
batch of 4K frames, on the CPU. Prints the memory the inputs take and the peak
the metrics add on top. Usage: python bench/metrics_memory.py [FRAMES] [WIDTHxHEIGHT]"""
from __future__ import annotations

import importlib.util
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def import_checkout():
    spec = importlib.util.spec_from_file_location("gensr", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["gensr"] = module
    spec.loader.exec_module(module)
    from gensr.sr_core import metrics

    return metrics


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    w, h = (int(v) for v in (sys.argv[2] if len(sys.argv) > 2 else "3840x2160").split("x"))
    metrics = import_checkout()
    torch.manual_seed(0)
    a = torch.rand(frames, 3, h, w)
    b = torch.rand(frames, 3, h, w).mul_(0.1).add_(a, alpha=0.9)  # in place: no temporaries before the baseline
    base = peak_mib()
    t0 = time.perf_counter()
    s = metrics.ssim(a, b)
    p = metrics.psnr(a, b)
    took = time.perf_counter() - t0
    inputs = 2 * a.numel() * 4 / 2**20
    print(f"{frames} x {w}x{h} RGB float32: inputs {inputs:.0f} MiB; ssim {s:.6f}, psnr {p:.3f} dB in {took:.1f} s; "
          f"peak memory added by the metrics: {peak_mib() - base:.0f} MiB")


if __name__ == "__main__":
    main()
