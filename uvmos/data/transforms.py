"""Training augmentation of the paper (§4.1): random scale in [0.8, 1.5], horizontal flip, 640x640 crop.

detectron2's ``ResizeScale`` scales relative to a fixed *target* size; the paper scales the frame by a
factor of its *own* size, hence the small :class:`RandomScale` below. Flip and crop (with padding)
are detectron2's ``RandomFlip`` and ``FixedSizeCrop``.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np
from detectron2.data import transforms as T
from PIL import Image

__all__ = ["RandomScale", "build_mapper_augmentations"]


class RandomScale(T.Augmentation):
    """Resize an (H, W) image to (round(s*H), round(s*W)) with s ~ U[min_scale, max_scale]."""

    def __init__(self, min_scale: float = 0.8, max_scale: float = 1.5, interp: int = Image.BILINEAR):
        super().__init__()
        if not 0 < min_scale <= max_scale:
            raise ValueError(f"need 0 < min_scale <= max_scale, got {min_scale}, {max_scale}")
        self._init(locals())

    def get_transform(self, image: np.ndarray) -> T.Transform:
        h, w = image.shape[:2]
        s = self._rand_range(self.min_scale, self.max_scale)
        new_h, new_w = max(1, int(round(h * s))), max(1, int(round(w * s)))
        return T.ResizeTransform(h, w, new_h, new_w, self.interp)


def build_mapper_augmentations(
    is_train: bool = True,
    scale_range: Optional[Tuple[float, float]] = (0.8, 1.5),
    flip_prob: float = 0.5,
    crop_size: Optional[Tuple[int, int]] = (640, 640),
    pad_value: float = 128.0,
    extra: Sequence[T.Augmentation] = (),
) -> List[T.Augmentation]:
    """The paper's augmentation list (§4.1) for :class:`uvmos.data.mapper.FramePairMapper`.

    Args:
        is_train: False returns ``list(extra)`` only (frames keep their size at test time).
        scale_range: (min, max) factor of the frame's own size; None disables scaling.
        flip_prob: probability of a horizontal flip; 0 disables it.
        crop_size: (H, W) of the random crop; frames smaller than it are padded at the right and
            bottom (image with ``pad_value``, masks with 255 = ignore). None disables cropping.
        extra: augmentations appended after these (e.g. photometric ones).
    """
    if not is_train:
        return list(extra)
    augs: List[T.Augmentation] = []
    if scale_range is not None:
        augs.append(RandomScale(float(scale_range[0]), float(scale_range[1])))
    if flip_prob > 0:
        augs.append(T.RandomFlip(prob=flip_prob, horizontal=True, vertical=False))
    if crop_size is not None:
        augs.append(T.FixedSizeCrop(crop_size=tuple(crop_size), pad=True, pad_value=pad_value, seg_pad_value=255))
    augs.extend(extra)
    return augs
