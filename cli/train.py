"""Train a super-resolution model: gensr train --preset NAME --data DIR [--val DIR]
[--out DIR] [--config FILE.toml|.yaml] [--pretrained FILE] [--resume] [--set key=value ...].

Settings apply in this order: preset, config file, command-line options, --set.
Under ``torchrun --nproc_per_node=N`` each process trains on its own shard of
the images (DDP: gloo on CPU, NCCL on CUDA)."""
from __future__ import annotations

import argparse
import json

from .errors import CommandFailed, UsageError
from .options import device_option


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..training.presets import PRESETS

    p.add_argument("--preset", default=None, metavar="NAME", help=f"recipe to start from: {', '.join(PRESETS)}")
    p.add_argument("--config", default=None, help="TOML or YAML file of TrainConfig fields (may name a preset)")
    p.add_argument("--data", action="append", default=None, help="HR image folder (repeatable)")
    p.add_argument("--lr-data", default=None, help="paired LR folder (optional)")
    p.add_argument("--val", default=None, help="HR validation folder")
    p.add_argument("--out", default=None, help="runs folder (default: runs)")
    p.add_argument("--name", default=None, help="run name (default: the preset name)")
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--pretrained", default=None, help="generator weights to start from (stage 2: stage 1's export)")
    p.add_argument("--device", type=device_option, default=None, help="auto (default), cpu, cuda, cuda:1, mps")
    p.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field; VALUE is parsed as JSON when possible")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")


def _parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def build_config(args: argparse.Namespace):
    from ..training.config import TrainConfig
    from ..training.config_file import read_config_file
    from ..training.presets import preset_config

    file_values = read_config_file(args.config) if args.config else {}
    preset = args.preset or file_values.pop("preset", None)
    file_values.pop("preset", None)
    cfg = preset_config(preset) if preset else TrainConfig()
    cfg = TrainConfig.from_dict({**cfg.to_dict(), **file_values})
    changes = {}
    for key, value in (("data", args.data), ("lr_data", args.lr_data), ("val", args.val), ("out", args.out),
                       ("name", args.name), ("iterations", args.iterations), ("pretrained", args.pretrained),
                       ("device", args.device)):
        if value is not None:
            changes[key] = value
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: write KEY=VALUE")
        changes[key.strip()] = _parse_value(value)
    cfg = TrainConfig.from_dict({**cfg.to_dict(), **changes})
    if isinstance(cfg.data, str):
        cfg = cfg.replace(data=[cfg.data])
    return cfg


def run(args: argparse.Namespace) -> int:
    from ..training.distributed import barrier, device_for, init_distributed, shutdown
    from ..training.loop import Trainer, TrainingInterrupted

    try:
        cfg = build_config(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:  # a bad config file, preset or --set
        raise UsageError(str(e)) from e
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    if not cfg.data:
        raise UsageError("give --data DIR (HR training images)")
    info = init_distributed(cfg.device)
    device = device_for(info, cfg.device)
    if device:
        cfg = cfg.replace(device=device)
    try:
        try:
            trainer = Trainer(cfg, rank=info.rank, world_size=info.world_size)
        except ValueError as e:  # settings that cannot train
            raise UsageError(str(e)) from e
        path = trainer.run(resume=args.resume)
        barrier()  # rank 0 exports last: leave the group together (gloo aborts a rank torn down alone)
    except TrainingInterrupted:
        return 130
    except FloatingPointError as e:  # the loss diverged and the run was told to stop
        raise CommandFailed(str(e)) from e
    finally:
        shutdown()
    if info.is_main:
        print(f"exported {path}")
    return 0
