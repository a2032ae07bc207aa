"""Dagster event logs that keep their connections open: PostgreSQL (many runs), SQLite (the local instance).

dagster-postgres's event log opens a new PostgreSQL connection for every event it writes (its
engine has no pool, so that an instance holds no connection while idle). A run of 50 contracts
writes some 3 000 events (materialisations, checks, logs): about 3 ms each only to connect.
`PooledPostgresEventLogStorage` is dagster-postgres's own with a small pool per process, as Dagster's
webserver gets for itself. Select it in dagster.yaml instead of `storage: postgres:`
(docs/production.md).

Dagster's SQLite event log builds a new SQLAlchemy engine and opens its run's database file for every
event, twice for an asset event (the run's file and the index): about a sixth of the sample's run.
`PooledSqliteStorage` is Dagster's SQLite storage (same files, same layout) whose event log keeps an
engine per database file for the few files in use. The local instance's dagster.yaml names it.
It imports nothing of cvpipeline: the daemon and every process opening the instance load it.
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
from dagster_postgres import PostgresEventLogStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy.engine import Connection, Engine

# Connections kept per process. An asset event's tags are written in a transaction during which
# dagster-postgres looks its table up on a second connection, and the daemon writes from a few
# threads: a connection needed beyond those kept is opened and closed for that one use.
POOL_SIZE = 3
POOL_OVERFLOW = 4
# A kept connection idle longer than this is opened again (servers and proxies close idle ones).
POOL_RECYCLE_S = 600


class PooledPostgresEventLogStorage(PostgresEventLogStorage):
    """dagster-postgres's event log storage, its connections kept in a small pool per process."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, **kwargs: Any) -> None:
        self._tables_found: set[str] = set()
        super().__init__(postgres_url, should_autocreate_tables, **kwargs)
        self._engine.dispose()
        self._engine = create_pg_engine(
            self.postgres_url,
            self._token_provider,
            isolation_level="AUTOCOMMIT",
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_recycle=POOL_RECYCLE_S,
            pool_pre_ping=True,
        )

    def has_table(self, table_name: str) -> bool:
        """Whether the instance's database has this table; a table found is not looked up again.

        dagster-postgres asks before writing each asset event's tags (a query per event).
        """
        if table_name in self._tables_found:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables_found.add(table_name)
        return found

    @classmethod
    def from_config_value(
        cls, inst_data: Any, config_value: Mapping[str, Any]
    ) -> PooledPostgresEventLogStorage:
        """The storage dagster.yaml describes."""
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )


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
