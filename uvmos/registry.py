"""Every registry of uvmos, in one place.

uvmos reuses detectron2's ``BACKBONE_REGISTRY`` and ``META_ARCH_REGISTRY`` and adds a registry
only for a family of interchangeable parts that the paper or the design card names. Components
take plain constructor arguments, so each one can be built two ways:

* from a LazyConfig: ``L(DNet)(backbone=..., ...)`` then ``detectron2.config.instantiate``;
* by registered name: ``build(PROPOSER_REGISTRY, "DNet", **kwargs)``.

A new part is one file, one ``@XXX_REGISTRY.register()`` and one config line.
"""

from __future__ import annotations

from typing import Any, Dict

from detectron2.modeling import BACKBONE_REGISTRY, META_ARCH_REGISTRY
from detectron2.utils.registry import Registry

__all__ = [
    "BACKBONE_REGISTRY",
    "META_ARCH_REGISTRY",
    "NECK_REGISTRY",
    "GUIDANCE_REGISTRY",
    "DNET_HEAD_REGISTRY",
    "PROPOSER_REGISTRY",
    "ASSOCIATOR_REGISTRY",
    "TARGET_MODEL_REGISTRY",
    "ONLINE_SOLVER_REGISTRY",
    "VERIFIER_REGISTRY",
    "REID_REGISTRY",
    "MEMORY_REGISTRY",
    "ALL_REGISTRIES",
    "build",
]


def _registry(name: str, doc: str) -> Registry:
    registry = Registry(name)
    registry.__doc__ = doc
    return registry


NECK_REGISTRY = _registry(
    "NECK", "Feature necks on a backbone's last map, e.g. ASPP (paper §3.1, two of them in D-Net)."
)

GUIDANCE_REGISTRY = _registry(
    "GUIDANCE", "Modules fusing previous-frame guidance into current features (SGM, eq. 1-7)."
)

DNET_HEAD_REGISTRY = _registry(
    "DNET_HEAD", "D-Net prediction heads: salient foreground, instance center/offset (§3.1)."
)

PROPOSER_REGISTRY = _registry(
    "PROPOSER", "Frame-level object proposers (D-Net, Mask R-CNN, ...): frame -> scored masks."
)

ASSOCIATOR_REGISTRY = _registry(
    "ASSOCIATOR", "Trackers / associators linking proposals over time (T-Net §3.2, greedy)."
)

TARGET_MODEL_REGISTRY = _registry("TARGET_MODEL", "Per-target appearance models fitted online (eq. 8).")

ONLINE_SOLVER_REGISTRY = _registry(
    "ONLINE_SOLVER", "Online solvers for the target-model objective (eq. 9): Gauss-Newton, GD."
)

VERIFIER_REGISTRY = _registry(
    "VERIFIER", "Target-agnostic verification of tracking results against proposals (eq. 10)."
)

REID_REGISTRY = _registry("REID", "Re-identification embedders giving one vector per mask (used by eq. 10).")

MEMORY_REGISTRY = _registry(
    "MEMORY", "Memory policies: which samples train a target model, their weights, when to update."
)

ALL_REGISTRIES: Dict[str, Registry] = {
    r._name: r
    for r in [
        BACKBONE_REGISTRY,
        NECK_REGISTRY,
        GUIDANCE_REGISTRY,
        DNET_HEAD_REGISTRY,
        PROPOSER_REGISTRY,
        ASSOCIATOR_REGISTRY,
        TARGET_MODEL_REGISTRY,
        ONLINE_SOLVER_REGISTRY,
        VERIFIER_REGISTRY,
        REID_REGISTRY,
        MEMORY_REGISTRY,
        META_ARCH_REGISTRY,
    ]
}


def build(registry: Registry, name: str, *args: Any, **kwargs: Any) -> Any:
    """Build the component registered as ``name`` in ``registry`` with plain arguments.

    Equivalent to ``instantiate(L(cls)(*args, **kwargs))`` for the registered ``cls``; raises a
    ``KeyError`` that lists the registry's entries when ``name`` is unknown.
    """
    try:
        obj = registry.get(name)
    except KeyError:
        known = ", ".join(sorted(k for k, _ in registry)) or "(empty)"
        raise KeyError(f"No component named {name!r} in registry {registry._name}; known: {known}") from None
    return obj(*args, **kwargs)
