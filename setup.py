"""Package metadata lives in pyproject.toml; this file only puts the configs into built wheels.

In a source checkout (``pip install -e .``), ``uvmos.model_zoo.get_config_file`` reads
``configs/`` in place. A wheel has no checkout, so its build copies ``configs/`` to
``uvmos/model_zoo/configs`` (detectron2 does the same for its model-zoo configs).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithConfigs(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        src = Path(__file__).resolve().parent / "configs"
        dst = Path(self.build_lib) / "uvmos" / "model_zoo" / "configs"
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildPyWithConfigs})
