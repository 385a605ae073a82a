"""RRDBNet: ESRGAN / Real-ESRGAN / BSRGAN (every scale, every key layout)."""
from ..registry import Architecture, SizeRules, register
from .detect import detect
from .model import RRDBNet
from .streamed import streamed

ARCH = register(Architecture(
    id=RRDBNet.arch,
    name="RRDBNet (ESRGAN / Real-ESRGAN / BSRGAN)",
    model=RRDBNet,
    detect=detect,
    # Real-ESRGAN x1 / x2 pixel-unshuffle the input by 4 / 2.
    size_rules=lambda module: SizeRules(multiple=int(module.size_multiple)),
    streamed=streamed,
))

__all__ = ["ARCH", "RRDBNet"]
