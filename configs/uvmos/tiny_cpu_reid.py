"""configs/uvmos/tiny_cpu.py with the trained re-ID head (configs/tnet/reid_tiny_cpu.py) in eq. 10
instead of the parameter-free mask-pooled features.

    python tools/train_net.py --config-file configs/uvmos/tiny_cpu_reid.py --eval-only
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.tnet import ReIDHead

from .tiny_cpu import dataloader, model, train

model.associator.reid = L(ReIDHead)(in_features=("res3", "res5"), in_channels=[32, 128], hidden_dim=128, embed_dim=64)
train.init_checkpoint = {"": train.init_checkpoint, "associator.reid": "output/reid_tiny_cpu/model_final.pth"}
train.output_dir = "output/uvmos_tiny_cpu_reid"
