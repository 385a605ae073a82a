"""Detect RRDBNet weights in any of the three key layouts found in the wild and
convert them to BasicSR's layout (the one ``sr_core.archs.RRDBNet`` uses).

- BasicSR / Real-ESRGAN: ``conv_first``, ``body.N.rdbK.convJ``, ``conv_body``,
  ``conv_upN``, ``conv_hr``, ``conv_last``.
- ESRGAN / BSRGAN: ``conv_first``, ``RRDB_trunk.N.RDBK.convJ``, ``trunk_conv``,
  ``upconvN``, ``HRconv``, ``conv_last``.
- Old ESRGAN: ``model.0``, ``model.1.sub.N.RDBK.convJ.0``, ``model.1.sub.NB``,
  ``model.3/6/9`` (upsampling), then ``HRconv`` and ``conv_last`` as the last two.
"""
from __future__ import annotations

import math
import re
from typing import Optional

import torch



def _from_esrgan(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        k2 = re.sub(r"^RRDB_trunk\.(\d+)\.RDB(\d)\.", r"body.\1.rdb\2.", k)
        k2 = re.sub(r"^trunk_conv\.", "conv_body.", k2)
        k2 = re.sub(r"^upconv(\d+)\.", r"conv_up\1.", k2)
        k2 = re.sub(r"^HRconv\.", "conv_hr.", k2)
        out[k2] = v
    return out


def _from_old_esrgan(sd: dict[str, torch.Tensor]) -> Optional[dict[str, torch.Tensor]]:
    blocks = {int(m.group(1)) for k in sd if (m := re.match(r"model\.1\.sub\.(\d+)\.RDB", k))}
    if not blocks:
        return None
    num_block = max(blocks) + 1
    top = sorted({int(m.group(1)) for k in sd if (m := re.match(r"model\.(\d+)\.weight$", k))} - {0})
    if len(top) < 2:
        return None
    *ups, hr, last = top
    rename = {0: "conv_first", hr: "conv_hr", last: "conv_last"}
    rename.update({idx: f"conv_up{i}" for i, idx in enumerate(ups, 1)})
    out = {}
    for k, v in sd.items():
        m = re.match(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$", k)
        if m:
            out[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = v
            continue
        m = re.match(rf"model\.1\.sub\.{num_block}\.(weight|bias)$", k)
        if m:
            out[f"conv_body.{m[1]}"] = v
            continue
        m = re.match(r"model\.(\d+)\.(weight|bias)$", k)
        if m and int(m[1]) in rename:
            out[f"{rename[int(m[1])]}.{m[2]}"] = v
            continue
        out[k] = v  # unexpected key: left for the strict load to report
    return out


def to_basicsr(sd: dict[str, torch.Tensor]) -> Optional[dict[str, torch.Tensor]]:
    """The state dict in BasicSR layout, or None if it is no RRDBNet layout."""
    if "conv_first.weight" in sd and "conv_body.weight" in sd and "body.0.rdb1.conv1.weight" in sd:
        return dict(sd)
    if "conv_first.weight" in sd and "trunk_conv.weight" in sd and "RRDB_trunk.0.RDB1.conv1.weight" in sd:
        return _from_esrgan(sd)
    if "model.0.weight" in sd and "model.1.sub.0.RDB1.conv1.0.weight" in sd:
        return _from_old_esrgan(sd)
    return None


def detect(sd: dict[str, torch.Tensor]) -> Optional[tuple[dict, dict[str, torch.Tensor]]]:
    """(config, BasicSR-layout state dict) if ``sd`` is an RRDBNet, else None."""
    canon = to_basicsr(sd)
    if canon is None:
        return None
    first = canon["conv_first.weight"]
    num_feat, in_raw = first.shape[0], first.shape[1]
    out_channels = canon["conv_last.weight"].shape[0]
    num_block = len({int(m.group(1)) for k in canon if (m := re.match(r"body\.(\d+)\.rdb1\.conv1\.weight$", k))})
    num_grow_ch = canon["body.0.rdb1.conv1.weight"].shape[0]
    num_upsample = len([k for k in canon if re.match(r"conv_up\d+\.weight$", k)])
    # Real-ESRGAN x1 / x2 models pixel-unshuffle the input by 4 / 2, multiplying
    # its channels by 16 / 4; the output channel count tells which.
    unshuffle, in_channels = 1, in_raw
    ratio = in_raw / out_channels
    for u in (4, 2):
        if ratio == u * u:
            unshuffle, in_channels = u, in_raw // (u * u)
            break
    scale = 2**num_upsample / unshuffle
    if scale < 1 or scale != math.floor(scale):
        return None
    config = dict(
        in_channels=int(in_channels),
        out_channels=int(out_channels),
        scale=int(scale),
        num_feat=int(num_feat),
        num_block=int(num_block),
        num_grow_ch=int(num_grow_ch),
        num_upsample=int(num_upsample),
        unshuffle=int(unshuffle),
    )
    return config, canon
