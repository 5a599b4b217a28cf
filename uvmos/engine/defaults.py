"""What every command-line tool shares (as detectron2's ``engine.defaults``).

One convention for all of ``tools/``:

* ``--config-file FILE`` names a LazyConfig; options come next; the **trailing** ``KEY=VALUE``
  pairs override the config (detectron2's lazyconfig tools do the same), e.g.
  ``python tools/run_dataset.py --config-file configs/uvmos/tiny_cpu.py --dataset uvmos_synth_val
  --output out model.associator.memory.update_every=4``;
* weights are named one way, ``train.init_checkpoint=PATH`` (or ``{submodule: PATH}`` for parts),
  and loaded by :func:`build_model` through uvmos's checkpointer; a model that would run with
  random weights is refused unless ``--allow-random-weights``.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import List, Optional

import torch

__all__ = ["default_argument_parser", "add_default_arguments", "OverridesArgumentParser", "build_model", "pick_device"]

OVERRIDES_HELP = (
    "config overrides, KEY=VALUE, after every option (e.g. train.init_checkpoint=PATH "
    "model.associator.memory.update_every=4); a part by its registered name: "
    "custom_imports.imports=[my_pkg] model.associator._target_=MyTracker"
)


_OVERRIDE = re.compile(r"^[A-Za-z_][\w.\-\[\]]*=")  # KEY=..., KEY a dotted config key


class OverridesArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose positional ``opts`` (the ``KEY=VALUE`` overrides) comes
    after every other positional, and which splits the trailing overrides off before parsing, so
    that an option taking several values (``--dataset A B``, ``--frames 0 8 16``) does not swallow
    them. A ``KEY=VALUE`` right after an option that takes one value is that option's value."""

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        if not action.option_strings and action.dest != "opts":  # a tool's positional: before the overrides
            for actions in (self._actions, self._positionals._group_actions):
                for a in [a for a in actions if a.dest == "opts" and not a.option_strings]:
                    actions.remove(a)
                    actions.append(a)
        return action

    def _split_overrides(self, args: List[str]):
        one_value = {s for a in self._actions for s in a.option_strings if a.nargs in (None, 1)}
        i = len(args)
        while i > 0 and _OVERRIDE.match(args[i - 1]) and not (i > 1 and args[i - 2] in one_value):
            i -= 1
        return args[:i], args[i:]

    def parse_known_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        if not any(a.dest == "opts" and not a.option_strings for a in self._actions):
            return super().parse_known_args(args, namespace)
        args, overrides = self._split_overrides(args)
        namespace, extra = super().parse_known_args(args, namespace)
        namespace.opts = list(namespace.opts or []) + overrides
        return namespace, extra


def add_default_arguments(
    p: argparse.ArgumentParser, config_required: bool = True, weights_flag: bool = True
) -> argparse.ArgumentParser:
    """Add ``--config-file``, ``--allow-random-weights`` and the ``KEY=VALUE`` overrides
    (``args.opts``) to ``p`` (an :class:`OverridesArgumentParser`, e.g. a subcommand's) and return it."""
    p.add_argument("--config-file", required=config_required, metavar="FILE", help="a LazyConfig (.py or .yaml)")
    if weights_flag:
        p.add_argument(
            "--allow-random-weights",
            action="store_true",
            help="run even when (part of) the model has no trained weights",
        )
    p.add_argument("opts", nargs="*", default=[], metavar="KEY=VALUE", help=OVERRIDES_HELP)
    return p


def default_argument_parser(
    description: Optional[str] = None, config_required: bool = True, weights_flag: bool = True
) -> argparse.ArgumentParser:
    """``--config-file``, ``--allow-random-weights`` and the trailing ``KEY=VALUE`` overrides
    (``args.opts``); a tool adds its own options to the parser it gets."""
    p = OverridesArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    return add_default_arguments(p, config_required, weights_flag)


def pick_device(device: Optional[str] = None) -> str:
    """``device`` or, when None, "cuda" if available else "cpu"."""
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def build_model(cfg, device: Optional[str] = None, allow_random_weights: bool = False, eval_mode: bool = True):
    """Instantiate ``cfg.model``, load ``cfg.train.init_checkpoint`` through the checkpointer and
    return the model on ``device`` (in eval mode unless ``eval_mode=False``). The checkpoint
    loaded is ``model.checkpoint`` (None when none)."""
    from detectron2.config import instantiate

    from .checkpoint import load_inference_weights

    model = instantiate(cfg.model)
    model.to(pick_device(device))
    ckpt = cfg.get("train", {}).get("init_checkpoint", "")
    model.checkpoint = load_inference_weights(model, ckpt, allow_random=allow_random_weights)
    return model.eval() if eval_mode else model
