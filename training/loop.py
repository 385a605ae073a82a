"""The training loop: stage 1 (pixel loss, PSNR-oriented) and stage 2 (GAN
fine-tuning from stage 1's weights), EMA, mixed precision, DDP, validation,
atomic checkpoints, exact resume."""
from __future__ import annotations

import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..sr_core.archs import build_generator
from ..sr_core.archs.icnr import apply_icnr
from ..sr_core.archs.registry import get_architecture
from ..sr_core.hardware import cpu_has_fast_bf16
from ..sr_core.upscale.devices import pick_device
from ..weights import load_model, save_model
from .checkpoint import CheckpointMismatchError, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import IndexRange, PatchPairs, find_images
from .distributed import any_rank, barrier
from .ema import EMA
from .logs import RunLog
from .losses import NonFiniteLoss
from .progress import ProgressLine
from .schedule import learning_rate
from .validation import evaluate_images, summarise, validation_files


def amp_dtype(cfg: TrainConfig, device: torch.device) -> Optional[torch.dtype]:
    """Autocast dtype for this run, or None for full fp32."""
    if cfg.amp == "off":
        return None
    if cfg.amp == "bf16":
        return torch.bfloat16
    if cfg.amp == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return None


def build_generator_for(cfg: TrainConfig) -> nn.Module:
    """A fresh generator, or the ``pretrained`` one (stage 2 starts from stage 1's export);
    with ``cfg.icnr`` the convolutions before a pixel shuffle start with ICNR's
    identical sub-pixel kernels (drawn afresh, or for pretrained weights their mean)."""
    model = _generator(cfg)
    if cfg.icnr:
        apply_icnr(model, keep_weights=bool(cfg.pretrained))
    return model


def _generator(cfg: TrainConfig) -> nn.Module:
    if cfg.pretrained:
        model = load_model(cfg.pretrained)
        if model.scale != cfg.scale:
            raise ValueError(f"pretrained model {cfg.pretrained} is x{model.scale}, the run is x{cfg.scale}")
        if model.arch != cfg.arch:
            raise ValueError(f"pretrained model {cfg.pretrained} is {model.arch}, the run's arch is {cfg.arch}")
        return model.float().train()
    return build_generator(cfg.arch, {**cfg.arch_config, "scale": cfg.scale}).train()


