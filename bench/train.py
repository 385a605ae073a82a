"""Training speed: iterations/second of one training step (generator forward,
losses, backward, Adam, EMA and, for GAN recipes, the discriminator step) for
the compact-x4-psnr and esrgan-x4-gan recipes, eager fp32 against the defaults
(channels-last memory format, bf16 autocast where the device supports it).

    python bench/train.py [--recipes compact-x4-psnr esrgan-x4-gan] [--batch 2]
                          [--gt-size 128] [--steps 3] [--threads N] [--device cpu]

Batches are random tensors, so only the step is timed (data loading runs in
worker processes in real runs). Modes are interleaved step by step so a busy
machine slows them alike; the ratio is the figure to read. The perceptual loss
uses a randomly initialised VGG19 (same cost as the ImageNet weights).
"""
from __future__ import annotations

import argparse
import os
import runpy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

runpy.run_path(str(Path(__file__).resolve().parents[1] / "_checkout.py"))["import_checkout_as_gensr"]()

from gensr.sr_core.hardware import cpu_has_fast_bf16  # noqa: E402
from gensr.training.loop import Trainer  # noqa: E402
from gensr.training.presets import preset_config  # noqa: E402


def vgg19_file(folder: Path) -> Path:
    from safetensors.torch import save_file

    from gensr.sr_core.losses import VGG19Features

    path = folder / "vgg19-random.safetensors"
    if not path.exists():
        sd = {f"features.{k}": v.contiguous() for k, v in VGG19Features("conv5_4").features.state_dict().items()}
        save_file(sd, str(path))
    return path


def make_trainer(recipe: str, mode: str, args, tmp: Path) -> Trainer:
    cfg = preset_config(recipe).replace(out=str(tmp / "runs"), name=f"{recipe}-{mode}", data=["unused"],
                                        batch_size=args.batch, gt_size=args.gt_size, device=args.device,
                                        pretrained=None)  # stage 2's stage-1 file: the step costs the same without it
    if cfg.perceptual_weight:
        cfg = cfg.replace(perceptual_weights_source=str(vgg19_file(tmp)))
    if mode == "eager fp32":
        cfg = cfg.replace(channels_last=False, amp="off")
    elif mode == "bf16 (forced)":
        cfg = cfg.replace(channels_last=True, amp="bf16")
    # "defaults": the preset as is (channels_last=True, amp="auto")
    torch.manual_seed(0)
    return Trainer(cfg)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipes", nargs="+", default=["compact-x4-psnr", "esrgan-x4-gan"])
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--gt-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=3, help="timed steps per mode (after one warm-up step)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--force-bf16", action="store_true", help="also time bf16 autocast where it is only emulated")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cpu":
        bf16 = cpu_has_fast_bf16()
        print(f"CPU: {torch.get_num_threads()} threads, capability {torch.backends.cpu.get_cpu_capability()}, "
              f"native bf16 {'yes' if bf16 else 'NO (no AVX512-BF16/AMX): the defaults run fp32 here'}; "
              f"load average {os.getloadavg()[0]:.1f}")
    else:
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        print(f"device: {torch.cuda.get_device_name(device) if device.type == 'cuda' else device}")
    modes = ["eager fp32", "defaults"]
    if args.force_bf16 and not bf16:
        modes.append("bf16 (forced)")
    print(f"batch {args.batch}, HR patch {args.gt_size}px, {args.steps} timed steps per mode")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for recipe in args.recipes:
            trainers = {m: make_trainer(recipe, m, args, tmp) for m in modes}
            cfg = trainers["defaults"].cfg
            s = cfg.scale
            g = torch.Generator().manual_seed(0)
            hr = torch.rand(args.batch, 3, args.gt_size, args.gt_size, generator=g)
            lr = torch.nn.functional.avg_pool2d(hr, s)
            times: dict[str, list[float]] = {m: [] for m in modes}
            for t in trainers.values():  # warm-up
                t.train_step(lr, hr)
            for _ in range(args.steps):
                for m, t in trainers.items():
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    start = time.perf_counter()
                    t.train_step(lr, hr)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    times[m].append(time.perf_counter() - start)
            base = statistics.median(times["eager fp32"])
            print(f"\n{recipe} ({cfg.arch} {cfg.arch_config}, gan={cfg.gan}):")
            for m in modes:
                med = statistics.median(times[m])
                amp = trainers[m].amp
                print(f"  {m:14s} {1 / med:8.3f} it/s  ({med:.3f} s/step, amp={str(amp).replace('torch.', '') if amp else 'off'}, "
                      f"channels_last={trainers[m].cfg.channels_last})  x{base / med:.2f} vs eager fp32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
