"""ICNR initialisation (Aitken et al. 2017, "Checkerboard artifact free
sub-pixel convolution") of the convolutions that feed a pixel shuffle.

A convolution with ``C * r * r`` outputs followed by ``pixel_shuffle(r)`` gives
each of the r x r sub-pixel positions its own kernel; initialised
independently they start as r x r different filters: a pattern with the period
r. ICNR draws ``C`` kernels and gives each to all r * r positions, so at the
start the pair is a convolution followed by nearest-neighbour upsampling and
the pattern can only grow as training separates the kernels.

Which convolutions feed a pixel shuffle is the architecture's knowledge: a
generator lists them in ``pixel_shuffle_convs()`` as ``(conv, r)`` pairs.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def icnr_(conv: nn.Conv2d, factor: int) -> None:
    """Initialise ``conv`` (followed by ``pixel_shuffle(factor)``) with ICNR, in place.
    The shared kernels and biases are drawn as PyTorch draws a fresh ``nn.Conv2d``'s."""
    groups = factor * factor
    if conv.out_channels % groups:
        raise ValueError(f"ICNR: {conv.out_channels} output channels are not a multiple of {factor}x{factor}")
    sub = torch.empty(conv.out_channels // groups, *conv.weight.shape[1:], dtype=conv.weight.dtype)
    nn.init.kaiming_uniform_(sub, a=math.sqrt(5))
    with torch.no_grad():
        # pixel_shuffle sends channel c * r * r + k to output channel c, sub-pixel k
        conv.weight.copy_(sub.repeat_interleave(groups, dim=0))
        if conv.bias is not None:
            bound = 1 / math.sqrt(sub[0].numel())
            conv.bias.copy_(torch.empty(sub.shape[0]).uniform_(-bound, bound).repeat_interleave(groups))


def icnr_project_(conv: nn.Conv2d, factor: int) -> None:
    """Replace the ``factor * factor`` sub-pixel kernels (and biases) of each
    output channel of trained ``conv`` by their mean: the nearest weights (least
    squares) that satisfy ICNR's constraint, keeping what the layer learnt."""
    groups = factor * factor
    if conv.out_channels % groups:
        raise ValueError(f"ICNR: {conv.out_channels} output channels are not a multiple of {factor}x{factor}")
    with torch.no_grad():
        w = conv.weight.unflatten(0, (-1, groups))
        conv.weight.copy_(w.mean(1, keepdim=True).expand_as(w).flatten(0, 1))
        if conv.bias is not None:
            b = conv.bias.unflatten(0, (-1, groups))
            conv.bias.copy_(b.mean(1, keepdim=True).expand_as(b).flatten())


def apply_icnr(model: nn.Module, keep_weights: bool = False) -> int:
    """ICNR-initialise every convolution ``model`` feeds to a pixel shuffle
    (``keep_weights``: project trained weights instead, see ``icnr_project_``);
    returns how many. Raises ValueError for a model that has none."""
    convs = getattr(model, "pixel_shuffle_convs", lambda: [])()
    if not convs:
        raise ValueError(f"ICNR: {type(model).__name__} has no convolution before a pixel shuffle; "
                         "set icnr = false for this architecture")
    for conv, factor in convs:
        (icnr_project_ if keep_weights else icnr_)(conv, factor)
    return len(convs)
