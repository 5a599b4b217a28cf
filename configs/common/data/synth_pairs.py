"""Frame-pair training data and per-video frame-AP evaluation on the synthetic benchmark.

Train: ``uvmos_synth_train`` frame pairs (t, t-1) through ``FramePairMapper`` with the §4.1
augmentation (scale [0.8, 1.5], horizontal flip, crop) and D-Net's target generator in the workers.
Test: the videos of ``uvmos_synth_val``, each run frame by frame by D-Net (guided by its own
previous foreground) and scored by ``FrameAPEvaluator`` (class-agnostic COCO mask AP, Table 3).
"""

from detectron2.config import LazyCall as L
from omegaconf import OmegaConf

from uvmos.data.build import build_frame_pair_train_loader, build_video_test_loader
from uvmos.data.mapper import FramePairMapper
from uvmos.data.transforms import build_mapper_augmentations
from uvmos.evaluation.frame_ap import FrameAPEvaluator
from uvmos.modeling.dnet import DNetTargetGenerator

dataloader = OmegaConf.create()

dataloader.train = L(build_frame_pair_train_loader)(
    dataset_names=("uvmos_synth_train",),
    mapper=L(FramePairMapper)(
        is_train=True,
        augmentations=L(build_mapper_augmentations)(
            is_train=True, scale_range=(0.8, 1.5), flip_prob=0.5, crop_size=(192, 192)
        ),
        image_format="BGR",
        max_gap=1,
        target_generator=L(DNetTargetGenerator)(sigma=10.0, ignore_label=255),
    ),
    total_batch_size=4,
    num_workers=1,
)

dataloader.test = L(build_video_test_loader)(dataset_name="uvmos_synth_val")

dataloader.evaluator = L(FrameAPEvaluator)(dataset_name="${..test.dataset_name}", class_agnostic=True)
