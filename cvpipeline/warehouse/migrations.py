"""Bring a warehouse's schema up to date: create what is missing, upgrade what an earlier version wrote."""

from __future__ import annotations

import hashlib
import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvpipeline.warehouse.engine import warehouse_lock
from cvpipeline.warehouse.schema import ANALYST_SCHEMA, OPERATIONS_SCHEMA, Money, metadata_for

log = logging.getLogger("cvpipeline.warehouse")


def prepare(conn: Connection) -> None:
    """Create the schemas and tables that do not exist yet, and bring older tables up to date."""
    schema = _schema_digest(conn)
    if schema in _CURRENT_SCHEMAS:  # this exact schema was found up to date in this process
        return
    metadata = metadata_for(conn.dialect.name)
    if _up_to_date(conn, metadata, schema):
        return
    if conn.dialect.name == "sqlite":
        # Two first runs on a new warehouse file must not race either: Python's sqlite3 runs DDL
        # outside any transaction, so "no table yet" could be read by both. Take SQLite's write
        # lock first (the other run waits, busy timeout), then look again.
        _begin_immediate(conn)
        if _up_to_date(conn, metadata, _schema_digest(conn)):
            return
    retired = _retired_tables(sa.inspect(conn), conn.dialect.name)
    if conn.dialect.name == "postgresql":
        # Two first runs creating the tables at once must not race: DDL under the writers' lock.
        warehouse_lock(conn)
        for name in (ANALYST_SCHEMA, OPERATIONS_SCHEMA):
            conn.execute(sa.schema.CreateSchema(name, if_not_exists=True))
    _upgrade(conn, metadata)
    for name in retired:
        conn.execute(sa.text(f"DROP TABLE {name}"))
        log.warning("entrepôt d'une version antérieure : table %s retirée (doublon d'une autre table)", name)
    metadata.create_all(conn)
    for index in _missing_indexes(conn):  # tables of an earlier version: create_all leaves them
        log.warning("entrepôt d'une version antérieure : index %s créé", index.name)
        index.create(conn)


# Digests of schemas (SQLite's sqlite_master, PostgreSQL's catalog of the two schemas) that `prepare`
# found up to date: the inspection of every table, column and index (15 ms on SQLite, 60 ms on
# PostgreSQL, at every write) is then skipped. A schema changed in any way has another digest.
_CURRENT_SCHEMAS: set[str] = set()


def _up_to_date(conn: Connection, metadata: sa.MetaData, schema: str | None) -> bool:
    """True when every table, column and index exists and no retired table is left (remembered by digest)."""
    inspector = sa.inspect(conn)
    if (
        all(inspector.has_table(t.name, schema=t.schema) for t in metadata.tables.values())
        and not _retired_tables(inspector, conn.dialect.name)
        and not _missing_columns(inspector, metadata)
        and not _missing_indexes(conn)
        and not _inexact_amounts(inspector, metadata)
    ):
        if schema is not None:
            _CURRENT_SCHEMAS.add(schema)
        return True
    return False


