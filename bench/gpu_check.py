"""GenSR's engine on a GPU: correctness checks, then speed against ComfyUI's core path.

    python bench/gpu_check.py              # on CUDA: checks + speed table (<= 5 minutes)
    python bench/gpu_check.py --cpu --quick  # smoke run of the same script on a CPU

Checks (each prints PASS/FAIL with its figure; the exit status is 1 if any fails):
fp32 / fp16 / bf16 on the device against a CPU fp32 reference (untiled), the
seam test (tiled vs untiled on the device, fp32, max |diff| <= 1/255), output
on the CPU and on the device, RGBA (colour as RGB, alpha interpolated), a
batch (each frame as if alone), a forced out-of-memory back-off (windows above
a size raise ``torch.OutOfMemoryError``), and cancel.

Speed: ComfyUI 0.3.64's ``tiled_scale`` (512 px tiles, 32 px overlap, fp32,
re-implemented in bench/upscale.py) against ``gensr.upscale`` with its
defaults (``precision="auto"``: fp16 on CUDA), both taking a CPU BHWC image
and returning a CPU result as ComfyUI's node does, for Compact
(realesr-animevideov3 from ../shared/weights, random weights without it) and
RRDBNet x4 (64 features, 23 blocks, random weights) at 1024 and 2048 px, with
the PSNR of GenSR's result against the baseline's.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import upscale as bench_upscale  # noqa: E402 - bench/upscale.py: the baseline and the gensr import

bench_upscale._import_gensr()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import gensr  # noqa: E402
from gensr.sr_core.archs import RRDBNet, SRVGGNetCompact  # noqa: E402
from gensr.sr_core.metrics import psnr  # noqa: E402
from gensr.sr_core.upscale import UpscaleCancelled  # noqa: E402
from gensr.sr_core.upscale.resample import resize  # noqa: E402

RESULTS = []


def check(name: str, ok: bool, figure: str) -> None:
    RESULTS.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {figure}", flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compact_model():
    if bench_upscale.SHARED_COMPACT.is_file():
        from gensr.weights import load_model

        return load_model(bench_upscale.SHARED_COMPACT), "realesr-animevideov3"
    torch.manual_seed(0)
    return SRVGGNetCompact(num_feat=64, num_conv=16, scale=4).eval(), "Compact 64f/16 (random)"


def rrdb_model(blocks: int):
    torch.manual_seed(0)
    model = RRDBNet(num_feat=64, num_block=blocks, scale=4).eval()
    with torch.no_grad():  # random weights (default init); the output centred in [0, 1], not clamped away
        model.conv_last.bias.fill_(0.5)
    return model, f"RRDBNet x4 64f/{blocks} blocks (random)"


def photo(size: int, channels: int = 3, batch: int = 1, seed: int = 1) -> torch.Tensor:
    """A photo-like (B, C, H, W) float image in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    base = F.interpolate(torch.rand(batch, channels, 16, 16, generator=g), size=(size, size), mode="bicubic",
                         align_corners=False)
    return (base + 0.15 * torch.rand(batch, channels, size, size, generator=g)).clamp(0, 1)


def reference(model, x: torch.Tensor) -> torch.Tensor:
    """The model on the CPU in fp32, untiled."""
    with torch.inference_mode():
        return model.to("cpu").float()(x).clamp(0, 1)


