"""Pretraining methods: an encoder h_θ, heads k_γ, views from a pretext task P, and a loss.

Every method is registered in :data:`METHODS` (name → class) with one ``@register_method`` line;
views and pretext tasks come from :mod:`pyssl.pretext` (``pretext.TRANSFORMS``, ``pretext.TASKS``).
"""
from .base import METHODS, Method, register_method
from .joint import JointEmbedding, SimCLR, BarlowTwins, VICReg, SCARF, DACL
from .momentum import MoCo, BYOL
from .simsiam import SimSiam
from .clustering import SwAV, DINO
from .tasks import PretextTaskMethod, RotationPrediction, Jigsaw
from .reconstruction import MaskedModeling, DenoisingAutoencoder, VIME
from .mae import MAE
from .moco_v3 import MoCoV3
from .timeseries import TS2Vec, TLoss
from .tstcc import TSTCC
from .nnclr import NNCLR
from .multicrop import MultiCrop

__all__ = ["METHODS", "register_method", "Method", "JointEmbedding", "SimCLR", "BarlowTwins", "VICReg", "SCARF",
           "DACL", "MoCo", "BYOL", "SimSiam", "SwAV", "DINO", "MaskedModeling", "DenoisingAutoencoder", "VIME",
           "PretextTaskMethod", "RotationPrediction", "Jigsaw", "MAE", "MoCoV3"]
__all__ += ["TS2Vec", "TLoss", "TSTCC"]
__all__ += ["NNCLR", "MultiCrop"]
