"""Train T-Net's re-ID head (eq. 10 embeddings) on the frozen backbone of the trained tiny D-Net.

    python tools/train_net.py --config-file configs/tnet/reid_tiny_cpu.py \
        'train.init_checkpoint={backbone:output/dnet_tiny_cpu/model_final.pth}'

Frame pairs of ``uvmos_synth_train`` (FramePairMapper); loss InfoNCE over instance ids across
frames t and t-1. Use the result in the tracker with
``model.associator.reid=L(ReIDHead)(...)`` and ``train.init_checkpoint={..., "associator.reid":
"output/reid_tiny_cpu/model_final.pth"}`` (configs/uvmos/tiny_cpu_reid.py).
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.tnet import ReIDHead
from uvmos.modeling.tnet.reid_trainer import ReIDTrainer

from ..common.data.synth_pairs import dataloader
from ..common.optim import SGD as optimizer
from ..common.optim import poly_lr as lr_multiplier
from ..common.train import train
from ..dnet.tiny_cpu import model as dnet_model

model = L(ReIDTrainer)(
    backbone=dnet_model.backbone,
    head=L(ReIDHead)(
        in_features=("res3", "res5"),
        in_channels=[32, 128],  # tiny D-Net: res3 = 2 x 16, res5 = 8 x 16 channels
        hidden_dim=128,
        embed_dim=64,
        loss="infonce",
        temperature=0.1,
    ),
    pixel_mean=dnet_model.pixel_mean,
    pixel_std=dnet_model.pixel_std,
    freeze_backbone=True,
)
# the backbone's weights: those of the trained D-Net (keys matched by suffix)
train.init_checkpoint = {"backbone": "output/dnet_tiny_cpu/model_final.pth"}

dataloader.train.mapper.target_generator = None  # no D-Net targets needed
dataloader.train.mapper.augmentations.crop_size = (192, 192)
dataloader.train.total_batch_size = 8
del dataloader.evaluator
del dataloader.test

optimizer.lr = 0.05
train.max_iter = 1500
train.eval_period = 0
train.log_period = 20
train.checkpointer.period = 500
train.device = "cpu"
train.output_dir = "./output/reid_tiny_cpu"
