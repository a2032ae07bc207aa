"""The warehouse as slices: the rows one partner file produced, replaced on their own.

A slice is keyed by (contract_code, source_id, file). Its rows live in the fact tables and in
`quarantine` (columns contract_code, source_id, source_file); a national source's rows carry each
their own contract, so in its tables (`SliceWrite.file_keyed_tables`) a slice is (source_id, file).
`file_slices` records which version of the file (its SHA-256) is in place. Writing a source's
slices is one transaction under a lock per source: readers never see a half-written slice and two
runs of one source never interleave.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cvpipeline.warehouse.identity import hold_key, verify_key
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.reads import read_table
from cvpipeline.warehouse.schema import FACT_TABLES, table_for
from cvpipeline.warehouse.writer import insert_frame

SLICE_COLUMNS = [
    "contract_code",
    "source_id",
    "file",
    "sha256",
    "archive_path",
    "rules_fingerprint",
    "status",
    "rows_loaded",
    "rows_quarantined",
    "cross_file_conflicts",
    "received_at",
    "run_id",
]
SLICED_TABLES = (*FACT_TABLES, "quarantine")


@dataclass
class SliceWrite:
    """What a source's run changes in the warehouse: slices replaced, slices removed, ledger rows."""

    contract_code: str
    source_id: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)
    slices: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SLICE_COLUMNS))
    removed: list[str] = field(default_factory=list)
    ledger: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Tables whose rows each carry their own contract (a national source: one file, many contracts).
    # A slice's rows there are found by (source_id, source_file) alone, never by `contract_code`.
    file_keyed_tables: tuple[str, ...] = ()
    # The fingerprint of the pseudonymisation key the rows were read under (None: rows without a person,
    # a national source's). The write is refused unless it is the warehouse's (identity.verify_key).
    key_fingerprint: str | None = None
    # Where that key is kept, in French, for the refusal's message.
    key_origin: str = ""

    @property
    def replaced(self) -> list[str]:
        """Files whose slice this write replaces (new or changed content)."""
        return sorted(self.slices["file"]) if not self.slices.empty else []


def slice_is_current(known: pd.Series | None, sha256: str | None, fingerprint: str) -> bool:
    """Whether a file's slice in place needs no new read: same bytes, same rules, no cross-file conflict.

    Rows set aside as records of another file are weighed again each run.
    """
    return (
        known is not None
        and sha256 == known["sha256"]
        and known["rules_fingerprint"] == fingerprint
        and not (pd.notna(known["cross_file_conflicts"]) and known["cross_file_conflicts"])
    )


def current_slices(engine: Engine, contract_code: str, source_id: str | None = None) -> pd.DataFrame:
    """The slices in place for a contract (and a source), one row per file (only its rows are read)."""
    frame = read_table(engine, "file_slices", contract_code=contract_code)
    if source_id is not None:
        frame = frame[frame["source_id"] == source_id]
    return frame.reset_index(drop=True)


def lock_source(conn: Connection, contract_code: str, source_id: str) -> None:
    """Serialise the runs that write one source's slices (PostgreSQL advisory lock).

    SQLite lets one writing transaction at a time anyway (the others wait, busy timeout).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:contract), hashtext(:source))"),
            {"contract": contract_code, "source": source_id},
        )


def write_slices(engine: Engine, change: SliceWrite, run_id: str) -> None:
    """Replace and remove a source's slices and append its ledger rows, in one transaction."""
    with engine.begin() as conn:
        prepare(conn)
        replace_slices(conn, change, run_id)


def replace_slices(conn: Connection, change: SliceWrite, run_id: str) -> None:
    """`write_slices` inside the caller's transaction (a change of key rewrites every source in one)."""
    loaded_at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    touched = sorted(set(change.replaced) | set(change.removed))
    if change.key_fingerprint is not None:
        hold_key(conn)  # before the source's lock: a change of key takes them in this order too
    lock_source(conn, change.contract_code, change.source_id)
    dialect = conn.dialect.name
    for start in range(0, len(touched), 500):
        files = touched[start : start + 500]
        for name in (*SLICED_TABLES, *change.file_keyed_tables):
            table = table_for(dialect, name)
            where = (table.c.source_id == change.source_id) & table.c.source_file.in_(files)
            if name not in change.file_keyed_tables:
                where = where & (table.c.contract_code == change.contract_code)
            conn.execute(table.delete().where(where))
        slices = table_for(dialect, "file_slices")
        conn.execute(
            slices.delete().where(
                (slices.c.contract_code == change.contract_code)
                & (slices.c.source_id == change.source_id)
                & slices.c.file.in_(files)
            )
        )
    for name, frame in change.tables.items():
        if frame.empty:
            continue
        insert_frame(conn, table_for(dialect, name), frame.assign(run_id=run_id, loaded_at=loaded_at))
    if not change.quarantine.empty:
        insert_frame(conn, table_for(dialect, "quarantine"), change.quarantine.assign(run_id=run_id))
    if not change.slices.empty:
        insert_frame(conn, table_for(dialect, "file_slices"), change.slices.assign(run_id=run_id))
    if change.key_fingerprint is not None:
        # Checked under the key's lock and after the writes above (SQLite's write lock is held):
        # rows read under a key that is no longer the warehouse's are never committed.
        verify_key(conn, change.key_fingerprint, change.key_origin)
    # The ledger goes last: a run killed before this point has changed nothing.
    if not change.ledger.empty:
        insert_frame(conn, table_for(dialect, "ingestion_ledger"), change.ledger.assign(run_id=run_id))


def source_row_counts(engine: Engine, contract_code: str, source_id: str) -> dict[str, int]:
    """Rows of a source in each sliced table of the warehouse (what it holds now)."""
    counts: dict[str, int] = {}
    dialect = engine.dialect.name
    with engine.connect() as conn:
        for name in SLICED_TABLES:
            table = table_for(dialect, name)
            query = (
                sa.select(sa.func.count())
                .select_from(table)
                .where((table.c.contract_code == contract_code) & (table.c.source_id == source_id))
            )
            counts[name] = int(conn.execute(query).scalar() or 0)
    return counts


def source_rows(engine: Engine, name: str, contract_code: str, source_id: str, limit: int) -> pd.DataFrame:
    """The first rows of a source in a warehouse table (for a preview in Dagster's metadata)."""
    table = table_for(engine.dialect.name, name)
    query = (
        sa.select(table)
        .where((table.c.contract_code == contract_code) & (table.c.source_id == source_id))
        .order_by(table.c.source_file, table.c.source_sheet, table.c.source_row)
        .limit(limit)
    )
    with engine.connect() as conn:
        return pd.read_sql(query, conn)
