"""Named training recipes. A preset is a set of TrainConfig fields."""
from __future__ import annotations

import copy

from .config import TrainConfig

# Shared by the Real-ESRGAN recipes (data, degradation, schedule, bookkeeping).
_REAL_ESRGAN = dict(
    scale=4,
    degradation="realesrgan",
    gt_size=256,
    batch_size=12,
    num_workers=4,
    lr_schedule="multistep",
    lr_gamma=0.5,
    betas=(0.9, 0.99),
    ema_decay=0.999,
    pixel_loss="l1",
    pixel_weight=1.0,
    gt_usm=True,
    log_every=100,
    val_every=5000,
    checkpoint_every=5000,
)
_REAL_ESRGAN_GAN = dict(
    iterations=400_000,
    lr=1e-4,
    lr_milestones=[400_000],
    perceptual_weight=1.0,  # VGG19 conv1_2..conv5_4 = 0.1, 0.1, 1, 1, 1 before ReLU
    gan=True,
    gan_loss="vanilla",
    adv_weight=0.1,
    discriminator="unet",
    discriminator_config=dict(num_feat=64, skip_connection=True),
    d_lr=1e-4,
)

_SPAN = dict(arch="span", arch_config=dict(num_feat=48, norm=False))
_REALPLKSR = dict(
    arch="realplksr",
    arch_config=dict(num_feat=64, num_block=28, kernel_size=17, split_ratio=0.25, layer_norm=True),
)

_GENSR_GAN_GENERATOR = dict(
    arch="rrdbnet",
    arch_config=dict(num_feat=32, num_block=2, num_grow_ch=32),  # growth 32: spandrel reads no other
    scale=4,
)

# The bundled models' PSNR-oriented runs: MATLAB-bicubic x4, L1, cosine schedule.
_GENSR_PSNR = dict(scale=4, degradation="bicubic", pixel_loss="l1", lr_schedule="cosine", lr_min=1e-6)

# VDSR's scale augmentation: a MATLAB-bicubic downscaled copy of every image per factor.
_HR_SCALES = [0.9, 0.8, 0.7, 0.6]

# The bundled default's network and patches (its first two cycles).
_GENSR_DEFAULT = dict(
    _GENSR_PSNR,
    arch="compact",
    arch_config=dict(num_feat=48, num_conv=10),
    gt_size=192,
    batch_size=16,
    ema_decay=0.999,
    val_every=2000,
    checkpoint_every=500,
    log_every=100,
)

_TINY = dict(
    arch="compact",
    arch_config=dict(num_feat=8, num_conv=2),
    scale=4,
    gt_size=64,
    batch_size=4,
    iterations=60,
    lr=2e-3,
    lr_schedule="constant",
    num_workers=0,
    val_every=30,
    checkpoint_every=30,
    log_every=10,
    ema_decay=0.9,
    samples=1,
)

