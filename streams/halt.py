"""A store the worker cannot write (a full or read-only disk, a broken file) stops the process
at once, said in one line. Going on would apply inputs that the store no longer keeps; a clean
stop is no better, as it must write too (and Faust's waits for the unwritten batch to be
acknowledged, which never comes). So it ends as a kill -9 would, which loses nothing by
design: the unwritten batch was never acknowledged, and the archive is replayed at the next
start, once the operator has made room."""

from __future__ import annotations

import os
import sys

from monitor.store.faults import StoreFault, fault_of


def stop_on_storage_fault(exc: BaseException, where: str) -> None:
    """Return if `exc` is no storage fault (the caller re-raises it); else end the process."""
    fault = fault_of(exc, where)
    if fault is None:
        return
    print(f"{fault.text()}；监测已停止：腾出空间或修好权限后再启动，存档会重放",
          file=sys.stderr, flush=True)  # fmt: skip
    os._exit(StoreFault.exit_code)
