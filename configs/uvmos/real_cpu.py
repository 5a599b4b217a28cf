"""The real-video default: motion proposals (DIS flow, camera compensation, FST inside-outside maps,
a learned veto on the motion evidence, GrabCut) + greedy IoU association. No downloaded weights:
the one trained part, ``MotionFusionNet`` (46 KB), was trained here on the 16 shared DAVIS-2016
train sequences (tools/train_motion_fusion.py) and is embedded in uvmos/model_zoo.

    python tools/demo.py --input my_video.mp4 --output out/   # picks this config for real input
    python tools/benchmark.py run --config-file configs/uvmos/real_cpu.py --dataset davis2016_shared_val

Every setting here was chosen on the 16 shared DAVIS-2016 train sequences (docs/real_video.md).
"""

from detectron2.config import LazyCall as L

from uvmos.model_zoo import embedded_weights
from uvmos.modeling.associators import GreedyAssociator
from uvmos.modeling.proposers import GrabCutRefiner, MotionFusionNet, MotionProposer

from ..common.models.video import model
from ._video_eval import dataloader, train

model.proposer = L(MotionProposer)(
    work_height=320,
    flow_preset="medium",
    motion_sigma_px=1.0,
    noise_k=3.0,
    rel_sigma=0.5,
    min_sigma_px=0.25,
    boundary_thresh=0.5,
    io_weight=0.5,
    temporal_weight=0.7,
    fusion=L(MotionFusionNet)(width=16),
    fusion_mode="gate",
    fusion_gate=0.3,
    refiner=L(GrabCutRefiner)(iters=2, crop_margin=24, region_thresh=0.3, norm_floor=0.5, fg_seed_thresh=(0.8, 0.95)),
    min_area_frac=0.002,
    group_px=12,
    max_proposals=3,
    num_threads=1,  # OpenCV single-threaded: the machine is shared; measured this way
)
model.associator = L(GreedyAssociator)(
    match_thresh=0.2, embed_weight=0.0, proposal_score_thresh=0.0, max_tracks=20, max_lost_frames=10
)
dataloader.test.dataset_name = "davis2016_shared_train"
train.init_checkpoint = {"proposer.fusion": embedded_weights("motion_fusion.pth")}
train.output_dir = "output/uvmos_real_cpu"
