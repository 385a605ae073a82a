"""VGG19 perceptual loss (Johnson et al. 2016; ESRGAN's "before ReLU" variant).

The VGG19 here is our own definition whose ``features.N`` indices and
parameter names match torchvision's and timm's ``vgg19`` (``timm/vgg19.tv_in1k``
on the Hub), so their weight files load directly: ``features.0`` is conv1_1,
``features.2`` conv1_2, ... ``features.34`` conv5_4. Only the convolutions up
to the deepest layer used are built and loaded; classifier keys are ignored.
The weights come in as a state dict or a ``.safetensors`` path; fetching them
from the Hub is the caller's business (sr_core has no network code).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

# VGG19 configuration "E": channels per conv, "M" for max-pool.
_VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

DEFAULT_LAYER_WEIGHTS = {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}


def vgg19_layer_names() -> list[str]:
    """Names of the modules of ``features`` in order: conv1_1, relu1_1, ..., pool5."""
    names, block, conv = [], 1, 1
    for v in _VGG19:
        if v == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


VGG19_LAYERS = vgg19_layer_names()


class VGG19Features(nn.Module):
    """The convolutional part of VGG19 up to ``last_layer``; forward returns
    the activations of the requested layers by name."""

    def __init__(self, last_layer: str = "conv5_4") -> None:
        super().__init__()
        if last_layer not in VGG19_LAYERS:
            raise ValueError(f"unknown VGG19 layer {last_layer!r}; known: {', '.join(VGG19_LAYERS)}")
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG19:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, 1, 1), nn.ReLU(inplace=False)]
                cin = v
        self.features = nn.Sequential(*layers[: VGG19_LAYERS.index(last_layer) + 1])

    def forward(self, x: torch.Tensor, layers: set[str]) -> dict[str, torch.Tensor]:
        out = {}
        for name, module in zip(VGG19_LAYERS, self.features):
            x = module(x)
            if name in layers:
                out[name] = x
                if len(out) == len(layers):
                    break
        return out


def _strip_prefix(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in ("module.", "model.", "vgg.", "vgg19."):
        if any(k.startswith(prefix + "features.") for k in sd):
            return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    return dict(sd)


def load_vgg19_weights(module: VGG19Features, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Load torchvision/timm ``vgg19`` weights (``features.N.weight``/``.bias``)
    into ``module``; keys beyond its last layer and classifier keys are ignored."""
    sd = _strip_prefix(state_dict)
    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    if missing:
        raise ValueError(
            f"the VGG19 weights lack {len(missing)} key(s) such as {missing[0]!r}; give a torchvision/timm "
            "vgg19 state dict (keys features.0.weight ... features.34.bias, e.g. timm/vgg19.tv_in1k)"
        )
    for k, v in own.items():
        if tuple(sd[k].shape) != tuple(v.shape):
            raise ValueError(f"VGG19 weight {k} has shape {tuple(sd[k].shape)}, expected {tuple(v.shape)}: "
                             "is this a vgg19 (not vgg16 or vgg19_bn) file?")
    module.load_state_dict({k: sd[k].float() for k in own})


def read_vgg19_file(path: Union[str, Path]) -> dict[str, torch.Tensor]:
    """The tensors of a VGG19 ``.safetensors`` file (pickles are not read here)."""
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"VGG19 perceptual weights must be a .safetensors file, got {path.name}")
    if not path.is_file():
        raise FileNotFoundError(f"VGG19 weight file {path} does not exist")
    return load_file(str(path))


class PerceptualLoss(nn.Module):
    """sum_l w_l * criterion(VGG19_l(pred), VGG19_l(target)) on frozen features.

    Args:
        weights: VGG19 state dict, or a path to a ``.safetensors`` file.
        layer_weights: layer name -> weight; default conv1_2..conv5_4 =
            0.1, 0.1, 1, 1, 1 (before ReLU, as ESRGAN / Real-ESRGAN).
        criterion: 'l1' (default) or 'l2' (mean squared error).
        use_input_norm: normalise 0..1 RGB inputs with ImageNet mean/std.
        range_norm: inputs are -1..1 (mapped to 0..1 first).
    """

    def __init__(
        self,
        weights: Union[Mapping[str, torch.Tensor], str, Path],
        layer_weights: Optional[Mapping[str, float]] = None,
        criterion: str = "l1",
        use_input_norm: bool = True,
        range_norm: bool = False,
    ) -> None:
        super().__init__()
        self.layer_weights = dict(layer_weights or DEFAULT_LAYER_WEIGHTS)
        unknown = [k for k in self.layer_weights if k not in VGG19_LAYERS]
        if unknown:
            raise ValueError(f"unknown VGG19 layer(s) {', '.join(unknown)}; use names like conv1_2, relu3_4, conv5_4")
        if criterion not in ("l1", "l2"):
            raise ValueError(f"unknown perceptual criterion {criterion!r}; use 'l1' or 'l2'")
        self.criterion = criterion
        self.use_input_norm, self.range_norm = use_input_norm, range_norm
        last = max(self.layer_weights, key=VGG19_LAYERS.index)
        self.vgg = VGG19Features(last)
        load_vgg19_weights(self.vgg, read_vgg19_file(weights) if isinstance(weights, (str, Path)) else weights)
        self.vgg.eval()
        for p in self.vgg.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> "PerceptualLoss":
        super().train(mode)
        self.vgg.eval()  # the feature network is never in training mode
        return self

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        return self.vgg(x, set(self.layer_weights))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape[1] != 3:
            raise ValueError(f"the perceptual loss takes RGB images, got {pred.shape[1]} channels")
        fp = self._features(pred)
        with torch.no_grad():
            ft = self._features(target.detach())
        loss = pred.new_zeros(())
        for name, w in self.layer_weights.items():
            a, b = fp[name].float(), ft[name].float()
            d = F.l1_loss(a, b) if self.criterion == "l1" else F.mse_loss(a, b)
            loss = loss + w * d
        return loss
