"""uvmos: unsupervised video multi-object segmentation on Detectron2.

Importing ``uvmos`` registers every built-in component (see ``uvmos.registry``) and every
built-in dataset (see ``uvmos.data.builtin``).
"""

__version__ = "0.1.0"

import warnings

# detectron2 scripts a few helpers with torch.jit.script, which newer torch deprecates noisily.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)

try:
    import detectron2  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only without detectron2
    raise ImportError(
        "uvmos needs detectron2, which is not on PyPI. Install it from source "
        "(pip install 'git+https://github.com/facebookresearch/detectron2.git'), or run "
        "`make install` in the uvmos checkout, which installs a pure-Python build. "
        f"Original error: {e}"
    ) from e

from . import registry  # noqa: E402,F401
from .utils.imports import import_builtin_components  # noqa: E402

import_builtin_components()
