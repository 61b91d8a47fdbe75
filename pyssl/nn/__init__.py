"""Layers and containers over the C++ kernels (h_θ extractors and k_γ / g_φ heads)."""
from .module import LAYERS, register_layer, Module, Parameter, Sequential, Identity, Residual
from .conv import Conv1d, Conv2d, GlobalAvgPool, Flatten, ConvEncoder1d, ConvEncoder2d
from .linear import Linear
from .activation import ReLU, GELU, Tanh, Sigmoid, make_activation
from .norm import LayerNorm, BatchNorm1d
from .dropout import Dropout
from .softmax import Softmax, LogSoftmax
from .losses import cross_entropy, mse, CrossEntropyLoss, MSELoss
from .mlp import MLP
from .embedding import Embedding
from .mixed_input import MixedInput
from .normalize import L2Normalize, l2_normalize
from . import precision
from .init import manual_seed
from .checkpoint import save, load, save_state, load_state
from .dilated import DilatedConvEncoder, DilatedConvBlock, TimestampMask
from .tstcc import TSTCCEncoder
from .causal import CausalCNNEncoder, CausalConvBlock, LeakyReLU, MaskedMaxPool
from .batchnorm import BatchNorm2d, ChannelBatchNorm1d
from .pool import MaxPool2d, MaxPool1d
from .resnet import BasicBlock, Bottleneck, ResNet, ResNet1d
from .transformer import (MultiHeadAttention, TransformerBlock, TransformerEncoder, PatchEmbed2d, PatchEmbed1d,
                          FeatureTokenizer, ViT)

__all__ = ["LAYERS", "register_layer", "Module", "Parameter", "Sequential", "Identity", "Residual", "Conv1d", "Conv2d", "GlobalAvgPool",
           "Flatten", "ConvEncoder1d", "ConvEncoder2d", "Linear", "ReLU", "GELU", "Tanh",
           "Sigmoid", "make_activation", "LayerNorm", "BatchNorm1d", "Dropout", "Softmax",
           "LogSoftmax", "cross_entropy", "mse", "CrossEntropyLoss", "MSELoss", "MLP", "L2Normalize", "l2_normalize", "manual_seed", "save", "load", "save_state", "load_state"]
__all__ += ["DilatedConvEncoder", "DilatedConvBlock", "TimestampMask", "CausalCNNEncoder", "CausalConvBlock",
            "LeakyReLU", "MaskedMaxPool"]
__all__ += ["BatchNorm2d", "ChannelBatchNorm1d", "MaxPool2d", "MaxPool1d", "BasicBlock", "Bottleneck", "ResNet",
            "ResNet1d"]
__all__ += ["Embedding", "MixedInput"]
__all__ += ["MultiHeadAttention", "TransformerBlock", "TransformerEncoder", "PatchEmbed2d", "PatchEmbed1d",
            "FeatureTokenizer", "ViT"]
__all__ += ["TSTCCEncoder"]
