"""Loading a LazyConfig with command-line overrides, checked before anything is built.

Every tool goes through :func:`load_config` / :func:`apply_overrides` so that a mistyped override
fails at once with a one-line :class:`ConfigError` instead of being silently added as a new key
(detectron2's ``LazyConfig.apply_overrides`` accepts any key):

* ``key=value`` without ``=`` is an error;
* a key that does not exist is an error naming the closest existing key (``difflib``). A key that
  is not in the config but is a parameter of the ``_target_`` of a ``LazyCall`` node (a default
  argument, e.g. ``model.proposer.score_thresh``) is accepted;
* a value whose type does not fit the current one (``train.max_iter=abc``) is an error; an
  integral float for an int is converted, a number for a string becomes the string;
* after the overrides, every local file ``train.init_checkpoint`` names must exist
  (:func:`check_weight_files`).

Parts picked by registered name (``_target_=GreedyAssociator``, ``L("Name")``) and the plug-in
modules of ``custom_imports`` are handled by :mod:`uvmos.utils.plugins` (the plug-ins are imported
before the other overrides are checked; registered names are resolved after them).
"""

from __future__ import annotations

import difflib
import inspect
import os
from typing import Any, Iterable, List, Optional, Sequence

from omegaconf import DictConfig, ListConfig, OmegaConf

from .errors import ConfigError, ToolExit
from .plugins import _registered, custom_imports, import_custom_modules, locate_target, resolve_registered_targets

__all__ = [
    "ToolExit",
    "ConfigError",
    "load_config",
    "apply_overrides",
    "check_weight_files",
    "config_keys",
    "check_output_dir",
    "check_output_file",
    "check_device",
    "check_video_config",
]


def config_keys(node: Any, prefix: str = "") -> List[str]:
    """Every dotted key of a config tree (without resolving interpolations)."""
    out: List[str] = []
    if isinstance(node, DictConfig):
        items = [(str(k), node._get_node(k)) for k in node.keys()]
    elif isinstance(node, ListConfig):
        items = [(str(i), node._get_node(i)) for i in range(len(node))]
    else:
        return out
    for k, child in items:
        key = f"{prefix}.{k}" if prefix else k
        out.append(key)
        if isinstance(child, (DictConfig, ListConfig)):
            out.extend(config_keys(child, key))
    return out


def _target_params(node: DictConfig) -> Optional[inspect.Signature]:
    """The signature of a LazyCall node's ``_target_`` (None when unknown)."""
    if "_target_" not in node:
        return None
    target = node._get_node("_target_")._value()
    if isinstance(target, str):
        try:
            target = locate_target(target)
        except Exception:
            return None
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def _suggest(key: str, cfg: DictConfig, extra: Iterable[str] = ()) -> str:
    keys = config_keys(cfg) + list(extra)
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    if not close:  # compare the last part only, within the deepest existing parent
        head, _, last = key.rpartition(".")
        siblings = [k for k in keys if k.rpartition(".")[0] == head]
        close = difflib.get_close_matches(key, siblings, n=1, cutoff=0.0) if siblings and last else []
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_key(cfg: DictConfig, key: str, override: str):
    """Return the current value (or a parameter's default, or None) of an existing/allowed key."""
    parts = key.split(".")
    node: Any = cfg
    for i, part in enumerate(parts):
        path = ".".join(parts[: i + 1])
        if isinstance(node, ListConfig):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"{override}: {'.'.join(parts[:i])} is a list of {len(node)}; {part!r} is no index in it"
                )
            node = node[int(part)]
            continue
        if not isinstance(node, DictConfig):
            raise ConfigError(f"{override}: {'.'.join(parts[:i])} is a value ({node!r}), not a config with keys")
        if part in node:
            child = node._get_node(part)
            if isinstance(child, (DictConfig, ListConfig)):
                node = child
            else:
                try:
                    node = node[part]
                except Exception:  # unresolvable interpolation or missing value: no type to check
                    node = None
            continue
        sig = _target_params(node)
        if sig is not None and i == len(parts) - 1:
            params = sig.parameters
            if part in params:
                default = params[part].default
                return None if default is inspect.Parameter.empty else default
            if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
                return None
        extra = [f"{'.'.join(parts[:i])}.{p}" for p in (sig.parameters if sig is not None else ())]
        raise ConfigError(f"{override}: unknown config key {path!r}{_suggest(key, cfg, extra)}")
    return node


