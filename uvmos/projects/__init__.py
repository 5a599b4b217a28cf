"""The repository's plug-in projects, importable as ``uvmos.projects.<Folder>``.

As in detectron2 (``detectron2.projects``), the projects under ``<repo>/projects/`` are not part
of the installed package: they are plug-ins that the core never imports. In a source checkout
installed in place (``pip install -e .``, which ``make install`` does), this module adds a
finder so that ``import uvmos.projects.SOLO`` loads ``<repo>/projects/SOLO/__init__.py``, and
with it registers the project's parts (e.g. ``SOLOProposer`` in ``PROPOSER_REGISTRY``). No tool
or config needs ``sys.path`` edits or ``PYTHONPATH`` for that.

A config selects such a part by its registered name once the project is imported, e.g.
``custom_imports = dict(imports=["uvmos.projects.SOLO"])`` and ``model.proposer = L("SOLOProposer")(...)``
(see :func:`uvmos.utils.plugins.resolve_registered_targets` and docs/configs_and_registries.md).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path
from typing import List

__all__ = ["PROJECT_ROOT", "available_projects"]

PROJECT_ROOT = Path(__file__).resolve().parents[2] / "projects"


def available_projects() -> List[str]:
    """``uvmos.projects.<name>`` for every importable project folder (one with ``__init__.py``)."""
    if not PROJECT_ROOT.is_dir():
        return []
    return sorted(
        f"{__name__}.{d.name}"
        for d in PROJECT_ROOT.iterdir()
        if (d / "__init__.py").is_file() and d.name.isidentifier()
    )


class _ProjectsFinder(importlib.abc.MetaPathFinder):
    """Maps ``uvmos.projects.<Folder>`` to the package ``<repo>/projects/<Folder>``."""

    def find_spec(self, name, path, target=None):
        parts = name.split(".")
        if len(parts) != 3 or parts[:2] != ["uvmos", "projects"]:
            return None
        init = PROJECT_ROOT / parts[2] / "__init__.py"
        if not init.is_file():
            return None
        return importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])


if PROJECT_ROOT.is_dir() and not any(isinstance(f, _ProjectsFinder) for f in sys.meta_path):
    # True only in a source checkout installed in place; a wheel install has no projects/.
    sys.meta_path.append(_ProjectsFinder())
