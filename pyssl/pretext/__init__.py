"""Pretext tasks P and augmentations: unlabeled x and a seed -> (inputs x̃, pseudolabels z).

Transforms are batched C++ kernels (OpenMP over samples) drawing every random number from a
counter-based Philox stream keyed by (seed, kernel, sample), so results depend only on the seed —
bit-identical for any thread count. See ``_common.py`` for how composed transforms and views
derive their seeds.

Functional surface (float32/float64 numpy arrays, results fixed by ``seed``)::

    mask_features(x, ratio, seed, fill=0.0) -> (x_masked, mask)
    gaussian_noise(x, std, seed) -> x_noisy
    scarf_corrupt(x, reference, ratio, seed) -> (x_corrupt, mask)
    rotate90(images, k) -> images
    jigsaw(images, grid, permutation_set, seed) -> (tiles_or_images, z)
    RotationPredictionTask().generate(images, seed) -> (inputs, z)
"""
from ._common import derive_seed, sample_offset
from .tabular import (mask_features, gaussian_noise, scarf_corrupt, vime_corrupt, mixup, dacl_mixup,
                      span_mask, feature_subsets, shuffle_tokens, random_permutations, random_integers)
from .table import table_scarf_corrupt, table_vime_corrupt
from .sequence import crop_resize, jitter, scaling, segment_permutation, time_warp, time_mask
from .image import (rotate90, hflip, random_hflip, random_crop_boxes, resized_crop, random_resized_crop,
                    jigsaw, jigsaw_permutation_set, patch_mask, color_jitter, gaussian_blur)
from .compose import (TRANSFORMS, register_transform, Identity, sequence_views, image_views, default_views,
                      Transform, Compose, RandomApply, MultiView, FeatureMask, GaussianNoise,
                      ScarfCorruption, Mixup, SpanMask, SequenceCrop, Jitter, Scaling, SegmentPermutation,
                      TimeWarp, TimeMask, RandomRotation, HorizontalFlip, RandomResizedCrop, ColorJitter,
                      GaussianBlur, PatchMask)
from .tasks import (TASKS, register_task, PretextTask, RotationPredictionTask, JigsawTask, MaskedFeaturePrediction,
                    Denoising, VIMETask, InstanceDiscrimination, SCARFTask, DACLTask, ShuffledTokenDetection)

__all__ = [
    "sample_offset",
    "derive_seed",
    "mask_features", "gaussian_noise", "scarf_corrupt", "vime_corrupt", "mixup", "dacl_mixup", "span_mask",
    "feature_subsets", "shuffle_tokens", "random_permutations", "random_integers",
    "table_scarf_corrupt", "table_vime_corrupt",
    "crop_resize", "jitter", "scaling", "segment_permutation", "time_warp", "time_mask",
    "rotate90", "hflip", "random_hflip", "random_crop_boxes", "resized_crop", "random_resized_crop",
    "jigsaw", "jigsaw_permutation_set", "patch_mask", "color_jitter", "gaussian_blur",
    "TRANSFORMS", "register_transform", "Identity", "sequence_views", "image_views", "default_views",
    "TASKS", "register_task",
    "Transform", "Compose", "RandomApply", "MultiView", "FeatureMask", "GaussianNoise", "ScarfCorruption",
    "Mixup", "SpanMask", "SequenceCrop", "Jitter", "Scaling", "SegmentPermutation", "TimeWarp", "TimeMask",
    "RandomRotation", "HorizontalFlip", "RandomResizedCrop", "ColorJitter", "GaussianBlur", "PatchMask",
    "PretextTask", "RotationPredictionTask", "JigsawTask", "MaskedFeaturePrediction", "Denoising", "VIMETask",
    "InstanceDiscrimination", "SCARFTask", "DACLTask", "ShuffledTokenDetection",
]
