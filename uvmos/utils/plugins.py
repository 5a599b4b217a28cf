"""Parts picked by registered name, and the plug-in modules that register them.

MMEngine's ``type=`` idea on detectron2's LazyConfig (docs/configs_and_registries.md):

* a ``_target_`` that is a bare name, e.g. ``L("GreedyAssociator")(...)`` in a config or
  ``model.associator._target_=GreedyAssociator`` on the command line, is looked up in every
  registry of :mod:`uvmos.registry` and replaced by the part's importable dotted path
  (:func:`resolve_registered_targets`), so a dumped config reloads;
* ``custom_imports = dict(imports=["my_pkg.parts", "path/to/my_part.py"])`` (MMEngine's key, at
  the top of a config; ``custom_imports.imports=[...]`` on the command line) names the modules, or
  files, to import first: a plug-in registers its parts there.
  The repository's projects are modules like any other (``uvmos.projects.SOLO``);
* when an override replaces a node's ``_target_``, the keys the new part does not take, and the
  sub-parts (LazyCall nodes) built for the old part, are dropped and logged; the new part's
  defaults apply, except for keys that the same command line sets.

The overrides themselves are checked and applied by :func:`uvmos.utils.config.apply_overrides`.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import logging
import os
import sys
from typing import Any, Iterable, List

from omegaconf import DictConfig, ListConfig

from .errors import ConfigError

__all__ = ["import_custom_modules", "custom_imports", "locate_target", "resolve_registered_targets"]

logger = logging.getLogger(__name__)


def import_custom_modules(names: Iterable[str]) -> None:
    """Import each plug-in module (a dotted name, or a ``.py`` file imported under its stem)."""
    for name in names or []:
        name = str(name)
        if name.endswith(".py"):
            path = os.path.abspath(os.path.expanduser(name))
            if not os.path.isfile(path):
                raise ConfigError(f"custom_imports: {name}: no such file")
            stem = os.path.splitext(os.path.basename(path))[0]
            loaded = sys.modules.get(stem)
            if loaded is not None:
                if os.path.abspath(getattr(loaded, "__file__", "") or "") != path:
                    raise ConfigError(f"custom_imports: {name}: a different module named {stem!r} is already imported")
                continue
            spec = importlib.util.spec_from_file_location(stem, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[stem] = module
            try:
                spec.loader.exec_module(module)
            except Exception as e:
                del sys.modules[stem]
                raise ConfigError(f"custom_imports: {name}: cannot be imported ({type(e).__name__}: {e})") from e
            continue
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise ConfigError(f"custom_imports: {name}: cannot be imported ({e})") from e


def custom_imports(cfg: DictConfig) -> List[str]:
    """The modules ``cfg.custom_imports.imports`` names (``[]`` when none)."""
    node = cfg.get("custom_imports", None)
    if node is None:
        return []
    if not isinstance(node, DictConfig) or set(node.keys()) - {"imports"}:
        raise ConfigError("custom_imports must be dict(imports=[module or file.py, ...])")
    imports = node.get("imports", None) or []
    return [str(imports)] if isinstance(imports, str) else [str(m) for m in imports]


def _registered(name: str) -> Any:
    """The one part registered as ``name`` in any uvmos or detectron2 registry."""
    from uvmos.registry import ALL_REGISTRIES
    from uvmos.utils.imports import import_builtin_components

    import_builtin_components()
    found = {id(reg.get(name)): (reg_name, reg.get(name)) for reg_name, reg in ALL_REGISTRIES.items() if name in reg}
    if len(found) > 1:
        where = ", ".join(sorted(r for r, _ in found.values()))
        raise ConfigError(f"_target_={name}: registered under that name in {where}; give its dotted path instead")
    if not found:
        known = [k for reg in ALL_REGISTRIES.values() for k, _ in reg]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"_target_={name}: no part is registered under that name{hint} (a plug-in registers its parts "
            "when imported: add it to custom_imports, e.g. custom_imports.imports=[uvmos.projects.SOLO]; "
            "`python tools/list_components.py` lists the registered names)"
        )
    return next(iter(found.values()))[1]


def locate_target(target: str) -> Any:
    """A ``_target_`` string: a registered name (no dot) or an importable dotted path."""
    if "." not in target:
        return _registered(target)
    from detectron2.utils.registry import locate

    return locate(target)


def _dotted_path(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _drop_foreign_keys(node: DictConfig, key: str, target: Any, explicit: Iterable[str] = ()) -> None:
    """After an override replaced ``key._target_``: drop the keys the new target does not take,
    and the sub-parts (LazyCall nodes) that were built for the old one, unless set by an override."""
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    keep = {k.split(".")[0] for k in (e[len(key) + 1 :] for e in explicit if e.startswith(key + "."))}
    dropped = []
    for k in [k for k in node.keys() if k != "_target_" and k not in keep]:
        child = node._get_node(k)
        if (k not in params and not takes_any) or (isinstance(child, DictConfig) and "_target_" in child):
            del node[k]
            dropped.append(str(k))
    if dropped:
        logger.warning(
            f"{key}._target_={getattr(target, '__name__', target)}: dropped the keys of the part it replaces: "
            f"{', '.join(dropped)}"
        )


def resolve_registered_targets(
    cfg: DictConfig, replaced: Iterable[str] = (), explicit: Iterable[str] = ()
) -> DictConfig:
    """Import ``cfg.custom_imports``, then turn every registered-name ``_target_`` into its dotted
    path (in place). ``replaced``: keys whose ``_target_`` an override set; ``explicit``: every key
    an override set (see the module doc)."""
    import_custom_modules(custom_imports(cfg))
    replaced = set(replaced)

    def walk(node: Any, key: str) -> None:
        if isinstance(node, DictConfig):
            if "_target_" in node:
                target = node._get_node("_target_")._value()
                if isinstance(target, str) and target and "." not in target:
                    node["_target_"] = _dotted_path(_registered(target))
                if key in replaced:
                    value = node._get_node("_target_")._value()
                    _drop_foreign_keys(node, key, locate_target(value) if isinstance(value, str) else value, explicit)
            for k in list(node.keys()):
                walk(node._get_node(k), f"{key}.{k}" if key else str(k))
        elif isinstance(node, ListConfig):
            for i in range(len(node)):
                walk(node._get_node(i), f"{key}.{i}")

    walk(cfg, "")
    return cfg
