"""Video datasets as per-frame detectron2 instance dicts, for image-level instance segmenters.

Top-down or single-stage baselines (Mask R-CNN, SOLO; paper Table 3) are trained on single frames
with detectron2's own ``DatasetMapper`` and ``build_detection_train_loader``. This flattens the
registered video dicts (uvmos/data/video_dict.py) into one standard dict per annotated frame::

    {"file_name", "height", "width", "image_id", "video_id", "frame_idx",
     "annotations": [{"bbox" (XYXY_ABS), "bbox_mode", "segmentation" (RLE), "category_id", "iscrowd"}]}

Masks stay RLE, so the mapper needs ``instance_mask_format="bitmask"``. DAVIS void regions are not
carried over (no detectron2 mapper reads them); they are only ignored at evaluation
(``FrameAPEvaluator``).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Sequence, Union

from detectron2.data import DatasetCatalog

from .video_dict import DatasetFormatError, check_video_dict

__all__ = ["get_frame_instance_dicts"]

logger = logging.getLogger(__name__)


def get_frame_instance_dicts(
    dataset_names: Union[str, Sequence[str]], class_agnostic: bool = True, drop_empty: bool = False
) -> List[Dict[str, Any]]:
    """One detectron2 dict per annotated frame of the registered video datasets ``dataset_names``.

    Args:
        class_agnostic: every instance gets ``category_id`` 0 (Table 3's "object").
        drop_empty: skip frames without instances (detectron2's ``filter_empty_annotations``).
    Videos stored as a single video file (``video_file``) are rejected: the detectron2 mapper reads
    image files.
    """
    names = [dataset_names] if isinstance(dataset_names, str) else list(dataset_names)
    out: List[Dict[str, Any]] = []
    for name in names:
        for v in DatasetCatalog.get(name):
            src = f"{name}:{v.get('video_id')}"
            check_video_dict(v, source=src)
            if v.get("annotations") is None:
                continue
            if not v.get("file_names"):
                raise DatasetFormatError(src, "per-frame training needs frame files (file_names), not a video_file")
            flags = v.get("annotated") or [True] * v["length"]
            for t, (fn, anns) in enumerate(zip(v["file_names"], v["annotations"])):
                if not flags[t]:
                    continue
                insts = [
                    {
                        "bbox": list(a["bbox"]),
                        "bbox_mode": a["bbox_mode"],
                        "segmentation": a["segmentation"],
                        "category_id": 0 if class_agnostic else int(a.get("category_id", 0)),
                        "iscrowd": int(a.get("iscrowd", 0)),
                    }
                    for a in (anns or [])
                ]
                if drop_empty and not insts:
                    continue
                out.append(
                    {
                        "file_name": fn,
                        "height": v["height"],
                        "width": v["width"],
                        "image_id": len(out),
                        "video_id": v["video_id"],
                        "frame_idx": t,
                        "annotations": insts,
                    }
                )
    if not out:
        raise ValueError(f"No annotated frames in datasets {names}")
    logger.info("%d annotated frames from %s", len(out), names)
    return out
