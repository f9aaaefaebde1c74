"""A PostgreSQL server of the test's own, so a test may stop and crash it without disturbing the
shared server (port 5432) that other tests use.

PostgreSQL refuses to run as root: when the tests run as root, initdb and pg_ctl run as the
`postgres` OS user, in a directory that user owns. The server listens on loopback on a free port
(and on a socket inside its directory), trusts local connections, and skips fsync: the tests crash
the server (`stop("immediate")`), not the machine, so what it wrote survives in the OS cache. Commits
stay synchronous (never `synchronous_commit = off`): a crash would otherwise lose commits that
clients were already told about, and an outage test would rightly fail.

    with PrivatePostgres() as pg:
        url = pg.url              # postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
        pg.stop("immediate")      # like a crash: no checkpoint, clients cut off at once
        pg.start()                # crash recovery, then serving again
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.servers import free_port

def _server_bin() -> Path:
    """Debian's server programs of the newest PostgreSQL installed (KAOHE_PG_BIN overrides)."""
    if os.environ.get("KAOHE_PG_BIN"):
        return Path(os.environ["KAOHE_PG_BIN"])
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return installed[-1].parent if installed else Path("/usr/lib/postgresql/15/bin")


BIN = _server_bin()
OS_USER = "postgres"


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *command] if os.geteuid() == 0 else command


class PrivatePostgres:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="kaohe-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, OS_USER, OS_USER)
        self._run([str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                   "--locale", "C", "--no-sync"], timeout=120)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\nfsync = off\n"
                       "full_page_writes = off\nshared_buffers = 32MB\nmax_connections = 60\n")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, command: list[str], timeout: float = 60) -> None:
        done = subprocess.run(_as_server_user(command), capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                               f"{self.log()}")

    def start(self) -> "PrivatePostgres":
        """Start and wait until it accepts connections (after crash recovery, if it crashed)."""
        self._run([str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "60", "start"],
                  timeout=90)
        return self

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash (clients cut off, recovery at the next start); `fast` a clean stop."""
        self._run([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"], timeout=90)

    @property
    def running(self) -> bool:
        done = subprocess.run(_as_server_user([str(BIN / "pg_ctl"), "-D", str(self.data), "status"]),
                              capture_output=True, text=True, timeout=30, cwd=self.root)
        return done.returncode == 0

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def destroy(self) -> None:
        """Stop the server if it runs and delete its files."""
        try:
            if self.data.exists() and self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PrivatePostgres":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.destroy()
