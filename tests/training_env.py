"""Helpers for the training tests: a few real training images, small validation
crops, a tiny VGG19 weight file and tiny configs."""
from __future__ import annotations

import shutil
from pathlib import Path

import torch
from PIL import Image
from safetensors.torch import save_file

from conftest import shared_path
from gensr.training.config import TrainConfig
from gensr.training.presets import preset_config


def tiny_data(tmp_path: Path, n: int = 4) -> tuple[Path, Path]:
    """(train dir with ``n`` T91 images, val dir with two 96 px Set5 crops)."""
    train_src = shared_path("data", "train", "T91")
    val_src = shared_path("data", "val", "Set5")
    train, val = tmp_path / "train", tmp_path / "val"
    train.mkdir(parents=True, exist_ok=True)
    val.mkdir(parents=True, exist_ok=True)
    for f in sorted(train_src.glob("*.png"))[:n]:
        shutil.copy(f, train / f.name)
    for f in sorted(val_src.glob("*.png"))[:2]:
        with Image.open(f) as im:
            im.convert("RGB").crop((64, 64, 160, 160)).save(val / f.name)
    return train, val


def tiny_config(tmp_path: Path, preset: str = "tiny-test", **changes) -> TrainConfig:
    train, val = tiny_data(tmp_path)
    cfg = preset_config(preset).replace(data=[str(train)], val=str(val), out=str(tmp_path / "runs"))
    return cfg.replace(**changes)


def tiny_vgg19_file(path: Path, last: str = "conv2_2", seed: int = 0) -> Path:
    """Random VGG19 weights up to ``last`` in timm/torchvision key layout."""
    from gensr.sr_core.losses import VGG19Features

    torch.manual_seed(seed)
    sd = {f"features.{k}": v.contiguous() for k, v in VGG19Features(last).features.state_dict().items()}
    save_file(sd, str(path))
    return path


def weights_equal(a: dict, b: dict, atol: float = 0.0) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k].float(), b[k].float(), atol=atol, rtol=0) for k in a)


TESTS = Path(__file__).resolve().parent


def gensr_command(*args: str) -> list[str]:
    """argv that runs ``gensr ARGS`` from this checkout (whatever is pip-installed)."""
    import sys

    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); import conftest, torch; torch.set_num_threads(1); "
            f"from gensr.cli import main; sys.exit(main(sys.argv[1:]))")
    return [sys.executable, "-c", code, *args]
