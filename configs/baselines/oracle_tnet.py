"""Upper bound of the association: ground-truth proposals (optionally noisy) tracked by T-Net.

    python tools/train_net.py --config-file configs/baselines/oracle_tnet.py --eval-only \
        'train.init_checkpoint={associator.features.backbone:/path/R-50.pkl}'

The oracle has no backbone, so T-Net computes its own features (ResNet-50 res3/res4 at the frame
size, from the ImageNet R-50 weights the command names; random weights say little and are refused
unless ``--allow-random-weights``). Noise knobs: see ``OracleProposer``.
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.backbone import build_dilated_resnet
from uvmos.modeling.proposers import OracleProposer
from uvmos.modeling.tnet import BackboneFeatures, MaskPooledEmbedder

from ..common.models.video import model
from ..uvmos._video_eval import dataloader, train

model.proposer = L(OracleProposer)(
    dataset_name="uvmos_synth_val",  # keep equal to dataloader.test.dataset_name
    drop_prob=0.0,
    merge_prob=0.0,
    jitter_px=0,
    false_positives=0.0,
    class_agnostic=True,
)
model.associator.features = L(BackboneFeatures)(
    backbone=L(build_dilated_resnet)(
        depth=50, norm="FrozenBN", stride_in_1x1=True, res5_dilation=1, out_features=("res3", "res4")
    ),
    input_size=(480, 854),
    pixel_std=(1.0, 1.0, 1.0),
    out_features=("res3", "res4"),
)
model.associator.target_feature = "res4"
model.associator.reid = L(MaskPooledEmbedder)(in_features=("res3", "res4"), center=True)
train.output_dir = "output/baseline_oracle_tnet"