def _coerce(value: Any, current: Any, override: str) -> Any:
    if current is None or isinstance(current, (DictConfig, ListConfig)) or value is None:
        return value
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{override}: expected true or false (current value {current!r}), got {value!r}")
        return value
    if isinstance(current, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{override}: expected an integer (current value {current!r}), got {value!r}")
        return value
    if isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{override}: expected a number (current value {current!r}), got {value!r}")
        return float(value)
    if isinstance(current, str) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return override.split("=", 1)[1].strip()
    if isinstance(current, (list, tuple)) and not isinstance(value, (list, tuple)):
        raise ConfigError(f"{override}: expected a list like [a,b] (current value {list(current)!r}), got {value!r}")
    return value


def apply_overrides(cfg: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """``LazyConfig.apply_overrides`` with the checks of this module's docstring (in place), then
    :func:`resolve_registered_targets`. ``custom_imports.imports=[...]`` is applied (and imported)
    first, so that the other overrides may name the parts it registers."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    overrides = list(overrides or [])
    overrides.sort(key=lambda o: not o.startswith("custom_imports."))  # stable: the rest keep their order
    replaced, explicit = [], []
    import_custom_modules(custom_imports(cfg))
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"override {override!r} has no '=': write KEY=VALUE, e.g. train.max_iter=100")
        try:
            (o,) = parser.parse_overrides([override])
        except Exception as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(f"override {override!r} cannot be parsed: {msg}") from None
        if o.is_delete() or o.is_add() or o.is_force_add():
            raise ConfigError(f"override {override!r}: only KEY=VALUE is supported (no ~, + or ++)")
        key = o.key_or_group
        if key == "custom_imports.imports":
            value = o.value()
            value = [value] if isinstance(value, str) else [str(v) for v in value or []]
            import_custom_modules(value)
            have = custom_imports(cfg)
            cfg.custom_imports = {"imports": have + [v for v in value if v not in have]}
            continue
        current = _check_key(cfg, key, override)
        value = _coerce(o.value(), current, override)
        explicit.append(key)
        if key.endswith("._target_"):
            if isinstance(value, str) and value and "." not in value:
                _registered(value)  # a clear error now rather than at instantiate()
            replaced.append(key[: -len("._target_")])
        OmegaConf.update(cfg, key, value, merge=True)
    return resolve_registered_targets(cfg, replaced, explicit)


def _is_local(path: str) -> bool:
    return "://" not in path


def check_weight_files(cfg: DictConfig) -> None:
    """Every local path ``train.init_checkpoint`` names (a path, or ``{submodule: path}``) must be
    an existing file."""
    value = OmegaConf.select(cfg, "train.init_checkpoint", default=None)
    items = value.items() if isinstance(value, DictConfig) else [(None, value)]
    for part, path in items:
        key = "train.init_checkpoint" + (f"[{part!r}]" if part is not None else "")
        if isinstance(path, str) and path and _is_local(path) and not os.path.isfile(os.path.expanduser(path)):
            what = "a folder, not a checkpoint file" if os.path.isdir(path) else "no such file"
            raise ConfigError(f"{key}={path}: {what}")


def load_config(path: str, overrides: Sequence[str] = (), check_files: bool = True) -> DictConfig:
    """Load a LazyConfig file and apply checked overrides; :class:`ConfigError` on any problem."""
    from detectron2.config import LazyConfig

    if not os.path.isfile(path):
        raise ConfigError(f"--config-file {path}: no such file")
    try:
        cfg = LazyConfig.load(path)
    except Exception as e:
        raise ConfigError(f"--config-file {path}: cannot be loaded ({type(e).__name__}: {e})") from None
    apply_overrides(cfg, overrides)
    if check_files:
        check_weight_files(cfg)
    return cfg


def check_output_dir(path: str, flag: str = "--output") -> str:
    """Create ``path`` (a folder) and prove it is writable, before any model is built.

    Raises :class:`ConfigError` naming ``flag`` and the path when it is a file, lies under a
    file, or cannot be written."""
    if not path:
        raise ConfigError(f"{flag}: empty path")
    path = os.path.expanduser(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"{flag} {path}: is a file, not a folder")
    parent = path
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent.rstrip(os.sep)) or "."
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise ConfigError(f"{flag} {path}: lies under {parent}, which is a file")
    try:
        os.makedirs(path, exist_ok=True)
        import tempfile

        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as e:
        raise ConfigError(f"{flag} {path}: cannot be written ({e.strerror or e})") from None
    return path


def check_output_file(path: str, flag: str) -> str:
    """``path`` will be written as a file: not a folder, and its folder writable."""
    path = os.path.expanduser(os.fspath(path))
    if os.path.isdir(path):
        raise ConfigError(f"{flag} {path}: is a folder; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ConfigError(f"{flag} {path}: lies under {parent}, which is a file")
    try:
        check_output_dir(os.path.dirname(os.path.abspath(path)), flag)
    except ConfigError as e:
        raise ConfigError(
            str(e).replace(f"{flag} {os.path.dirname(os.path.abspath(path))}", f"{flag} {path}")
        ) from None
    return path


def check_device(device: Optional[str], flag: str = "--device") -> None:
    """``cpu``, ``cuda`` or ``cuda:N`` that exists on this machine (None = automatic)."""
    if device is None:
        return
    import torch

    if device == "cpu":
        return
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ConfigError(f"{flag} {device}: no CUDA device on this machine; use --device cpu")
        if ":" in device and int(device[5:]) >= torch.cuda.device_count():
            raise ConfigError(f"{flag} {device}: only {torch.cuda.device_count()} CUDA device(s)")
        return
    raise ConfigError(f"{flag} {device!r}: expected cpu, cuda or cuda:N")


def check_video_config(cfg: DictConfig, config_file: str) -> None:
    """The config's model must be a video model (``run_video``), e.g. configs/uvmos/*.py."""
    model = cfg.get("model") if isinstance(cfg, DictConfig) else None
    sig_target = None
    if isinstance(model, DictConfig) and "_target_" in model:
        sig_target = model._get_node("_target_")._value()
        if isinstance(sig_target, str):
            from detectron2.utils.registry import locate

            try:
                sig_target = locate(sig_target)
            except Exception:
                sig_target = None
    if sig_target is None:
        raise ConfigError(f"--config-file {config_file}: has no model = L(...)(...) to build")
    if not hasattr(sig_target, "run_video"):
        name = getattr(sig_target, "__name__", str(sig_target))
        raise ConfigError(
            f"--config-file {config_file}: its model ({name}) is a per-frame model, not a video model; "
            "use a video config (configs/uvmos/*.py, configs/baselines/*.py)"
        )
