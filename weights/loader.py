"""``load_model``: any supported weight file -> a ready generator (GenSR's own,
or spandrel's for the architectures GenSR does not implement)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from ..sr_core.archs import ARCHITECTURES, build_generator
from .errors import UnknownArchitectureError, WeightFileError
from .safe_read import parse_metadata_value, read_weight_file
from .state_dict import generator_state_dict

PathLike = Union[str, Path]


def detect_architecture(sd: dict[str, torch.Tensor], source: str = "file") -> tuple[str, dict, dict[str, torch.Tensor]]:
    """(arch, config, canonical state dict) of a cleaned generator state dict."""
    for arch in list(ARCHITECTURES.values()):
        try:
            found = arch.detect(sd)
        except (KeyError, IndexError) as e:  # the layout's marker keys are there, others are not
            raise WeightFileError(
                f"{source} looks like {arch.name} but is incomplete or damaged "
                f"(tensor {e} is missing or malformed). Download it again."
            ) from None
        if found is not None:
            config, canon = found
            return arch.id, config, canon
    raise UnknownArchitectureError(unknown_architecture_message(sd, source))


def unknown_architecture_message(sd: dict[str, torch.Tensor], source: str = "file") -> str:
    """Why ``sd`` cannot be loaded, naming GenSR's architectures and how to get the others."""
    from .spandrel_models import INSTALL_HINT, spandrel_available, spandrel_version

    names = "; ".join(arch.name for arch in ARCHITECTURES.values())
    keys = ", ".join(list(sd)[:6])
    first = f"The file's first keys are: {keys}{', ...' if len(sd) > 6 else ''}."
    if spandrel_available():
        return (
            f"{source}: unknown architecture: neither GenSR ({names}) nor spandrel {spandrel_version()} "
            f"(about 40 more) recognises it. {first} It may be a newer architecture (try a newer spandrel) "
            "or not an image upscaler."
        )
    return (
        f"{source}: unknown architecture. GenSR runs {names} itself; other architectures (SwinIR, HAT, DAT, OmniSR, "
        f"AuraSR and about 40 more) need spandrel: {INSTALL_HINT}, or use ComfyUI's core 'Load Upscale Model' node "
        f"(its output works with 'GenSR Upscale Image'). {first}"
    )


def model_from_state_dict(sd: dict[str, torch.Tensor], source: str = "state dict") -> nn.Module:
    """Build the detected generator and load ``sd`` into it (strictly)."""
    arch, config, canon = detect_architecture(sd, source)
    model = build_generator(arch, config)
    try:
        model.load_state_dict(canon, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise WeightFileError(
            f"{source} looks like {arch} {config} but its tensors do not fit that model "
            f"({' '.join(line.strip() for line in first[:3])[:400]}). The file is damaged or a variant GenSR does not know."
        ) from None
    return model.eval()


def build_model(sd: dict[str, torch.Tensor], source: str = "state dict") -> Any:
    """A ready model for a cleaned state dict: GenSR's own generator when a
    registered architecture claims it, else spandrel's descriptor (when
    spandrel is installed and knows it), else :class:`UnknownArchitectureError`."""
    try:
        return model_from_state_dict(sd, source)
    except UnknownArchitectureError:
        from .spandrel_models import load_with_spandrel

        model = load_with_spandrel(sd, source)
        if model is None:
            raise
        return model


def load_model(
    source: Optional[PathLike] = None,
    *,
    device: Union[str, torch.device, None] = None,
    trust_pickle: bool = False,
    **hub_options: Any,
) -> nn.Module:
    """Load a generator from a weight file.

    ``source`` is a path to ``.safetensors`` / ``.pth`` / ``.pt`` / ``.ckpt`` /
    ``.bin``, or ``hf://OWNER/REPO/FILE[@REVISION]`` (or ``repo_id=``,
    ``filename=``, ``revision=``) for the Hugging Face Hub.

    The result is in eval mode and has ``scale``, ``in_channels``,
    ``out_channels``, ``arch``, ``config`` and ``metadata`` (the file's
    safetensors metadata, decoded). It is GenSR's own ``nn.Module`` for the
    architectures in the registry; for any other architecture spandrel knows
    (when spandrel is installed) it is spandrel's ``ImageModelDescriptor``
    (``arch`` ``"spandrel:ID"``; the module is its ``.model``), which
    ``gensr.upscale`` runs the same way. Pickles are read with
    ``weights_only=True``; ``trust_pickle`` is only for explicit conversion.
    """
    if source is None or str(source).startswith("hf://") or hub_options.get("repo_id"):
        from .hub import resolve_hub_file  # imported lazily: network code

        if trust_pickle:
            from .errors import HubUnsafeFileError

            raise HubUnsafeFileError(
                "trust_pickle is only for local files you convert yourself; Hub pickles are read with weights_only "
                "(no code in them runs), and one that needs code is refused"
            )
        path = resolve_hub_file(source, **hub_options)
    else:
        if hub_options:
            raise TypeError(f"unexpected options for a local file: {', '.join(hub_options)}")
        path = Path(source).expanduser()
    obj, raw_meta = read_weight_file(path, trust_pickle=trust_pickle)
    sd = generator_state_dict(obj, str(path))
    model = build_model(sd, str(path))
    model.metadata = {k: parse_metadata_value(v) for k, v in raw_meta.items()}
    model.source = str(path)
    if device is not None:
        model.to(device)
    return model


def supported_architectures() -> list[str]:
    """Short names of the architectures ``load_model`` can build."""
    return list(ARCHITECTURES)