PRESETS: dict[str, dict] = {
    # The bundled default model: Compact x4, 48 features, 10 convs (230k
    # parameters), bicubic degradation, PSNR-oriented, trained on
    # ../shared/data/train (T91 + BSD200) on a 2-core CPU (bf16 autocast where
    # the CPU has native bf16, as `amp="auto"` decides).
    "gensr-x4": dict(_GENSR_DEFAULT, iterations=16000, lr=5e-4, warmup=200),
    # The bundled default is gensr-x4 trained for a second cosine cycle (a warm
    # restart at a lower peak lr): the first cycle ends still improving.
    "gensr-x4-polish": dict(
        _GENSR_DEFAULT, pretrained="runs/gensr-x4/gensr-x4.safetensors", iterations=10000, lr=2e-4, warmup=200,
    ),
    # A third cosine cycle from the polished model on more varied patches:
    # 128 px patches (84 of T91's 91 images are that large, 40 are 192 px) and
    # four MATLAB-bicubic downscaled copies of every image (VDSR's scale
    # augmentation), batch 32 for about the same pixels per step.
    "gensr-x4-refine": dict(
        _GENSR_DEFAULT,
        pretrained="runs/gensr-x4-polish/gensr-x4-polish.safetensors",
        gt_size=128,
        batch_size=32,
        hr_scales=_HR_SCALES,
        iterations=20000,
        lr=2e-4,
        warmup=200,
    ),
    # The default's last cycle: the refined model fine-tuned on the squared error
    # (what PSNR measures), at a low learning rate, after EDSR/RCAN's L1 -> L2 practice.
    "gensr-x4-l2": dict(
        _GENSR_DEFAULT,
        pretrained="runs/gensr-x4-refine/gensr-x4-refine.safetensors",
        gt_size=128,
        batch_size=32,
        hr_scales=_HR_SCALES,
        pixel_loss="mse",
        iterations=6000,
        lr=1e-4,
        warmup=100,
    ),
    # Stage 1 of the bundled GAN variant: a small RRDBNet (32 features, 2
    # blocks, growth 32), PSNR-oriented. Its upsampler is nearest + 3x3
    # convolutions (ESRGAN's): every output pixel goes through the same
    # filters, so no sub-pixel gets its own, and the nearest steps put nulls
    # at the x4 grid's frequencies: the grid a pixel-shuffle generator grows
    # under the GAN losses has no place to live.
    "gensr-x4-gan-stage1": dict(
        _GENSR_PSNR,
        **_GENSR_GAN_GENERATOR,
        gt_size=128,
        batch_size=16,
        iterations=8000,
        lr=4e-4,
        warmup=100,
        ema_decay=0.995,  # at 0.999 a 3,000-step run's EMA still held 5% of the random start
        val_every=2000,
        checkpoint_every=250,
        log_every=50,
    ),
    # Stage 1's second cosine cycle, on the default's scale-augmented data.
    "gensr-x4-gan-stage1-refine": dict(
        _GENSR_PSNR,
        **_GENSR_GAN_GENERATOR,
        pretrained="runs/gensr-x4-gan-stage1/gensr-x4-gan-stage1.safetensors",
        gt_size=128,
        batch_size=16,
        hr_scales=_HR_SCALES,
        iterations=5000,
        lr=2e-4,
        warmup=100,
        ema_decay=0.995,
        val_every=2000,
        checkpoint_every=250,
        log_every=50,
    ),
    # Stage 2 of the bundled GAN variant: the refined stage 1 fine-tuned with
    # L = 1 * L1 + 0.005 * L_perceptual + 0.1 * L_GAN + 1 * L_LDL, both first
    # terms against unsharp-masked targets, a U-Net SN discriminator and EMA:
    # Real-ESRGAN's GAN stage with LDL's artefact loss. The perceptual weights
    # are the offline Caffe VGG19 (training/vgg19_caffe.py), whose features are
    # ~200x larger than torchvision's: hence 0.005, not 1. Its export is
    # over-sharpened on purpose: the bundled file is 0.3 x stage 1 (refined) +
    # 0.7 x this run (`gensr interpolate`). Run it beside stage 1's runs folder.
    "gensr-x4-gan": dict(
        _GENSR_GAN_GENERATOR,
        pretrained="runs/gensr-x4-gan-stage1-refine/gensr-x4-gan-stage1-refine.safetensors",
        gt_usm=True,
        degradation="bicubic",
        gt_size=128,
        batch_size=8,
        iterations=1000,
        lr=1e-4,
        lr_schedule="constant",
        pixel_loss="l1",
        pixel_weight=1.0,
        perceptual_weight=0.005,
        perceptual_weights_source="vgg19-caffe.safetensors",
        gan=True,
        gan_loss="vanilla",
        adv_weight=0.1,
        ldl_weight=1.0,
        discriminator="unet",
        discriminator_config=dict(num_feat=32, skip_connection=True),
        d_lr=1e-4,
        ema_decay=0.995,  # a short run: average over its last ~200 steps
        val_every=250,
        checkpoint_every=100,
        log_every=25,
    ),
    # Real-ESRGAN's published recipes (options/train_realesrnet_x4plus.yml and
    # train_realesrgan_x4plus.yml): second-order degradations on 256 px patches,
    # batch 12 per process, Adam (0.9, 0.99), EMA 0.999, unsharp-masked targets.
    # Stage 1 (PSNR-oriented, "Real-ESRNet"): L1 only, lr 2e-4, 1M iterations.
    "esrgan-x4-psnr": dict(
        _REAL_ESRGAN,
        arch="rrdbnet",
        arch_config=dict(num_feat=64, num_block=23, num_grow_ch=32),
        iterations=1_000_000,
        lr=2e-4,
        lr_milestones=[1_000_000],
    ),
    # Stage 2 (GAN, "Real-ESRGAN"): start from stage 1 (--pretrained), lr 1e-4 for
    # both networks, L = 1 * L_perceptual + 1 * L1 + 0.1 * L_vanilla-GAN, U-Net SN
    # discriminator, 400k iterations.
    "esrgan-x4-gan": dict(
        **_REAL_ESRGAN,
        **_REAL_ESRGAN_GAN,
        arch="rrdbnet",
        arch_config=dict(num_feat=64, num_block=23, num_grow_ch=32),
    ),
    # The same two stages with the Compact generator (realesr-general-x4v3's size).
    "compact-x4-psnr": dict(
        _REAL_ESRGAN,
        arch="compact",
        arch_config=dict(num_feat=64, num_conv=32),
        iterations=1_000_000,
        lr=2e-4,
        lr_milestones=[1_000_000],
    ),
    "compact-x4-gan": dict(
        **_REAL_ESRGAN,
        **_REAL_ESRGAN_GAN,
        arch="compact",
        arch_config=dict(num_feat=64, num_conv=32),
    ),
    # SPAN (NTIRE 2024 efficient SR winner) and RealPLKSR, two stages each like
    # Real-ESRGAN's, after traiNNer-redux's from-scratch recipes (AdamW-style
    # betas, lr 5e-4 / 2e-4 halved at milestones, EMA 0.999, batch 16, LR
    # patches of 64 / 48 px), with L1 instead of their MS-SSIM+L1. Exports load
    # in spandrel (ComfyUI's core loader) with the same output.
    # SPAN without the RGB mean shift (traiNNer-redux's choice from scratch: no x255 input).
    "span-x4-psnr": dict(
        _REAL_ESRGAN,
        **_SPAN,
        gt_size=256,
        batch_size=16,
        iterations=1_000_000,
        lr=5e-4,
        lr_milestones=[200_000, 400_000, 600_000, 800_000],
    ),
    "span-x4-gan": dict(**_REAL_ESRGAN, **_REAL_ESRGAN_GAN, **_SPAN),
    # RealPLKSR with the per-pixel layer norm (traiNNer-redux's current default:
    # better quality, fp16-safe) and the pixel-shuffle upsampler.
    "realplksr-x4-psnr": dict(
        _REAL_ESRGAN,
        **_REALPLKSR,
        gt_size=192,
        batch_size=16,
        iterations=450_000,
        lr=2e-4,
        lr_milestones=[100_000, 200_000, 300_000, 400_000, 425_000],
    ),
    "realplksr-x4-gan": dict(**_REAL_ESRGAN, **_REAL_ESRGAN_GAN, **_REALPLKSR),
    # A seconds-long recipe for tests and smoke checks.
    "tiny-test": _TINY,
    # tiny-test followed by a short GAN stage (give --pretrained a tiny-test export).
    "tiny-test-gan": dict(
        _TINY,
        iterations=20,
        lr=1e-3,
        val_every=10,
        checkpoint_every=10,
        log_every=5,
        gan=True,
        gan_loss="vanilla",
        adv_weight=0.1,
        discriminator="unet",
        discriminator_config=dict(num_feat=8),
        d_lr=1e-3,
    ),
}


def preset_config(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
    return TrainConfig.from_dict({**copy.deepcopy(PRESETS[name]), "recipe": name, "name": name})
