"""Upscale image files, folders (recursively) and globs with a super-resolution
model. Reads PNG, JPEG, WebP, BMP and TIFF; writes PNG, JPEG or WebP (the
input's format, PNG for BMP and TIFF inputs, unless --format); 8- and 16-bit,
gray and alpha are kept as they are. A file that fails is reported and
skipped; existing outputs are kept unless --overwrite."""
from __future__ import annotations

import argparse
import glob
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

from ..sr_core.image_io import FORMATS, IMAGE_EXTENSIONS, ImageFileError, is_image_file
from ..sr_core.upscale.plan import MAX_SIDE
from .errors import UsageError
from .options import device_option

IMAGE_KINDS = "PNG, JPEG, WebP, BMP or TIFF"


def _size(text: str) -> Tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 3840x2160, not {text!r}")
    if max(int(m.group(1)), int(m.group(2))) > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"expected sides of at most {MAX_SIDE} pixels, not {text!r}")
    return int(m.group(1)), int(m.group(2))


def _side(text: str) -> int:
    v = _positive_int(text)
    if v > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_SIDE} pixels, not {text!r}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return v


def _auto_or_int(minimum: int):
    def parse(text: str):
        if text == "auto":
            return "auto"
        try:
            v = int(text)
        except ValueError:
            v = minimum - 1
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected 'auto' or an integer >= {minimum}, not {text!r}")
        return v

    return parse


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a positive number, not {text!r}")
    return v


def architectures_help() -> str:
    """The architectures --model opens, from the registry (spandrel is not imported: it is slow)."""
    from ..sr_core.archs import ARCHITECTURES

    own = ", ".join(arch.name for arch in ARCHITECTURES.values())
    return (f"Architectures: {own}, run by GenSR itself; any other that spandrel knows (SwinIR, HAT, DAT, OmniSR, "
            'AuraSR, ...) when spandrel is installed (pip install "comfyui-gensr[spandrel]").')


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or globs")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder, or an output file name when there is a single input file")
    p.add_argument("--model", default=None, metavar="SOURCE",
                   help="weight file (.safetensors, or a weights-only .pth/.pt/.ckpt/.bin), hf://OWNER/REPO/FILE[@REV] "
                        f"or a catalogue name (`gensr models`); default: the bundled GenSR x4 model. {architectures_help()}")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--outscale", type=_positive_float, metavar="F",
                      help="final size as a multiple of the input (any number, e.g. 2 with a x4 model)")
    size.add_argument("--size", type=_size, metavar="WxH", help="final width x height")
    size.add_argument("--long-side", type=_side, metavar="N", help="final length of the longer side")
    p.add_argument("--tile", type=_auto_or_int(8), default="auto", metavar="N",
                   help="largest tile side in pixels (default: auto, from free memory)")
    p.add_argument("--overlap", type=_auto_or_int(0), default="auto", metavar="N",
                   help="context pixels around each tile (default: auto, from the model)")
    p.add_argument("--precision", choices=("auto", "fp32", "fp16", "bf16"), default="auto")
    p.add_argument("--device", type=device_option, default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    p.add_argument("--threads", type=_auto_or_int(1), default="auto", metavar="N",
                   help="CPU threads (default: auto, what the CPU has free when each image starts)")
    p.add_argument("--format", choices=("png", "jpg", "webp"), default=None,
                   help="output format (default: the input's; PNG for BMP and TIFF inputs)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95; WebP 100 = lossless)")
    p.add_argument("--suffix", default="", help="added to output file names, e.g. _x4")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# ------------------------------------------------------------------ inputs


def collect_inputs(
    specs: List[str], exclude: Optional[Path] = None
) -> Tuple[List[Tuple[Path, Path]], List[str], List[str]]:
    """([(file, path relative to its input root)], problems, notes) for files,
    folders and globs. Problems are inputs that gave nothing; notes count the
    files a folder or glob held that are not images (by extension)."""
    found: List[Tuple[Path, Path]] = []
    problems: List[str] = []
    notes: List[str] = []
    seen = set()
    ex = exclude.resolve() if exclude is not None else None

    def add(path: Path, rel: Path) -> None:
        key = path.resolve()
        if key in seen or (ex is not None and ex in key.parents):
            return
        seen.add(key)
        found.append((path, rel))

    def note_skipped(spec: str, candidates: List[Path], files: List[Path]) -> None:
        skipped = len(candidates) - len(files)
        if skipped:
            kinds = ", ".join(e for e in IMAGE_EXTENSIONS)
            notes.append(f"{spec}: skipped {skipped} file{'s' * (skipped != 1)} that "
                         f"{'are' if skipped != 1 else 'is'} not an image ({kinds})")

    for spec in specs:
        p = Path(spec).expanduser()
        if p.is_dir():
            candidates = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
            files = [f for f in candidates if is_image_file(f)]
            if not files:
                problems.append(f"{spec}: no {IMAGE_KINDS} images in this folder")
            note_skipped(spec, candidates, files)
            for f in files:
                add(f, f.relative_to(p))
        elif p.is_file():
            add(p, Path(p.name))
        elif glob.has_magic(spec):
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(spec), recursive=True))
            candidates = [m for m in matches if m.is_file() and not m.name.startswith(".")]
            files = [m for m in candidates if is_image_file(m)]
            if not files:
                problems.append(f"{spec}: matches no {IMAGE_KINDS} images")
            note_skipped(spec, candidates, files)
            for f in files:
                add(f, Path(f.name))
        else:
            problems.append(f"{spec}: no such file or folder")
    return found, problems, notes


