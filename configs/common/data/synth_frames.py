"""Single-frame instance-segmentation training data on the synthetic benchmark (Mask R-CNN, SOLO).

Train: every annotated frame of ``uvmos_synth_train`` as a detectron2 dict
(``uvmos.data.frame_dicts``), class-agnostic, through detectron2's ``DatasetMapper``: random
shorter side in [160, 256] at the 192 x 320 frames (D-Net's scale range 0.8-1.5, rounded),
horizontal flip; masks as bitmasks (the dicts hold RLE). Frames without objects are skipped
(detectron2's default for training). Batch 4, one worker, as the tiny D-Net.
There is no video evaluator here: frame AP is measured by ``tools/eval_frame_ap.py`` on the
proposer config of each model.
"""

from detectron2.config import LazyCall as L
from detectron2.data import DatasetMapper, build_detection_train_loader
from detectron2.data import transforms as T
from omegaconf import OmegaConf

from uvmos.data.frame_dicts import get_frame_instance_dicts

dataloader = OmegaConf.create()
dataloader.train = L(build_detection_train_loader)(
    dataset=L(get_frame_instance_dicts)(dataset_names=("uvmos_synth_train",), class_agnostic=True, drop_empty=True),
    mapper=L(DatasetMapper)(
        is_train=True,
        augmentations=[
            L(T.ResizeShortestEdge)(
                short_edge_length=(160, 176, 192, 208, 224, 240, 256), max_size=640, sample_style="choice"
            ),
            L(T.RandomFlip)(horizontal=True),
        ],
        image_format="BGR",
        use_instance_mask=True,
        instance_mask_format="bitmask",
        recompute_boxes=True,
    ),
    total_batch_size=4,
    num_workers=1,
)
