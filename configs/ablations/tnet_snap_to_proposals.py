"""Variant, not the paper: the tracking result y̌_j is snapped to the proposal its score map covers
best (mean score >= 0.3) *before* eq. 10, instead of the thresholded map. It makes IoU(p, y̌_j) = 1
for the snapped proposal, so eq. 10 reduces to the cos(p, y̌_0) test (docs/tnet.md).

    python tools/table4_tnet.py --config-file configs/ablations/tnet_snap_to_proposals.py \
        --dataset uvmos_synth_hard_test
"""

from ..uvmos.tiny_cpu import dataloader, model, train

model.associator.result_mode = "proposal"
model.associator.snap_thresh = 0.3
train.output_dir = "output/ablation_tnet_snap_to_proposals"
