"""SSL objectives (L_pre): fused C++ forward + backward, each returning ``(loss, *grads)``.

Every function takes float32 or float64 arrays and returns the loss as a Python float and the
gradients as numpy arrays of the input dtype. Each class holds the hyper-parameters (and, for
DINO, the teacher centre) and its ``__call__`` returns the same tuple.
"""
from .registry import LOSSES, register_loss, task_loss
from .barlow_twins import BarlowTwinsLoss, barlow_twins
from .dino import DINOLoss, dino
from .info_nce import InfoNCELoss, info_nce
from .masked import MaskBCELoss, MaskedMSELoss, mask_bce, masked_mse
from .negative_cosine import NegativeCosineLoss, negative_cosine, symmetric_negative_cosine
from .nt_xent import NTXentLoss, nt_xent
from .sup_con import SupConLoss, nt_xent_distributed, sup_con, sup_con_distributed
from .swav import SwAVLoss, sinkhorn, swav
from .vicreg import VICRegLoss, vicreg
from .ts2vec import HierarchicalContrastiveLoss, hierarchical_contrastive
from .tloss import TimeTripletLoss, time_triplet
from .tstcc import TemporalContrastiveLoss, temporal_contrastive

__all__ = ["LOSSES", "register_loss", "task_loss", "nt_xent", "NTXentLoss", "info_nce", "InfoNCELoss", "sup_con", "SupConLoss",
           "sup_con_distributed", "nt_xent_distributed",
           "negative_cosine", "symmetric_negative_cosine", "NegativeCosineLoss", "barlow_twins",
           "BarlowTwinsLoss", "vicreg", "VICRegLoss", "sinkhorn", "swav", "SwAVLoss", "dino", "DINOLoss",
           "masked_mse", "mask_bce", "MaskedMSELoss", "MaskBCELoss"]
__all__ += ["hierarchical_contrastive", "HierarchicalContrastiveLoss", "time_triplet", "TimeTripletLoss"]
__all__ += ["temporal_contrastive", "TemporalContrastiveLoss"]
