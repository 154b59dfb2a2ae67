"""`monitor` command line. Each module in monitor/cli/ adds its own subcommands.

A module joins by defining `register(subparsers)`; each subcommand sets `func(args) -> int`.
That keeps one file per command group, so parts of the system can grow their commands apart.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

import monitor.cli as cli_pkg


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor", description="舆情回应监测 — public-opinion response monitor"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda m: m.name):
        if info.name in {"main"} or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"monitor.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `monitor incidents | head`: the reader left; say nothing more on a closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        # A read-only or full disk, or a store that cannot be used, is the operator's to fix:
        # say so in words, without a traceback. Anything else is a bug and keeps its trace.
        from monitor.store.faults import fault_of

        fault = fault_of(exc, where=_where(args))
        if fault is None:
            raise
        print(fault.text(), file=sys.stderr)
        return fault.exit_code


def _where(args: argparse.Namespace) -> str:
    for name in ("db", "data_dir"):
        value = getattr(args, name, None)
        if value:
            return str(value)
    return os.environ.get("MONITOR_DATA_DIR", "monitor-data")


if __name__ == "__main__":
    sys.exit(main())
