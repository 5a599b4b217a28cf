#!/usr/bin/env python
"""Print every uvmos registry with its entries and the first line of each entry's docstring.

    python tools/list_components.py [--registry PROPOSER] [--projects | --import uvmos.projects.SOLO ...]

The core package never imports the plug-in projects under projects/ (SOLO, UnOVOST, ...); a
project registers its parts when it is imported. ``--import MODULE`` imports the named modules
first, ``--projects`` every ``projects/<name>`` package (a folder with an ``__init__.py``),
importable as ``uvmos.projects.<name>`` in a source checkout (see ``uvmos.projects``).
A config that uses a project's part imports it itself, so train_net.py and the other tools need
neither option.
"""

import argparse
import importlib
import inspect
import sys

import uvmos  # noqa: F401  (registers the built-in components)
from uvmos.projects import available_projects
from uvmos.registry import ALL_REGISTRIES


def first_doc_line(obj) -> str:
    lines = [ln.strip() for ln in (inspect.getdoc(obj) or "").splitlines() if ln.strip()]
    lines = [ln for ln in lines if ln not in ("Args:", "Returns:", "Example:")]
    return lines[0] if lines else "(no docstring)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", help="only this registry (e.g. PROPOSER)")
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import this module first, e.g. uvmos.projects.SOLO (repeatable)",
    )
    parser.add_argument("--projects", action="store_true", help="import every package under projects/")
    args = parser.parse_args(argv)
    for mod in (available_projects() if args.projects else []) + args.imports:
        try:
            importlib.import_module(mod)
        except ImportError as e:
            parser.error(f"--import {mod}: {e}")
    names = [args.registry.upper()] if args.registry else list(ALL_REGISTRIES)
    for name in names:
        if name not in ALL_REGISTRIES:
            parser.error(f"unknown registry {name!r}; known: {', '.join(ALL_REGISTRIES)}")
        reg = ALL_REGISTRIES[name]
        entries = sorted(reg, key=lambda kv: kv[0])
        print(f"{name} ({len(entries)}): {first_doc_line(reg) if reg.__doc__ else ''}")
        width = max((len(k) for k, _ in entries), default=0)
        for key, obj in entries:
            print(f"  {key:<{width}}  {first_doc_line(obj)}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