NONFINITE_POLICIES = ("stop", "skip")
MAX_SKIPPED_IN_A_ROW = 10  # with nonfinite_loss = "skip": this many bad steps in a row stop the run


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after a SIGINT/SIGTERM once the checkpoint is safely written."""


class Trainer:
    """Runs one training configuration in ``cfg.out / cfg.name``."""

    def __init__(self, cfg: TrainConfig, rank: int = 0, world_size: int = 1) -> None:
        if cfg.nonfinite_loss not in NONFINITE_POLICIES:
            raise ValueError(f"nonfinite_loss must be one of {', '.join(NONFINITE_POLICIES)}, not {cfg.nonfinite_loss!r}")
        self.cfg, self.rank, self.world_size = cfg, rank, world_size
        self.is_main = rank == 0
        self.device = pick_device(cfg.device)
        if world_size > 1 and self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.run_dir = Path(cfg.out) / cfg.name
        self.checkpoint_path = self.run_dir / "checkpoint.pt"
        self.export_path = self.run_dir / f"{cfg.name}.safetensors"
        self.best_path = self.run_dir / "best.safetensors"  # the EMA weights of the best validation so far
        self.log_path = self.run_dir / "log.jsonl"
        torch.manual_seed(cfg.seed)
        self.generator = build_generator_for(cfg).to(self.device)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.generator.to(memory_format=self.memory_format)
        self.ema = EMA(self.generator, cfg.ema_decay, cfg.ema_warmup)
        self.model: nn.Module = self.generator  # what the step calls (DDP-wrapped with torchrun)
        if world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.generator, device_ids=ids, broadcast_buffers=False)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
        self.amp = amp_dtype(cfg, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)
        self.losses = self._build_losses()
        if cfg.gan and not cfg.pretrained and self.is_main:
            print("note: GAN training from scratch; Real-ESRGAN starts stage 2 from stage 1's export "
                  "(--pretrained runs/<stage-1>/<stage-1>.safetensors)", file=sys.stderr)
        not_portable = get_architecture(cfg.arch).portability(dict(cfg.arch_config))
        if not_portable and self.is_main:
            print(f"warning: {not_portable}", file=sys.stderr)
        self.iteration = 0
        self.best: dict[str, Any] = {}  # {"iteration", "psnr"} of best.safetensors
        self.last_validation: Optional[dict[str, float]] = None  # goes into every export's metadata
        self.skipped_in_a_row = 0
        self._stop_signal: Optional[int] = None

    # -- pieces -----------------------------------------------------------------
    def _build_losses(self):
        from .losses import GeneratorLosses

        return GeneratorLosses(self.cfg, self.device, self.amp, self.world_size, self.memory_format)

    def _data(self, start_iteration: int) -> DataLoader:
        cfg = self.cfg
        files = find_images(cfg.data)
        # each process reads its own shard; with fewer images than processes all read all
        shard = files[self.rank :: self.world_size] if len(files) >= self.world_size else files
        lr_files = None
        if cfg.lr_data:
            lr_root = Path(cfg.lr_data)
            lr_files = [lr_root / f.name for f in shard]
        from .degradations import get_degradation

        dataset = PatchPairs(
            shard, cfg.scale, cfg.gt_size, get_degradation(cfg), lr_files=lr_files, seed=cfg.seed, rank=self.rank,
            hr_scales=cfg.hr_scales,
        )
        if dataset.skipped and self.is_main:
            print(f"note: {len(dataset.skipped)} images smaller than {cfg.gt_size}px are not used", file=sys.stderr)
        bs = cfg.batch_size
        sampler = IndexRange(start_iteration * bs, cfg.iterations * bs)
        return DataLoader(
            dataset,
            batch_size=bs,
            sampler=sampler,
            num_workers=cfg.num_workers,
            persistent_workers=False,
            prefetch_factor=4 if cfg.num_workers > 0 else None,
            pin_memory=self.device.type == "cuda",
        )

    def set_lr(self) -> float:
        lr = learning_rate(self.cfg, self.cfg.lr, self.iteration)
        for group in self.opt_g.param_groups:
            group["lr"] = lr
        self.losses.set_lr(lambda base: learning_rate(self.cfg, base, self.iteration))
        return lr

    # -- state ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "config": json.dumps(self.cfg.to_dict()),
            "generator": self.generator.state_dict(),
            "ema": self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "scaler": self.scaler.state_dict(),
            "losses": self.losses.state_dict(),
            "best": json.dumps(self.best),
            "validation": json.dumps(self.last_validation),
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        self.generator.load_state_dict(state["generator"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.scaler.load_state_dict(state["scaler"])
        self.losses.load_state_dict(state["losses"])
        self.best = json.loads(state["best"])
        self.last_validation = json.loads(state.get("validation", "null"))  # older checkpoints lack it
        torch.set_rng_state(state["torch_rng"])

    def save_checkpoint(self) -> None:
        if self.is_main:
            save_checkpoint(self.checkpoint_path, self.state_dict())
        barrier()

    def resume(self) -> bool:
        state = load_checkpoint(self.checkpoint_path)
        if state is None:
            return False
        saved = json.loads(state["config"])
        if saved.get("arch") != self.cfg.arch or saved.get("scale") != self.cfg.scale:
            raise CheckpointMismatchError(
                f"{self.checkpoint_path} is from another run ({saved.get('arch')} x{saved.get('scale')}); "
                "give this run another --name or --out, or drop --resume"
            )
        self.load_state_dict(state)
        return True

    # -- steps ------------------------------------------------------------------
    def train_step(self, lr: torch.Tensor, hr: torch.Tensor) -> dict[str, float]:
        """One step of the generator, its EMA and (GAN runs) the discriminator.
        A non-finite loss is found before its optimiser steps: see ``_non_finite``."""
        lr = lr.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        hr = hr.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        with torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
            out = self.model(lr)
        ema_out = None
        if self.cfg.ldl_weight:  # the LDL artefact map compares with the EMA model's output
            with torch.no_grad():
                ema_out = self.ema.module(lr).float()
        loss, logs = self.losses.generator_loss(out.float(), hr, self.iteration, ema_out)
        if any_rank(not math.isfinite(logs["loss"]), self.device):  # every rank skips or stops together
            return self._non_finite(NonFiniteLoss("loss", logs["loss"]))
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.grad_clip:
            self.scaler.unscale_(self.opt_g)
            torch.nn.utils.clip_grad_norm_(self.generator.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.opt_g)
        self.scaler.update()
        self.ema.update(self.generator, self.iteration + 1)
        try:
            logs.update(self.losses.discriminator_step(out.detach().float(), hr, self.iteration))
        except NonFiniteLoss as e:  # the generator's step was sound; the discriminator's is not taken
            return {**logs, **self._non_finite(e)}
        self.skipped_in_a_row = 0
        return logs

    def _non_finite(self, error: NonFiniteLoss) -> dict[str, Any]:
        """Stop the run (``nonfinite_loss = "stop"``) or skip this step's update (``"skip"``)."""
        n = self.iteration + 1  # the iteration being trained, as the log counts them
        if self.cfg.nonfinite_loss == "stop":
            raise FloatingPointError(
                f"{error.name} became {error.value} at iteration {n}; stopped before that step, so the weights, "
                "the EMA and the last checkpoint are untouched. Lower lr, enable grad_clip, or set "
                'nonfinite_loss = "skip" to skip such steps'
            )
        self.skipped_in_a_row += 1
        if self.skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW:
            raise FloatingPointError(
                f"{error.name} was NaN or infinite for {self.skipped_in_a_row} steps in a row "
                f"(iterations {n - self.skipped_in_a_row + 1} to {n}); the run cannot recover: lower lr or enable grad_clip"
            )
        if self.is_main:
            print(f"iteration {n}: {error.name} is {error.value}; this step's update was skipped", file=sys.stderr)
        return {"skipped": error.name, error.name: None}

    @torch.no_grad()
    def validate(self) -> Optional[dict[str, float]]:
        if not self.cfg.val or not self.is_main:
            return None
        model = self.ema.module
        model.eval()

        def run(x: torch.Tensor) -> torch.Tensor:
            return model(x.to(self.device).contiguous(memory_format=self.memory_format)).cpu()

        scores = evaluate_images(
            run, validation_files(self.cfg.val), self.cfg.scale,
            self.run_dir / "samples" / f"{self.iteration:07d}", self.cfg.samples,
        )
        return summarise(scores)

    def log(self, record: dict[str, Any]) -> None:
        if self.is_main:
            self.run_log.write(record)

    def export(self, validation: Optional[dict] = None, path: Optional[Path] = None) -> Path:
        """Save the EMA generator as .safetensors (atomically) with the run's metadata."""
        cfg = self.cfg
        model = self.ema.module
        meta = {
            "gensr.recipe": cfg.recipe,
            "gensr.pretrained": cfg.pretrained or "",
            "gensr.data": [str(d) for d in cfg.data],
            "gensr.degradation": cfg.degradation,
            "gensr.iterations": self.iteration,
            "gensr.training_config": cfg.to_dict(),
        }
        if validation:
            meta["gensr.validation"] = validation
        return save_model(model, path or self.export_path, metadata=meta)

    def _validated(self, validation: Optional[dict[str, float]]) -> None:
        """Record a validation: the next exports carry it, and a new best PSNR replaces best.safetensors."""
        if not validation:
            return
        self.last_validation = validation
        self.log({"iteration": self.iteration, "validation": validation})
        if not self.best or validation["psnr"] > self.best["psnr"]:
            self.export(validation, self.best_path)
            self.best = {"iteration": self.iteration, "psnr": validation["psnr"]}

    # -- main loop ----------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        self._stop_signal = signum

    def run(self, resume: bool = False) -> Path:
        cfg = self.cfg
        if resume and self.resume() and self.is_main:
            print(f"resumed {self.checkpoint_path} at iteration {self.iteration}", file=sys.stderr)
        self.run_log = RunLog(self.log_path, tensorboard=cfg.tensorboard, enabled=self.is_main)
        old_handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        progress = ProgressLine(cfg.iterations, enabled=self.is_main)
        try:
            if self.iteration == 0:
                self._validated(self.validate())
            loader = self._data(self.iteration) if self.iteration < cfg.iterations else []
            for lr_batch, hr_batch in loader:
                current_lr = self.set_lr()
                logs = self.train_step(lr_batch, hr_batch)
                self.iteration += 1
                progress.update(self.iteration, logs["loss"])
                if "skipped" in logs or self.iteration % cfg.log_every == 0 or self.iteration == cfg.iterations:
                    self.log({"iteration": self.iteration, "lr": current_lr, **logs})
                if cfg.val and (self.iteration % cfg.val_every == 0 or self.iteration == cfg.iterations):
                    val = self.validate()
                    self._validated(val)
                    if val:
                        progress.note(f"val psnr {val['psnr']:.2f} dB (bicubic {val['bicubic_psnr']:.2f}), "
                                      f"grid {val['grid_db']:.1f} dB, HF ratio {val['hf_ratio']:.3f}")
                if self.iteration % cfg.checkpoint_every == 0 or self.iteration == cfg.iterations:
                    self.save_checkpoint()
                    if self.is_main:
                        self.export(self.last_validation)
                stop = self._stop_signal is not None
                if self.world_size > 1:
                    stop = any_rank(stop, self.device)  # every rank stops at the same iteration
                if stop and self.iteration < cfg.iterations:
                    self.save_checkpoint()
                    progress.close()
                    if self.is_main:
                        print(f"stopped by signal {self._stop_signal or 'on another rank'} at iteration "
                              f"{self.iteration}; checkpoint saved, continue with --resume", file=sys.stderr)
                    raise TrainingInterrupted
        finally:
            progress.close()
            self.run_log.close()
            for s, h in old_handlers.items():
                signal.signal(s, h)
        return self.export(self.last_validation) if self.is_main else self.export_path
