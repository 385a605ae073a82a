"""GenSR Upscale Image driven the way ComfyUI runs it: sizes, batches streamed
frame by frame, fp16 and RGBA input, progress with previews, Cancel within one
tile, ComfyUI's memory management, and models from ComfyUI's core loader."""
from __future__ import annotations

import types

import pytest
import torch
from torch import nn

import gensr
from nodes_helpers import ValidationFailed, fake_comfy, fake_comfy_03, run_node, tiny_model_file  # noqa: F401

UPSCALE_DEFAULTS = dict(outscale=0.0, target_long_side=0, tile=0, overlap=-1, precision="auto")


def _load(folder, **kw):
    """GenSR Load Model on a file path, under inference mode as in ComfyUI."""
    from gensr.nodes.load_model import GenSRModelLoader

    with torch.inference_mode():
        return GenSRModelLoader.execute(str(tiny_model_file(folder, **kw))).args[0]


def _upscale(model, image, **widgets):
    (out,), _ = run_node("GenSRUpscale", upscale_model=model, image=image, **{**UPSCALE_DEFAULTS, **widgets})
    return out


def _direct(model, image_bhwc):
    """The model on the whole image, untiled, in float32 (BHWC); compared with
    precision="fp32" runs (``auto`` may pick bf16 on CPUs with native bf16)."""
    with torch.no_grad():
        return model.model(image_bhwc.movedim(-1, 1).float()).clamp(0, 1).movedim(1, -1)


def _image(b=1, h=12, w=10, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, h, w, c, generator=g)


def test_upscales_at_the_models_scale_without_seams(tmp_path):
    model = _load(tmp_path, scale=2)
    image = _image(h=20, w=18)
    out = _upscale(model, image, tile=8, precision="fp32")  # many tiles
    assert out.shape == (1, 40, 36, 3) and out.dtype == torch.float32 and out.device.type == "cpu"
    torch.testing.assert_close(out, _direct(model, image), atol=2e-5, rtol=0)


def test_outscale_and_target_long_side(tmp_path):
    model = _load(tmp_path, scale=2)
    image = _image(h=12, w=10)
    assert _upscale(model, image, outscale=1.5).shape == (1, 18, 15, 3)
    assert _upscale(model, image, outscale=3.0).shape == (1, 36, 30, 3)
    out = _upscale(model, image, target_long_side=30, outscale=1.5)  # the target wins
    assert out.shape[1] == 30 and abs(out.shape[2] - 25) <= 1


def test_batches_are_streamed_frame_by_frame(tmp_path, monkeypatch):
    import gensr.sr_core.upscale as engine

    model = _load(tmp_path, scale=2)
    frames = _image(b=3, h=10, w=8)
    seen = []
    real = engine.upscale

    def spy(m, image, *options, **kw):
        seen.append(tuple(image.shape))
        return real(m, image, *options, **kw)

    monkeypatch.setattr(engine, "upscale", spy)
    out = _upscale(model, frames, precision="fp32")
    assert seen == [(1, 10, 8, 3)] * 3
    for i in range(3):
        torch.testing.assert_close(out[i : i + 1], _direct(model, frames[i : i + 1]), atol=2e-5, rtol=0)


def test_fp16_images_from_other_nodes(tmp_path):
    model = _load(tmp_path, scale=2)
    image = _image(h=10, w=10)
    out = _upscale(model, image.half(), precision="fp32")
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, _direct(model, image.half().float()), atol=2e-5, rtol=0)
    assert next(model.model.parameters()).dtype == torch.float32  # the shared model is left as it was


def test_rgba_keeps_its_alpha(tmp_path):
    """Colour goes through the model; alpha is resized on its own with a Keys
    bicubic (a = -0.5) filter: compared with PIL's float bicubic resize."""
    import numpy as np
    from PIL import Image

    model = _load(tmp_path, scale=2)
    image = _image(h=10, w=12, c=4)
    out = _upscale(model, image, tile=8, precision="fp32")
    assert out.shape == (1, 20, 24, 4)
    torch.testing.assert_close(out[..., :3], _direct(model, image[..., :3]), atol=2e-5, rtol=0)
    alpha = Image.fromarray(image[0, ..., 3].numpy(), mode="F").resize((24, 20), Image.BICUBIC)
    expected = torch.from_numpy(np.asarray(alpha).copy()).clamp(0, 1)
    torch.testing.assert_close(out[0, ..., 3], expected, atol=1e-5, rtol=0)


