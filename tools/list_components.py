#!/usr/bin/env python
"""Print every uvmos registry with its entries and the first line of each entry's docstring.

    python tools/list_components.py [--registry PROPOSER]
"""
import argparse
import inspect
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvmos  # noqa: F401,E402  (registers the built-in components)
from uvmos.registry import ALL_REGISTRIES  # noqa: E402


def first_doc_line(obj) -> str:
    lines = [ln.strip() for ln in (inspect.getdoc(obj) or "").splitlines() if ln.strip()]
    lines = [ln for ln in lines if ln not in ("Args:", "Returns:", "Example:")]
    return lines[0] if lines else "(no docstring)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", help="only this registry (e.g. PROPOSER)")
    args = parser.parse_args(argv)
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
