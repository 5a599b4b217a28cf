"""Video data layer: one video-dict representation (``video_dict``), readers for DAVIS, YouTube-VIS,
frame folders and video files, built-in ``DatasetCatalog`` registrations, the frame-pair training
mapper and the loaders. Importing this package registers the built-in datasets (lazily).
"""

from . import builtin  # noqa: F401  (registers datasets)
from .build import build_frame_pair_train_loader, build_video_test_loader, get_frame_pair_dicts
from .davis import load_davis_videos
from .folder import iter_frames, load_video_source
from .io import read_annotation_png, read_frame
from .mapper import FramePairMapper
from .transforms import RandomScale, build_mapper_augmentations
from .video_dict import DatasetFormatError
from .ytvis import load_ytvis_json

__all__ = [
    "DatasetFormatError",
    "read_frame",
    "read_annotation_png",
    "load_davis_videos",
    "load_ytvis_json",
    "load_video_source",
    "iter_frames",
    "FramePairMapper",
    "RandomScale",
    "build_mapper_augmentations",
    "get_frame_pair_dicts",
    "build_frame_pair_train_loader",
    "build_video_test_loader",
]
