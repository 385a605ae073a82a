"""Losses for super-resolution training."""
from .artifact import artifact_map, ldl_loss
from .frequency import focal_frequency_loss
from .adversarial import GAN_LOSSES, discriminator_loss, generator_adversarial_loss
from .perceptual import DEFAULT_LAYER_WEIGHTS, VGG19_LAYERS, PerceptualLoss, VGG19Features, load_vgg19_weights
from .pixel import CharbonnierLoss, L1Loss, pixel_loss

__all__ = [
    "CharbonnierLoss", "DEFAULT_LAYER_WEIGHTS", "GAN_LOSSES", "L1Loss", "PerceptualLoss", "VGG19Features",
    "VGG19_LAYERS", "artifact_map", "discriminator_loss", "focal_frequency_loss", "generator_adversarial_loss", "ldl_loss",
    "load_vgg19_weights", "pixel_loss",
]
