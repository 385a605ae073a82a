"""The ``gensr`` command. Each subcommand lives in its own module here with
``add_arguments(parser)`` and ``run(args) -> int``; a command raises
``cli.errors.UsageError`` for a mistake in what it was given, and ``main`` is
the one place errors are reported (``cli/errors.py``)."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

# name -> (module, one-line help)
COMMANDS = {
    "upscale": ("upscale", "upscale images, folders or globs with a model"),
    "info": ("info", "print a weight file's detected architecture, scale and config as JSON"),
    "convert": ("convert", "convert a .pth/.pt/.ckpt/.bin weight file to .safetensors"),
    "interpolate": ("interpolate", "blend two weight files of one network (PSNR model <-> GAN fine-tune)"),
    "eval": ("evaluate", "Y-PSNR / SSIM of a model on HR images against bicubic"),
    "train": ("train", "train a super-resolution model"),
    "models": ("models", "list the model catalogue"),
    "push": ("push", "upload a .safetensors model with a model card to the Hugging Face Hub"),
}


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="gensr", description="ComfyUI-GenSR: generative super-resolution.")
    parser.add_argument("--version", action="version", version=f"gensr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        try:
            mod = importlib.import_module(f".{module}", __name__)
        except ModuleNotFoundError as e:
            if e.name and e.name.endswith(f"cli.{module}"):
                continue  # command not built yet
            raise
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip())
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from .errors import report

    try:
        return int(args._run(args) or 0)
    except BaseException as e:  # the one error boundary of every command: see cli/errors.py
        code = report(args.command, e)
        if code is None:
            raise
        return code


if __name__ == "__main__":
    sys.exit(main())
