"""The greedy IoU associator on the tiny D-Net's proposals (the Table 4 comparison on CPU).

    python tools/table4_tnet.py --config-file configs/baselines/greedy_tiny_cpu.py \
        --dataset uvmos_synth_hard_test
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.associators import GreedyAssociator

from ..uvmos.tiny_cpu import dataloader, model, train

model.associator = L(GreedyAssociator)(
    match_thresh=0.3, embed_weight=0.0, proposal_score_thresh=0.0, max_tracks=20, max_lost_frames=50
)
train.output_dir = "output/baseline_greedy_tiny_cpu"
