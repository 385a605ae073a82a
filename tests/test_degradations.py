"""LR synthesis: MATLAB bicubic known values, Real-ESRGAN kernels, noise, JPEG
and the second-order pipeline."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gensr.sr_core.imresize import imresize, imresize_uint8
from gensr.training.config import TrainConfig
from gensr.training.data import PatchPairs
from gensr.training.degradations import RealESRGANDegradation, RealESRGANOptions, get_degradation, usm_sharpen
from gensr.training.degradations.kernels import (
    bessel_j1,
    gaussian_kernel,
    generalized_gaussian_kernel,
    plateau_kernel,
    random_mixed_kernel,
    random_sinc_kernel,
    sinc_kernel,
)
from gensr.training.degradations.realesrgan import add_gaussian_noise, add_poisson_noise, jpeg_compress

# ---------------------------------------------------------------- MATLAB bicubic
#
# MATLAB imresize(x, 1/2, 'bicubic') on [10 20 30 40], derived by hand from its
# documented algorithm: output pixel 1 sits at u = 1/s + (1 - 1/s)/2 = 1.5 (1-based);
# the cubic (a = -0.5) is widened by 1/s = 2 (antialiasing), so taps at -3..6 have
# weights s*cubic(s*(u - i)) = [0, -0.0234375, -0.0703125, 0.2265625, 0.8671875,
# 0.8671875, 0.2265625, -0.0703125, -0.0234375, 0] / 2 (they sum to 2 before
# normalising). Mirroring (i <= 0 -> 1 - i, i > 4 -> 9 - i) folds them onto
# pixels 1..4: [0.546875, 0.3984375, 0.1015625, -0.046875]. So
#   out1 = 10*0.546875 + 20*0.3984375 + 30*0.1015625 - 40*0.046875 = 14.609375
#   out2 = 40*0.546875 + 30*0.3984375 + 20*0.1015625 - 10*0.046875 = 35.390625 (mirror image).
# Upscaling [100 200] by 2 (no widening): output 1 at u = 0.75 has taps -2..3 with
# cubic(u - i) = [0, -0.0234375, 0.2265625, 0.8671875, -0.0703125, 0], folded onto
# pixel 1: 1.09375, pixel 2: -0.09375 -> 100*1.09375 - 200*0.09375 = 90.625.


def test_matlab_bicubic_downscale_known_values():
    row = torch.tensor([10.0, 20.0, 30.0, 40.0], dtype=torch.float64)
    col = torch.tensor([0.0, 4.0, 8.0, 100.0], dtype=torch.float64)
    img = row[None, :] + col[:, None]  # separable: rows and columns resize independently
    out = imresize(img, 0.5)
    col_out = torch.tensor([0 * 0.546875 + 4 * 0.3984375 + 8 * 0.1015625 - 100 * 0.046875,
                            100 * 0.546875 + 8 * 0.3984375 + 4 * 0.1015625 - 0 * 0.046875], dtype=torch.float64)
    expected = torch.tensor([14.609375, 35.390625], dtype=torch.float64)[None, :] + col_out[:, None]
    assert torch.allclose(out, expected, atol=1e-9)
    u8 = imresize_uint8(row.round().to(torch.uint8)[None].expand(4, 4).contiguous(), 0.5)
    assert u8.tolist() == [[15, 35], [15, 35]]  # MATLAB rounds uint8 results half away from zero


def test_matlab_bicubic_upscale_known_value():
    out = imresize(torch.tensor([[100.0, 200.0]], dtype=torch.float64).expand(2, 2), 2.0)
    assert out[0, 0].item() == pytest.approx(90.625)
    assert out[0, 3].item() == pytest.approx(300 - 90.625)  # the mirror image: 200*1.09375 - 100*0.09375


def test_matlab_bicubic_x4_keeps_constants_and_sums_to_one():
    img = torch.full((3, 32, 48), 77.0)
    assert torch.allclose(imresize(img, 0.25), torch.full((3, 8, 12), 77.0))
    from gensr.sr_core.imresize import resize_matrix

    m = resize_matrix(32, 8, 0.25)
    assert torch.allclose(m.sum(1), torch.ones(8, dtype=torch.float64))


# ---------------------------------------------------------------- kernels


def test_bessel_j1_known_values():
    assert bessel_j1(np.array(1.0)) == pytest.approx(0.4400505857, abs=1e-9)
    assert bessel_j1(np.array(10.0)) == pytest.approx(0.0434727462, abs=1e-9)
    assert bessel_j1(np.array(3.8317059702)) == pytest.approx(0.0, abs=1e-9)  # first zero
    assert bessel_j1(np.array(0.0)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("make", [
    lambda: gaussian_kernel(21, 2.0),
    lambda: gaussian_kernel(15, 3.0, 0.5, 0.7),
    lambda: generalized_gaussian_kernel(11, 1.5, 0.8, -1.0, 0.5),
    lambda: generalized_gaussian_kernel(11, 1.5, 0.8, 2.0, 4.0),
    lambda: plateau_kernel(13, 1.2, 2.0, 0.3, 1.5),
    lambda: sinc_kernel(21, math.pi / 4),
    lambda: sinc_kernel(7, math.pi),
])
def test_kernels_sum_to_one_and_are_point_symmetric(make):
    k = make()
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(k, k[::-1, ::-1])  # q(-x) = q(x): correlation = convolution
    assert k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1


def test_gaussian_kernel_known_values():
    k = gaussian_kernel(3, 1.0)
    g = np.exp(-0.5 * np.array([1.0, 0.0, 1.0]))
    assert np.allclose(k, np.outer(g, g) / np.outer(g, g).sum())
    # anisotropic: rotating by 90 degrees swaps the axes
    a = gaussian_kernel(9, 3.0, 1.0, 0.0)
    b = gaussian_kernel(9, 1.0, 3.0, math.pi / 2)
    assert np.allclose(a, b)
    assert a[4, 0] > a[0, 4]  # wide along x (columns)


def test_kernel_shapes_differ_as_documented():
    g = gaussian_kernel(21, 2.0)
    heavy = generalized_gaussian_kernel(21, 2.0, 2.0, 0.0, 0.5)
    flat = generalized_gaussian_kernel(21, 2.0, 2.0, 0.0, 4.0)
    assert heavy[10, 0] > g[10, 0]  # beta < 1: heavier tails
    assert flat[10, 11] / flat[10, 10] > g[10, 11] / g[10, 10]  # beta > 1: flatter top
    p = plateau_kernel(21, 2.0, 2.0, 0.0, 2.0)
    assert p[10, 10] == p.max()


def test_sinc_kernel_has_ringing_and_known_centre():
    k = sinc_kernel(21, math.pi / 3)
    assert k.min() < 0  # negative lobes: the ringing it simulates
    xx = np.arange(21) - 10
    r = np.hypot(*np.meshgrid(xx, xx))
    raw = np.where(r == 0, (math.pi / 3) ** 2 / (4 * math.pi), 0)
    assert k[10, 10] == pytest.approx(raw[10, 10] / (raw[10, 10] / k[10, 10]))
    with pytest.raises(ValueError, match="cut-off"):
        sinc_kernel(21, 4.0)
    with pytest.raises(ValueError, match="odd"):
        gaussian_kernel(20, 1.0)


def test_random_kernels_are_reproducible_and_normalised():
    opts = RealESRGANOptions()
    for seed in range(20):
        k1 = random_mixed_kernel(np.random.default_rng(seed), 21, opts.kernel_list, opts.kernel_prob,
                                 opts.blur_sigma, opts.betag_range, opts.betap_range)
        k2 = random_mixed_kernel(np.random.default_rng(seed), 21, opts.kernel_list, opts.kernel_prob,
                                 opts.blur_sigma, opts.betag_range, opts.betap_range)
        assert np.array_equal(k1, k2) and k1.sum() == pytest.approx(1.0)
        s = random_sinc_kernel(np.random.default_rng(seed), 9)
        assert s.sum() == pytest.approx(1.0)


# ---------------------------------------------------------------- noise, JPEG, sharpening


def test_gaussian_noise_has_the_requested_sigma_and_grey_noise_is_shared():
    img = torch.full((1, 3, 64, 64), 0.5)
    out = add_gaussian_noise(img, np.random.default_rng(0), 10 / 255, grey=False)
    assert (out - img).std().item() * 255 == pytest.approx(10, rel=0.05)
    grey = add_gaussian_noise(img, np.random.default_rng(0), 10 / 255, grey=True)
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    assert not torch.equal(out[:, 0], out[:, 1])
    assert add_gaussian_noise(img, np.random.default_rng(0), 1.0, False).min() >= 0  # clipped


def test_poisson_noise_grows_with_scale_and_keeps_the_mean():
    img = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    img = (img * 255).round() / 255
    small = add_poisson_noise(img, np.random.default_rng(0), 0.1, grey=False) - img
    large = add_poisson_noise(img, np.random.default_rng(0), 2.0, grey=False) - img
    assert large.std() > 5 * small.std()
    assert abs(small.mean().item()) < 2e-3
    grey = add_poisson_noise(torch.full((1, 3, 32, 32), 0.5), np.random.default_rng(0), 1.0, grey=True)
    assert torch.equal(grey[:, 0], grey[:, 2])


def test_jpeg_compression_loses_more_at_low_quality():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 32, 32, generator=g)
    err = {q: (jpeg_compress(img, q) - img).abs().mean().item() for q in (10, 95)}
    assert err[10] > err[95] > 0
    out = jpeg_compress(img, 50)
    assert out.shape == img.shape and out.min() >= 0 and out.max() <= 1


def test_unsharp_mask_sharpens_edges_and_leaves_flat_areas():
    img = torch.zeros(1, 3, 64, 64)
    img[..., 32:] = 0.5
    out = usm_sharpen(img)
    assert out[0, 0, 10, 10] == 0  # flat: untouched
    assert out[0, 0, 10, 33] > 0.5 and out[0, 0, 10, 31] == 0  # overshoot on the bright side, clamped dark side
    assert out.min() >= 0 and out.max() <= 1


# ---------------------------------------------------------------- the pipeline


def hr_patch(size: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(3, size // 8, size // 8, generator=g)
    img = torch.nn.functional.interpolate(base[None], size=(size, size), mode="bilinear", align_corners=False)[0]
    return (img * 255).round().to(torch.uint8)


def test_pipeline_gives_lr_patches_reproducibly():
    d = RealESRGANDegradation()
    hr = hr_patch(64)
    outs = [d(hr, 4, np.random.default_rng([5, 0, n])) for n in range(6)]
    for out in outs:
        assert out.shape == (3, 16, 16) and out.dtype == torch.uint8
    assert torch.equal(outs[0], d(hr, 4, np.random.default_rng([5, 0, 0])))  # same rng, same LR
    assert len({o.numpy().tobytes() for o in outs}) == 6  # different draws, different LRs


def test_pipeline_with_every_step_off_is_a_plain_resize():
    off = dict(sharpen_input=False, blur_prob=0, resize_prob=[0, 0, 1], noise_prob=0, jpeg_prob=0,
               second_stage_prob=0, jpeg_prob2=0, final_sinc_prob=0, resize_mode_prob=[1, 0, 0])
    d = RealESRGANDegradation(off)
    hr = hr_patch(64)
    out = d(hr, 4, np.random.default_rng(0))
    area = torch.nn.functional.avg_pool2d(hr.float()[None] / 255, 4)[0]
    assert torch.equal(out, (area * 255).round().clamp(0, 255).to(torch.uint8))


def test_pipeline_degrades_more_than_bicubic():
    hr = hr_patch(128, seed=3)
    bic = imresize_uint8(hr, 0.25).float()
    errs = [(RealESRGANDegradation()(hr, 4, np.random.default_rng(n)).float() - bic).abs().mean().item() for n in range(4)]
    assert np.mean(errs) > 2.0


def test_options_are_checked():
    with pytest.raises(ValueError, match="unknown degradation option"):
        RealESRGANOptions.from_dict({"blur_probability": 0.5})
    with pytest.raises(ValueError, match="probability"):
        RealESRGANOptions.from_dict({"second_blur_prob": 1.5})
    with pytest.raises(ValueError, match="kernel type"):
        RealESRGANOptions.from_dict({"kernel_list": ["box"], "kernel_prob": [1.0]})
    with pytest.raises(ValueError, match="unknown degradation"):
        get_degradation(TrainConfig(degradation="blurpool"))
    with pytest.raises(ValueError, match="bicubic has none"):
        get_degradation(TrainConfig(degradation="bicubic", degradation_options={"blur_prob": 0}))
    assert get_degradation(TrainConfig(degradation="bicubic")) is None
    d = get_degradation(TrainConfig(degradation="realesrgan", degradation_options={"second_blur_prob": 0.5}))
    assert d.o.second_blur_prob == 0.5 and d.o.final_sinc_prob == 0.8


def test_real_esrgan_defaults_are_the_published_ones():
    o = RealESRGANOptions()
    assert (o.resize_prob, o.resize_range, o.gaussian_noise_prob, o.noise_range) == ([0.2, 0.7, 0.1], [0.15, 1.5], 0.5, [1.0, 30.0])
    assert (o.poisson_scale_range, o.gray_noise_prob, o.jpeg_range) == ([0.05, 3.0], 0.4, [30, 95])
    assert (o.second_blur_prob, o.resize_prob2, o.resize_range2, o.noise_range2) == (0.8, [0.3, 0.4, 0.3], [0.3, 1.2], [1.0, 25.0])
    assert (o.poisson_scale_range2, o.jpeg_range2, o.final_sinc_prob, o.sinc_prob) == ([0.05, 2.5], [30, 95], 0.8, 0.1)
    assert o.kernel_prob == [0.45, 0.25, 0.12, 0.03, 0.12, 0.03] and o.blur_sigma == [0.2, 3.0] and o.blur_sigma2 == [0.2, 1.5]
    assert o.betag_range == [0.5, 4.0] and o.betap_range == [1.0, 2.0] and o.kernel_range == [7, 21]


def test_patch_pairs_with_realesrgan_are_identical_in_workers(tmp_path):
    from PIL import Image

    for i in range(2):
        Image.fromarray(hr_patch(96, seed=i).permute(1, 2, 0).numpy()).save(tmp_path / f"{i}.png")
    files = sorted(tmp_path.glob("*.png"))
    ds = PatchPairs(files, 4, 64, RealESRGANDegradation(), seed=7)
    direct = [ds[n] for n in range(4)]
    loader = torch.utils.data.DataLoader(ds, batch_size=2, sampler=range(4), num_workers=2)
    batches = list(loader)
    lr = torch.cat([b[0] for b in batches])
    assert torch.equal(lr, torch.stack([d[0] for d in direct]))
    assert lr.shape == (4, 3, 16, 16)


def test_hr_scales_add_downscaled_copies_with_their_own_aligned_lr(tmp_path):
    # A horizontal ramp 2*x: bicubic reproduces linear functions, so away from the
    # mirrored border the x0.5 copy holds the ramp sampled at the output pixels'
    # centres, x = 2j + 0.5, i.e. 4j + 1 (hand-derived, not from imresize).
    from PIL import Image

    ramp = torch.arange(96, dtype=torch.uint8).mul(2).expand(3, 96, 96).contiguous()
    Image.fromarray(ramp.permute(1, 2, 0).numpy()).save(tmp_path / "ramp.png")
    ds = PatchPairs([tmp_path / "ramp.png"], 4, 32, hr_scales=[0.5, 0.25])
    assert len(ds.hr) == 2  # the x0.25 copy (24 px) is smaller than the patch and dropped
    half = ds.hr[0]
    assert half.shape == (3, 48, 48)
    expected = torch.arange(48, dtype=torch.float64) * 4 + 1
    assert torch.equal(half[0, 10, 4:-4].double(), expected[4:-4])
    # each copy's LR is that copy downscaled x4, so its crops stay aligned
    assert torch.equal(ds.lr[0], imresize_uint8(half, 0.25))
    with pytest.raises(ValueError, match="between 0 and 1"):
        PatchPairs([tmp_path / "ramp.png"], 4, 32, hr_scales=[1.5])
