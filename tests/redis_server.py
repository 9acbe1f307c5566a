"""A real ``redis-server`` for the tests: a subprocess on a free loopback port.

Tests that rest on Redis guarantees (atomic scripts, the server's clock, restarts) need the real
server, never a mock. The binary is looked up as ``$SCALEDMAIL_TEST_REDIS_SERVER``, then
``redis-server`` on ``PATH``. Without one the Redis tests skip with the command that installs it,
except under ``CI=true``, where a missing server fails the run (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

INSTALL_HINT = (
    "no redis-server binary: install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`, "
    "macOS: `brew install redis`) or set SCALEDMAIL_TEST_REDIS_SERVER to its path"
)


def redis_binary() -> str:
    """The ``redis-server`` path, or skip (fail under ``CI=true``) with how to install it."""
    path = os.environ.get("SCALEDMAIL_TEST_REDIS_SERVER") or shutil.which("redis-server")
    if path:
        return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {INSTALL_HINT}")
    pytest.skip(INSTALL_HINT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process; :meth:`kill` and :meth:`start` again on the same port."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="scaledmail-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start within 10 s")

    def kill(self) -> None:
        """SIGKILL the server (an outage: its state is gone, as after a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop_responding(self) -> None:
        """SIGSTOP: the port accepts connections but nothing answers (a hung server)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
