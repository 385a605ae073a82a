"""ComfyUI nodes of GenSR. ``registration.py`` is what ComfyUI reads; the node\nbodies import torch and the engine only when a node runs."""
