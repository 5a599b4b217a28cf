"""Import every built-in module so its components land in the registries."""

import importlib
import logging
import pkgutil

_BUILTIN_PACKAGES = ["uvmos.modeling", "uvmos.data"]
_done = False


def import_builtin_components() -> None:
    """Walk ``uvmos.modeling`` and import each submodule once (registration side effects).

    ``uvmos.data`` is imported as a package; its ``__init__`` registers the datasets.
    """
    global _done
    if _done:
        return
    _done = True
    for pkg_name in _BUILTIN_PACKAGES:
        try:
            pkg = importlib.import_module(pkg_name)
        except ModuleNotFoundError as e:
            if e.name == pkg_name:
                continue
            raise
        if not hasattr(pkg, "__path__"):
            continue
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg_name + "."):
            if pkg_name == "uvmos.data":
                continue
            importlib.import_module(info.name)
    logging.getLogger(__name__).debug("uvmos built-in components imported")
