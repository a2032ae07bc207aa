"""Write the warehouse through SQLAlchemy: typed bulk inserts (COPY on PostgreSQL), atomic replaces."""

from __future__ import annotations

import collections
import functools
import hashlib
import io
import logging
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cvpipeline.catalog import Catalog
from cvpipeline.ingest.geography import contract_qpvs
from cvpipeline.warehouse.schema import (
    ANALYST_SCHEMA,
    OPERATIONS_SCHEMA,
    metadata_for,
    table_for,
)

log = logging.getLogger("cvpipeline.warehouse")


def warehouse_exists(url: str) -> bool:
    """False for an embedded (SQLite file) warehouse whose file does not exist yet; True otherwise."""
    if url.startswith("sqlite:///"):
        from pathlib import Path

        path = url.removeprefix("sqlite:///")
        return path in ("", ":memory:") or Path(path).is_file()
    return True


def make_engine(url: str) -> Engine:
    """An engine for the warehouse URL; SQLite files get their folder and a busy timeout."""
    if url.startswith("sqlite:///"):
        from pathlib import Path

        path = Path(url.removeprefix("sqlite:///"))
        engine = sa.create_engine(url, connect_args={"timeout": 60}, hide_parameters=True)
        if str(path) not in ("", ":memory:"):
            path.parent.mkdir(parents=True, exist_ok=True)
            _count_transactions(engine, str(path.resolve()))
        return engine
    # hide_parameters: a database error must never print row values into logs.
    return sa.create_engine(url, hide_parameters=True)


# SQLAlchemy transactions open on each SQLite file in this process, by the engines of make_engine.
_OPEN_TRANSACTIONS: collections.Counter[str] = collections.Counter()
_OPEN_TRANSACTIONS_LOCK = threading.Lock()


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


