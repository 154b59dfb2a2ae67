"""`monitor run | worker | post | incidents | act`: the embedded monitor and its controls."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from monitor.runtime import commands

    commands.register(sub)
