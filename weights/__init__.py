"""Weight files: safe reading, layout detection, loading and saving."""
from .errors import GenSRError, UnknownArchitectureError, UnsafeWeightFileError, WeightFileError
from .loader import detect_architecture, load_model, model_from_state_dict, supported_architectures
from .save import atomic_write, save_model

__all__ = [
    "GenSRError",
    "UnknownArchitectureError",
    "UnsafeWeightFileError",
    "WeightFileError",
    "atomic_write",
    "detect_architecture",
    "load_model",
    "model_from_state_dict",
    "save_model",
    "supported_architectures",
]
