"""sr_core/metrics.py against independent implementations (scikit-image's SSIM
with the MATLAB-compatible settings of Wang et al., numpy PSNR) on real images,
and the memory SSIM / PSNR need: bounded slices in float32, never a float64
copy of the batch."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import shared_path
from gensr.sr_core import metrics
from gensr.sr_core.metrics import psnr, rgb_to_y, ssim


def real_pairs(count: int = 5):
    """(reference, distorted) uint8 RGB arrays: Set5 / Set14 images and a JPEG-compressed,
    bicubic down-and-up-scaled copy (the kind of difference an SR evaluation scores)."""
    files = sorted(shared_path("data", "val").rglob("*.png"))[:count]
    assert files
    for f in files:
        with Image.open(f) as im:
            ref = im.convert("RGB")
        w, h = ref.size
        small = ref.resize((w // 2, h // 2), Image.BICUBIC)
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=60)
        dist = Image.open(buf).convert("RGB").resize((w, h), Image.BICUBIC)
        yield f.name, np.asarray(ref), np.asarray(dist)


def skimage_ssim(a: np.ndarray, b: np.ndarray, channel_axis=None) -> float:
    structural_similarity = pytest.importorskip(
        "skimage.metrics", reason="scikit-image is a test dependency: pip install -e '.[test]'"
    ).structural_similarity
    return float(structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                       data_range=255, channel_axis=channel_axis))


def chw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(x)).permute(2, 0, 1).float()


def test_ssim_matches_scikit_image_on_real_images():
    for name, ref, dist in real_pairs():
        ours = ssim(chw(ref), chw(dist), max_val=255.0)
        theirs = skimage_ssim(ref.astype(np.float64), dist.astype(np.float64), channel_axis=-1)
        assert ours == pytest.approx(theirs, abs=2e-6), name
        assert 0.3 < ours < 0.99, name  # a real, partial degradation
        # the Y-channel convention of `gensr eval`: BT.601 luma in 0..255
        ya, yb = rgb_to_y(chw(ref) / 255) * 255, rgb_to_y(chw(dist) / 255) * 255
        theirs_y = skimage_ssim(ya[0].double().numpy(), yb[0].double().numpy())
        assert ssim(ya, yb, 255.0) == pytest.approx(theirs_y, abs=2e-6), name


def test_psnr_matches_numpy_on_real_images():
    for name, ref, dist in real_pairs(3):
        mse = np.mean((ref.astype(np.float64) - dist.astype(np.float64)) ** 2)
        expected = 10 * math.log10(255.0**2 / mse)
        assert psnr(chw(ref), chw(dist), 255.0) == pytest.approx(expected, abs=1e-9), name
        assert psnr(chw(ref) / 255, chw(dist) / 255, 1.0) == pytest.approx(expected, abs=1e-5), name


def test_slicing_does_not_change_the_result(monkeypatch):
    torch.manual_seed(0)
    a = torch.rand(2, 3, 97, 61)
    b = (a + 0.1 * torch.randn_like(a)).clamp(0, 1)
    whole_ssim, whole_psnr = ssim(a, b), psnr(a, b)
    monkeypatch.setattr(metrics, "CHUNK_ELEMENTS", 3 * 61 * 14)  # 4 output rows per slice: 97 - 10 is not a multiple
    assert ssim(a, b) == pytest.approx(whole_ssim, abs=1e-6)
    assert psnr(a, b) == pytest.approx(whole_psnr, abs=1e-9)
    monkeypatch.setattr(metrics, "CHUNK_ELEMENTS", 1)  # one row at a time
    assert ssim(a, b) == pytest.approx(whole_ssim, abs=1e-6)


def largest_tensors(fn) -> tuple[int, int]:
    """(most elements of any tensor an op made, most elements of any float64 tensor) while ``fn`` runs."""
    dispatch = pytest.importorskip("torch.utils._python_dispatch")
    seen = {"any": 0, "f64": 0}

    from torch.utils._pytree import tree_flatten

    class Watch(dispatch.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            inputs = {t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
            for t in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in inputs:  # new memory, not a view
                    seen["any"] = max(seen["any"], t.numel())
                    if t.dtype == torch.float64:
                        seen["f64"] = max(seen["f64"], t.numel())
            return out

    with Watch():
        fn()
    return seen["any"], seen["f64"]


def test_ssim_and_psnr_run_in_bounded_float32_slices(monkeypatch):
    """GenSR Compare on a batch of large frames: the biggest tensor made is one slice,
    whatever the batch, and nothing batch-sized is float64."""
    monkeypatch.setattr(metrics, "CHUNK_ELEMENTS", 1 << 15, raising=False)
    a = torch.rand(4, 3, 160, 240)  # 4 frames, 460,800 elements
    b = a.flip(-1)
    biggest, biggest_f64 = largest_tensors(lambda: ssim(a, b))
    assert biggest <= 2 * (1 << 15) and biggest_f64 <= 11, (biggest, biggest_f64)  # 11: the Gaussian's taps
    biggest, biggest_f64 = largest_tensors(lambda: psnr(a, b))
    assert biggest <= 2 * (1 << 15) and biggest_f64 <= 1, (biggest, biggest_f64)
