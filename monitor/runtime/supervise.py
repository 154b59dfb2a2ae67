"""A child process kept alive beside `monitor run`: restarted when it dies, stopped with it.

The web process (`monitor web`) runs apart from the Faust worker, so that serving the duty
dashboard never waits behind the pipeline's CPU-bound event loop. It is the worker's child:

- started in its own session, so a Ctrl-C meant for `monitor run` reaches only the parent,
  which then stops the child itself (a child stopped by the terminal would look like a crash
  and be restarted);
- with the parent's death signal (Linux `PR_SET_PDEATHSIG`), so a `kill -9` of `monitor run`
  leaves no orphan holding the port;
- restarted after it dies, after a delay that doubles while it keeps dying young (a child
  that cannot bind its port must not spin) and resets once it has lived a while.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

# A child that lived this long before dying is restarted after the first delay again.
HEALTHY_AFTER_S = 30.0


def terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, and SIGKILL if it has not exited within `timeout` s; reaped either way."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def parent_death_signal() -> None:
    """prctl(PR_SET_PDEATHSIG, SIGKILL) in the child: it dies with the thread that spawned it.
    Used as `preexec_fn`; a no-op where there is no glibc (the normal shutdown path stops it)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(1, signal.SIGKILL)


class Supervised:
    """`argv` as a child process, kept running until `stop()`.

    The death signal follows the spawning *thread*, so every spawn happens on the watcher
    thread, which lives until `stop()`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path | None = None,
        *,
        first_delay: float = 1.0,
        max_delay: float = 30.0,
        say: Callable[[str], None] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.say = say or log.warning
        self.env = env
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._spawned = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name=f"supervise-{name}", daemon=True)
        self._error: BaseException | None = None

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None else None

    def start(self) -> Supervised:
        self._thread.start()
        self._spawned.wait()
        if self._error is not None:
            raise self._error
        return self

    def _spawn(self) -> None:
        with contextlib.ExitStack() as stack:
            out: IO[bytes] | int = subprocess.DEVNULL
            if self.log_path is not None:
                out = stack.enter_context(open(self.log_path, "ab"))
            with self._lock:
                if self._stopping.is_set():
                    return
                self._proc = subprocess.Popen(
                    self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                    preexec_fn=parent_death_signal, env=self.env or dict(os.environ),
                )  # fmt: skip

    def _watch(self) -> None:
        try:
            self._spawn()
        except OSError as exc:
            self._error = exc
            return
        finally:
            self._spawned.set()
        delay = self.first_delay
        while not self._stopping.is_set():
            proc = self._proc
            assert proc is not None
            started = time.monotonic()
            code = proc.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= HEALTHY_AFTER_S:
                delay = self.first_delay
            self.say(f"{self.name} 进程已退出（退出码 {code}），{delay:g} 秒后重启")
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.max_delay)
            try:
                self._spawn()
            except OSError as exc:  # e.g. too many processes: try again later
                self.say(f"{self.name} 进程无法启动：{exc}")
                continue
            self.restarts += 1

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping.set()
            proc = self._proc
        if proc is not None:
            terminate(proc, timeout)
        if self._thread.is_alive():
            self._thread.join(timeout)
