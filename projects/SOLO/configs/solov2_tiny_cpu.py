"""SOLOv2, class-agnostic, at the tiny D-Net's scale and CPU budget (~30 CPU-minutes, CPUTimeHook):
the Table 3 SOLO baseline on CPU.

    OMP_NUM_THREADS=1 python tools/train_net.py --config-file projects/SOLO/configs/solov2_tiny_cpu.py

Backbone and FPN exactly as projects/MaskRCNN/configs/maskrcnn_tiny_cpu.py (the tiny D-Net's narrow
R-18 without dilation, BN, random init; FPN 64 channels, p2-p6). Heads narrowed: instance head 2
convs of 64 channels (SOLOv2: 4 x 512), mask feature 32 channels, E = 64 kernel weights (SOLOv2:
128 / 256). Grids and scale ranges are SOLOv2's scaled to the 192-px frames (~1/3 of its 800 px,
ours): S = 28, 24, 16, 12, 8 for objects of sqrt(w h) in [1, 32], [16, 64], [32, 128], [64, 256],
[128, 2048] px; minimum mask areas at stride 4: 2, 4, 8, 16, 16 px (SOLOv2: the level strides).
Data and optimiser as the Mask R-CNN config (single frames of uvmos_synth_train, batch 4, SGD
+ poly) at lr 0.005, because 0.02 drives every mask to 0 (chosen on the training loss:
projects/SOLO/README.md), SOLOv2's losses (Dice x 3, focal).

Budget: 2000 iterations with one thread, set to fit the tiny D-Net's budget (cost per iteration and
results: docs/model_zoo.md, "Baselines").
"""

from detectron2.config import LazyCall as L
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool

from uvmos.projects.SOLO.solo import SOLOv2, SOLOv2InsHead, SOLOv2MaskHead

from ....configs.common.data.synth_frames import dataloader
from ....configs.common.models.tiny_r18 import bottom_up as tiny_r18
from ....configs.common.optim import SGD as optimizer
from ....configs.common.optim import poly_lr as lr_multiplier
from ....configs.common.train import train

FPN_C, HEAD_C, MASK_C, E = 64, 64, 32, 64

model = L(SOLOv2)(
    backbone=L(FPN)(
        bottom_up=tiny_r18,
        in_features=("res2", "res3", "res4", "res5"),
        out_channels=FPN_C,
        top_block=L(LastLevelMaxPool)(),
    ),
    ins_head=L(SOLOv2InsHead)(in_channels=FPN_C, channels=HEAD_C, num_convs=2, kernel_dim=E, num_classes=1),
    mask_head=L(SOLOv2MaskHead)(in_channels=FPN_C, channels=MASK_C, out_channels=E),
    num_classes=1,
    num_grids=(28, 24, 16, 12, 8),
    scale_ranges=((1, 32), (16, 64), (32, 128), (64, 256), (128, 2048)),
    min_mask_area=(2, 4, 8, 16, 16),
)

optimizer.lr = 0.005  # not the Mask R-CNN config's 0.02: see the docstring
optimizer.weight_decay = 1e-4
train.max_iter = 2000
train.eval_period = 0
train.log_period = 20
train.checkpointer.period = 250
train.checkpointer.max_to_keep = 3
train.device = "cpu"
train.output_dir = "./output/solov2_tiny_cpu"
