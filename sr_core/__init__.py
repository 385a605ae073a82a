"""Pure PyTorch super-resolution core: architectures, losses, tiled inference,
resizing and metrics. Imports nothing from ComfyUI, the network or the other
GenSR layers."""
