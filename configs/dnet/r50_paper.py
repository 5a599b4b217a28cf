"""D-Net as trained in paper §4.1, on DAVIS-2017 (unsupervised annotations): Table 3's D-Net at
the paper's scale (GPUs).

    python tools/train_net.py --config-file configs/dnet/r50_paper.py train.init_checkpoint=/path/R-50.pkl

Model (§3.1): dilated R-50 (res5 rate 2, output stride 16), two ASPP (C = 256, rates 6/12/18 +
image pooling), SGM branch (4-channel dilated R-50 + ASPP) with two SE fusions, salient and
instance heads; center Gaussians σ = 10 px. Training (§4.1): scale [0.8, 1.5], horizontal flip,
640 x 640 crops; SGD momentum 0.9, weight decay 5e-4, poly LR. Test size 480 x 854.

Not in the paper (choices): batch 16, base LR 0.01, 20k iterations, 1% linear warm-up, SyncBN,
loss weights (1, 10, 0.3) (Panoptic-DeepLab's (1, 200, 0.01) are tuned for Adam and diverge under
SGD). ImageNet init: detectron2's MSRA R-50 (BGR, std 1, stride_in_1x1=True; the default names it
by URL, the command above a local copy), loaded by the checkpointer into both backbones, the SGM's
4-channel stem included (docs/dnet.md, "Backbone and ImageNet weights"); torchvision's resnet50
.pth needs the settings listed in docs/dnet.md, "Configs".
"""

from ..common.data.synth_pairs import dataloader
from ..common.models.dnet import model
from ..common.optim import SGD as optimizer
from ..common.optim import poly_lr as lr_multiplier
from ..common.train import train

model.test_size = (480, 854)

dataloader.train.dataset_names = ("davis2017_unsup_train",)
dataloader.train.mapper.augmentations.crop_size = (640, 640)
dataloader.train.mapper.image_format = "BGR"
dataloader.train.mapper.target_generator = model.target_generator
dataloader.train.total_batch_size = 16
dataloader.train.num_workers = 4
dataloader.test.dataset_name = "davis2017_unsup_val"

optimizer.lr = 0.01
train.max_iter = 20000
train.eval_period = 5000
train.checkpointer.period = 5000
train.output_dir = "./output/dnet_r50_paper"
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-50.pkl"  # into both backbones
