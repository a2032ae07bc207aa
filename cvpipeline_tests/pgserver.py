"""Start and stop a throwaway PostgreSQL server from the machine's binaries, for tests."""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql

__all__ = [
    "PostgresServer",
    "PostgresStartError",
    "PostgresUnavailable",
    "find_pg_binaries",
    "start_postgres",
]

HOST = "127.0.0.1"
SUPERUSER = "postgres"
OS_USER = "postgres"
FALLBACK_GLOB = "/usr/lib/postgresql/*/bin"
INSTALL_HINT = (
    "Install the PostgreSQL server binaries (initdb, pg_ctl): "
    "`apt-get install -y postgresql` on Debian/Ubuntu, `brew install postgresql@15` on macOS; "
    "or put their directory on PATH."
)
# Speed over durability: the server is thrown away after the test session.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
LOCALES = ("C.UTF-8", "C")  # C.UTF-8 first; plain C where that locale is missing
LOG_TAIL_LINES = 40
START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries (or what is needed to run them) are missing."""


class PostgresStartError(RuntimeError):
    """initdb or the server failed; the message carries the command output and log tail."""


def _version_key(bin_dir: str) -> tuple[int, ...]:
    """Sort key for /usr/lib/postgresql/<version>/bin: numeric version, highest last."""
    return tuple(int(n) for n in re.findall(r"\d+", Path(bin_dir).parent.name))


def find_pg_binaries(search_path: str | None = None, fallback_glob: str = FALLBACK_GLOB) -> tuple[Path, Path]:
    """Return (initdb, pg_ctl) from PATH, else from the newest fallback dir, else raise."""
    initdb = shutil.which("initdb", path=search_path)
    if initdb:
        # Prefer the pg_ctl that sits next to the real initdb, so the versions match.
        sibling = Path(initdb).resolve().parent / "pg_ctl"
        pg_ctl = str(sibling) if os.access(sibling, os.X_OK) else None
        pg_ctl = pg_ctl or shutil.which("pg_ctl", path=search_path)
        if pg_ctl:
            return Path(initdb), Path(pg_ctl)
    for bin_dir in sorted(glob.glob(fallback_glob), key=_version_key, reverse=True):
        initdb_p, pg_ctl_p = Path(bin_dir, "initdb"), Path(bin_dir, "pg_ctl")
        if os.access(initdb_p, os.X_OK) and os.access(pg_ctl_p, os.X_OK):
            return initdb_p, pg_ctl_p
    raise PostgresUnavailable(f"initdb/pg_ctl not found on PATH nor in {fallback_glob}. {INSTALL_HINT}")


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of a text file, or a note if it cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


class PostgresServer:
    """A running throwaway server; use start_postgres() to create one, stop() to end it."""

    def __init__(self, initdb: Path, pg_ctl: Path, base_dir: Path, as_root: bool) -> None:
        """Hold paths and state; does not start anything by itself."""
        self.host = HOST
        self.port = 0
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self.socket_dir = base_dir / "sock"
        self.log_file = base_dir / "server.log"
        self.startup_seconds = 0.0
        self._initdb = initdb
        self._pg_ctl = pg_ctl
        self._as_root = as_root
        self._running = False

    # -- helpers ---------------------------------------------------------------

    def _run(self, args: Sequence[str | Path], timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a PostgreSQL tool, as the postgres OS user when we are root."""
        cmd = [str(a) for a in args]
        if self._as_root:
            cmd = ["runuser", "-u", OS_USER, "--", *cmd]
        # cwd: the postgres user may not be allowed into the caller's directory (e.g. /root).
        return subprocess.run(
            cmd,
            cwd=self.base_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _fail(self, what: str, proc: subprocess.CompletedProcess | None) -> PostgresStartError:
        """Build a PostgresStartError with the command output and the server log tail."""
        parts = [f"{what} failed"]
        if proc is not None:
            parts.append(f"exit {proc.returncode}; output:\n{(proc.stdout + proc.stderr).strip()}")
        if self.log_file.exists():
            parts.append(f"last lines of {self.log_file}:\n{_tail(self.log_file)}")
        return PostgresStartError("\n".join(parts))

    def _initialise(self) -> None:
        """Run initdb, with --locale=C.UTF-8 and a fallback to --locale=C."""
        proc = None
        for locale in LOCALES:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            proc = self._run(
                [
                    self._initdb,
                    "-D",
                    self.data_dir,
                    "-A",
                    "trust",
                    "-U",
                    SUPERUSER,
                    "--encoding=UTF8",
                    f"--locale={locale}",
                    "--no-sync",
                ]
            )
            if proc.returncode == 0:
                return
        raise self._fail("initdb", proc)

    def _start(self, settings: Mapping[str, str]) -> None:
        """Start the server on a free port, retrying if the port gets taken meanwhile."""
        proc = None
        for _ in range(START_ATTEMPTS):
            self.port = _free_port()
            opts = [
                f"-c listen_addresses={HOST}",
                f"-p {self.port}",
                f"-k '{self.socket_dir}'",
            ]
            opts += [f"-c {key}={value}" for key, value in settings.items()]
            proc = self._run(
                [self._pg_ctl, "start", "-w", "-t", "60", "-D", self.data_dir]
                + ["-l", self.log_file, "-o", " ".join(opts)]
            )
            if proc.returncode == 0:
                self._running = True
                return
            if "already in use" not in _tail(self.log_file, 10):
                break
        raise self._fail("pg_ctl start", proc)

    # -- public API ------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """Return the SQLAlchemy URL (psycopg 3 driver) of a database on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create database `name` and return its SQLAlchemy URL."""
        with psycopg.connect(
            host=self.host,
            port=self.port,
            user=SUPERUSER,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its temporary directory; idempotent."""
        atexit.unregister(self.stop)
        try:
            if self._running:
                proc = self._run([self._pg_ctl, "stop", "-w", "-m", "fast", "-D", self.data_dir])
                if proc.returncode != 0:
                    self._run(
                        [
                            self._pg_ctl,
                            "stop",
                            "-w",
                            "-m",
                            "immediate",
                            "-D",
                            self.data_dir,
                        ]
                    )
                self._running = False
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        """Return the running server."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    def __repr__(self) -> str:
        """Show where the server listens."""
        state = "running" if self._running else "stopped"
        return f"<PostgresServer {self.host}:{self.port} {state} {self.base_dir}>"


def start_postgres(extra_settings: Mapping[str, str] | None = None) -> PostgresServer:
    """Initialise and start a throwaway server; raise PostgresUnavailable if impossible."""
    initdb, pg_ctl = find_pg_binaries()
    as_root = os.geteuid() == 0
    if as_root:
        # pg_ctl and the server refuse to run as root: run them as the postgres OS user.
        if shutil.which("runuser") is None:
            raise PostgresUnavailable(f"running as root but `runuser` is missing. {INSTALL_HINT}")
        try:
            pw = pwd.getpwnam(OS_USER)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root but there is no `{OS_USER}` OS user. {INSTALL_HINT}"
            ) from None
    started = time.perf_counter()
    base_dir = Path(tempfile.mkdtemp(prefix="pgtest-"))
    server = PostgresServer(initdb, pg_ctl, base_dir, as_root)
    try:
        server.socket_dir.mkdir()
        if as_root:
            for path in (base_dir, server.socket_dir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        server._initialise()
        atexit.register(server.stop)  # safety net if the caller never reaches stop()
        server._start({**FAST_SETTINGS, **(extra_settings or {})})
    except BaseException:
        server.stop()
        raise
    server.startup_seconds = time.perf_counter() - started
    return server
