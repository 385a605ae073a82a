"""Upscaling speed and memory: ``gensr.upscale`` against the same model run
the way ComfyUI's built-in "Upscale Image (using Model)" node runs it.

    python bench/upscale.py [--configs compact rrdb] [--repeats 2] [--threads N]
    python bench/upscale.py --memory-check          # 2048x2048 -> 8192x8192 uint8
    python bench/upscale.py --models OLD.safetensors NEW.safetensors [--size 1024]

Configurations (from the issue): Real-ESRGAN Compact x4 (64 features, 16
convs; the real animevideov3 weights when ../shared has them) on a 1024x1024
image, and RRDBNet x4 (64 features, 23 blocks) on a 256x256 image.
``--size-scale`` shrinks the images for a quick look on a busy machine.

The baseline re-implements, step by step, what ComfyUI 0.3.64's built-in
"Upscale Image (using Model)" node runs (comfy_extras/nodes_upscale_model.py
+ comfy/utils.py ``tiled_scale_multidim``): 512 px tiles, 32 px overlap, tile
origins every 480 px clamped so the last tile may be thin, a full-channel
linear feather mask, full-size float32 ``out`` / ``out_div`` accumulators,
``out / out_div``, float32, one tile at a time, then clamp and BHWC. What
differs: no ComfyUI model management (model already loaded, no
``free_memory`` call), no progress bar, no out-of-memory retry, and the model
is called directly instead of through spandrel's descriptor (which adds
nothing for these architectures: no size requirements). Like the real node
on a CPU, it hands the model ``image.movedim(-1, -3)``, a view with
channels-last strides, so its convolutions run channels-last too. Ours is
``gensr.upscale`` with its defaults.

``--loaded`` also times both with one competing busy process (a Python
busy loop on one core, started before and stopped after each timed run), as
on a desktop with other work. ``--before PATH`` adds a third method: gensr
from another checkout (e.g. the previous commit), for before/after ratios
from the same run.

Each configuration also prints the model's FLOPs, both methods' effective
GFLOPS and the best convolution throughput this CPU reaches in a hot loop:
the fastest any fp32 implementation of the same arithmetic could go.

``--models`` times ``gensr.upscale`` on weight files instead (the first is the
baseline; e.g. the bundled default before and after retraining it:
``git show REV:weights/default/gensr-x4.safetensors > old.safetensors``), on
one ``--size`` image, alternating files run by run, and prints each file's
best time and its ratio to the first.

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
import runpy
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


# import_checkout_as_gensr(root): ``gensr`` from ``root`` (this checkout by default),
# never from whatever copy happens to be installed.
_import_gensr = runpy.run_path(str(ROOT / "_checkout.py"))["import_checkout_as_gensr"]


# --------------------------------------------------------------- the baseline


def comfy_tiled_scale(samples, function, tile=512, overlap=32, scale=4, out_channels=3, output_device="cpu"):
    """ComfyUI 0.3.64's ``comfy.utils.tiled_scale`` (``tiled_scale_multidim``)
    for 2D images, rewritten step by step: the whole image in one call when it
    fits a tile; else tile origins every ``tile - overlap`` pixels, clamped so
    the last tile may be thin, a linear feather mask over ``overlap * scale``
    output pixels at every tile edge (image edges included), full-channel
    ``out`` and ``out_div`` float32 accumulators, then ``out / out_div``."""
    import torch

    b, _, h, w = samples.shape
    output = torch.empty(b, out_channels, round(h * scale), round(w * scale), device=output_device)
    for i in range(b):
        s = samples[i: i + 1]
        if h <= tile and w <= tile:
            output[i: i + 1] = function(s).to(output_device)
            continue
        out = torch.zeros(1, out_channels, round(h * scale), round(w * scale), device=output_device)
        out_div = torch.zeros(1, out_channels, round(h * scale), round(w * scale), device=output_device)
        ys = range(0, h - overlap, tile - overlap) if h > tile else [0]
        xs = range(0, w - overlap, tile - overlap) if w > tile else [0]
        for y, x in itertools.product(ys, xs):
            y = max(0, min(h - overlap, y))
            x = max(0, min(w - overlap, x))
            part = s.narrow(2, y, min(tile, h - y)).narrow(3, x, min(tile, w - x))
            ps = function(part).to(output_device)
            mask = torch.ones_like(ps)
            feather = round(overlap * scale)
            for d in (2, 3):
                if feather >= mask.shape[d]:
                    continue
                for t in range(feather):
                    a = (t + 1) / feather
                    mask.narrow(d, t, 1).mul_(a)
                    mask.narrow(d, mask.shape[d] - 1 - t, 1).mul_(a)
            o = out.narrow(2, round(y * scale), mask.shape[2]).narrow(3, round(x * scale), mask.shape[3])
            o_d = out_div.narrow(2, round(y * scale), mask.shape[2]).narrow(3, round(x * scale), mask.shape[3])
            o.add_(ps * mask)
            o_d.add_(mask)
        output[i: i + 1] = out / out_div
    return output


def comfy_upscale_node(model, image_bhwc, device="cpu"):
    """ImageUpscaleWithModel.upscale (ComfyUI 0.3.64): BHWC in, BHWC out; the
    model (fp32) on ``device``, the result on the CPU (``output_device``)."""
    import torch

    with torch.inference_mode():
        in_img = image_bhwc.movedim(-1, -3).to(device)
        s = comfy_tiled_scale(in_img, lambda a: model(a), tile=512, overlap=32, scale=model.scale)
        return torch.clamp(s.movedim(-3, -1), min=0, max=1.0)


# --------------------------------------------------------------- child runs


def _model(arch: str):
    import torch

    from gensr.sr_core.archs import RRDBNet, SRVGGNetCompact

    torch.manual_seed(0)
    if arch.startswith("file:"):
        from gensr.weights import load_model

        return load_model(arch[len("file:"):])
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

    _import_gensr(Path(args.root) if args.root else ROOT)
    import gensr

    if args.threads:
        torch.set_num_threads(args.threads)
    model = _model(args.arch)
    image = _image(args.size, "uint8" if args.method == "memory" else "float32")
    def call(img):
        if args.method == "comfy":
            return comfy_upscale_node(model, img)
        if args.method == "gensr":
            return gensr.upscale(model, img, precision=args.precision)
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


def _busy() -> subprocess.Popen:
    """One competing busy process (a pure-Python spin on one core)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def run_child(method: str, arch: str, size: int, threads: int, cold: bool = False, root: str = "",
              loaded: bool = False, precision: str = "auto") -> dict:
    if method == "before":
        method = "gensr"  # from the checkout given as root
    cmd = [sys.executable, __file__, "--child", method, "--arch", arch, "--size", str(size), "--precision", precision]
    if root:
        cmd += ["--root", root]
    if cold:
        cmd.append("--cold")
    if threads:
        cmd += ["--threads", str(threads)]
    busy = _busy() if loaded else None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
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
        methods = ["comfy", "gensr"] + (["before"] if args.before else [])
        labels = {"comfy": "ComfyUI algorithm (fp32)", "gensr": f"gensr.upscale ({args.precision})",
                  "before": f"gensr --before ({args.precision})"}
        mp = size * size / 1e6
        best = {}
        for loaded in ([False, True] if args.loaded else [False]):
            runs = {m: [] for m in methods}
            for _ in range(args.repeats):
                for method in methods:
                    r = run_child(method, cfg["arch"], size, args.threads, args.cold,
                                  args.before if method == "before" else "", loaded, args.precision)
                    runs[method].append(r)
                    print(f"  {name} {method}{' (loaded)' if loaded else ''}: {r['seconds']:.2f} s, "
                          f"peak RSS {_mib(r['peak_rss_kib']):.0f} MiB", flush=True)
            state = "one competing busy process" if loaded else "quiet"
            print(f"\n{cfg['label'].replace(str(cfg['size']), str(size))}, {state}")
            print(f"{'method':<28}{'best s':>9}{'MP/s (in)':>11}{'peak RSS MiB':>14}{'run +MiB':>10}{'vs comfy':>10}")
            for method in methods:
                r = min(runs[method], key=lambda v: v["seconds"])
                key = method + (" loaded" if loaded else "")
                best[key] = r
                ratio = min(runs["comfy"], key=lambda v: v["seconds"])["seconds"] / r["seconds"]
                print(f"{labels[method]:<28}{r['seconds']:>9.2f}{mp / r['seconds']:>11.4f}{_mib(r['peak_rss_kib']):>14.0f}"
                      f"{_mib(r['peak_rss_kib'] - r['rss_before_kib']):>10.0f}{ratio:>9.2f}x")
            spread = {m: max(v["seconds"] for v in runs[m]) / min(v["seconds"] for v in runs[m]) for m in methods}
            print("noise (slowest / fastest run): " + ", ".join(f"{m} {v:.2f}" for m, v in spread.items()))
        if args.skip_ceiling:
            continue
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


