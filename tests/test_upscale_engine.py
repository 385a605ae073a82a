"""gensr.upscale on tiny models: tiled output equals untiled output, layouts,
dtypes, channels (gray, alpha), batches streamed frame by frame, progress,
cancel, out-of-memory back-off, resizing after the model and spandrel-style
descriptors."""
from __future__ import annotations

import math
import threading
import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import gensr
from gensr.sr_core.archs import RRDBNet, SRVGGNetCompact
from gensr.sr_core.upscale import UpscaleCancelled, UpscaleOutOfMemory, upscale
from gensr.sr_core.upscale.resample import resize


def _compact(scale=4, cin=3, cout=3, seed=0, num_conv=3):
    torch.manual_seed(seed)
    return SRVGGNetCompact(in_channels=cin, out_channels=cout, num_feat=8, num_conv=num_conv, scale=scale).eval()


def _rrdb(scale=4, seed=0):
    torch.manual_seed(seed)
    return RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=scale).eval()


def _img(b=1, c=3, h=37, w=29, seed=1):
    return torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed))


def _direct(model, x):
    """The model on the whole (padded to its multiple) image, as a reference."""
    m = getattr(model, "size_multiple", 1)
    h, w = x.shape[-2:]
    ph, pw = -h % m, -w % m
    xp = F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x
    with torch.no_grad():
        return model(xp)[..., : h * model.scale, : w * model.scale].clamp(0, 1)


def _psnr(a, b):
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def test_public_api_is_gensr_upscale():
    assert gensr.upscale is upscale


@pytest.mark.parametrize("tile", [12, 16, (24, 12), (20, 36)])
def test_tiled_equals_untiled_for_a_conv_stack(tile):
    model, x = _compact(), _img(b=2)
    out = upscale(model, x, tile=tile)
    assert out.shape == (2, 3, 37 * 4, 29 * 4)
    assert float((out - _direct(model, x)).abs().max()) < 1e-5


def test_rrdb_tiled_matches_untiled_with_measured_overlap():
    model, x = _rrdb(scale=4), _img(h=40, w=36)
    out = upscale(model, x, tile=24)
    assert _psnr(out, _direct(model, x)) >= 50


def test_size_multiple_and_odd_sizes():
    model = _rrdb(scale=2)  # pixel-unshuffle by 2: sizes must be even inside the model
    assert model.size_multiple == 2
    x = _img(h=27, w=19)
    out = upscale(model, x, tile=16)
    assert out.shape == (1, 3, 54, 38)
    assert _psnr(out, _direct(model, x)) >= 50


def test_layouts_round_trip():
    model, x = _compact(), _img(h=21, w=17)
    bchw = upscale(model, x, tile=16)
    bhwc = upscale(model, x.permute(0, 2, 3, 1).contiguous(), tile=16)
    assert bhwc.shape == (1, 84, 68, 3)
    torch.testing.assert_close(bhwc.permute(0, 3, 1, 2), bchw)
    chw = upscale(model, x[0], tile=16)
    torch.testing.assert_close(chw, bchw[0])
    with pytest.raises(ValueError, match="layout="):
        upscale(model, torch.rand(1, 3, 4, 3))  # 3 rows of 4 px, or 4 rows of 3 channels?
    out = upscale(model, torch.rand(1, 3, 4, 3), layout="bchw")
    assert out.shape == (1, 3, 16, 12)


def test_dtypes_in_and_out():
    model, x = _compact(), _img(h=16, w=16)
    ref = upscale(model, x)
    u8 = upscale(model, (x * 255).round().to(torch.uint8), out_dtype=torch.uint8)
    assert u8.dtype == torch.uint8
    ref8 = upscale(model, (x * 255).round() / 255)
    assert int((u8.int() - (ref8 * 255).round().int()).abs().max()) <= 1
    half = upscale(model, x.half(), out_dtype=torch.float16)
    assert half.dtype == torch.float16
    assert float((half.float() - ref).abs().max()) < 2e-3
    with pytest.raises(ValueError, match="out_dtype"):
        upscale(model, x, out_dtype=torch.int32)
    with pytest.raises(ValueError, match="dtype"):
        upscale(model, x.to(torch.int32))