def correctness(model, name: str, device: torch.device, size: int) -> None:
    print(f"\n== correctness: {name} on {device}, {size}x{size}", flush=True)
    x = photo(size)
    ref = reference(model, x)
    for precision, least in (("fp32", 60.0), ("fp16", 45.0), ("bf16", 38.0)):
        if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            continue
        out = gensr.upscale(model, x, device=device, precision=precision)
        p = psnr(out, ref)
        check(f"{precision} vs CPU fp32 reference", p >= least, f"PSNR {p:.1f} dB (>= {least})")
    # Seams: tiled against untiled, both on the device in fp32.
    whole = gensr.upscale(model, x, device=device, precision="fp32", tile=size)
    tile, warned = size * 5 // 8, ["?"]
    while warned and tile < size:  # two windows a side, each with room for the context the model needs
        warned = []
        tiled = gensr.upscale(model, x, device=device, precision="fp32", tile=tile, on_warning=warned.append)
        tile += size // 16 if warned else 0
    if warned:
        check("seams", False, f"a {size} px image is too small to tile with the context this model needs")
        return
    d = float((tiled - whole).abs().max())
    check(f"seams: tile={tile} vs untiled, fp32", d <= 1 / 255, f"max |diff| {d * 255:.3f}/255")
    # Output on the CPU and on the device.
    on_dev = gensr.upscale(model, x, device=device, precision="fp32", tile=tile, out_device=device)
    d = float((on_dev.cpu() - tiled).abs().max())
    check("output on the device == output on the CPU", on_dev.device.type == device.type and d <= 1e-6,
          f"{on_dev.device}, max |diff| {d:.2e}")
    from_dev = gensr.upscale(model, x.to(device), device=device, precision="fp32", tile=tile, out_device="cpu")
    d = float((from_dev - tiled).abs().max())
    check("image on the device, output on the CPU", d <= 1e-6, f"max |diff| {d:.2e}")
    u8 = gensr.upscale(model, x, device=device, precision="fp32", tile=tile, out_dtype=torch.uint8)
    d = float((u8.float() - (tiled * 255).round()).abs().max())
    check("uint8 output", u8.dtype == torch.uint8 and d <= 1, f"max |diff| {d:.0f} levels")
    # RGBA: colour as the RGB result, alpha interpolated (bicubic, as documented).
    alpha = photo(size, 1, seed=5)
    rgba = gensr.upscale(model, torch.cat((x, alpha), 1), device=device, precision="fp32", tile=tile)
    d_rgb = float((rgba[:, :3] - tiled).abs().max())
    want_alpha = resize(alpha, rgba.shape[-2:], "bicubic").clamp(0, 1)
    d_a = float((rgba[:, 3:] - want_alpha).abs().max())
    check("RGBA: colour == RGB result, alpha == bicubic", d_rgb <= 1e-5 and d_a <= 1e-4,
          f"colour {d_rgb:.2e}, alpha {d_a:.2e}")
    # A batch: each frame as if alone.
    xs = torch.cat((x, photo(size, seed=9)), 0)
    batch = gensr.upscale(model, xs, device=device, precision="fp32", tile=tile)
    alone = gensr.upscale(model, xs[1:], device=device, precision="fp32", tile=tile)
    d = max(float((batch[:1] - tiled).abs().max()), float((batch[1:] - alone).abs().max()))
    check("batch of 2 == frames alone", d <= 1e-6, f"max |diff| {d:.2e}")
    # Forced out-of-memory back-off: the whole image in one window fails.
    limit = size * size - 1
    failures = []

    class Tight(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.scale, self.in_channels, self.out_channels = inner, inner.scale, 3, 3
            self.size_multiple = getattr(inner, "size_multiple", 1)

        def forward(self, t):
            if t.shape[-1] * t.shape[-2] > limit:
                failures.append(tuple(t.shape[-2:]))
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (forced)")
            return self.inner(t)

    tight = Tight(model.to(device)).eval()
    backed = gensr.upscale(tight, x, device=device, precision="fp32", tile=size)
    d = float((backed - whole).abs().max())
    check("out-of-memory back-off", bool(failures) and d <= 1 / 255,
          f"{len(failures)} forced failures, then max |diff| {d * 255:.3f}/255")
    # Cancel after two tiles.
    done = []
    try:
        gensr.upscale(model, x, device=device, precision="fp32", tile=tile * 2 // 3,
                      progress=lambda a, b: done.append(a), cancel=lambda: len(done) >= 2)
        check("cancel", False, "not cancelled")
    except UpscaleCancelled:
        check("cancel", len(done) == 2, f"stopped after {len(done)} tiles")


def speed(model, name: str, device: torch.device, sizes, repeats: int) -> None:
    print(f"\n== speed: {name} on {device}", flush=True)
    print(f"{'size':>6}{'ComfyUI s':>11}{'GenSR s':>10}{'ratio':>8}{'PSNR dB':>9}  (GenSR auto vs ComfyUI fp32)")
    model = model.to(device)
    warm = photo(64).movedim(1, -1)
    bench_upscale.comfy_upscale_node(model, warm, device)
    gensr.upscale(model, warm)
    for size in sizes:
        image = photo(size).movedim(1, -1).contiguous()  # ComfyUI IMAGE: BHWC on the CPU
        best = {}
        for _ in range(repeats):
            for method in ("comfy", "gensr"):
                sync(device)
                t0 = time.perf_counter()
                if method == "comfy":
                    out = bench_upscale.comfy_upscale_node(model, image, device)
                else:
                    out = gensr.upscale(model, image)  # device: where the model is; output: the CPU
                sync(device)
                seconds = time.perf_counter() - t0
                if seconds < best.get(method, (math.inf,))[0]:
                    best[method] = (seconds, out)
        p = psnr(best["gensr"][1], best["comfy"][1])
        ratio = best["comfy"][0] / best["gensr"][0]
        print(f"{size:>6}{best['comfy'][0]:>11.2f}{best['gensr'][0]:>10.2f}{ratio:>7.2f}x{p:>9.1f}", flush=True)
        del best, image


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu", action="store_true", help="run on the CPU (a smoke run where there is no GPU)")
    p.add_argument("--quick", action="store_true", help="small images and a 2-block RRDBNet")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--skip-speed", action="store_true")
    args = p.parse_args()
    if not args.cpu and not torch.cuda.is_available():
        print("CUDA is not available here; run with --cpu (--quick) for a smoke run", file=sys.stderr)
        return 2
    device = torch.device("cpu") if args.cpu else torch.device("cuda")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {name}", flush=True)
    t0 = time.perf_counter()
    compact, compact_name = compact_model()
    rrdb, rrdb_name = rrdb_model(2 if args.quick else 23)
    correctness(compact, compact_name, device, 96 if args.quick else 256)
    correctness(rrdb, rrdb_name, device, 64 if args.quick else 192)
    if not args.skip_speed:
        sizes = (64, 96) if args.quick else (1024, 2048)
        speed(compact, compact_name, device, sizes, 1 if args.quick else args.repeats)
        speed(rrdb, rrdb_name, device, (32, 48) if args.quick else sizes, 1 if args.quick else args.repeats)
    failed = RESULTS.count(False)
    print(f"\n{len(RESULTS) - failed} passed, {failed} failed in {time.perf_counter() - t0:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