def compare_models(args: argparse.Namespace) -> None:
    """gensr.upscale with each of ``args.models`` on one image; ratios to the first."""
    size = args.size or 1024
    print(f"torch threads: {args.threads or 'default'}; CPU: {os.cpu_count()} cores; load average: "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}; {size}x{size}, precision {args.precision}")
    runs = {m: [] for m in args.models}
    for _ in range(args.repeats):
        for path in args.models:
            r = run_child("gensr", f"file:{Path(path).resolve()}", size, args.threads, args.cold, "",
                          args.loaded, args.precision)
            runs[path].append(r["seconds"])
            print(f"  {path}: {r['seconds']:.2f} s", flush=True)
    base = min(runs[args.models[0]])
    print(f"{'model':<60}{'best s':>9}{'vs first':>10}")
    for path, times in runs.items():
        print(f"{path:<60}{min(times):>9.2f}{min(times) / base:>9.2f}x")


MEMORY_MODELS = {
    "compact": "Compact x4 (64f, 16 convs)",
    "rrdb-shallow": "RRDBNet x4 (64f, 2 blocks: the tiles' activations of 23 blocks, a tenth of the time)",
}


def memory_check(args: argparse.Namespace) -> None:
    size = 2048
    for arch in args.memory_models:
        for label, root in (("gensr", ""),) + ((("before", args.before),) if args.before else ()):
            r = run_child("memory", arch, size, args.threads, args.cold, root)
            peak_gib = r["peak_rss_kib"] / 2**20
            print(f"{label}: 2048x2048 uint8 -> {r['out_shape']} {r['out_dtype']} with {MEMORY_MODELS[arch]}: "
                  f"{r['seconds']:.1f} s, peak RSS of the whole process {peak_gib:.2f} GiB (target <= 1.5 GiB): "
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
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"),
                   help="gensr's precision (default auto: bf16 on CPUs with native bf16)")
    p.add_argument("--loaded", action="store_true", help="also time with one competing busy process")
    p.add_argument("--before", default="", help="also time gensr from this checkout (before/after ratios)")
    p.add_argument("--skip-ceiling", action="store_true", help="skip the FLOPs / conv-throughput line")
    p.add_argument("--models", nargs="+", default=[],
                   help="time gensr.upscale on these weight files instead (ratios to the first)")
    p.add_argument("--child", choices=("comfy", "gensr", "memory", "ceiling"), help=argparse.SUPPRESS)
    p.add_argument("--root", default="", help=argparse.SUPPRESS)
    p.add_argument("--arch", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help="image side for --models (default 1024)")
    args = p.parse_args()
    if args.child == "ceiling":
        ceiling(args)
    elif args.child:
        args.method = args.child
        child(args)
    elif args.memory_check:
        memory_check(args)
    elif args.models:
        compare_models(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
