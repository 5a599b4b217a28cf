"""Every runnable video config names weights for all of its parameters in ``train.init_checkpoint``
(a whole-model file, or parts that together cover the model): a part left without weights is a
config bug that would stop ``tools/benchmark.py table`` at run time."""

import pytest
from detectron2.config import instantiate

from tests.conftest import REPO
from uvmos.utils.config import load_config

CONFIGS = sorted(
    str(p.relative_to(REPO))
    for pattern in ("configs/uvmos/*tiny*.py", "configs/baselines/*tiny*.py", "projects/*/configs/*_tiny.py")
    for p in REPO.glob(pattern)
)


@pytest.mark.parametrize("config", CONFIGS)
def test_init_checkpoint_covers_every_parameter(config):
    cfg = load_config(str(REPO / config), check_files=False)
    model = instantiate(cfg.model)
    params = [k for k, _ in model.named_parameters()]
    spec = cfg.train.get("init_checkpoint", "")
    if isinstance(spec, str):
        assert spec or not params, f"{config}: {len(params)} parameters and no train.init_checkpoint"
        return
    if "" in spec and spec[""]:
        return  # a whole-model file, plus parts
    parts = tuple(p + "." for p, path in spec.items() if path)
    uncovered = sorted({k.rsplit(".", 1)[0] for k in params if not k.startswith(parts)})
    assert not uncovered, f"{config}: no weights named for {uncovered[:3]}"


def test_the_list_is_not_empty():
    assert len(CONFIGS) >= 6 and any("UnOVOST" in c for c in CONFIGS), CONFIGS
