"""Checkpoints that are never half-written, checked when trusted, and never silently random.

* :class:`AtomicCheckpointer` -- detectron2's ``DetectionCheckpointer`` whose ``save`` writes to a
  temporary file that is renamed into place (``last_checkpoint`` too), so a run killed while
  saving leaves the previous checkpoint intact; a checkpoint that cannot be read is a
  :class:`CheckpointError` naming the file, and on ``resume`` an unreadable last checkpoint falls
  back to the newest readable one (``model_final.pth`` -> ``model_0004999.pth`` ...), or is refused.
  Every load logs what matched; a checkpoint of which less than half of the tensors fit the model
  (e.g. a video model's weights loaded into a D-Net config) is an error. It is also the one way
  weights enter a model (``train.init_checkpoint``; no constructor reads a file), and it takes:

  - a checkpoint of the whole model (detectron2's idiom). A proposer's checkpoint (a trained
    D-Net's ``model_final.pth``) loads into a ``VideoSegmenter`` under ``proposer.``;
  - an ImageNet ResNet file (MSRA ``.pkl``, torchvision ``.pth``; :mod:`uvmos.modeling.backbone`),
    loaded into every ResNet of the model it fits: D-Net's backbone, and the SGM's 4-channel stem
    with the RGB filters plus their mean (§3.1);
  - ``{submodule: file}`` for parts, e.g. ``{"proposer": "dnet.pth", "associator.features.backbone":
    "R-101.pkl", "associator.reid": "reid.pth"}`` (``""``: the whole model). A part takes an
    ImageNet file into its ResNets, a detectron2 ``.pkl`` through detectron2's name matching, or
    any checkpoint whose keys end like the part's (``head.mlp.0.weight`` -> ``mlp.0.weight``).
* :class:`AtomicJSONWriter` (:mod:`uvmos.engine.hooks`, re-exported here) -- ``metrics.json``
  rewritten through a temporary file on each write, so the file always holds whole lines.
* :func:`load_inference_weights` -- what the inference tools use: loads ``checkpoint`` and refuses
  a model that would run (partly) with random weights unless ``allow_random`` (paper-free
  choice: a random model gives plausible-looking but meaningless masks).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Set, Union

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling.backbone import ResNet
from torch import nn

from uvmos.utils.file_io import atomic_write, atomic_write_bytes

from .hooks import AtomicJSONWriter  # re-exported: tools/train_net.py imports it from here

__all__ = [
    "CheckpointError",
    "AtomicCheckpointer",
    "AtomicJSONWriter",
    "load_inference_weights",
    "MIN_MATCHED_FRACTION",
]

logger = logging.getLogger(__name__)

MIN_MATCHED_FRACTION = 0.5  # of the checkpoint's tensors that must fit the model


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


InitCheckpoint = Union[str, Mapping[str, str], None]


def _imagenet_state(state: Dict[str, Any], source: str):
    """``(state_dict, layout)`` when a loaded state dict is ImageNet ResNet weights (not a
    checkpoint of a model holding a ResNet, whose keys carry the module's name), else None."""
    from uvmos.modeling.backbone import imagenet_state_from_dict

    if any(k.startswith(("proposer.", "backbone.", "associator.")) for k in state):
        return None
    try:
        return imagenet_state_from_dict(state, source)
    except ValueError:
        return None


def _resnets(module: nn.Module, prefix: str = ""):
    """``(name, ResNet)`` of every detectron2 ResNet in ``module`` (outermost ones)."""
    if isinstance(module, ResNet):
        return [(prefix, module)]
    out = []
    for name, child in module.named_children():
        out += _resnets(child, f"{prefix}.{name}" if prefix else name)
    return out


def _by_suffix(module: nn.Module, state: Dict[str, Any]) -> Dict[str, torch.Tensor]:
    """The entries of ``state`` for ``module``'s tensors: the same key or, failing that, the
    shortest key ending in ``.<key>`` (a part taken from a larger model), of the right shape."""
    by_len = sorted(state, key=len)
    out = {}
    for k, v in module.state_dict().items():
        src = k if k in state else next((c for c in by_len if c.endswith("." + k)), None)
        if src is None:
            continue
        w = torch.as_tensor(state[src]) if isinstance(state[src], np.ndarray) else state[src]
        if tuple(w.shape) == tuple(v.shape):
            out[k] = w
    return out


def _iteration_of(path: str) -> int:
    m = re.search(r"model_(\d+)\.pth$", path)
    return int(m.group(1)) if m else -1


class AtomicCheckpointer(DetectionCheckpointer):
    """``DetectionCheckpointer`` with atomic saves, checked loads and a verified resume."""

    def __init__(self, *args, min_matched_fraction: float = MIN_MATCHED_FRACTION, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_matched_fraction = min_matched_fraction
        self.loaded_params: Set[str] = set()  # names of the model's parameters loaded so far
        self.last_incompatible = None
        self.loaded_path: Optional[str] = None

    # -- saving -------------------------------------------------------------------------------
    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info("Saving checkpoint to %s", save_file)
        atomic_write(save_file, lambda f: torch.save(data, f), fsync=True)
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        path = os.path.join(self.save_dir, "last_checkpoint")
        atomic_write_bytes(path, last_filename_basename.encode(), fsync=True)

    # -- loading ------------------------------------------------------------------------------
    def _load_file(self, filename: str) -> Dict[str, Any]:
        try:
            data = super()._load_file(filename)
        except CheckpointError:
            raise
        except Exception as e:  # truncated zip, pickle garbage, not a checkpoint ...
            raise CheckpointError(
                f"{filename}: unreadable checkpoint ({type(e).__name__}: {e}); was it written completely?"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
            raise CheckpointError(f"{filename}: not a model checkpoint (no 'model' state dict)")
        return data

    def load(self, path: InitCheckpoint, checkpointables: Optional[List[str]] = None) -> Dict[str, Any]:
        if isinstance(path, Mapping):
            self.load_init(path)
            return {}
        if path and "://" not in path and not os.path.isfile(path):
            raise CheckpointError(f"{path}: checkpoint file not found")
        if path and "://" in path:
            path = self._fetch(path)
        self.last_incompatible = None
        self._loading = path
        try:
            out = super().load(path, checkpointables=checkpointables)
        finally:
            self._parsed_url_during_load = None  # detectron2 asserts it is None at the next load
        inc = self.last_incompatible
        if path and inc is not None:
            skipped = set(inc.missing_keys) | {k for k, *_ in inc.incorrect_shapes}
            self.loaded_params |= {k for k, _ in self.model.named_parameters() if k not in skipped}
        self.loaded_path = path or None
        return out

    def _fetch(self, url: str) -> str:
        """The local copy of a URL (detectron2://, https://); offline: a clear error."""
        try:
            return self.path_manager.get_local_path(url)
        except Exception as e:
            raise CheckpointError(
                f"{url}: cannot be fetched ({type(e).__name__}: {e}); download it where the network is "
                "reachable and give its local path"
            ) from None

    def load_init(self, spec: InitCheckpoint) -> Set[str]:
        """Load ``train.init_checkpoint`` (a path or ``{submodule: path}``, see the module doc);
        return the names of the model's parameters that were loaded."""
        if isinstance(spec, Mapping):
            for prefix, path in spec.items():
                if path:
                    self._load_part(str(prefix), str(path))
        elif spec:
            self.load(str(spec), checkpointables=[])
        return set(self.loaded_params)

    def _load_imagenet(self, module: nn.Module, imagenet, path: str, prefix: str) -> Set[str]:
        """ImageNet ``(state, layout)`` into every ResNet of ``module`` it fits (read once)."""
        from uvmos.modeling.backbone import load_imagenet_state

        loaded: Set[str] = set()
        tried = []
        for name, resnet in _resnets(module, prefix):
            try:
                load_imagenet_state(resnet, *imagenet, path)
            except ValueError as e:
                tried.append(f"{name or 'model'}: {str(e).split(': ', 1)[-1][:120]}")
                continue
            loaded |= {f"{name}.{k}" if name else k for k, _ in resnet.named_parameters()}
        if not loaded:
            raise CheckpointError(
                f"{path}: ImageNet ResNet weights, but no ResNet of {prefix or 'the model'} "
                f"takes them ({'; '.join(tried) or 'it has none'})"
            )
        return loaded

    def _load_part(self, prefix: str, path: str) -> None:
        if not prefix:
            self.load(path, checkpointables=[])
            return
        try:
            part = self.model.get_submodule(prefix)
        except AttributeError:
            names = [n for n, _ in self.model.named_children()]
            raise CheckpointError(
                f"train.init_checkpoint: the model has no submodule {prefix!r} (its top-level parts: {names})"
            ) from None
        if "://" not in path and not os.path.isfile(path):
            raise CheckpointError(f"{path}: checkpoint file not found (train.init_checkpoint[{prefix!r}])")
        if path.endswith((".pkl", ".pyth")) or "://" in path:  # detectron2's reader (and name matching)
            sub = AtomicCheckpointer(part, min_matched_fraction=self.min_matched_fraction)
            sub.load(path, checkpointables=[])
            self.loaded_params |= {f"{prefix}.{k}" for k in sub.loaded_params}
            self.loaded_path = path
            return
        try:
            data = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:
            raise CheckpointError(f"{path}: unreadable checkpoint ({type(e).__name__}: {e})") from None
        state = data.get("model", data) if isinstance(data, dict) else None
        if not isinstance(state, dict):
            raise CheckpointError(f"{path}: neither a state dict nor a detectron2 checkpoint")
        imagenet = _imagenet_state(state, path)
        if imagenet is not None:
            self.loaded_params |= self._load_imagenet(part, imagenet, path, prefix)
        else:
            found = _by_suffix(part, state)
            if not found:
                raise CheckpointError(f"{path}: no tensor fits {prefix} ({type(part).__name__})")
            part.load_state_dict(found, strict=False)
            n_own = len(part.state_dict())
            self.logger.info("Loaded %s into %s: %d of its %d tensors", path, prefix, len(found), n_own)
            params = {k for k, _ in part.named_parameters()}
            self.loaded_params |= {f"{prefix}.{k}" for k in found if k in params}
        self.loaded_path = path

    def _remap(self, state: Dict[str, Any]) -> Dict[str, Any]:
        """Older and partial checkpoints: ``associator_modules.`` (before associators were modules)
        -> ``associator.``; a proposer's own checkpoint loaded into a video model -> ``proposer.``."""
        state = {
            ("associator." + k[len("associator_modules.") :] if k.startswith("associator_modules.") else k): v
            for k, v in state.items()
        }
        proposer = getattr(self.model, "proposer", None)
        if (
            isinstance(proposer, nn.Module)
            and state
            and not any(k.startswith(("proposer.", "associator.")) for k in state)
        ):
            own = set(proposer.state_dict())
            if sum(k in own for k in state) >= max(1, len(state) // 2):
                state = {("proposer." + k if k in own else k): v for k, v in state.items()}
        return state

    def _load_model(self, checkpoint: Any):
        path = getattr(self, "_loading", None) or "checkpoint"
        imagenet = _imagenet_state(checkpoint["model"], path) if isinstance(checkpoint.get("model"), dict) else None
        if imagenet is not None:  # ImageNet weights: into every ResNet of the model they fit
            self.loaded_params |= self._load_imagenet(self.model, imagenet, path, "")
            self.last_incompatible = None
            return None
        if isinstance(checkpoint.get("model"), dict):
            checkpoint["model"] = self._remap(checkpoint["model"])
        n_ckpt = len(checkpoint.get("model", {}))
        incompatible = super()._load_model(checkpoint)
        self.last_incompatible = incompatible
        if incompatible is None:
            return incompatible
        n_model = len(self.model.state_dict())
        unused = len(incompatible.unexpected_keys) + len(incompatible.incorrect_shapes)
        self.logger.info(
            "Loaded %s: %d of its %d tensors used; %d of the model's %d tensors not in it",
            path,
            n_ckpt - unused,
            n_ckpt,
            len(incompatible.missing_keys),
            n_model,
        )
        if n_ckpt and (n_ckpt - unused) < self.min_matched_fraction * n_ckpt:
            example = (incompatible.unexpected_keys or [k for k, *_ in incompatible.incorrect_shapes])[:2]
            raise CheckpointError(
                f"{path}: only {n_ckpt - unused} of its {n_ckpt} tensors fit this model (e.g. {example} do not); "
                "is it the checkpoint of another config?"
            )
        return incompatible

    def resume_or_load(self, path: str, *, resume: bool = True) -> Dict[str, Any]:
        """As detectron2's, but the last checkpoint is loaded and checked; an unreadable one is
        skipped for the newest readable ``*.pth`` of the folder (with a warning), else refused."""
        if self.save_dir and os.path.isdir(self.save_dir) and self.save_to_disk:
            for name in os.listdir(self.save_dir):  # temp files of a save killed half-way
                if name.startswith((".tmp-model_", ".tmp-last_checkpoint", ".tmp-metrics.json")):
                    os.unlink(os.path.join(self.save_dir, name))
        if not (resume and self.has_checkpoint()):
            self.load_init(path)
            return {}
        last = self.get_checkpoint_file()
        final = os.path.join(self.save_dir, "model_final.pth")
        if os.path.isfile(final) and os.path.abspath(final) != os.path.abspath(last):
            # written after the last tagged checkpoint (e.g. killed before the tag): check it too,
            # so a truncated model_final.pth is not left for --eval-only to trip over
            try:
                self._load_file(final)
            except CheckpointError as e:
                os.replace(final, final + ".corrupt")
                logger.warning("%s (renamed to %s.corrupt; it is rewritten when training finishes)", e, final)
        others = sorted(
            (p for p in self.get_all_checkpoint_files() if os.path.abspath(p) != os.path.abspath(last)),
            key=lambda p: (_iteration_of(p) if not p.endswith("model_final.pth") else 1 << 62, os.path.getmtime(p)),
            reverse=True,
        )
        errors: List[str] = []
        for candidate in ([last] if last else []) + others:
            try:
                out = self.load(candidate)
            except CheckpointError as e:
                errors.append(str(e))
                if os.path.isfile(candidate) and "unreadable checkpoint" in str(e):
                    # keep it for inspection, but out of the way: model_final.pth is then rewritten
                    os.replace(candidate, candidate + ".corrupt")
                    logger.warning("cannot resume from %s (renamed to %s.corrupt): %s", candidate, candidate, e)
                else:
                    logger.warning("cannot resume from %s: %s", candidate, e)
                continue
            if errors:
                logger.warning("resuming from %s instead (the newer checkpoint is unusable)", candidate)
                self.tag_last_checkpoint(os.path.basename(candidate))
            return out
        raise CheckpointError(
            f"{self.save_dir}: no usable checkpoint to resume from ({'; '.join(errors) or 'none found'}); "
            "delete the broken files or run without --resume"
        )


# ----------------------------------------------------------------------------------------------
# inference: which weights, and none random
# ----------------------------------------------------------------------------------------------
def _describe(spec: InitCheckpoint) -> str:
    if isinstance(spec, Mapping):
        return "{" + ", ".join(f"{k or '(model)'}: {v}" for k, v in spec.items()) + "}"
    return str(spec)


def load_inference_weights(
    model: torch.nn.Module,
    checkpoint: InitCheckpoint,
    *,
    allow_random: bool = False,
    what: str = "train.init_checkpoint",
) -> Optional[str]:
    """Load ``checkpoint`` (``train.init_checkpoint``: a path or ``{submodule: path}``) into
    ``model`` for inference, and refuse random weights.

    After loading, every parameter must come from it; otherwise a :class:`CheckpointError` names the
    random modules and how to give them weights (or pass ``--allow-random-weights``). Logs what was
    loaded. Returns a description of the checkpoint (None when none was loaded).
    """
    params = [k for k, _ in model.named_parameters()]
    loaded: Set[str] = set()
    if checkpoint:
        loaded = AtomicCheckpointer(model).load_init(checkpoint)
        logger.info("weights: %s (%d of %d parameters)", _describe(checkpoint), len(loaded & set(params)), len(params))
    random_params = [k for k in params if k not in loaded]
    if random_params and not allow_random:
        tops = sorted({".".join(k.rsplit(".", 1)[0].split(".")[:2]) for k in random_params})  # modules
        src = f"{_describe(checkpoint)} does not hold them" if checkpoint else f"{what} is empty"
        raise CheckpointError(
            f"{len(random_params)} of {len(params)} parameters would be random ({', '.join(tops[:4])}): {src}. "
            f"Give weights with {what}=PATH (or {{submodule: PATH, ...}} for parts, e.g. "
            f"{{{tops[0]}: FILE}}), or pass --allow-random-weights"
        )
    if random_params:
        logger.warning(
            "running with %d of %d parameters random (--allow-random-weights)", len(random_params), len(params)
        )
    return _describe(checkpoint) if checkpoint else None
