"""Real-ESRGAN Compact (SRVGGNetCompact)."""
from ..registry import Architecture, register
from .context import conv_stack_context, is_compact
from .detect import detect
from .model import SRVGGNetCompact
from .streamed import streamed

ARCH = register(Architecture(
    id=SRVGGNetCompact.arch,
    name="SRVGGNetCompact (Real-ESRGAN Compact)",
    model=SRVGGNetCompact,
    detect=detect,
    exact_context=conv_stack_context,
    streamed=streamed,
    claims=is_compact,
))

__all__ = ["ARCH", "SRVGGNetCompact"]
