"""SOLOv2 (Wang et al., NeurIPS 2020) as a uvmos plug-in project: ``import uvmos.projects.SOLO`` registers
the ``SOLOv2`` meta-architecture (detectron2's META_ARCH_REGISTRY) and the ``SOLOProposer``
(uvmos's PROPOSER_REGISTRY). See README.md."""

from .solo import SOLOProposer, SOLOv2, matrix_nms, solo_targets  # noqa: F401
