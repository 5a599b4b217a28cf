"""The worked example of docs/configs_and_registries.md really adds a memory policy."""
import re

from detectron2.config import LazyCall as L
from detectron2.config import instantiate

import uvmos  # noqa: F401
from tests.conftest import REPO
from uvmos.registry import MEMORY_REGISTRY, build


def test_memory_policy_example_registers_and_builds():
    text = (REPO / "docs" / "configs_and_registries.md").read_text()
    block = re.search(r"```python\n(# example: memory-policy\n.*?)```", text, re.S).group(1)
    ns = {}
    if "VerifiedOnlyMemory" in {k for k, _ in MEMORY_REGISTRY}:
        MEMORY_REGISTRY._obj_map.pop("VerifiedOnlyMemory")
    exec(compile(block, "docs-example", "exec"), ns)
    cls = ns["VerifiedOnlyMemory"]
    try:
        assert MEMORY_REGISTRY.get("VerifiedOnlyMemory") is cls
        by_name = build(MEMORY_REGISTRY, "VerifiedOnlyMemory", capacity=4)
        by_lazy = instantiate(L(cls)(capacity=4))
        import torch

        for mem_policy in (by_name, by_lazy):
            mem = mem_policy.init(torch.zeros(1, 2, 3, 3), torch.zeros(1, 1, 3, 3))
            assert mem_policy.step(mem, torch.ones(1, 2, 3, 3), torch.ones(1, 1, 3, 3), verified=False) is False
            assert mem.size == 1  # unverified results are not stored
            assert mem_policy.step(mem, torch.ones(1, 2, 3, 3), torch.ones(1, 1, 3, 3), verified=True) is True
            assert mem.size == 2 and abs(float(mem.weights[:2].sum()) - 1) < 1e-9
    finally:
        MEMORY_REGISTRY._obj_map.pop("VerifiedOnlyMemory", None)
