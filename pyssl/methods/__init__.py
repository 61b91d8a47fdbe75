"""Pretraining methods: an encoder h_θ, heads k_γ, views from a pretext task P, and a loss."""
from .base import Method
from .joint import JointEmbedding, SimCLR, BarlowTwins, VICReg, SCARF, DACL
from .momentum import MoCo, BYOL
from .simsiam import SimSiam
from .clustering import SwAV, DINO
from .reconstruction import MaskedModeling, DenoisingAutoencoder, VIME
from .tasks import PretextTaskMethod, RotationPrediction, Jigsaw
from .mae import MAE
from .moco_v3 import MoCoV3
from .views import ScarfView, MaskView, NoiseView, MixupView, IdentityView, sequence_views, image_views

__all__ = ["Method", "JointEmbedding", "SimCLR", "BarlowTwins", "VICReg", "SCARF", "DACL", "MoCo", "BYOL",
           "SimSiam", "SwAV", "DINO", "MaskedModeling", "DenoisingAutoencoder", "VIME", "PretextTaskMethod", "RotationPrediction", "Jigsaw",
           "ScarfView", "MaskView", "NoiseView", "MixupView", "IdentityView", "sequence_views", "image_views"]
__all__ += ["MAE", "MoCoV3"]
