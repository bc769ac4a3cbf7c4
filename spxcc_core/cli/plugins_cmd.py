"""``spxcc plugins``: list the registered plugins and the hooks each implements."""

from __future__ import annotations

import argparse
import json

from spxcc_core.plugins import get_plugin_manager

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plugins", help="list registered plugins and their hooks")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    pm = get_plugin_manager()
    rows = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or "?"
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        rows.append({"name": name, "hooks": hooks})
    rows.sort(key=lambda r: str(r["name"]))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['name']}: {', '.join(r['hooks'])}")
    return 0
