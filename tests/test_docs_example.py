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


def test_memory_config_example_outside_the_repository(tmp_path):
    """The page's plug-in file and config, copied outside the repo, load and build by name
    (in a fresh process: a registry takes a name once)."""
    import subprocess
    import sys

    text = (REPO / "docs" / "configs_and_registries.md").read_text()
    plugin = re.search(r"```python\n(# example: memory-policy\n.*?)```", text, re.S).group(1)
    config = re.search(r"```python\n(# example: memory-config\n.*?)```", text, re.S).group(1)
    (tmp_path / "my_plugins").mkdir()
    (tmp_path / "my_plugins" / "verified_only_memory.py").write_text(plugin)
    (tmp_path / "my_ablation.py").write_text(config)
    check = (
        "from detectron2.config import instantiate\n"
        "from uvmos.utils.config import load_config\n"
        "cfg = load_config('my_ablation.py')\n"
        "m = instantiate(cfg.model.associator.memory)\n"
        "print(type(m).__name__, m.update_every, m.add_unverified)\n"
    )
    out = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["VerifiedOnlyMemory", "0", "False"]