def typed_frame(table: sa.Table, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame's columns that the table has, converted to the column types (vectorised)."""
    out = pd.DataFrame(index=frame.index)
    for column in table.columns:
        if column.name not in frame:
            continue
        values = frame[column.name]
        if isinstance(column.type, sa.Date):
            values = pd.to_datetime(values).dt.date
        elif isinstance(column.type, sa.DateTime):
            values = pd.to_datetime(values).dt.to_pydatetime()
            values = pd.Series(values, index=frame.index, dtype=object)
        elif isinstance(column.type, (sa.Integer, sa.BigInteger)):
            values = pd.to_numeric(values, errors="coerce").astype("Int64")
        elif isinstance(column.type, sa.Float):
            values = pd.to_numeric(values, errors="coerce").astype("float64")
        out[column.name] = values
    return out


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
    import pyarrow as pa
    from pyarrow import csv as pa_csv

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
        from cvpipeline.ingest.french import per_distinct

        moments = pd.to_datetime(values)
        fmt = SQLITE_DATE if not isinstance(column.type, sa.DateTime) else SQLITE_DATETIME
        present = moments.notna()
        converted = pd.Series(None, index=values.index, dtype=object)
        if present.any():  # each distinct moment formatted once (days repeat, loaded_at is one)
            converted[present] = per_distinct(moments[present], lambda m: m.dt.strftime(fmt).astype(object))
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


# A text column whose first rows hold this few distinct values is converted value by value.
FEW_VALUES_SAMPLE, FEW_VALUES = 1_000, 50


def reference_frames(catalog: Catalog) -> dict[str, pd.DataFrame]:
    """The reference tables of a contract (its sources, actions, QPVs) and the national contract list."""
    code = catalog.contract_code
    sources = pd.DataFrame(
        [
            {
                "contract_code": code,
                "source_id": s.source_id,
                "partner": s.partner,
                "family": s.family,
                "description": s.description,
                "file_patterns": ", ".join(s.file_patterns),
            }
            for s in catalog.sources.values()
        ]
    )
    actions = pd.DataFrame(
        [
            {
                "contract_code": code,
                "action_code": a.code,
                "label": a.label,
                "pillar": a.pillar,
                "pillar_label": catalog.pillars[a.pillar].label,
                "source_id": a.source_id,
            }
            for a in catalog.actions.values()
        ]
    )
    qpv = contract_qpvs(catalog).assign(contract_code=code)
    return {
        "ref_sources": sources,
        "ref_actions": actions,
        "ref_qpv": qpv,
        "ref_contracts": shipped_contracts(),
    }


# Reference tables holding one contract's rows (replaced contract by contract); the others are national.
CONTRACT_REFERENCES = ("ref_sources", "ref_actions", "ref_qpv")


CONTRACTS_FILE = "anct/contrats-de-ville-2015.json"


def shipped_contracts() -> pd.DataFrame:
    """The ANCT's list of contrats de ville shipped in the package (code, label, QPV population)."""
    return _shipped_contracts().copy()


@functools.cache
def _shipped_contracts() -> pd.DataFrame:
    """The list read once per process (a run over many contracts needs it for each)."""
    from cvpipeline.ingest.anct import load_contracts
    from cvpipeline.ingest.reference_files import shipped_path

    return load_contracts(shipped_path(CONTRACTS_FILE))


@functools.cache
def _official_list(path: Path, year: int, variants: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An official QPV list (ref_qpv_official rows) and the team's variants of its QPVs, read once."""
    from cvpipeline.ingest.qpv_reference import SHIPPED_VARIANTS, load_qpv_list, load_qpv_variants
    from cvpipeline.ingest.reference_files import shipped_path

    reference = load_qpv_list(path, year).assign(source_file=path.name)
    return reference, load_qpv_variants(variants or shipped_path(SHIPPED_VARIANTS), reference)


def official_qpv_frames(catalog: Catalog, shipped: bool = True) -> dict[str, pd.DataFrame]:
    """ref_qpv_official and ref_qpv_variants: the shipped official lists, and the contract's own list."""
    from cvpipeline.ingest.qpv_reference import SHIPPED_INSEE_OCCITANIE_2015
    from cvpipeline.ingest.reference_files import shipped_path

    lists = [(shipped_path(SHIPPED_INSEE_OCCITANIE_2015), 2015, None)] if shipped else []
    if catalog.qpv_list is not None and catalog.qpv_geography:
        lists.append((catalog.qpv_list, int(catalog.qpv_geography), catalog.qpv_variants))
    read = [_official_list(*entry) for entry in lists]
    if not read:
        return {}
    keys = ["geography_year", "official_code"]
    official = pd.concat([r for r, _ in read], ignore_index=True).drop_duplicates(keys)
    variants = pd.concat([v for _, v in read], ignore_index=True).drop_duplicates([*keys, "variant"])
    return {"ref_qpv_official": official, "ref_qpv_variants": variants}


def _upsert_qpv(conn: Connection, name: str, frame: pd.DataFrame) -> None:
    """Replace the rows of the QPVs a frame holds (other lists' QPVs, loaded by other contracts, stay)."""
    table = table_for(conn.dialect.name, name)
    for year, rows in frame.groupby("geography_year"):
        codes = sorted(set(rows["official_code"]))
        for start in range(0, len(codes), 500):
            chosen = table.c.official_code.in_(codes[start : start + 500])
            conn.execute(table.delete().where((table.c.geography_year == int(year)) & chosen))
    insert_frame(conn, table, frame)


def replace_references(engine: Engine, catalog: Catalog, national: bool = True) -> dict[str, pd.DataFrame]:
    """Replace a contract's reference rows (from its catalog) and the national lists, in one transaction.

    `national=False` leaves the national contract list alone (already written by this run); the
    contract's own official QPV list is written either way.
    """
    frames = reference_frames(catalog)
    if not national:
        frames = {name: frame for name, frame in frames.items() if name in CONTRACT_REFERENCES}
    official = official_qpv_frames(catalog, shipped=national)
    with engine.begin() as conn:
        prepare(conn)
        _lock(conn)
        for name, frame in frames.items():
            table = table_for(conn.dialect.name, name)
            if name in CONTRACT_REFERENCES:
                conn.execute(table.delete().where(table.c.contract_code == catalog.contract_code))
            else:
                conn.execute(table.delete())
            insert_frame(conn, table, frame)
        for name, frame in official.items():
            _upsert_qpv(conn, name, frame)
    return {**frames, **official}


def _of_contract(table: sa.Table, contract_code: str | None) -> sa.ColumnElement[bool]:
    """Rows of one contract (and rows an earlier version wrote without one); every row when None."""
    if contract_code is None:
        return sa.true()
    return (table.c.contract_code == contract_code) | table.c.contract_code.is_(None)


def replace_table(engine: Engine, name: str, frame: pd.DataFrame, contract_code: str | None = None) -> int:
    """Replace a table's rows atomically (evaluation_metrics, evaluation_targets): a contract's, or all."""
    with engine.begin() as conn:
        prepare(conn)
        _lock(conn)
        table = table_for(conn.dialect.name, name)
        conn.execute(table.delete().where(_of_contract(table, contract_code)))
        return insert_frame(conn, table, frame)


def replace_periods(
    engine: Engine,
    name: str,
    frame: pd.DataFrame,
    periods: list[tuple[str, str]],
    contract_code: str | None = None,
) -> int:
    """Replace only the rows of some periods (a partition's slice), of one contract or all, atomically."""
    with engine.begin() as conn:
        prepare(conn)
        _lock(conn)
        table = table_for(conn.dialect.name, name)
        for start, end in periods:
            bounds = (table.c.period_start == pd.Timestamp(start).date()) & (
                table.c.period_end == pd.Timestamp(end).date()
            )
            conn.execute(table.delete().where(bounds & _of_contract(table, contract_code)))
        return insert_frame(conn, table, frame)


def _sqlite_arrow(engine: Engine, query: str, columns: list[sa.Column]) -> pd.DataFrame | None:
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
    if _OPEN_TRANSACTIONS[str(Path(path).resolve())] > 0:
        log.debug("lecture par le curseur : une transaction est ouverte sur l'entrepôt dans ce processus")
        return None
    import adbc_driver_manager
    import adbc_driver_sqlite.dbapi
    import pyarrow as pa

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
    if not sa.inspect(engine).has_table(name, schema=table.schema):
        return pd.DataFrame(columns=[c.name for c in chosen])
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
            frame = _sqlite_arrow(engine, query, chosen) if (size or 0) >= ADBC_MIN_ROWS else None
            if frame is None:
                frame = pd.read_sql_query(query, raw.driver_connection)
    finally:
        raw.close()
    for column in chosen:
        values = frame[column.name]
        if isinstance(column.type, (sa.Date, sa.DateTime)):
            frame[column.name] = pd.to_datetime(values, format="ISO8601")
        elif isinstance(column.type, (sa.Integer, sa.BigInteger, sa.Float)):
            frame[column.name] = pd.to_numeric(values)
    return frame


def prepare(conn: Connection) -> None:
    """Create the schemas and tables that do not exist yet, and bring older tables up to date."""
    schema = _sqlite_schema(conn)
    if schema in _CURRENT_SCHEMAS:  # this exact SQLite schema was found up to date in this process
        return
    metadata = metadata_for(conn.dialect.name)
    inspector = sa.inspect(conn)
    existing = {t: inspector.has_table(t.name, schema=t.schema) for t in metadata.tables.values()}
    if all(existing.values()) and not _missing_columns(inspector, metadata) and not _missing_indexes(conn):
        if schema is not None:
            _CURRENT_SCHEMAS.add(schema)
        return
    if conn.dialect.name == "postgresql":
        # Two first runs creating the tables at once must not race: DDL under the writers' lock.
        _lock(conn)
        for schema in (ANALYST_SCHEMA, OPERATIONS_SCHEMA):
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    _upgrade(conn, metadata)
    metadata.create_all(conn)
    for index in _missing_indexes(conn):  # tables of an earlier version: create_all leaves them
        log.warning("entrepôt d'une version antérieure : index %s créé", index.name)
        index.create(conn)


# Digests of SQLite schemas (sqlite_master) that `prepare` found up to date: the inspection of every
# table, column and index (~15 ms) is then skipped. A schema changed in any way has another digest.
_CURRENT_SCHEMAS: set[str] = set()


def _sqlite_schema(conn: Connection) -> str | None:
    """A digest of a SQLite database's whole schema (every table's and index's SQL); None elsewhere."""
    if conn.dialect.name != "sqlite":
        return None
    rows = conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
    return hashlib.sha256(repr(rows.all()).encode()).hexdigest()


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
    if legacy:
        conn.execute(quarantine.delete())
        log.warning("entrepôt d'une version antérieure : colonnes ajoutées, quarantaine vidée (relecture)")


# Tables written whole from the catalogs (nothing in them comes from a partner file).
REBUILT_TABLES = ("ref_sources", "ref_actions", "ref_qpv", "ref_labels")


def warehouse_lock(conn: Connection) -> None:
    """Serialise the writers of tables that every run rewrites (labels, views): see `_lock`."""
    _lock(conn)


def _lock(conn: Connection) -> None:
    """Serialise writers: two runs cannot interleave their writes.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: its own database lock already lets one
    writing transaction at a time, the other waits (busy timeout).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('cvpipeline-warehouse'))"))