def test_rgba_through_rgb_model_keeps_alpha_interpolated():
    model, x = _compact(), _img(c=4, h=20, w=18)
    out = upscale(model, x, tile=12)
    assert out.shape == (1, 4, 80, 72)
    torch.testing.assert_close(out[:, :3], upscale(model, x[:, :3]), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[:, 3:], resize(x[:, 3:], (80, 72), "bicubic").clamp(0, 1), atol=1e-5, rtol=0)


def test_gray_through_rgb_model_stays_gray():
    model, x = _compact(), _img(c=1, h=15, w=14)
    out = upscale(model, x)
    assert out.shape == (1, 1, 60, 56)
    rgb = _direct(model, x.expand(-1, 3, -1, -1))
    luma = (rgb * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    torch.testing.assert_close(out, luma, atol=1e-5, rtol=0)
    la = upscale(model, torch.cat((x, torch.ones_like(x)), 1))
    assert la.shape == (1, 2, 60, 56)
    torch.testing.assert_close(la[:, :1], out)


def test_models_with_their_own_channel_counts():
    gray_model, x = _compact(cin=1, cout=1), _img(h=12, w=11)
    out = upscale(gray_model, x)  # each colour channel through the gray model
    assert out.shape == (1, 3, 48, 44)
    for c in range(3):
        torch.testing.assert_close(out[:, c: c + 1], _direct(gray_model, x[:, c: c + 1]), atol=1e-5, rtol=0)
    rgba_model = _compact(cin=4, cout=4)
    xa = _img(c=4, h=12, w=11)
    torch.testing.assert_close(upscale(rgba_model, xa), _direct(rgba_model, xa), atol=1e-5, rtol=0)
    rgb = upscale(rgba_model, xa[:, :3])  # RGB gets an opaque alpha, dropped again
    assert rgb.shape == (1, 3, 48, 44)
    torch.testing.assert_close(rgb, _direct(rgba_model, torch.cat((xa[:, :3], torch.ones_like(xa[:, :1])), 1))[:, :3],
                               atol=1e-5, rtol=0)


def test_outscale_and_target_resize_after_the_model():
    model, x = _compact(), _img(h=30, w=24)
    full = _direct(model, x)
    half = upscale(model, x, outscale=2.0, tile=16)  # x4 model, x2 result
    assert half.shape == (1, 3, 60, 48)
    torch.testing.assert_close(half, resize(full, (60, 48), "lanczos").clamp(0, 1), atol=1e-5, rtol=0)
    assert upscale(model, x, outscale=1.5).shape == (1, 3, 45, 36)
    assert upscale(model, x, outscale=6).shape == (1, 3, 180, 144)
    assert upscale(model, x, target=100).shape == (1, 3, 100, 80)
    assert upscale(model, x, target=(50, 70), tile=16).shape == (1, 3, 70, 50)
    with pytest.raises(ValueError, match="not both"):
        upscale(model, x, outscale=2, target=100)
    with pytest.raises(ValueError, match="outscale"):
        upscale(model, x, outscale=0)


def test_batches_stream_one_frame_at_a_time():
    model, x = _compact(), _img(b=5, h=10, w=9)
    seen = []
    # (a body layer: on CPUs Compact runs row-streamed through its layers)
    handle = model.body[1].register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[0]))
    try:
        out = upscale(model, x, channels_last=False, precision="fp32")
    finally:
        handle.remove()
    assert max(seen) == 1 and len(seen) >= 5
    torch.testing.assert_close(out, _direct(model, x), atol=1e-5, rtol=0)


def test_progress_counts_tiles_over_the_whole_batch_and_its_errors_propagate():
    model, x = _compact(), _img(b=3, h=30, w=30)
    calls = []
    upscale(model, x, tile=16, progress=lambda d, t: calls.append((d, t)))
    total = calls[-1][1]
    assert total % 3 == 0 and total >= 6
    assert calls == [(i, total) for i in range(1, total + 1)]

    class Interrupted(Exception):
        pass

    def interrupt(done, total):
        if done == 2:
            raise Interrupted  # how ComfyUI's interrupt check stops a node

    with pytest.raises(Interrupted):
        upscale(model, x, tile=16, progress=interrupt)


