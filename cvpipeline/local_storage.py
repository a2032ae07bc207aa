"""The local Dagster instance's storage: Dagster's SQLite storage whose event log keeps its files open.

Dagster's SQLite event log builds a new SQLAlchemy engine and opens its run's database file for every
event, twice for an asset event (the run's file and the index): about a sixth of the sample's run.
`PooledSqliteStorage` is Dagster's SQLite storage (same files, same layout) whose event log keeps an
engine per database file for the few files in use. The local instance's dagster.yaml names it
(`cvpipeline.cli.DAGSTER_YAML`). It imports nothing of cvpipeline nor dagster-postgres: the webserver,
the daemon and every run of the local instance load it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from sqlalchemy.engine import Connection, Engine

# SQLite database files whose engine is kept per process: a run writes to its own and to the index;
# the webserver and the daemon read a few runs at a time. Older engines are closed.
SQLITE_ENGINES_KEPT = 4


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log, an engine kept for each of the last database files used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(*args, **kwargs)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        """A transaction on a run's (or the index's) database file, on an engine kept for it."""
        with self._db_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    pool_size=1,
                    max_overflow=2,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
                self._engines[shard] = engine
                while len(self._engines) > SQLITE_ENGINES_KEPT:
                    self._engines.popitem(last=False)[1].dispose()
            else:
                self._engines.move_to_end(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close_engines(self) -> None:
        """Close every kept engine (their files may be about to go)."""
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        """Dagster's wipe (it deletes the runs' files), the kept engines closed first."""
        self._close_engines()
        super().wipe()

    def dispose(self) -> None:
        """Stop watching the files and close the kept engines."""
        super().dispose()
        self._close_engines()


class PooledSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage under `base_dir` (runs, schedules, events), its event log pooled."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Mapping[str, Any]) -> PooledSqliteStorage:
        """The storage dagster.yaml describes (`base_dir`, as Dagster's `storage: sqlite:`)."""
        return cls.from_local(inst_data=inst_data, **config_value)
