"""uvmos: unsupervised video multi-object segmentation on Detectron2.

detectron2 is deliberately not in ``install_requires``: it is not on PyPI (install it from its
source, see README), and the pure-Python build used by ``make install`` is known to pip as
``sal-detectron2``. ``import uvmos`` checks for it with a clear message. torch/torchvision are
likewise installed beforehand (README), so that pip never picks a different build.
"""
from setuptools import find_packages, setup

setup(
    name="uvmos",
    version="0.1.0",
    description="Unsupervised video multi-object segmentation (D-Net + T-Net) on Detectron2",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["uvmos", "uvmos.*"]),
    package_data={"uvmos": ["model_zoo/*.pth", "model_zoo/*.md"]},
    install_requires=[
        "numpy",
        "scipy",
        "fvcore",
        "iopath",
        "pycocotools",
        "opencv-python-headless",
        "lvis",
        "tqdm",
        "scikit-image",  # its bundled sample images texture the synthetic benchmark
        "Pillow",
        "matplotlib",
        "trackeval",  # ID switches / IDF1 next to J&F (uvmos/evaluation/id_metrics.py)
        "av",  # PyAV: H.264 overlay videos that browsers play (its wheel ships FFmpeg + libx264)
    ],
    extras_require={
        "dev": ["pytest", "pytest-timeout", "vos-benchmark"],
    },
)
