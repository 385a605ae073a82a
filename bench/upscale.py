"""Upscaling speed and memory: ``gensr.upscale`` against the same model run
the way ComfyUI's built-in "Upscale Image (using Model)" node runs it.

    python bench/upscale.py [--configs compact rrdb] [--repeats 2] [--threads N]
    python bench/upscale.py --memory-check          # 2048x2048 -> 8192x8192 uint8

Configurations (from the issue): Real-ESRGAN Compact x4 (64 features, 16
convs; the real animevideov3 weights when ../shared has them) on a 1024x1024
image, and RRDBNet x4 (64 features, 23 blocks) on a 256x256 image.
``--size-scale`` shrinks the images for a quick look on a busy machine.

The baseline is a faithful re-implementation of ComfyUI's algorithm
(comfy_extras/nodes_upscale_model.py + comfy/utils.py tiled_scale_multidim):
512 px tiles, 32 px overlap, tile origins every 480 px clamped so the last
tile may be thin, a linear feather mask over the whole overlap, float32, one
tile at a time, ``out`` and ``out_div`` full-size float32 accumulators, then
clamp and BHWC. Like the real node on a CPU, it hands the model
``image.movedim(-1, -3)``, a view with channels-last strides, so its
convolutions run channels-last too. Ours is ``gensr.upscale`` with its defaults.

Each configuration also prints the model's FLOPs, both methods' effective
GFLOPS and the best convolution throughput this CPU reaches in a hot loop:
the fastest any fp32 implementation of the same arithmetic could go.

Every run happens in a fresh subprocess (peak memory = that process's peak
RSS, ``ru_maxrss``, torch included; "run +MiB" = growth during the timed
call); both methods first process a 64x64 crop, as a running ComfyUI would
have (``--cold`` skips that). Methods alternate so a busy machine slows both
alike: read the same-run ratios.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_COMPACT = ROOT.parent / "shared" / "weights" / "realesr-animevideov3.pth"
CONFIGS = {
    "compact": {"arch": "compact", "size": 1024, "label": "Compact x4 (64f, 16 convs), 1024x1024"},
    "rrdb": {"arch": "rrdb", "size": 256, "label": "RRDBNet x4 (64f, 23 blocks), 256x256"},
}


def _import_gensr():
    try:
        import gensr  # noqa: F401 - only checks that it imports
    except ImportError:
        import importlib.util

        spec = importlib.util.spec_from_file_location("gensr", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["gensr"] = module
        spec.loader.exec_module(module)


# --------------------------------------------------------------- the baseline


def comfy_tiled_scale(samples, function, tile=512, overlap=32, scale=4, out_channels=3):
    """ComfyUI's tiled_scale_multidim for 2D images (same algorithm, our code)."""
    import torch

    b, _, h, w = samples.shape
    output = torch.empty(b, out_channels, h * scale, w * scale)
    for i in range(b):
        s = samples[i: i + 1]
        if h <= tile and w <= tile:  # the whole image is one tile
            output[i: i + 1] = function(s)
            continue
        out = output[i: i + 1].zero_()
        out_div = torch.zeros(1, 1, h * scale, w * scale)
        ys = range(0, h - overlap, tile - overlap) if h > tile else [0]
        xs = range(0, w - overlap, tile - overlap) if w > tile else [0]
        for y, x in itertools.product(ys, xs):
            y = max(0, min(h - overlap, y))
            x = max(0, min(w - overlap, x))
            th, tw = min(tile, h - y), min(tile, w - x)  # the last tile can be thin
            ps = function(s[:, :, y: y + th, x: x + tw])
            mask = torch.ones(1, 1, ps.shape[2], ps.shape[3])
            feather = round(overlap * scale)
            for d in (2, 3):
                if feather >= mask.shape[d]:
                    continue
                for t in range(feather):
                    a = (t + 1) / feather
                    mask.narrow(d, t, 1).mul_(a)
                    mask.narrow(d, mask.shape[d] - 1 - t, 1).mul_(a)
            oh = min(ps.shape[2], out.shape[2] - y * scale)
            ow = min(ps.shape[3], out.shape[3] - x * scale)
            o = out[:, :, y * scale: y * scale + oh, x * scale: x * scale + ow]
            o_d = out_div[:, :, y * scale: y * scale + oh, x * scale: x * scale + ow]
            o.add_(ps[:, :, :oh, :ow] * mask[:, :, :oh, :ow])
            o_d.add_(mask[:, :, :oh, :ow])
        out.div_(out_div)
    return output


