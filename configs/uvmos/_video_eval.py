"""Shared video evaluation pieces for the uvmos/baselines/ablations configs (DAVIS J&F, unsupervised)."""

from detectron2.config import LazyCall as L
from omegaconf import OmegaConf

from uvmos.data.build import build_video_test_loader
from uvmos.evaluation.davis import DAVISEvaluator

dataloader = OmegaConf.create()
dataloader.test = L(build_video_test_loader)(dataset_name="uvmos_synth_val")
dataloader.evaluator = L(DAVISEvaluator)(
    dataset_name="${..test.dataset_name}",
    task="unsupervised",
    output_dir="${train.output_dir}",  # the two official CSVs + davis_results.json land there
)

train = dict(device="cpu", init_checkpoint="", output_dir="output/uvmos")