def plan_outputs(inputs: List[Tuple[Path, Path]], output: Path, fmt: Optional[str], suffix: str) -> List[Tuple[Path, Path]]:
    """[(input, output file)]; ``output`` is a file only for a single input with an image extension.
    Without ``fmt`` an output keeps its input's format, or is PNG when GenSR does not write that format."""
    if output.suffix.lower() in FORMATS and not output.is_dir():
        if len(inputs) != 1:
            raise UsageError(f"-o {output} is a file name but there are {len(inputs)} inputs; give a folder")
        return [(inputs[0][0], output)]
    pairs = []
    taken = {}
    for src, rel in inputs:
        ext = f".{fmt}" if fmt else (src.suffix if src.suffix.lower() in FORMATS else ".png")
        dst = output / rel.with_name(rel.stem + suffix + ext)
        if dst in taken:
            raise UsageError(f"{src} and {taken[dst]} would both be written to {dst}; use separate runs or folders")
        taken[dst] = src
        pairs.append((src, dst))
    return pairs


# ------------------------------------------------------------------ model


def load_cli_model(source: Optional[str]):
    """A model from a path, hf:// URI or catalogue name; the bundled default without one."""
    from ..weights import load_model
    from ..weights.errors import WeightFileError

    if source is None:
        from ..weights.default_model import default_model_path

        path = default_model_path()
        if not path.is_file():
            raise WeightFileError(
                f"no --model given and the bundled default model is not installed ({path}). "
                "Pass --model with a weight file, an hf://OWNER/REPO/FILE source or a name from `gensr models`."
            )
        return load_model(path)
    if source.startswith("hf://") or Path(source).expanduser().exists():
        return load_model(source)
    if re.fullmatch(r"[A-Za-z0-9][\w.-]*", source) and not Path(source).suffix:
        from ..weights.catalogue import get_entry

        entry = get_entry(source)
        if entry.bundled:
            return load_model(entry.bundled_file())
        return load_model(**entry.hub_options())
    raise UsageError(f"model {source!r}: no such file (give a weight file, an hf:// source or a catalogue name)")


# ------------------------------------------------------------------ progress


class ProgressBar:
    """A one-line text progress bar on stderr (only when it is a terminal)."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label, self.enabled = label, enabled and sys.stderr.isatty()
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        width = 30
        filled = int(width * done / max(total, 1))
        elapsed = now - self.start
        eta = elapsed / done * (total - done) if done else 0.0
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} tiles, "
                         f"{elapsed:.0f}s elapsed, ~{eta:.0f}s left ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


# ------------------------------------------------------------------ run


def run(args: argparse.Namespace) -> int:
    import torch

    from ..sr_core.image_io import read_image, write_image
    from ..sr_core.upscale import UpscaleOptions, pick_device, upscale

    output = Path(args.output).expanduser()
    inputs, problems, notes = collect_inputs(args.inputs, exclude=output if output.suffix.lower() not in FORMATS else None)
    if not inputs:
        raise UsageError("; ".join(problems) + "; nothing to do")
    for line in problems + notes:
        print(f"gensr upscale: {line}", file=sys.stderr)
    pairs = plan_outputs(inputs, output, args.format, args.suffix)

    todo = [(s, d) for s, d in pairs if args.overwrite or not d.exists()]
    for s, d in pairs:
        if (s, d) not in todo:
            print(f"skipped {s}: {d} exists (use --overwrite to replace it)")
    if not todo:
        return 1 if problems else 0

    model = load_cli_model(args.model)
    warned = set()

    def warn(message: str) -> None:  # once per distinct message, not once per file
        if message not in warned:
            warned.add(message)
            print(f"gensr upscale: warning: {message}", file=sys.stderr)

    try:
        options = UpscaleOptions(
            tile=args.tile, overlap=args.overlap, precision=args.precision, device=pick_device(args.device),
            outscale=args.outscale, target=args.size if args.size else args.long_side,
            threads=getattr(args, "threads", "auto"), layout="bchw", on_warning=warn,
        )
    except ValueError as e:
        print(f"gensr upscale: error: {e}", file=sys.stderr)
        return 2
    failed = 0
    for i, (src, dst) in enumerate(todo, 1):
        bar = ProgressBar(f"[{i}/{len(todo)}] {src.name}", not args.quiet)
        t0 = time.monotonic()
        try:
            pixels, info = read_image(src, dtype="native")
            result = upscale(model, pixels, options, out_dtype=torch.uint8 if info.bits == 8 else torch.float32,
                             progress=bar)
            write_image(dst, result, info, quality=args.quality)
        except (ImageFileError, ValueError, OSError, RuntimeError) as e:  # incl. UpscaleOutOfMemory
            bar.close()
            failed += 1
            named = isinstance(e, ImageFileError) and e.path is not None  # the message starts with the path
            print(f"failed {e}" if named else f"failed {src}: {e}", file=sys.stderr)
            continue
        bar.close()
        h, w = result.shape[-2:]
        print(f"wrote {dst} ({w}x{h}, {time.monotonic() - t0:.1f}s)")
    if failed:
        print(f"gensr upscale: {failed} of {len(todo)} files failed", file=sys.stderr)
    return 1 if failed or problems else 0