def comfy_upscale_node(model, image_bhwc):
    """ImageUpscaleWithModel.execute on the CPU: BHWC in, BHWC out."""
    import torch

    with torch.inference_mode():
        in_img = image_bhwc.movedim(-1, -3)
        s = comfy_tiled_scale(in_img, lambda a: model(a.float()), tile=512, overlap=32, scale=model.scale)
        return torch.clamp(s.movedim(-3, -1), min=0, max=1.0)


# --------------------------------------------------------------- child runs


def _model(arch: str):
    import torch

    from gensr.sr_core.archs import RRDBNet, SRVGGNetCompact

    torch.manual_seed(0)
    if arch == "compact":
        if SHARED_COMPACT.is_file():
            from gensr.weights import load_model

            return load_model(SHARED_COMPACT)
        return SRVGGNetCompact(num_feat=64, num_conv=16, scale=4).eval()
    blocks = 2 if arch == "rrdb-shallow" else 23  # same activations per tile, a tenth of the time
    return RRDBNet(num_feat=64, num_block=blocks, scale=4).eval()


def _image(size: int, dtype: str = "float32"):
    """A photo-like BHWC test image (ComfyUI's IMAGE layout)."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(1)
    base = F.interpolate(torch.rand(1, 3, 16, 16, generator=g), size=(size, size), mode="bicubic", align_corners=False)
    img = (base + 0.15 * torch.rand(1, 3, size, size, generator=g)).clamp(0, 1).movedim(1, -1).contiguous()
    return (img * 255).round().to(torch.uint8) if dtype == "uint8" else img


def comfy_tile_pixels(h: int, w: int, tile: int = 512, overlap: int = 32) -> int:
    """Input pixels the baseline feeds the model (its tiles overlap)."""
    def spans(n: int) -> list:
        if n <= tile:
            return [n]
        return [min(tile, n - max(0, min(n - overlap, p))) for p in range(0, n - overlap, tile - overlap)]
    return sum(spans(h)) * sum(spans(w))


def ceiling(args: argparse.Namespace) -> None:
    """The model's convolution FLOPs and the best convolution throughput this
    CPU reaches in a hot loop (the model's dominant conv, NCHW and
    channels-last): no implementation of the same fp32 arithmetic can run the
    model faster than FLOPs / that throughput."""
    import torch
    import torch.nn.functional as F

    _import_gensr()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = _model(args.arch)
    convs = {}

    def hook(mod, _inp, out):
        key = (mod.in_channels, mod.out_channels, mod.kernel_size, mod.groups)
        flops = 2 * out.numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
        convs[key] = (convs.get(key, (0, mod))[0] + flops, mod)

    probe = 64
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.inference_mode():
        model(torch.rand(1, 3, probe, probe))
    for h in handles:
        h.remove()
    per_pixel = sum(f for f, _ in convs.values()) / probe**2
    _, conv = max(convs.values(), key=lambda v: v[0])
    best = 0.0
    with torch.inference_mode():
        for fmt in (torch.contiguous_format, torch.channels_last):
            x = torch.rand(1, conv.in_channels, 128, 128).contiguous(memory_format=fmt)
            flops = 2 * conv.out_channels * 128 * 128 * conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
            for _ in range(20):
                t0 = time.perf_counter()
                F.conv2d(x, conv.weight, conv.bias, 1, conv.padding, 1, conv.groups)
                best = max(best, flops / (time.perf_counter() - t0))
    print(json.dumps({"flops_per_pixel": per_pixel, "conv_gflops": best / 1e9,
                      "comfy_pixels": comfy_tile_pixels(args.size, args.size), "pixels": args.size**2}))


def child(args: argparse.Namespace) -> None:
    import torch

    _import_gensr()
    import gensr

    if args.threads:
        torch.set_num_threads(args.threads)
    model = _model(args.arch)
    image = _image(args.size, "uint8" if args.method == "memory" else "float32")
    def call(img):
        if args.method == "comfy":
            return comfy_upscale_node(model, img)
        if args.method == "gensr":
            return gensr.upscale(model, img)
        return gensr.upscale(model, img, out_dtype=torch.uint8)  # memory: uint8 in, uint8 out

    if not args.cold:  # as in a running ComfyUI: the model has been used once already
        call(image[:, :64, :64])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    out = call(image)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "seconds": seconds,
        "peak_rss_kib": peak,
        "rss_before_kib": rss_before,
        "out_shape": list(out.shape),
        "out_dtype": str(out.dtype),
        "threads": torch.get_num_threads(),
    }))


def run_child(method: str, arch: str, size: int, threads: int, cold: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", method, "--arch", arch, "--size", str(size)]
    if cold:
        cmd.append("--cold")
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{method} {arch} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # The child's own peak as its parent sees it, as a cross-check.
    result["child_maxrss_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return result


def _mib(kib: float) -> float:
    return kib / 1024


def bench(args: argparse.Namespace) -> None:
    print(f"torch threads: {args.threads or 'default'}; CPU: {os.cpu_count()} cores; load average: "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    for name in args.configs:
        cfg = CONFIGS[name]
        size = max(16, int(round(cfg["size"] * args.size_scale)))
        runs = {"comfy": [], "gensr": []}
        for _ in range(args.repeats):
            for method in ("comfy", "gensr"):
                r = run_child(method, cfg["arch"], size, args.threads, args.cold)
                runs[method].append(r)
                print(f"  {name} {method}: {r['seconds']:.2f} s, peak RSS {_mib(r['peak_rss_kib']):.0f} MiB", flush=True)
        mp = size * size / 1e6
        print(f"\n{cfg['label'].replace(str(cfg['size']), str(size))}")
        print(f"{'method':<28}{'best s':>9}{'MP/s (in)':>11}{'peak RSS MiB':>14}{'run +MiB':>10}")
        best = {}
        for method, label in (("comfy", "ComfyUI algorithm (fp32)"), ("gensr", "gensr.upscale (auto)")):
            r = min(runs[method], key=lambda v: v["seconds"])
            best[method] = r
            print(f"{label:<28}{r['seconds']:>9.2f}{mp / r['seconds']:>11.4f}{_mib(r['peak_rss_kib']):>14.0f}"
                  f"{_mib(r['peak_rss_kib'] - r['rss_before_kib']):>10.0f}")
        speed = best["comfy"]["seconds"] / best["gensr"]["seconds"]
        c = run_child("ceiling", cfg["arch"], size, args.threads)
        flops, comfy_flops = c["flops_per_pixel"] * c["pixels"], c["flops_per_pixel"] * c["comfy_pixels"]
        fastest = flops / (c["conv_gflops"] * 1e9)
        print(f"model {flops / 1e12:.2f} TFLOP on this image (the baseline computes {comfy_flops / 1e12:.2f} with its tile overlap); "
              f"effective GFLOPS: baseline {comfy_flops / best['comfy']['seconds'] / 1e9:.0f}, gensr "
              f"{flops / best['gensr']['seconds'] / 1e9:.0f}; this CPU's best conv throughput (hot loop) "
              f"{c['conv_gflops']:.0f} GFLOPS -> no fp32 run can beat {fastest:.2f} s = "
              f"{best['comfy']['seconds'] / fastest:.2f}x the baseline")
        mem = (best["comfy"]["peak_rss_kib"] - best["comfy"]["rss_before_kib"]) / max(
            1, best["gensr"]["peak_rss_kib"] - best["gensr"]["rss_before_kib"])
        print(f"speed ratio gensr/comfy: {speed:.2f}x (target >= 2x); working-memory ratio comfy/gensr: {mem:.2f}x\n")


MEMORY_MODELS = {
    "compact": "Compact x4 (64f, 16 convs)",
    "rrdb-shallow": "RRDBNet x4 (64f, 2 blocks: the tiles' activations of 23 blocks, a tenth of the time)",
}


def memory_check(args: argparse.Namespace) -> None:
    size = 2048
    for arch in args.memory_models:
        r = run_child("memory", arch, size, args.threads, args.cold)
        peak_gib = r["peak_rss_kib"] / 2**20
        print(f"2048x2048 uint8 -> {r['out_shape']} {r['out_dtype']} with {MEMORY_MODELS[arch]}: {r['seconds']:.1f} s, "
              f"peak RSS of the whole process {peak_gib:.2f} GiB (target <= 1.5 GiB): "
              f"{'OK' if peak_gib <= 1.5 else 'OVER'}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["compact", "rrdb"])
    p.add_argument("--repeats", type=int, default=2, help="runs per method (best is reported)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    p.add_argument("--size-scale", type=float, default=1.0, help="scale the image sizes (quick look)")
    p.add_argument("--memory-check", action="store_true", help="only the 2048x2048 -> 8192x8192 uint8 memory check")
    p.add_argument("--memory-models", nargs="+", choices=sorted(MEMORY_MODELS), default=list(MEMORY_MODELS),
                   help="models for --memory-check")
    p.add_argument("--cold", action="store_true",
                   help="time the first call of a fresh process (default: both methods warmed up on a 64x64 crop)")
    p.add_argument("--child", choices=("comfy", "gensr", "memory", "ceiling"), help=argparse.SUPPRESS)
    p.add_argument("--arch", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "ceiling":
        ceiling(args)
    elif args.child:
        args.method = args.child
        child(args)
    elif args.memory_check:
        memory_check(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
