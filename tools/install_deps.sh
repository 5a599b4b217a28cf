#!/usr/bin/env bash
# Install uvmos' heavy dependencies into the Python given as $1 (a venv's python).
# Each step is skipped when what it installs already imports, so a second run is quick.
# Route (see README "Installing detectron2"): torch/torchvision from PyPI, detectron2's
# pure-Python code from the `sal-detectron2` wheel, then detectron2's runtime deps.
set -euo pipefail
PY=${1:-python}
TORCH_SPEC=${UVMOS_TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}

if ! "$PY" -c "import torch, torchvision" 2>/dev/null; then
  echo "[uvmos] installing $TORCH_SPEC"
  # shellcheck disable=SC2086
  "$PY" -m pip install $TORCH_SPEC
fi

if ! "$PY" -c "import detectron2, fvcore, pycocotools, cv2" 2>/dev/null; then
  echo "[uvmos] installing detectron2 (pure-Python build) and its runtime deps"
  PURELIB=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if ! "$PY" -c "import detectron2" 2>/dev/null; then
    "$PY" -m pip install --no-deps --only-binary=:all: --python-version 3.10 \
      --target "$PURELIB" --upgrade sal-detectron2==0.7.2
    # The wheel ships a top-level `tools` package that would shadow ours.
    rm -rf "$PURELIB/tools"
  fi
  "$PY" -m pip install fvcore iopath omegaconf hydra-core pycocotools opencv-python-headless \
    matplotlib tabulate termcolor yacs cloudpickle tensorboard "setuptools<81"
fi
"$PY" -c "import detectron2, torch; print('[uvmos] detectron2', detectron2.__version__, '| torch', torch.__version__)"
