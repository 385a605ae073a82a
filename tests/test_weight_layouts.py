"""Every RRDBNet / Compact key layout, wrapper, prefix, scale and channel count
found in community weight files loads with the right detected config and gives
the same output as the model it was written from; ``save_model`` round-trips it.

The layout writers here are written independently of the architectures' detection (``gensr.sr_core.archs.*.detect``):
they turn a BasicSR-layout state dict into each layout as the original
programs (ESRGAN, BSRGAN, old ESRGAN, Real-ESRGAN, BasicSR) save it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import gensr
from gensr.sr_core.archs import RRDBNet, SRVGGNetCompact
from gensr.weights import atomic_write

# --------------------------------------------------------------------------- writers


def basicsr_layout(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """BasicSR / Real-ESRGAN keys (and Compact's ``body.N``): the model's own."""
    return {k: v.clone() for k, v in model.state_dict().items()}


def esrgan_layout(model: RRDBNet) -> dict[str, torch.Tensor]:
    """ESRGAN / BSRGAN keys: RRDB_trunk.N.RDBk.convj, trunk_conv, upconvN, HRconv."""
    out = {}
    for key, value in basicsr_layout(model).items():
        parts = key.split(".")
        if parts[0] == "body":  # body.N.rdbK.convJ.P
            key = f"RRDB_trunk.{parts[1]}.RDB{parts[2][3:]}.{parts[3]}.{parts[4]}"
        elif parts[0] == "conv_body":
            key = f"trunk_conv.{parts[1]}"
        elif parts[0].startswith("conv_up"):
            key = f"upconv{parts[0][7:]}.{parts[1]}"
        elif parts[0] == "conv_hr":
            key = f"HRconv.{parts[1]}"
        out[key] = value
    return out


def old_esrgan_layout(model: RRDBNet) -> dict[str, torch.Tensor]:
    """Old ESRGAN keys: one ``model`` Sequential. model.0 = first conv,
    model.1 = shortcut(sub = N RRDBs + trunk conv), then per upsampling step
    [Upsample, conv, LeakyReLU], then HR conv, LeakyReLU, last conv."""
    n_up, n_block = model.num_upsample, model.config["num_block"]
    top = {"conv_first": 0, "conv_hr": 3 * n_up + 2, "conv_last": 3 * n_up + 4}
    top.update({f"conv_up{i}": 3 * i for i in range(1, n_up + 1)})
    out = {}
    for key, value in basicsr_layout(model).items():
        parts = key.split(".")
        if parts[0] == "body":
            key = f"model.1.sub.{parts[1]}.RDB{parts[2][3:]}.{parts[3]}.0.{parts[4]}"
        elif parts[0] == "conv_body":
            key = f"model.1.sub.{n_block}.{parts[1]}"
        else:
            key = f"model.{top[parts[0]]}.{parts[1]}"
        out[key] = value
    return out


LAYOUTS: dict[str, Callable[[torch.nn.Module], dict[str, torch.Tensor]]] = {
    "basicsr": basicsr_layout,
    "esrgan": esrgan_layout,
    "old_esrgan": old_esrgan_layout,
}


def wrap(sd: dict, wrapper: Optional[str], prefix: str) -> dict:
    sd = {prefix + k: v for k, v in sd.items()}
    return {wrapper: sd} if wrapper else sd


def write(path: Path, obj: dict) -> Path:
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in obj.items()}, str(path))
    else:
        torch.save(obj, str(path))
    return path


# --------------------------------------------------------------------------- models


def tiny_rrdb(layout: str, scale: int, channels: int = 3, num_feat: int = 8, num_block: int = 2,
              num_grow_ch: int = 4, seed: int = 0) -> RRDBNet:
    """A random tiny RRDBNet as ``layout``'s program would build it for ``scale``:
    old ESRGAN has no pixel-unshuffle (x1 = 0, x2 = 1 upsampling steps)."""
    torch.manual_seed(seed)
    plan = {}
    if layout == "old_esrgan" and scale in (1, 2):
        plan = dict(num_upsample=scale - 1, unshuffle=1)
    return RRDBNet(channels, channels, scale, num_feat, num_block, num_grow_ch, **plan).eval()


def tiny_compact(scale: int, channels: int = 3, num_feat: int = 6, num_conv: int = 2, seed: int = 0) -> SRVGGNetCompact:
    torch.manual_seed(seed)
    model = SRVGGNetCompact(channels, channels, num_feat, num_conv, scale).eval()
    with torch.no_grad():  # distinct PReLU slopes, so that a mix-up shows
        for m in model.modules():
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.05, 0.5)
    return model


def image(channels: int, size: int = 8, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, channels, size, size, generator=g)


def run(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def check_loaded(path: Path, reference: torch.nn.Module, x: torch.Tensor) -> torch.nn.Module:
    loaded = gensr.load_model(path)
    assert loaded.arch == reference.arch
    assert loaded.config == reference.config
    assert (loaded.scale, loaded.in_channels, loaded.out_channels) == (
        reference.scale, reference.in_channels, reference.out_channels)
    assert not loaded.training
    out = run(loaded, x)
    assert out.shape == (1, reference.out_channels, x.shape[2] * reference.scale, x.shape[3] * reference.scale)
    assert torch.equal(out, run(reference, x))
    return loaded


def check_round_trip(loaded: torch.nn.Module, reference: torch.nn.Module, x: torch.Tensor, path: Path) -> None:
    gensr.save_model(loaded, path, metadata={"note": "round trip", "trained_on": {"set": "T91", "iters": 10}})
    again = gensr.load_model(path)
    assert again.config == reference.config
    assert torch.equal(run(again, x), run(reference, x))
    assert again.metadata["gensr.arch"] == reference.arch
    assert again.metadata["gensr.config"] == reference.config
    assert again.metadata["gensr.scale"] == reference.scale
    assert again.metadata["note"] == "round trip"
    assert again.metadata["trained_on"] == {"set": "T91", "iters": 10}
    # Saved in the architecture's standard key layout, which ComfyUI / chaiNNer read.
    with safe_open(str(path), "pt") as f:
        assert set(f.keys()) == set(reference.state_dict())


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("scale", [1, 2, 4, 8])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_rrdbnet_layouts_scales_channels(tmp_path, layout, scale, channels):
    model = tiny_rrdb(layout, scale, channels)
    if layout == "old_esrgan" and scale in (1, 2):
        assert model.config["unshuffle"] == 1 and model.config["num_upsample"] == scale - 1
    sd = LAYOUTS[layout](model)
    x = image(channels)
    for suffix in (".pth", ".safetensors"):
        loaded = check_loaded(write(tmp_path / f"m{suffix}", sd), model, x)
    check_round_trip(loaded, model, x, tmp_path / "rt.safetensors")


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_compact_scales_channels(tmp_path, scale, channels):
    model = tiny_compact(scale, channels)
    sd = basicsr_layout(model)
    assert all(k.startswith("body.") for k in sd)
    x = image(channels)
    for suffix in (".pth", ".safetensors"):
        loaded = check_loaded(write(tmp_path / f"m{suffix}", sd), model, x)
    check_round_trip(loaded, model, x, tmp_path / "rt.safetensors")


ALL_LAYOUTS = [*LAYOUTS, "compact"]


def tiny_model(layout: str, seed: int = 0) -> torch.nn.Module:
    return tiny_compact(4, seed=seed) if layout == "compact" else tiny_rrdb(layout, 4, seed=seed)


def layout_sd(layout: str, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return basicsr_layout(model) if layout == "compact" else LAYOUTS[layout](model)


@pytest.mark.parametrize("prefix", ["", "module.", "netG.", "netG.module."])
@pytest.mark.parametrize("wrapper", [None, "params_ema", "params", "state_dict", "model", "net", "g"])
@pytest.mark.parametrize("layout", ALL_LAYOUTS)
def test_wrappers_and_prefixes_in_pickles(tmp_path, layout, wrapper, prefix):
    model = tiny_model(layout)
    obj = wrap(layout_sd(layout, model), wrapper, prefix)
    if wrapper:  # training checkpoints keep other things beside the weights
        obj["iter"] = 1000
        obj["optimizer"] = {"lr": 1e-4, "state": {}}
    check_loaded(write(tmp_path / "m.pth", obj), model, image(3))


@pytest.mark.parametrize("prefix", ["module.", "netG."])
@pytest.mark.parametrize("layout", ALL_LAYOUTS)
def test_prefixes_in_safetensors(tmp_path, layout, prefix):
    model = tiny_model(layout)
    check_loaded(write(tmp_path / "m.safetensors", wrap(layout_sd(layout, model), None, prefix)), model, image(3))


@pytest.mark.parametrize("layout", ALL_LAYOUTS)
def test_params_ema_is_preferred_over_params(tmp_path, layout):
    plain, ema = tiny_model(layout, seed=1), tiny_model(layout, seed=2)
    obj = {"params": layout_sd(layout, plain), "params_ema": layout_sd(layout, ema)}  # params first
    x = image(3)
    assert not torch.equal(run(plain, x), run(ema, x))
    check_loaded(write(tmp_path / "m.pth", obj), ema, x)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_rrdbnet_odd_widths_and_growth(tmp_path, layout, scale):
    model = tiny_rrdb(layout, scale, num_feat=7, num_block=3, num_grow_ch=5)
    assert model.config["num_grow_ch"] == 5
    x = image(3)
    for suffix in (".pth", ".safetensors"):
        check_loaded(write(tmp_path / f"m{suffix}", LAYOUTS[layout](model)), model, x)


@pytest.mark.parametrize("scale", [1, 3])
def test_compact_odd_widths(tmp_path, scale):
    model = tiny_compact(scale, num_feat=5, num_conv=3)
    x = image(3)
    for suffix in (".pth", ".safetensors"):
        check_loaded(write(tmp_path / f"m{suffix}", basicsr_layout(model)), model, x)


def test_half_precision_file_loads_as_float32(tmp_path):
    model = tiny_rrdb("esrgan", 4)
    sd = {k: v.half() for k, v in esrgan_layout(model).items()}
    loaded = gensr.load_model(write(tmp_path / "m.safetensors", sd))
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert loaded.config == model.config


def test_scale_is_detected_from_shapes_not_the_file_name(tmp_path):
    model = tiny_rrdb("basicsr", 2)
    loaded = gensr.load_model(write(tmp_path / "4x_RealESRGAN_x4plus.pth", {"params_ema": basicsr_layout(model)}))
    assert loaded.scale == 2


def test_load_model_device_and_metadata_of_plain_files(tmp_path):
    model = tiny_compact(2)
    loaded = gensr.load_model(write(tmp_path / "m.pth", {"params": basicsr_layout(model)}), device="cpu")
    assert loaded.metadata == {}
    assert loaded.source == str(tmp_path / "m.pth")
    assert next(loaded.parameters()).device.type == "cpu"


def test_save_model_refuses_other_suffixes(tmp_path):
    with pytest.raises(ValueError, match="safetensors"):
        gensr.save_model(tiny_compact(2), tmp_path / "m.pth")
    assert not (tmp_path / "m.pth").exists()


def test_save_model_replaces_atomically_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "sub" / "m.safetensors"
    gensr.save_model(tiny_compact(2, seed=1), path)
    gensr.save_model(tiny_compact(2, seed=2), path)
    assert [p.name for p in path.parent.iterdir()] == ["m.safetensors"]
    assert torch.equal(gensr.load_model(path).body[0].weight, tiny_compact(2, seed=2).body[0].weight)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"old": True}))

    def half_write(tmp: str) -> None:
        Path(tmp).write_text('{"new": ')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_write)
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def safetensors_with_header_start(path: Path, sd: dict, start: bytes) -> Path:
    """Write ``sd`` with metadata padding chosen so that the file's first bytes
    (its little-endian header length) equal ``start``."""
    def save(pad: int) -> int:
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path), metadata={"pad": "x" * pad})
        return int.from_bytes(path.read_bytes()[:8], "little")

    base = save(0)
    target = int.from_bytes(start, "little")
    while target <= base:
        target += 256 ** len(start)
    for pad in range(target - base - 8, target - base + 8):
        save(pad)
        if path.read_bytes()[: len(start)] == start:
            return path
    raise AssertionError("could not shape the header length")


@pytest.mark.parametrize("start", [b"\x80", b"PK"], ids=["pickle-magic", "zip-magic"])
def test_safetensors_whose_header_length_looks_like_another_format(tmp_path, start):
    model = tiny_compact(2)
    path = safetensors_with_header_start(tmp_path / "m.safetensors", basicsr_layout(model), start)
    loaded = check_loaded(path, model, image(3))
    assert len(loaded.metadata["pad"]) > 0


def test_metadata_round_trips_exactly(tmp_path):
    extra = {"version": "1.0", "flag": "true", "count": 3, "quoted": '"x"', "license": "BSD-3-Clause",
             "nested": {"a": [1, 2.5, None]}, "empty": ""}
    gensr.save_model(tiny_compact(2), tmp_path / "m.safetensors", metadata=extra)
    meta = gensr.load_model(tmp_path / "m.safetensors").metadata
    assert {k: meta[k] for k in extra} == extra
    with safe_open(str(tmp_path / "m.safetensors"), "pt") as f:
        assert f.metadata()["license"] == "BSD-3-Clause"  # plain strings stay readable by other tools
