"""One command-line convention for tools/ (uvmos.engine.defaults): ``--config-file``, the tool's
options, then trailing ``KEY=VALUE`` overrides; weights only as ``train.init_checkpoint``."""

import re

import pytest

from tests.conftest import REPO, load_tool
from uvmos.engine.defaults import default_argument_parser

FILES = sorted(p.stem for p in (REPO / "tools").glob("*.py"))
# the command-line tools; a helper module (e.g. bench_gpu_utils.py, imported by bench_gpu.py) has no command line
TOOLS = [n for n in FILES if 'if __name__ == "__main__":' in (REPO / "tools" / f"{n}.py").read_text()]


def test_trailing_overrides_are_not_swallowed_by_options():
    p = default_argument_parser("x")
    p.add_argument("--dataset", nargs="+")
    p.add_argument("--name")
    p.add_argument("--flag", action="store_true")
    a = p.parse_args(["--config-file", "c.py", "--dataset", "d1", "d2", "train.max_iter=3", "model.x=[1,2]"])
    assert a.dataset == ["d1", "d2"] and a.opts == ["train.max_iter=3", "model.x=[1,2]"]
    a = p.parse_args(["--config-file", "c.py", "--name", "a=b"])  # the value of a one-value option
    assert a.name == "a=b" and a.opts == []
    a = p.parse_args(["--config-file", "c.py", "train.init_checkpoint=", "--flag"])
    assert a.flag and a.opts == ["train.init_checkpoint="]
    assert p.parse_args(["--config-file", "c.py"]).opts == []


def test_a_tools_positional_comes_before_the_overrides():
    p = default_argument_parser("x", config_required=False)
    p.add_argument("mode", choices=["rss", "speed"])
    p.add_argument("--frames", type=int, nargs="+")
    a = p.parse_args(["rss", "--frames", "5", "10", "model.associator.memory.capacity=40"])
    assert (a.mode, a.frames, a.opts) == ("rss", [5, 10], ["model.associator.memory.capacity=40"])
    assert p.format_usage().rstrip().endswith("{rss,speed} [KEY=VALUE ...]")


def test_benchmark_run_takes_the_shared_options(capsys):
    import benchmark

    with pytest.raises(SystemExit) as e:  # parsed, then stops at the missing config: nothing runs
        benchmark.main(["run", "--config-file", "nope.py", "--videos", "1", "--allow-random-weights", "a.b=1"])
    assert e.value.code == 2 and "--config-file nope.py: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("name", FILES)
def test_no_tool_has_the_old_flags_or_loads_weights_itself(name):
    src = (REPO / "tools" / f"{name}.py").read_text()
    for flag in ("--opts", "--weights", "--checkpoint", "--random-weights", "--config"):
        assert not re.search(rf"add_argument\(\s*[\"']{flag}[\"']", src), (name, flag)
    assert "DetectionCheckpointer(" not in src and "LazyConfig.load(" not in src, name


@pytest.mark.parametrize("name", [t for t in TOOLS if t != "train_net"])
def test_help(name, capsys):
    with pytest.raises(SystemExit) as e:
        load_tool(name).main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage:" in out and "--opts" not in out
    if "--config-file" in out and name != "benchmark":
        assert "[KEY=VALUE ...]" in out, name
