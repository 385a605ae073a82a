"""Training configuration: one dataclass, filled from a preset, a config file
and command-line overrides (in that order)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class TrainConfig:
    """Everything a training run needs. Field names are the config-file keys."""

    name: str = "run"
    recipe: str = "custom"  # preset name this config came from
    # generator
    arch: str = "compact"
    arch_config: dict = field(default_factory=dict)
    scale: int = 4
    pretrained: Optional[str] = None  # generator weights to start from (stage 2 starts from stage 1)
    icnr: bool = False  # ICNR: one kernel for all sub-pixels of a pixel-shuffle conv (pretrained: their mean)
    # data
    data: list = field(default_factory=list)  # HR image folders (recursive)
    lr_data: Optional[str] = None  # optional paired LR folder (same relative file names)
    val: Optional[str] = None  # HR validation folder
    degradation: str = "bicubic"  # "bicubic" or "realesrgan"
    degradation_options: dict = field(default_factory=dict)
    gt_size: int = 192  # HR patch size
    # extra copies of each HR image, MATLAB-bicubic downscaled by these factors
    # (0 < f < 1; VDSR's scale augmentation), each sampled as one more image
    hr_scales: list = field(default_factory=list)
    batch_size: int = 16
    num_workers: int = 1
    # optimisation
    iterations: int = 1000
    lr: float = 2e-4
    lr_schedule: str = "cosine"  # "cosine", "multistep" or "constant"
    lr_milestones: list = field(default_factory=list)
    lr_gamma: float = 0.5
    lr_min: float = 1e-7
    warmup: int = 0
    betas: tuple = (0.9, 0.99)
    weight_decay: float = 0.0
    grad_clip: Optional[float] = None
    nonfinite_loss: str = "stop"  # a NaN/inf loss, found before the step: "stop" the run or "skip" the step
    ema_decay: float = 0.999
    ema_warmup: bool = False  # decay min(ema_decay, (1+n)/(10+n)) at step n: short runs lose their start
    amp: str = "auto"  # "auto", "off", "bf16", "fp16"
    channels_last: bool = True
    # losses: L = perceptual_weight * L_perceptual + pixel_weight * L_pixel + adv_weight * L_adv
    #             + ldl_weight * L_artifact + fft_weight * L_focal_frequency
    pixel_loss: str = "l1"  # "l1", "charbonnier" or "mse"
    pixel_weight: float = 1.0
    gt_usm: bool = False  # unsharp-mask the targets of the pixel and perceptual losses (Real-ESRGAN)
    gt_usm_losses: list = field(default_factory=lambda: ["pixel", "perceptual"])  # which targets gt_usm sharpens
    perceptual_weight: float = 0.0
    perceptual_layers: dict = field(default_factory=dict)  # {} = the default VGG19 layer weights
    perceptual_weights_source: Optional[str] = None  # VGG19 weights: a path or hf:// source
    adv_weight: float = 0.0
    fft_weight: float = 0.0  # focal frequency loss (Jiang et al. 2021), against the plain ground truth
    ldl_weight: float = 0.0  # LDL artefact loss (Liang et al. 2022; 1.0 in their recipe), needs the EMA output
    gan: bool = False
    gan_loss: str = "vanilla"  # "vanilla", "ragan" or "hinge"
    discriminator: str = "unet"  # "unet" or "vgg"
    discriminator_config: dict = field(default_factory=dict)
    d_lr: float = 1e-4
    # bookkeeping
    seed: int = 0
    device: str = "auto"
    out: str = "runs"
    log_every: int = 20
    val_every: int = 500
    checkpoint_every: int = 500
    samples: int = 2  # validation images saved as samples
    tensorboard: bool = True  # also write TensorBoard events when the package is installed

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        return cls(**values)
