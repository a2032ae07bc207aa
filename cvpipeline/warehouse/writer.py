"""Write the warehouse through SQLAlchemy: typed bulk inserts (COPY on PostgreSQL), atomic replaces."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from pyarrow import csv as pa_csv
from sqlalchemy.engine import Connection, Engine

from cvpipeline.ingest.french import per_distinct
from cvpipeline.warehouse.engine import warehouse_lock
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.schema import Money, money_text, table_for

# Rows converted and sent at a time: bounds the memory of a load whatever the file's size.
CHUNK_ROWS = 50_000
# SQLAlchemy's storage formats for dates and timestamps on SQLite (what it reads back); ISO text
# that PostgreSQL's COPY takes as well.
SQLITE_DATE = "%Y-%m-%d"
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def insert_frame(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    """Bulk-insert a frame into a table inside the caller's transaction, in chunks.

    PostgreSQL: COPY FROM STDIN (psycopg 3). SQLite: the driver's executemany on plain tuples,
    values in SQLAlchemy's own storage formats, so that SQLAlchemy reads them back as it wrote them.
    """
    if frame.empty:
        return 0
    columns = [c.name for c in table.columns if c.name in frame]
    preparer = conn.dialect.identifier_preparer
    target = f"{preparer.format_table(table)} ({', '.join(preparer.quote(c) for c in columns)})"
    cursor = conn.connection.driver_connection.cursor()
    if conn.dialect.name == "postgresql":
        with cursor.copy(f"COPY {target} FROM STDIN WITH (FORMAT csv)") as copy:
            for start in range(0, len(frame), CHUNK_ROWS):
                chunk = _copy_chunk(table, frame.iloc[start : start + CHUNK_ROWS][columns])
                copy.write(_csv_bytes(chunk))
        return len(frame)
    statement = f"INSERT INTO {target} VALUES ({', '.join('?' * len(columns))})"
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS][columns]
        cursor.executemany(
            statement, zip(*(_sqlite_values(table.c[c], chunk[c]) for c in columns), strict=True)
        )
    return len(frame)


def _csv_bytes(chunk: pd.DataFrame) -> bytes:
    """A chunk as CSV for COPY, written by pyarrow's C++ writer (nulls as empty, unquoted)."""
    sink = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    pa_csv.write_csv(pa.Table.from_pandas(chunk, preserve_index=False), sink, write_options=options)
    return sink.getvalue()


def _copy_chunk(table: sa.Table, chunk: pd.DataFrame) -> pd.DataFrame:
    """A chunk typed for COPY's CSV: dates as ISO text, whole numbers without decimals, text as is."""
    out = pd.DataFrame(index=chunk.index)
    for name in chunk.columns:
        column, values = table.c[name], chunk[name]
        if isinstance(column.type, (sa.Date, sa.DateTime)):
            moments = pd.to_datetime(values)
            fmt = SQLITE_DATETIME if isinstance(column.type, sa.DateTime) else SQLITE_DATE
            out[name] = moments.dt.strftime(fmt).where(moments.notna(), None)
        elif isinstance(column.type, Money):  # exact text for NUMERIC(14,2): no binary fraction
            out[name] = money_texts(values).astype("string")
        elif isinstance(column.type, (sa.Integer, sa.BigInteger)):
            out[name] = pd.to_numeric(values, errors="coerce").astype("Int64")
        elif isinstance(column.type, sa.Float):
            out[name] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:  # text: one type per column for pyarrow (a code read as a number becomes its text)
            out[name] = values.astype("string")
    return out


def _sqlite_values(column: sa.Column, values: pd.Series) -> list[object]:
    """A column's values as SQLite takes them: None for missing, dates as SQLAlchemy stores them."""
    if isinstance(column.type, (sa.Date, sa.DateTime)):
        moments = pd.to_datetime(values)
        fmt = SQLITE_DATE if not isinstance(column.type, sa.DateTime) else SQLITE_DATETIME
        present = moments.notna()
        converted = pd.Series(None, index=values.index, dtype=object)
        if present.any():  # each distinct moment formatted once (days repeat, loaded_at is one)
            converted[present] = per_distinct(moments[present], lambda m: m.dt.strftime(fmt).astype(object))
    elif isinstance(column.type, Money):
        converted = money_texts(values)
    elif isinstance(column.type, (sa.Integer, sa.BigInteger)):
        numbers = pd.to_numeric(values, errors="coerce").astype("Int64")
        converted = numbers.astype(object).where(numbers.notna(), None)
    elif isinstance(column.type, sa.Float):
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        converted = numbers.astype(object).where(numbers.notna(), None)
    elif len(values) > FEW_VALUES_SAMPLE and values.iloc[:FEW_VALUES_SAMPLE].nunique() <= FEW_VALUES:
        # A code, a file name, a run: one Python string per distinct value, shared by the rows.
        codes, uniques = pd.factorize(values)
        distinct = np.append(np.asarray(uniques, dtype=object), None)  # code -1 (missing) -> None
        return distinct.take(codes).tolist()
    else:
        converted = values.astype(object).where(values.notna(), None)
    return converted.tolist()


def money_texts(values: pd.Series) -> pd.Series:
    """Amounts in euros as exact text with two decimals ('1500.50'), None for a missing one.

    The text both databases store (SQLite as is, PostgreSQL's COPY into NUMERIC(14,2)): the same
    rounding to the cent everywhere. Each distinct amount is formatted once.
    """
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    present = pd.Series(np.isfinite(numbers.to_numpy()), index=values.index)
    converted = pd.Series(None, index=values.index, dtype=object)
    if present.any():
        converted[present] = per_distinct(
            numbers[present], lambda n: pd.Series([money_text(v) for v in n], dtype=object)
        )
    return converted


# A text column whose first rows hold this few distinct values is converted value by value.
FEW_VALUES_SAMPLE, FEW_VALUES = 1_000, 50


def _of_contract(table: sa.Table, contract_code: str | None) -> sa.ColumnElement[bool]:
    """Rows of one contract (and rows an earlier version wrote without one); every row when None."""
    if contract_code is None:
        return sa.true()
    return (table.c.contract_code == contract_code) | table.c.contract_code.is_(None)


def replace_table(engine: Engine, name: str, frame: pd.DataFrame, contract_code: str | None = None) -> int:
    """Replace a table's rows atomically (evaluation_metrics, evaluation_targets): a contract's, or all."""
    with engine.begin() as conn:
        prepare(conn)
        warehouse_lock(conn)
        table = table_for(conn.dialect.name, name)
        conn.execute(table.delete().where(_of_contract(table, contract_code)))
        return insert_frame(conn, table, frame)
