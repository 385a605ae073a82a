"""Losses for super-resolution training."""
from .pixel import CharbonnierLoss, L1Loss, pixel_loss

__all__ = ["CharbonnierLoss", "L1Loss", "pixel_loss"]
