"""uvmos on CPU: the tiny D-Net (configs/dnet/tiny_cpu.py) proposes, T-Net tracks on its features
(§3; the "D-Net + T-Net" row of Tables 1/4 on CPU, docs/model_zoo.md).

Evaluate (DAVIS J&F on the synthetic val split):
    python tools/train_net.py --config-file configs/uvmos/tiny_cpu.py --eval-only \
        train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth
The checkpoint is D-Net's alone: ``VideoSegmenter`` accepts it (its keys get ``proposer.``), and
the J&F CSVs/JSON go to ``train.output_dir``. Several configs at once: tools/table4_tnet.py.
T-Net reuses D-Net's maps (computed once per frame): res3 + res2 + the frame's colours and
their spread on the stride-8 grid for the target models, res3 + res5 pooled for the parameter-free re-ID embedding.
"""

from detectron2.config import LazyCall as L

from uvmos.model_zoo import embedded_weights
from uvmos.modeling.tnet import MaskPooledEmbedder, ProposerFeatures

from ..common.models.video import model
from ..dnet.tiny_cpu import model as dnet_model
from ._video_eval import dataloader, train

model.proposer = dnet_model
# Target features (chosen on uvmos_synth_hard train/val; results: docs/tnet.md, "Target features"):
# res3 (stride 8) with res2, the frame's colours, their spread within each cell and the
# correlation of channel pairs within each cell (texture), resampled to its grid, each part scaled
# to unit RMS -- 32 + 16 + 3 + 3 + 3 = 57 channels. Not the
# decoders' x_sal/x_ins: they encode objectness, so every target model would fire on every object.
model.associator.features = L(ProposerFeatures)(
    keys=("res3", "res5"), max_cells=1024, concat={"tnet": ("res3", "res2", "image", "image_std", "image_cov")}
)
model.associator.target_feature = "tnet"
# W1 = the PCA of the first frame's 57 channels, all kept (fewer lose accuracy: docs/tnet.md);
# W2 fitted alone: a linear problem solved exactly. W1 is not fitted (init_projection=False): with
# D = C it is a rotation that W2 absorbs.
model.associator.target_model.hidden_channels = 57
model.associator.init_projection = False
# y̌_j = resized score map > 0.4 (chosen on hard val: docs/tnet.md, "Target features")
model.associator.score_thresh = 0.4
# discovery needs a proposal score >= 0.1, so that clutter and fragments start fewer tracklets
# (read off hard train: docs/tnet.md, "Target features")
model.associator.proposal_score_thresh = 0.1
# eq. 9 as written: every pixel weighs the same (FRTM's hinge class balance, the shared T-Net
# config's choice, was worse on hard train/val: docs/tnet.md)
model.associator.pixel_weighting = "none"
# T-Net's step runs on one thread: its many small operations lose more than they gain from a
# second thread and degrade far worse under load (docs/benchmarks.md, "On a shared machine")
model.associator.num_threads = 1
model.associator.reid = L(MaskPooledEmbedder)(in_features=("res3", "res5"), center=True)

train.output_dir = "output/uvmos_tiny_cpu"
# the embedded default model (uvmos/model_zoo/MODEL_CARD.md): tools/demo.py and make demo use it
train.init_checkpoint = embedded_weights("uvmos_tiny_cpu.pth")