def test_uniform_alpha_stays_uniform(tmp_path):
    model = _load(tmp_path, scale=2)
    image = _image(h=9, w=11, c=4)
    image[..., 3] = 0.25
    out = _upscale(model, image, outscale=1.5)
    assert out.shape == (1, 14, 16, 4)  # 9 x 11 at x1.5
    torch.testing.assert_close(out[..., 3], torch.full((1, 14, 16), 0.25), atol=1e-6, rtol=0)


def test_progress_bar_reaches_the_end_with_a_preview_per_frame(tmp_path, fake_comfy):
    from PIL import Image

    model = _load(tmp_path, scale=2)
    _upscale(model, _image(b=2, h=24, w=24), tile=8)
    values = [v for v, _, _ in fake_comfy.progress]
    totals = {t for _, t, _ in fake_comfy.progress}
    assert len(totals) == 1 and values[-1] == totals.pop()
    assert values == sorted(values) and len(values) > 4  # per tile, not per frame
    previews = [p for _, _, p in fake_comfy.progress if p is not None]
    assert len(previews) == 2
    for kind, image, size in previews:
        assert kind == "JPEG" and isinstance(image, Image.Image) and image.size == (48, 48) and size == 512


def test_preview_of_a_large_frame_is_small_and_keeps_the_picture(fake_comfy):
    from gensr.nodes.comfy_bridge import Progress

    frame = torch.zeros(1, 2100, 1400, 3)
    frame[:, :, 700:, 0] = 1.0  # right half red
    _, image, _ = Progress(1)._preview(frame)
    assert max(image.size) == 512 and image.size[0] < image.size[1]
    left, right = image.getpixel((10, 256)), image.getpixel((image.size[0] - 10, 256))
    assert left[0] < 10 and right[0] > 245


