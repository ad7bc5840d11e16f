"""
A real PostgreSQL server for the tests: a temporary data folder, a free port on 127.0.0.1, trust authentication,
started with the server's own ``initdb`` and ``pg_ctl`` and stopped afterwards.

PostgreSQL refuses to run as root: where the tests run as root, the server runs as an unprivileged user
(:data:`SERVER_USER`, created with ``useradd`` if missing). ``initdb`` is looked up on ``PATH``, then in Debian's
``/usr/lib/postgresql/<version>/bin``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SERVER_USER = "sb3reinforce-pg"


def find_bin_dir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # the real folder: createdb lies beside it, not beside a link
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """
    A PostgreSQL server of its own, for one test session.

    :param bin_dir: Folder of ``initdb``/``pg_ctl``/``createdb``
    """

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sb3-reinforce-pg-"))
        self.data = self.dir / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if subprocess.run(["id", "-u", SERVER_USER], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER], check=True)
            shutil.chown(self.dir, SERVER_USER)
            self.as_user = ["runuser", "-u", SERVER_USER, "--"]

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, str(self.bin_dir / tool), *args], check=True, capture_output=True, text=True, timeout=120
        )

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"), "-w", "start")
        return self

    def create_database(self, name: str) -> str:
        """Create a database; its URL (``postgresql://``, the psycopg driver, as the docs write it)."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            time.sleep(0.1)
            shutil.rmtree(self.dir, ignore_errors=True)
