"""uvmos on CPU: the tiny D-Net (configs/dnet/tiny_cpu.py) proposes, T-Net tracks on its features.

Evaluate (DAVIS J&F on the synthetic val split):
    python tools/train_net.py --config-file configs/uvmos/tiny_cpu.py --eval-only \
        train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth
The checkpoint is D-Net's alone: ``VideoSegmenter`` accepts it (its keys get ``proposer.``), and
the J&F CSVs/JSON go to ``train.output_dir``. Several configs at once: tools/table4_tnet.py.
T-Net reuses D-Net's backbone maps (computed once per frame): res3 (stride 8) for the target
models and res3 + res5 pooled for the parameter-free re-ID embedding.
"""
from detectron2.config import LazyCall as L

from uvmos.model_zoo import embedded_weights
from uvmos.modeling.tnet import MaskPooledEmbedder, ProposerFeatures

from ..common.models.video import model
from ..dnet.tiny_cpu import model as dnet_model
from ._video_eval import dataloader, train

model.proposer = dnet_model
model.test_size = None  # frames at their own size (the tiny D-Net is trained on 192x320 frames)
model.associator.features = L(ProposerFeatures)(keys=("res3", "res5"), max_cells=1024)
model.associator.target_feature = "res3"
# res3 of the tiny D-Net has 32 channels: W1 cannot reduce them to the paper's 96 (a reduction of
# R-101's 1024), and W2 * W1 is then just a 3x3 conv of the 32 channels, so fitting W1 adds nothing.
# W1 = the PCA of the first frame's features (32 -> 32), W2 fitted alone: a linear problem.
model.associator.target_model.hidden_channels = 32
model.associator.init_projection = False
# y̌_j = resized score map > 0.4: chosen on uvmos_synth_hard_val (J&F 0.468 at 0.4, 0.452 at 0.5)
model.associator.score_thresh = 0.4
model.associator.reid = L(MaskPooledEmbedder)(in_features=("res3", "res5"), center=True)

train.output_dir = "output/uvmos_tiny_cpu"
# the embedded default model (uvmos/model_zoo/MODEL_CARD.md): tools/demo.py and make demo use it
train.init_checkpoint = embedded_weights("uvmos_tiny_cpu.pth")
