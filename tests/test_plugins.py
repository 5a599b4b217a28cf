"""The plug-in promise: a part registered outside the package (a user's file, or a project under
projects/) is picked by its registered name, in a config file and from the command line."""

import textwrap

import numpy as np
import pytest
from detectron2.config import LazyConfig, instantiate

from uvmos.model_zoo import get_config, get_config_file
from uvmos.utils.config import ConfigError, load_config

PLUGIN = '''
from uvmos.modeling.tnet.memory import FixedRateMemory
from uvmos.registry import MEMORY_REGISTRY


@MEMORY_REGISTRY.register()
class EveryFrameMemory(FixedRateMemory):
    """Refit the target model on every frame (a user's memory policy)."""

    def __init__(self, gamma: float = 0.1, capacity: int = 80):
        super().__init__(gamma, capacity, update_every=1)
        self.steps = 0

    def step(self, mem, x, y, pw=None, verified=False, matched=True):
        self.steps += 1
        return super().step(mem, x, y, pw, verified, matched)
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):  # one file per process: a registry takes a name once
    path = tmp_path_factory.mktemp("plugin") / "everyframe_memory.py"
    path.write_text(PLUGIN)
    return str(path)


def test_by_name_in_a_config_file_outside_the_repo(tmp_path, plugin):
    cfg_file = tmp_path / "my_ablation.py"
    cfg_file.write_text(
        textwrap.dedent(f"""
        from detectron2.config import LazyCall as L
        from uvmos.model_zoo import get_config

        _base = get_config("uvmos/tiny_cpu.py")
        model, train = _base.model, _base.train
        custom_imports = dict(imports=[{plugin!r}])
        model.associator.memory = L("EveryFrameMemory")(gamma=0.2)
    """)
    )
    cfg = load_config(str(cfg_file))
    memory = instantiate(cfg.model.associator.memory)
    assert type(memory).__name__ == "EveryFrameMemory" and memory.gamma == pytest.approx(0.2)
    # the dumped config names the part by an importable path and reloads
    LazyConfig.save(cfg, str(tmp_path / "config.yaml"))
    again = load_config(str(tmp_path / "config.yaml"))
    assert type(instantiate(again.model.associator.memory)).__name__ == "EveryFrameMemory"


def test_by_name_from_the_command_line_and_it_runs(plugin):
    cfg = get_config(
        "uvmos/tiny_cpu.py", [f"custom_imports.imports=[{plugin}]", "model.associator.memory._target_=EveryFrameMemory"]
    )
    assert "verified_factor" not in cfg.model.associator.memory  # AdaptiveMemory's key, dropped
    from uvmos.engine import VideoPredictor

    predictor = VideoPredictor(cfg, device="cpu")
    memory = predictor.model.associator.memory
    assert type(memory).__name__ == "EveryFrameMemory"
    rng = np.random.default_rng(0)
    frames = np.full((4, 96, 128, 3), 90, np.uint8)
    for t in range(4):  # a bright square moving right
        frames[t, 30:70, 20 + 8 * t : 60 + 8 * t] = rng.integers(180, 255, 3, dtype=np.uint8)
    outputs = [out for _, out in predictor(frames)]
    assert len(outputs) == 4 and outputs[0].id_map.shape == (96, 128)


def test_project_part_by_name():
    cfg = load_config(
        get_config_file("uvmos/tiny_cpu.py"),
        ["custom_imports.imports=[uvmos.projects.UnOVOST]", "model.associator._target_=UnOVOSTAssociator"],
    )
    assert cfg.model.associator._target_.endswith("unovost.associator.UnOVOSTAssociator")
    assert type(instantiate(cfg.model.associator)).__name__ == "UnOVOSTAssociator"


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="no part is registered.*custom_imports"):
        get_config("uvmos/tiny_cpu.py", ["model.associator._target_=NoSuchTracker"])
    with pytest.raises(ConfigError, match="custom_imports: no_such_module_xyz"):
        get_config("uvmos/tiny_cpu.py", ["custom_imports.imports=[no_such_module_xyz]"])


def test_replacing_a_part_keeps_what_the_command_line_sets():
    cfg = get_config(
        "uvmos/tiny_cpu.py",
        [
            "model.associator._target_=GreedyAssociator",
            "model.associator.match_thresh=0.45",
            "model.associator.features=null",
        ],
    )
    node = cfg.model.associator
    assert node.match_thresh == 0.45 and node.features is None  # set here: kept
    assert "target_model" not in node and "memory" not in node  # T-Net's: dropped
    assert node.proposal_score_thresh == pytest.approx(0.1)  # T-Net's scalar, also a Greedy argument: kept
    assert type(instantiate(node)).__name__ == "GreedyAssociator"
