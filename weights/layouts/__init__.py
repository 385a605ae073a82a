"""State-dict layout detection, one module per architecture."""
from . import compact, rrdbnet

LAYOUTS = (rrdbnet, compact)

__all__ = ["LAYOUTS"]
