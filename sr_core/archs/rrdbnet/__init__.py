"""RRDBNet: ESRGAN / Real-ESRGAN / BSRGAN (every scale, every key layout)."""
from typing import Optional

from ..registry import Architecture, SizeRules, register
from .detect import detect
from .model import RRDBNet
from .streamed import streamed



def portability(config: dict) -> Optional[str]:
    """spandrel reads the width and depth of an RRDBNet from its weights but
    always builds dense blocks of growth 32."""
    grow = config.get("num_grow_ch", 32)
    if grow != 32:
        return (f"num_grow_ch={grow}: spandrel (ComfyUI's core loader, chaiNNer) builds every RRDBNet with "
                "growth 32 and will refuse these weights; GenSR loads them")
    return None


ARCH = register(Architecture(
    id=RRDBNet.arch,
    name="RRDBNet (ESRGAN / Real-ESRGAN / BSRGAN)",
    model=RRDBNet,
    detect=detect,
    # Real-ESRGAN x1 / x2 pixel-unshuffle the input by 4 / 2.
    size_rules=lambda module: SizeRules(multiple=int(module.size_multiple)),
    streamed=streamed,
    portability=portability,
))

__all__ = ["ARCH", "RRDBNet"]
