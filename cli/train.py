"""Train a super-resolution model: gensr train --preset NAME --data DIR [--val DIR]
[--out DIR] [--config FILE] [--resume] [--set key=value ...]."""
from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default=None, help="recipe to start from (see training/presets.py)")
    p.add_argument("--config", default=None, help="TOML config file with TrainConfig fields")
    p.add_argument("--data", action="append", default=None, help="HR image folder (repeatable)")
    p.add_argument("--lr-data", default=None, help="paired LR folder (optional)")
    p.add_argument("--val", default=None, help="HR validation folder")
    p.add_argument("--out", default=None, help="runs folder (default: runs)")
    p.add_argument("--name", default=None, help="run name (default: the preset name)")
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field; VALUE is parsed as JSON when possible")


def _parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def build_config(args: argparse.Namespace):
    from ..training.config import TrainConfig
    from ..training.presets import preset_config

    cfg = preset_config(args.preset) if args.preset else TrainConfig()
    if args.config:
        import tomllib

        with open(args.config, "rb") as f:
            cfg = TrainConfig.from_dict({**cfg.to_dict(), **tomllib.load(f)})
    changes = {}
    for key, value in (("data", args.data), ("lr_data", args.lr_data), ("val", args.val), ("out", args.out),
                       ("name", args.name), ("iterations", args.iterations)):
        if value is not None:
            changes[key] = value
    for item in args.set:
        key, _, value = item.partition("=")
        changes[key.strip()] = _parse_value(value)
    cfg = TrainConfig.from_dict({**cfg.to_dict(), **changes})
    if not cfg.data:
        raise SystemExit("gensr train: give --data DIR (HR training images)")
    return cfg


def run(args: argparse.Namespace) -> int:
    from ..training.loop import Trainer

    cfg = build_config(args)
    path = Trainer(cfg).run(resume=args.resume)
    print(f"exported {path}")
    return 0