def _begin_immediate(conn: Connection) -> None:
    """Start the SQLite transaction now, holding the write lock (unless one is already open)."""
    driver = conn.connection.dbapi_connection
    if driver is not None and not driver.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _schema_digest(conn: Connection) -> str | None:
    """A digest of the warehouse's whole schema: every table's, column's and index's definition."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
    elif conn.dialect.name == "postgresql":
        rows = conn.execute(
            sa.text(
                "SELECT n.nspname, c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), "
                "pg_get_indexdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
                "WHERE n.nspname IN (:analyst, :operations) AND c.relkind IN ('r', 'i', 'p') "
                "ORDER BY 1, 2, 4"
            ),
            {"analyst": ANALYST_SCHEMA, "operations": OPERATIONS_SCHEMA},
        )
    else:
        return None
    return hashlib.sha256(repr(rows.all()).encode()).hexdigest()


# Tables an earlier version wrote and this one no longer does: dropped, so that no stale figure stays
# on an analyst's list. `evaluation_metrics_by_year` repeated the yearly rows of `evaluation_metrics`
# (period_kind = 'year'), which each contract's run keeps up to date.
RETIRED_TABLES = ("evaluation_metrics_by_year",)


def _retired_tables(inspector: sa.Inspector, dialect: str) -> list[str]:
    """The retired tables this warehouse still holds, as qualified names to drop."""
    schema = ANALYST_SCHEMA if dialect == "postgresql" else None
    return [
        f"{schema}.{name}" if schema else name
        for name in RETIRED_TABLES
        if inspector.has_table(name, schema=schema)
    ]


def _missing_indexes(conn: Connection) -> list[sa.Index]:
    """The indexes of the current schema that the database lacks (tables of an earlier version)."""
    inspector = sa.inspect(conn)
    missing = []
    for table in metadata_for(conn.dialect.name).tables.values():
        if not table.indexes or not inspector.has_table(table.name, schema=table.schema):
            continue
        present = {i["name"] for i in inspector.get_indexes(table.name, schema=table.schema)}
        missing += [index for index in table.indexes if index.name not in present]
    return missing


def _missing_columns(inspector: sa.Inspector, metadata: sa.MetaData) -> list[tuple[sa.Table, sa.Column]]:
    """Columns of the current schema that an existing table lacks (written by an earlier version)."""
    missing = []
    for table in metadata.tables.values():
        if not inspector.has_table(table.name, schema=table.schema):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
        missing += [(table, column) for column in table.columns if column.name not in present]
    return missing


def _upgrade(conn: Connection, metadata: sa.MetaData) -> None:
    """Add the columns a warehouse written by an earlier version lacks (nullable).

    A warehouse from before the slices (no `file_slices` table) kept only the last load's
    quarantine: it is cleared, and every file is read again into its own slice on the next run.
    """
    inspector = sa.inspect(conn)
    slices = next(t for t in metadata.tables.values() if t.name == "file_slices")
    quarantine = next(t for t in metadata.tables.values() if t.name == "quarantine")
    legacy = inspector.has_table(quarantine.name, schema=quarantine.schema) and not inspector.has_table(
        slices.name, schema=slices.schema
    )
    preparer = conn.dialect.identifier_preparer
    for table in metadata.tables.values():
        # Tables rebuilt from the catalogs at every run: a key that changed (one contract -> several)
        # cannot be altered in place, so the table is created again (its views are recreated after it).
        if table.name not in REBUILT_TABLES or not inspector.has_table(table.name, schema=table.schema):
            continue
        key = inspector.get_pk_constraint(table.name, schema=table.schema).get("constrained_columns") or []
        if sorted(key) != sorted(c.name for c in table.primary_key.columns):
            cascade = " CASCADE" if conn.dialect.name == "postgresql" else ""
            conn.execute(sa.text(f"DROP TABLE {preparer.format_table(table)}{cascade}"))
            log.warning(
                "entrepôt d'une version antérieure : table %s recréée (contrat dans sa clé)", table.name
            )
    inspector = sa.inspect(conn)
    for table, column in _missing_columns(inspector, metadata):
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(
            sa.text(
                f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {preparer.quote(column.name)} {kind}"
            )
        )
    _exact_amounts(conn, metadata)
    if legacy:
        conn.execute(quarantine.delete())
        log.warning("entrepôt d'une version antérieure : colonnes ajoutées, quarantaine vidée (relecture)")


# Tables written whole from the catalogs (nothing in them comes from a partner file).
REBUILT_TABLES = ("ref_sources", "ref_actions", "ref_qpv", "ref_labels")


def _inexact_amounts(inspector: sa.Inspector, metadata: sa.MetaData) -> dict[sa.Table, list[sa.Column]]:
    """Amount columns an earlier version wrote as binary floating point (FLOAT), by table."""
    found: dict[sa.Table, list[sa.Column]] = {}
    for table in metadata.tables.values():
        money = [c for c in table.columns if isinstance(c.type, Money)]
        if not money or not inspector.has_table(table.name, schema=table.schema):
            continue
        present = {c["name"]: c["type"] for c in inspector.get_columns(table.name, schema=table.schema)}
        stale = [c for c in money if c.name in present and _is_float(present[c.name])]
        if stale:
            found[table] = stale
    return found


def _is_float(kind: sa.types.TypeEngine) -> bool:
    """Whether a reflected column type is binary floating point (FLOAT, REAL, DOUBLE PRECISION)."""
    return isinstance(kind, sa.Float) or (isinstance(kind, sa.Numeric) and kind.scale is None)


def _exact_amounts(conn: Connection, metadata: sa.MetaData) -> None:
    """Turn the FLOAT amounts of an earlier version into exact ones, rounded to the cent.

    PostgreSQL: ALTER COLUMN … TYPE NUMERIC(14,2). SQLite (no ALTER COLUMN): the table is
    rebuilt, its amounts copied as text with two decimals. The analysts' views depend on these
    columns: they are dropped here and the metrics step creates them again.
    """
    stale = _inexact_amounts(sa.inspect(conn), metadata)
    if not stale:
        return
    preparer = conn.dialect.identifier_preparer
    _drop_views(conn)
    for table, columns in stale.items():
        target = preparer.format_table(table)
        if conn.dialect.name == "postgresql":
            for column in columns:
                name = preparer.quote(column.name)
                conn.execute(
                    sa.text(
                        f"ALTER TABLE {target} ALTER COLUMN {name} TYPE NUMERIC(14, 2) "
                        f"USING round({name}::numeric, 2)"
                    )
                )
        else:
            _rebuild_sqlite(conn, table, {c.name for c in columns})
        log.warning(
            "entrepôt d'une version antérieure : montants de %s exacts au centime (%s)",
            table.name,
            ", ".join(c.name for c in columns),
        )


def _drop_views(conn: Connection) -> None:
    """Drop the analysts' views (the metrics step creates them again)."""
    if conn.dialect.name == "postgresql":
        names = conn.execute(
            sa.text("SELECT table_name FROM information_schema.views WHERE table_schema = :s"),
            {"s": ANALYST_SCHEMA},
        ).scalars()
        for name in list(names):
            conn.execute(sa.text(f'DROP VIEW IF EXISTS {ANALYST_SCHEMA}."{name}" CASCADE'))
    else:
        names = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'view'").scalars()
        for name in list(names):
            conn.exec_driver_sql(f'DROP VIEW IF EXISTS "{name}"')


def _rebuild_sqlite(conn: Connection, table: sa.Table, amounts: set[str]) -> None:
    """Rebuild a SQLite table in the current layout, its amounts copied as text with two decimals."""
    preparer = conn.dialect.identifier_preparer
    old = f"{table.name}__avant_montants_exacts"
    conn.execute(sa.text(f"ALTER TABLE {preparer.quote(table.name)} RENAME TO {preparer.quote(old)}"))
    for index in table.indexes:  # they followed the renamed table; the new one gets them
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {preparer.quote(index.name)}"))
    table.create(conn)
    names = [preparer.quote(c.name) for c in table.columns]
    values = [
        f"CASE WHEN {n} IS NULL THEN NULL ELSE printf('%.2f', {n}) END" if c.name in amounts else n
        for c, n in zip(table.columns, names, strict=True)
    ]
    conn.execute(
        sa.text(
            f"INSERT INTO {preparer.quote(table.name)} ({', '.join(names)}) "
            f"SELECT {', '.join(values)} FROM {preparer.quote(old)}"
        )
    )
    conn.execute(sa.text(f"DROP TABLE {preparer.quote(old)}"))
