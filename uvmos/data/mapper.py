"""Frame-pair training mapper: frame t and a previous frame t-k, augmented identically.

The SGM of D-Net (paper §3.1, eq. 1-7) reads frame I_{t-1} and its mask S_{t-1}, so a training
sample is a pair. Both frames get the *same* transforms (decided on frame t, replayed on t-k),
so masks and pixels of the two frames stay aligned exactly as in the video (§4.1: scale, flip,
crop).

Choices (also in docs/datasets.md):

* Gap: k ~ U{1..min(max_gap, t)} at training (every valid gap equally likely), k = 1 at test.
  Only annotated frames are used as the previous frame (its mask is the guidance); the candidates
  are the annotated frames among t-1..t-max_gap. On frame 0, or when none of them is annotated,
  the previous frame is frame t itself (as at inference, where the first frame has no S_{t-1}
  of its own; the pair then teaches the model to reproduce a given mask).
* Masks travel through the transforms as one uint8 label map per frame (0 background, 1..K
  instances, 255 void), resized with nearest-neighbour; crop padding is 255 (ignore).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from detectron2.data import transforms as T
from detectron2.structures import BitMasks, Boxes, Instances

from .io import read_frame
from .video_dict import DatasetFormatError, rle_to_mask

__all__ = ["FramePairMapper"]

_IGNORE = 255


class FramePairMapper:
    """Map ``{"video": video_dict, "frame_idx": t}`` to a training pair (docs/dev_conventions.md).

    Output keys: ``image``, ``prev_image`` (uint8 (3, H', W') in ``image_format``), ``instances``,
    ``prev_instances`` (``Instances`` with ``gt_masks`` BitMasks (N, H', W'), ``gt_boxes``,
    ``gt_classes`` (contiguous category), ``gt_ids`` (instance id, shared by the two frames)),
    ``sem_seg``, ``prev_sem_seg`` (long (H', W'): 0 background, c+1 for category c, 255 void and
    padding), ``height``, ``width`` (original frame size), ``video_id``, ``frame_idx``,
    ``prev_frame_idx``, ``file_name``, ``prev_file_name``, ``annotated``; then
    ``target_generator(dict)`` may add keys (it returns the dict, or None after editing in place).
    """

    def __init__(
        self,
        is_train: bool,
        augmentations: Sequence[T.Augmentation],
        image_format: str = "BGR",
        max_gap: int = 1,
        target_generator: Optional[Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]] = None,
        drop_empty: bool = True,
    ):
        """
        Args:
            is_train: random gap at training, gap 1 otherwise.
            augmentations: detectron2 augmentations applied to both frames (see
                :func:`uvmos.data.transforms.build_mapper_augmentations`).
            image_format: format passed to the frame reader ("BGR", "RGB").
            max_gap: largest k of the previous frame t-k (1 = the immediately previous frame).
            target_generator: model-specific targets (e.g. D-Net's center/offset maps).
            drop_empty: drop instances whose mask is empty after the crop.
        """
        if max_gap < 1:
            raise ValueError(f"max_gap must be >= 1, got {max_gap}")
        self.is_train = is_train
        self.augmentations = T.AugmentationList(list(augmentations))
        self.image_format = image_format
        self.max_gap = int(max_gap)
        self.target_generator = target_generator
        self.drop_empty = drop_empty

    # ------------------------------------------------------------------ sampling
    def _prev_index(self, video: Dict[str, Any], t: int) -> int:
        annotated = _annotated_flags(video)
        cands = [t - k for k in range(1, self.max_gap + 1) if t - k >= 0 and annotated[t - k]]
        if not cands:
            return t
        if not self.is_train:
            return cands[0]
        return int(cands[np.random.randint(len(cands))])

    # ------------------------------------------------------------------ reading
    def _read(self, video: Dict[str, Any], t: int) -> np.ndarray:
        names = video.get("file_names")
        if not names:
            raise DatasetFormatError(
                video.get("video_file") or video.get("video_id"), "training needs frame files (file_names)"
            )
        img = read_frame(names[t], format=self.image_format)
        if img.shape[:2] != (video["height"], video["width"]):
            raise DatasetFormatError(
                names[t],
                f"frame size {img.shape[1]}x{img.shape[0]} differs from the video's {video['width']}x{video['height']}",
            )
        return img

    @staticmethod
    def _label_map(video: Dict[str, Any], t: int, index_of: Dict[int, int]) -> np.ndarray:
        """uint8 (H, W): 0 background, index_of[instance_id] for instances, 255 void / unannotated."""
        H, W = video["height"], video["width"]
        if video.get("annotations") is None or not _annotated_flags(video)[t]:
            return np.full((H, W), _IGNORE, dtype=np.uint8)
        label = np.zeros((H, W), dtype=np.uint8)
        voids = video.get("void")
        if voids and voids[t] is not None:
            label[rle_to_mask(voids[t])] = _IGNORE
        for inst in video["annotations"][t]:
            label[rle_to_mask(inst["segmentation"])] = index_of[inst["instance_id"]]
        return label

    # ------------------------------------------------------------------ outputs
    def _instances(self, label: np.ndarray, ids: List[int], cats: List[int]) -> Tuple[Instances, torch.Tensor]:
        """Label map -> (Instances, sem_seg long (H, W))."""
        H, W = label.shape
        K = len(ids)
        if K:
            masks = label[None] == np.arange(1, K + 1, dtype=np.uint8)[:, None, None]
        else:
            masks = np.zeros((0, H, W), dtype=bool)
        keep = masks.any(axis=(1, 2)) if self.drop_empty else np.ones(K, dtype=bool)
        masks = masks[keep]
        inst = Instances((H, W))
        gt_masks = BitMasks(torch.from_numpy(np.ascontiguousarray(masks)))
        inst.gt_masks = gt_masks
        inst.gt_boxes = gt_masks.get_bounding_boxes() if len(masks) else Boxes(torch.zeros((0, 4)))
        inst.gt_classes = torch.as_tensor([c for c, k in zip(cats, keep) if k], dtype=torch.int64)
        inst.gt_ids = torch.as_tensor([i for i, k in zip(ids, keep) if k], dtype=torch.int64)
        lut = np.full(256, _IGNORE, dtype=np.int64)
        lut[0] = 0
        lut[1 : len(cats) + 1] = np.asarray(cats, dtype=np.int64) + 1
        return inst, torch.from_numpy(lut[label])

    def __call__(self, item: Dict[str, Any]) -> Dict[str, Any]:
        video, t = item["video"], int(item["frame_idx"])
        if not 0 <= t < video["length"]:
            raise IndexError(f"frame_idx {t} out of range for video {video['video_id']} of length {video['length']}")
        tp = self._prev_index(video, t)

        # One compact index per instance id of the pair (both frames share it).
        cat_of: Dict[int, int] = {}
        if video.get("annotations") is not None:
            for s in {t, tp}:
                for inst in video["annotations"][s]:
                    cat_of[int(inst["instance_id"])] = int(inst.get("category_id", 0))
        ids = sorted(cat_of)
        if len(ids) > 254:
            raise DatasetFormatError(video["video_id"], f"{len(ids)} instances in a frame pair; at most 254 supported")
        index_of = {iid: k for k, iid in enumerate(ids, start=1)}
        cats = [cat_of[i] for i in ids]

        image = self._read(video, t)
        prev_image = image.copy() if tp == t else self._read(video, tp)
        label = self._label_map(video, t, index_of)
        prev_label = label.copy() if tp == t else self._label_map(video, tp, index_of)

        aug_input = T.AugInput(image, sem_seg=label)
        transforms = self.augmentations(aug_input)
        image, label = aug_input.image, aug_input.sem_seg
        prev_image = transforms.apply_image(prev_image)
        prev_label = transforms.apply_segmentation(prev_label)

        instances, sem_seg = self._instances(label, ids, cats)
        prev_instances, prev_sem_seg = self._instances(prev_label, ids, cats)
        names = video["file_names"]
        out = {
            "image": torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1))),
            "prev_image": torch.as_tensor(np.ascontiguousarray(prev_image.transpose(2, 0, 1))),
            "instances": instances,
            "prev_instances": prev_instances,
            "sem_seg": sem_seg,
            "prev_sem_seg": prev_sem_seg,
            "height": video["height"],
            "width": video["width"],
            "video_id": video["video_id"],
            "frame_idx": t,
            "prev_frame_idx": tp,
            "file_name": names[t],
            "prev_file_name": names[tp],
            "annotated": video.get("annotations") is not None and _annotated_flags(video)[t],
        }
        if self.target_generator is not None:
            ret = self.target_generator(out)
            if ret is not None:
                out = ret
        return out


def _annotated_flags(video: Dict[str, Any]) -> List[bool]:
    if video.get("annotations") is None:
        return [False] * video["length"]
    flags = video.get("annotated")
    return list(flags) if flags is not None else [True] * video["length"]