def test_cancel_between_tiles():
    checks = []
    model, x = _compact(), _img(b=2, h=30, w=30)
    done = []
    with pytest.raises(UpscaleCancelled, match="after 3 of"):
        upscale(model, x, tile=16, progress=lambda d, t: done.append(d), cancel=lambda: len(done) >= 3)
    assert len(done) == 3

    def cancel_on_second_check():
        checks.append(1)
        return len(checks) > 1

    finished = []
    with pytest.raises(UpscaleCancelled, match="during tile 1"):  # streamed tiles also check between bands
        upscale(_compact(), _img(h=96, w=20), progress=lambda d, t: finished.append(d), cancel=cancel_on_second_check)
    assert finished == []
    event = threading.Event()
    event.set()
    with pytest.raises(UpscaleCancelled):
        upscale(model, x, cancel=event)
    with pytest.raises(TypeError, match="cancel"):
        upscale(model, x, cancel=3)


class _OOMAbove(nn.Module):
    """A model that runs out of memory on tiles larger than ``limit`` pixels
    once ``grace`` of them have succeeded, recording every input it finished."""

    def __init__(self, inner, limit, grace=0):
        super().__init__()
        self.inner, self.limit, self.grace = inner, limit, grace
        self.scale, self.in_channels, self.out_channels, self.size_multiple = inner.scale, 3, 3, 1
        self.done, self.big_done = [], 0
        self.eval()

    def forward(self, x):
        area = x.shape[-2] * x.shape[-1]
        if area > self.limit:
            if self.big_done >= self.grace:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")
            self.big_done += 1
        self.done.append((x.shape, x.sum().item()))
        return self.inner(x)


def test_out_of_memory_backs_off_to_smaller_tiles_keeping_finished_ones():
    inner, x = _compact(), _img(h=48, w=48)
    model = _OOMAbove(inner, limit=24 * 24, grace=1)  # the first big tile works, then memory "runs out"
    totals = []
    out = upscale(model, x, tile=40, overlap=5, precision="fp32", channels_last=False,
                  progress=lambda d, t: totals.append(t))
    torch.testing.assert_close(out, _direct(inner, x), atol=1e-5, rtol=0)
    big = [d for d in model.done if d[0][-2] * d[0][-1] > 24 * 24]
    assert len(big) == 1, "the finished big tile was kept, not recomputed"
    assert totals[-1] > totals[0], "the tile count grew after the back-off"


def test_out_of_memory_at_the_smallest_tile_is_a_clear_error():
    model = _OOMAbove(_compact(), limit=10**9)
    upscale(model, _img(h=40, w=40), tile=32, overlap=5, precision="fp32", channels_last=False)
    model.limit = 0  # now nothing fits
    with pytest.raises(UpscaleOutOfMemory, match="even with"):
        upscale(model, _img(h=40, w=40), tile=32, overlap=5, precision="fp32", channels_last=False)
    with pytest.raises(UpscaleOutOfMemory, match="probe"):
        upscale(_OOMAbove(_compact(), limit=0), _img(h=40, w=40), precision="fp32", channels_last=False)


def test_other_errors_are_not_treated_as_out_of_memory():
    class Broken(_OOMAbove):
        def forward(self, x):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes"):
        upscale(Broken(_compact(), 0), _img(h=20, w=20), precision="fp32", channels_last=False)


def test_caller_model_is_left_untouched():
    model, x = _compact(), _img(h=20, w=20)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    upscale(model, x, precision="bf16", channels_last=True, tile=12)
    assert model.training
    for k, v in model.state_dict().items():
        assert v.dtype == torch.float32 and v.is_contiguous() and torch.equal(v, before[k])


def _descriptor(model, scale, multiple=1, minimum=0, square=False):
    """What ComfyUI's core loader (spandrel) hands over."""
    return types.SimpleNamespace(
        model=model,
        scale=scale,
        input_channels=3,
        output_channels=3,
        size_requirements=types.SimpleNamespace(multiple_of=multiple, minimum=minimum, square=square),
        supports_half=True,
        supports_bfloat16=True,
    )


