"""Plug-in projects: the core package never imports them; importing one registers its parts, and
tools/list_components.py lists them with --projects / --import."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True, cwd=REPO).stdout


def test_core_does_not_import_projects():
    out = _run(
        [
            "-c",
            "import sys, uvmos, uvmos.modeling, uvmos.engine, uvmos.evaluation; "
            "print(sorted(m for m in sys.modules if 'projects' in m))",
        ]
    )
    assert out.strip() == "[]"


def test_list_components_with_projects(capsys):
    import list_components

    list_components.main(["--projects"])
    out = capsys.readouterr().out
    assert "SOLOProposer" in out and "UnOVOSTAssociator" in out and "UnOVOSTSegmenter" in out
    assert "  SOLOv2 " in out  # the meta-architecture


def test_list_components_import_option(capsys):
    import list_components

    from uvmos.projects import available_projects

    assert {"uvmos.projects.SOLO", "uvmos.projects.UnOVOST"} <= set(available_projects())
    list_components.main(["--import", "uvmos.projects.SOLO", "--registry", "PROPOSER"])
    assert "SOLOProposer" in capsys.readouterr().out
