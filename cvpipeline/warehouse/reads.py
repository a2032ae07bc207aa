"""Read warehouse tables into frames: COPY on PostgreSQL; on SQLite the cursor, or ADBC for large tables."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvpipeline.warehouse.engine import open_transactions
from cvpipeline.warehouse.schema import Money, table_for

log = logging.getLogger("cvpipeline.warehouse")


def sqlite_arrow(engine: Engine, query: str, columns: list[sa.Column]) -> pd.DataFrame | None:
    """A SQLite query read in C through ADBC into Arrow (4 × faster than a cursor on 1 M rows), or None.

    The whole result is one batch, so that the driver infers each column's type from all its values
    (not from the first 1 024, which may all be empty); text columns are then typed as text. None
    (the caller reads through the cursor) for an in-memory database, or if the driver cannot read
    the result (a column holding two kinds of values, a database locked by a writer).

    The driver has its own SQLite library, and closing its connection drops every POSIX lock this
    process holds on the file, those of the sqlite3 module's connections included
    (sqlite.org/howtocorrupt.html, 2.2.1): while a transaction is open on the file here, None.
    """
    path = engine.url.database
    if not path or path == ":memory:" or not Path(path).is_file():
        return None
    if open_transactions(Path(path)) > 0:
        log.debug("lecture par le curseur : une transaction est ouverte sur l'entrepôt dans ce processus")
        return None
    # Imported here: the ADBC driver costs about 0.2 s to import, for reads of large tables only.
    import adbc_driver_manager
    import adbc_driver_sqlite.dbapi

    try:
        with adbc_driver_sqlite.dbapi.connect(str(Path(path).resolve())) as conn, conn.cursor() as cursor:
            cursor.adbc_statement.set_options(**{ADBC_BATCH_ROWS: str(ADBC_ONE_BATCH)})
            cursor.execute(query)
            result = cursor.fetch_arrow_table()
        if result.num_rows == 0:
            return None
        empty = []
        for position, column in enumerate(columns):
            numeric = isinstance(column.type, (sa.Integer, sa.BigInteger, sa.Float))
            if not numeric and result.schema.field(position).type != pa.string():
                result = result.set_column(position, column.name, result.column(position).cast(pa.string()))
            if not numeric and result.column(position).null_count == result.num_rows:
                empty.append(column.name)
        frame = result.to_pandas()
    except (OSError, adbc_driver_manager.Error, pa.ArrowException) as error:
        log.debug(f"lecture ADBC impossible, lecture par le curseur ({type(error).__name__})")
        return None
    # As the cursor reads them: a text column without any value holds None.
    for name in empty:
        frame[name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame


# ADBC's SQLite option for the rows per batch, and a batch larger than any table.
ADBC_BATCH_ROWS = "adbc.sqlite.query.batch_rows"
ADBC_ONE_BATCH = 1 << 30
# Below this many rows the cursor is as fast (opening an ADBC connection costs about 10 ms).
ADBC_MIN_ROWS = 20_000


def read_table(
    engine: Engine, name: str, columns: list[str] | None = None, contract_code: str | None = None
) -> pd.DataFrame:
    """A warehouse table (or some of its columns, one contract's rows) as a frame; empty if it does not exist.

    Read through the driver (SQLite's cursor, PostgreSQL's COPY TO STDOUT), then typed by the
    table's columns: dates as datetime64, numbers as numbers, the rest as text.
    """
    table = table_for(engine.dialect.name, name)
    chosen = [c for c in table.columns if columns is None or c.name in columns]
    try:
        frame = _read_rows(engine, table, chosen, contract_code)
    except Exception:
        # A table a warehouse does not have yet reads as empty (looked up only when a read fails:
        # the reads of a run are many, and a lookup costs a round trip each).
        if not sa.inspect(engine).has_table(name, schema=table.schema):
            return pd.DataFrame(columns=[c.name for c in chosen])
        raise
    for column in chosen:
        values = frame[column.name]
        if isinstance(column.type, (sa.Date, sa.DateTime)):
            frame[column.name] = pd.to_datetime(values, format="ISO8601")
        elif isinstance(column.type, Money):
            # An amount (exact text on SQLite, NUMERIC on PostgreSQL) as a float, for pandas.
            frame[column.name] = pd.to_numeric(values).astype("float64")
        elif isinstance(column.type, (sa.Integer, sa.BigInteger, sa.Float)):
            frame[column.name] = pd.to_numeric(values)
    return frame


def _read_rows(
    engine: Engine, table: sa.Table, chosen: list[sa.Column], contract_code: str | None
) -> pd.DataFrame:
    """The chosen columns' rows (one contract's) as the driver gives them."""
    statement = sa.select(*chosen)
    if contract_code is not None:
        statement = statement.where(table.c.contract_code == contract_code)
    query = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "postgresql":
            buffer = io.BytesIO()
            with raw.driver_connection.cursor() as cursor:
                with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
                    for chunk in copy:
                        buffer.write(chunk)
            buffer.seek(0)
            frame = pd.read_csv(buffer, dtype=str, keep_default_na=False, na_values=[""])
        else:
            target = engine.dialect.identifier_preparer.format_table(table)
            # The largest rowid bounds the table's rows: small tables are read by the cursor.
            size = raw.driver_connection.execute(f"SELECT max(rowid) FROM {target}").fetchone()[0]
            frame = sqlite_arrow(engine, query, chosen) if (size or 0) >= ADBC_MIN_ROWS else None
            if frame is None:
                frame = pd.read_sql_query(query, raw.driver_connection)
    finally:
        raw.close()
    return frame
