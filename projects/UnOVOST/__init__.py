"""UnOVOST-style tracking (Luiten et al., WACV 2020) as a uvmos plug-in project: ``import
uvmos.projects.UnOVOST`` registers the ``UnOVOSTAssociator`` (ASSOCIATOR_REGISTRY) and the
``UnOVOSTSegmenter`` meta-architecture (META_ARCH_REGISTRY). See README.md."""

from .unovost import UnOVOSTAssociator, UnOVOSTSegmenter, dis_flow, merge_tracklets, warp_mask  # noqa: F401
