"""The warehouse's engines: one per warehouse per process, its open transactions, and the writers' lock."""

from __future__ import annotations

import collections
import os
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


def sqlite_path(url: str) -> Path | None:
    """The file of an embedded (SQLite) warehouse URL; None for another database or an in-memory one."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    return None if path in ("", ":memory:") else Path(path)


def warehouse_exists(url: str) -> bool:
    """False for an embedded (SQLite file) warehouse whose file does not exist yet; True otherwise."""
    path = sqlite_path(url)
    return path is None or path.is_file()


# The process's engines by URL, with the identity of the SQLite file each was opened on: a file
# deleted and made again (a new warehouse at the same path) gets a new engine, never the old pool.
_ENGINES: dict[str, tuple[Engine, tuple[int, int] | None]] = {}
_ENGINES_LOCK = threading.Lock()


def _file_identity(path: Path | None) -> tuple[int, int] | None:
    """The device and inode of a file, None when it does not exist (or for a server database)."""
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def make_engine(url: str) -> Engine:
    """The engine of a warehouse URL, made once per process; a SQLite file gets its folder, a busy timeout."""
    path = sqlite_path(url)
    identity = _file_identity(path)
    with _ENGINES_LOCK:
        cached = _ENGINES.get(url)
        if cached is not None:
            engine, known = cached
            if known is None or identity == known:
                _ENGINES[url] = (engine, identity or known)
                return engine
            engine.dispose()  # the file was replaced: its connections point to the old one
        engine = _new_engine(url, path)
        _ENGINES[url] = (engine, identity)
        return engine


def _new_engine(url: str, path: Path | None) -> Engine:
    """A new SQLAlchemy engine; hide_parameters: a database error must never print row values into logs."""
    if url.startswith("sqlite:///"):
        engine = sa.create_engine(url, connect_args={"timeout": 60}, hide_parameters=True)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            _count_transactions(engine, str(path.resolve()))
        return engine
    return sa.create_engine(url, hide_parameters=True)


def _forget_engines_after_fork() -> None:
    """A forked child must not use its parent's connections: it opens its own."""
    for engine, _ in _ENGINES.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_engines_after_fork)

# SQLAlchemy transactions open on each SQLite file in this process, by the engines of make_engine.
_OPEN_TRANSACTIONS: collections.Counter[str] = collections.Counter()
_OPEN_TRANSACTIONS_LOCK = threading.Lock()


def open_transactions(path: Path) -> int:
    """How many transactions this process's engines hold open on a SQLite file."""
    return _OPEN_TRANSACTIONS[str(path.resolve())]


def _count_transactions(engine: Engine, path: str) -> None:
    """Keep `_OPEN_TRANSACTIONS[path]` up to date as the engine's transactions begin and end."""

    def begun(_: Connection) -> None:
        with _OPEN_TRANSACTIONS_LOCK:
            _OPEN_TRANSACTIONS[path] += 1

    def ended(_: Connection) -> None:
        with _OPEN_TRANSACTIONS_LOCK:
            _OPEN_TRANSACTIONS[path] -= 1

    sa.event.listen(engine, "begin", begun)
    sa.event.listen(engine, "commit", ended)
    sa.event.listen(engine, "rollback", ended)


def warehouse_lock(conn: Connection) -> None:
    """Serialise writers: two runs cannot interleave their writes.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: its own database lock already lets one
    writing transaction at a time, the other waits (busy timeout).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('cvpipeline-warehouse'))"))