class _Plain(nn.Module):
    """A foreign model without GenSR attributes (it only works on multiples of
    4, and records the windows it is given)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.windows = []

    def forward(self, x):
        assert x.shape[-1] % 4 == 0 and x.shape[-2] % 4 == 0, x.shape
        self.windows.append(tuple(x.shape[-2:]))
        return self.inner(x)


def test_spandrel_style_descriptor():
    from gensr.sr_core.upscale.measure import TOLERANCE

    inner, x = _compact(scale=2), _img(h=26, w=23)
    plain = _Plain(inner).eval()
    desc = _descriptor(plain, 2, multiple=4, minimum=16)
    out = upscale(desc, x, tile=16)
    assert out.shape == (1, 3, 52, 46)
    xp = F.pad(x, (0, 1, 0, 2), mode="reflect")
    with torch.no_grad():
        ref = inner(xp)[..., :52, :46].clamp(0, 1)
    # The context is measured (a foreign model) to within TOLERANCE per pixel.
    assert float((out - ref).abs().max()) <= TOLERANCE
    runs = [w for w in plain.windows if w[0] <= 28 and w[1] <= 28][-4:]  # the image's windows, after the probes
    assert runs and all(w == (16, 16) for w in runs), runs  # tiled, within the tile, at the minimum
    small = upscale(_descriptor(_Plain(inner), 2, multiple=4, minimum=16, square=True), x[..., :9, :7])
    assert small.shape == (1, 3, 18, 14)


def test_bad_models_and_images_get_clear_errors():
    with pytest.raises(TypeError, match="load_model"):
        upscale(nn.Conv2d(3, 3, 1), _img())
    with pytest.raises(ValueError, match="channels"):
        upscale(_compact(), torch.rand(1, 5, 8, 8), layout="bchw")
    with pytest.raises(ValueError, match="precision"):
        upscale(_compact(), _img(), precision="fp8")
    with pytest.raises(ValueError, match="overlap"):
        upscale(_compact(), _img(h=40, w=40), tile=16, overlap=-1)
    with pytest.raises(ValueError, match="smallest window"):
        upscale(_descriptor(_compact(), 4, minimum=16), _img(h=40, w=40), tile=12)


def test_out_is_written_in_place_and_checked():
    model = SRVGGNetCompact(num_feat=8, num_conv=2, scale=2).eval()
    image = torch.rand(2, 20, 24, 3, generator=torch.Generator().manual_seed(3))  # BHWC, as ComfyUI
    expected = upscale(model, image)
    batch = torch.full((2, 40, 48, 3), -1.0)
    for i in range(2):
        returned = upscale(model, image[i: i + 1], out=batch[i: i + 1])
        assert returned.data_ptr() == batch[i: i + 1].data_ptr()
    assert torch.equal(batch, expected)
    as_uint8 = torch.zeros(2, 40, 48, 3, dtype=torch.uint8)
    upscale(model, image, out=as_uint8)  # out's dtype wins over out_dtype
    assert torch.equal(as_uint8, upscale(model, image, out_dtype=torch.uint8))
    with pytest.raises(ValueError, match="needs"):
        upscale(model, image, out=torch.empty(2, 40, 47, 3))
    same_size = SRVGGNetCompact(num_feat=8, num_conv=2, scale=1).eval()
    with pytest.raises(ValueError, match="share memory"):
        upscale(same_size, image, out=image)


def test_the_failed_calls_memory_is_freed_before_the_back_off(monkeypatch):
    """What the failed window allocated is garbage before the engine empties the
    device's cache and re-plans (which may measure the model on a probe): a
    handled exception keeps its traceback's frames, and their tensors, alive
    until the ``except`` block ends (PyTorch FAQ: recover outside it)."""
    import weakref

    from gensr.sr_core.upscale import run as run_mod

    alive = []

    class Grabby(_OOMAbove):
        def forward(self, x):
            activations = torch.empty(x.shape[0], 64, *x.shape[-2:])  # what a real forward holds when it fails
            alive.append(weakref.ref(activations))
            return super().forward(x)

    released = []
    monkeypatch.setattr(run_mod, "release_cached_memory",
                        lambda device: released.append([r for r in alive if r() is not None]))
    inner, x = _compact(), _img(h=48, w=48)
    out = upscale(Grabby(inner, limit=24 * 24), x, tile=40, overlap=5, precision="fp32", channels_last=False)
    torch.testing.assert_close(out, _direct(inner, x), atol=1e-5, rtol=0)
    assert released, "the model ran out of memory and the engine backed off"
    assert all(still == [] for still in released), "the failed call's tensors were still alive"
