"""A notifier process for the SIGKILL test: recover, make one pass over the outbox, exit."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine

from monitor.notify.channels import Channel, make_channel
from monitor.notify.config import load_ladder
from monitor.notify.delivery import Notifier
from monitor.notify.outbox import Outbox


def main(db: str, ladder: str) -> int:
    settings = load_ladder(ladder)
    channels: dict[str, Channel] = {n: make_channel(s) for n, s in settings.channels.items()}
    outbox = Outbox(create_engine(f"sqlite:///{db}"))
    notifier = Notifier(settings, outbox, channels, lambda: datetime.now(UTC), CollectorRegistry())
    notifier.recover()
    asyncio.run(notifier.run_once())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
