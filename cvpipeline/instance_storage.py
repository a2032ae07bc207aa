"""A Dagster event log on PostgreSQL that keeps its connections open, for instances running many runs.

dagster-postgres's event log opens a new PostgreSQL connection for every event it writes (its
engine has no pool, so that an instance holds no connection while idle). A run of 50 contracts
writes some 3 000 events (materialisations, checks, logs): about 3 ms each only to connect.
`PooledPostgresEventLogStorage` is dagster-postgres's own with a small pool per process, as Dagster's
webserver gets for itself. Select it in dagster.yaml instead of `storage: postgres:`
(docs/production.md).

The local SQLite instance's counterpart is `cvpipeline.local_storage`. This module imports nothing
of cvpipeline: the daemon and every process opening the instance load it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster_postgres import PostgresEventLogStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

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
