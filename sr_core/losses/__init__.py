"""Losses for super-resolution training."""
from .adversarial import GAN_LOSSES, discriminator_loss, generator_adversarial_loss
from .perceptual import DEFAULT_LAYER_WEIGHTS, VGG19_LAYERS, PerceptualLoss, VGG19Features, load_vgg19_weights
from .pixel import CharbonnierLoss, L1Loss, pixel_loss

__all__ = [
    "CharbonnierLoss", "DEFAULT_LAYER_WEIGHTS", "GAN_LOSSES", "L1Loss", "PerceptualLoss", "VGG19Features",
    "VGG19_LAYERS", "discriminator_loss", "generator_adversarial_loss", "load_vgg19_weights", "pixel_loss",
]