class _CountingModule(nn.Module):
    """Wraps a module and counts the tiles it is called on."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.tiles = 0
        for attr in ("scale", "in_channels", "out_channels", "size_multiple", "arch", "config"):
            setattr(self, attr, getattr(inner, attr))

    def forward(self, x):
        self.tiles += x.shape[0]
        return self.inner(x)


def test_cancel_stops_within_one_tile(tmp_path, fake_comfy):
    from nodes_fake_comfy import InterruptProcessingException

    model = _load(tmp_path, scale=2)
    model.model = _CountingModule(model.model)
    image = _image(h=64, w=64)
    fake_comfy.interrupt_after_updates = 3  # Cancel pressed after the 3rd progress update
    tiles_at_cancel = []
    hook = fake_comfy.progress_hook

    def recording_hook(value, total, preview):
        hook(value, total, preview)
        if fake_comfy.interrupt and not tiles_at_cancel:
            tiles_at_cancel.append((model.model.tiles, total))

    fake_comfy.progress_hook = recording_hook
    with pytest.raises(InterruptProcessingException):
        _upscale(model, image, tile=16)
    done_at_cancel, total = tiles_at_cancel[0]
    assert total > 6
    assert model.model.tiles - done_at_cancel <= 1  # at most the tile already under way


def test_uses_comfyui_model_management_with_a_patcher(tmp_path, fake_comfy):
    fake_comfy.models_dir.joinpath("m.safetensors").write_bytes(tiny_model_file(tmp_path, scale=2).read_bytes())
    (model,), _ = run_node("GenSRModelLoader", model_name="m.safetensors")
    _upscale(model, _image(h=16, w=16))
    (kind, models, required, full) = fake_comfy.calls[0]
    assert kind == "load_models_gpu" and models == [model.patcher] and full is True
    assert 0 < required < 256 << 20  # what this small job needs, not a fixed multi-GB reservation


def test_uses_free_memory_on_comfyui_03(tmp_path, fake_comfy_03):
    model = _load(tmp_path, scale=2)
    _upscale(model, _image(h=16, w=16))
    (kind, required, device) = fake_comfy_03.calls[0]
    assert kind == "free_memory" and device == torch.device("cpu")
    assert 0 < required < 256 << 20


class _ForeignDescriptor:
    """What ComfyUI's core loader returns for an architecture GenSR does not
    implement: a spandrel descriptor (only the attributes spandrel documents)."""

    def __init__(self, module: nn.Module, scale: int) -> None:
        self.model = module.eval()
        self.scale = scale
        self.input_channels = 3
        self.output_channels = 3
        self.size_requirements = types.SimpleNamespace(minimum=0, multiple_of=1, square=False)
        self.supports_half = True
        self.supports_bfloat16 = True

    def to(self, *args, **kwargs):
        self.model.to(*args, **kwargs)
        return self


def test_our_loader_makes_normal_tensors_even_under_inference_mode(tmp_path):
    model = _load(tmp_path, scale=2)
    assert not any(p.is_inference() for p in model.model.parameters())


def _foreign(scale: int = 2) -> _ForeignDescriptor:
    torch.manual_seed(0)
    return _ForeignDescriptor(nn.Sequential(nn.Conv2d(3, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale)), scale)


def test_models_from_comfyuis_core_loader_work_too():
    descriptor = _foreign()
    image = _image(h=20, w=14)
    out = _upscale(descriptor, image, tile=8, precision="fp32")
    assert out.shape == (1, 40, 28, 3)
    torch.testing.assert_close(out, _direct(descriptor, image), atol=2e-5, rtol=0)


def test_models_loaded_under_inference_mode_like_comfyuis_core_loader():
    """ComfyUI runs its core loader under torch.inference_mode(): the weights are inference tensors."""
    with torch.inference_mode():
        descriptor = _foreign()
    image = _image(h=12, w=10)
    out = _upscale(descriptor, image, tile=8, precision="fp32")
    torch.testing.assert_close(out, _direct(descriptor, image), atol=2e-5, rtol=0)


def test_bad_inputs_get_clear_errors(tmp_path):
    model = _load(tmp_path, scale=2)
    with pytest.raises(TypeError, match="UPSCALE_MODEL"):
        _upscale("not a model", _image())
    with pytest.raises(ValueError, match="1, 3 or 4 channels"):
        _upscale(model, _image(c=2))
    with pytest.raises(ValidationFailed, match="smaller than min"):
        _upscale(model, _image(), overlap=-2)
    with pytest.raises(ValidationFailed, match="not in list"):
        _upscale(model, _image(), precision="fp64")


def test_a_tile_too_small_for_the_context_is_logged_once(tmp_path, caplog):
    """tile=4 on a model needing 3 px of context (the engine keeps the 4 px
    windows: tests/test_upscale_plan.py): ComfyUI's log says once, for the
    whole batch, that seams may show."""
    import logging

    model = _load(tmp_path, scale=2)
    with caplog.at_level(logging.WARNING, logger="GenSR"):
        out = _upscale(model, _image(b=2, h=12, w=10), tile=4, precision="fp32")
    assert out.shape == (2, 24, 20, 3)
    warnings = [r.getMessage() for r in caplog.records if "seams may show" in r.getMessage()]
    assert len(warnings) == 1 and "tile 4x4" in warnings[0]


def test_comfyui_03_offload_takes_the_engines_converted_copy_with_it(tmp_path, fake_comfy_03):
    """ComfyUI 0.3.x moves the model back to the offload device after the node;
    a converted copy (here bf16) must not stay behind where ComfyUI cannot see it."""
    from gensr.sr_core.upscale import converted_weights_bytes

    model = _load(tmp_path, scale=2)
    _upscale(model, _image(h=8, w=8), precision="bf16")
    assert converted_weights_bytes(model) == 0
