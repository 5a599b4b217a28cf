"""Table 4, "w/o target verification": tracking results are never checked against proposals.

    python tools/table4_tnet.py --config-file configs/ablations/tnet_wo_verification.py \
        --dataset uvmos_synth_hard_test
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.tnet import NoVerifier

from ..uvmos.tiny_cpu import dataloader, model, train

model.associator.verifier = L(NoVerifier)()
train.output_dir = "output/ablation_tnet_wo_verification"
