"""Class-agnostic Mask R-CNN (detectron2 ``GeneralizedRCNN``, FPN) at the tiny D-Net's scale and budget
(the Table 3 Mask R-CNN baseline on CPU).

    OMP_NUM_THREADS=1 python tools/train_net.py --config-file projects/MaskRCNN/configs/maskrcnn_tiny_cpu.py

Backbone: the tiny D-Net's narrow R-18 (16-channel stem/res2, res5 128, BN, random init), here
without dilation (output stride 32, res2-res5 feed the FPN), FPN 64 channels; RPN, box and mask
heads are detectron2's defaults narrowed to 64 channels (box head 2 x FC 256), 1 class.
Data: ``configs/common/data/synth_frames.py`` (single frames of ``uvmos_synth_train``).
Optimiser: the common SGD + poly schedule at lr 0.02 (detectron2's 0.02 is for batch 16;
at batch 4 from scratch with BN and warm-up we keep 0.02 to train fast in the short budget: our choice).

Budget: the same ~30 CPU-minutes as ``configs/dnet/tiny_cpu.py``, counted by ``CPUTimeHook``
(``cpu_minutes`` in metrics.json); 1300 iterations fill it with one thread (cost per iteration and
results: docs/model_zoo.md, "Baselines").
"""

from detectron2.layers import ShapeSpec

from uvmos.modeling.proposers.maskrcnn import mask_rcnn_fpn_config

from ....configs.common.data.synth_frames import dataloader
from ....configs.common.models.tiny_r18 import bottom_up as tiny_r18
from ....configs.common.optim import SGD as optimizer
from ....configs.common.optim import poly_lr as lr_multiplier
from ....configs.common.train import train

FPN_C, HEAD_C = 64, 64

model = mask_rcnn_fpn_config(num_classes=1, depth=18)
model.backbone.bottom_up = tiny_r18
model.backbone.out_channels = FPN_C
model.backbone.norm = ""
model.proposal_generator.anchor_generator.sizes = [[16], [32], [64], [128], [256]]
model.proposal_generator.pre_nms_topk = (1000, 500)
model.proposal_generator.post_nms_topk = (300, 100)
model.proposal_generator.head.in_channels = FPN_C
model.roi_heads.batch_size_per_image = 128
model.roi_heads.box_head.input_shape = ShapeSpec(channels=FPN_C, height=7, width=7)
model.roi_heads.box_head.conv_dims = []
model.roi_heads.box_head.fc_dims = [256, 256]
model.roi_heads.box_predictor.input_shape = ShapeSpec(channels=256)
model.roi_heads.mask_head.input_shape = ShapeSpec(channels=FPN_C, width=14, height=14)
model.roi_heads.mask_head.conv_dims = [HEAD_C] * 5  # 4 convs + the deconv
model.pixel_mean = [103.530, 116.280, 123.675]
model.pixel_std = [57.375, 57.120, 58.395]  # random init with BN: unit-variance input (our choice)

optimizer.lr = 0.02
optimizer.weight_decay = 1e-4
train.max_iter = 1300
train.eval_period = 0
train.log_period = 20
train.checkpointer.period = 250
train.checkpointer.max_to_keep = 3
train.device = "cpu"
train.output_dir = "./output/maskrcnn_tiny_cpu"
