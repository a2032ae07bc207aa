"""Reading the warehouse back: large SQLite tables through ADBC (Arrow), exactly as the cursor reads them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from cvpipeline.warehouse import reads
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.schema import table_for
from cvpipeline.warehouse.writer import insert_frame

ROWS = reads.ADBC_MIN_ROWS + 5_000


def participations(rows: int) -> pd.DataFrame:
    """Participations shaped to trip a reader: empty cells first, a column empty throughout, gaps."""
    index = np.arange(rows)
    late = pd.Series(np.where(index < 3_000, None, "hauts_de_chambery"), dtype=object)  # empty first
    return pd.DataFrame(
        {
            "participation_id": [f"p_{i:022d}" for i in index],
            "source_id": "ma_chance_moi_aussi",
            "action_code": "accompagnement_enfants",
            "pillar": "cohesion_sociale",
            "beneficiary_key": [None if i % 7 == 0 else f"{i % 5_000:032x}" for i in index],
            "sex": np.where(index % 3 == 0, "F", "H"),
            "birth_year": pd.array([None if i % 11 == 0 else 2005 + i % 10 for i in index], dtype="Int64"),
            "age": pd.array([None] * rows, dtype="Int64"),
            "residence_status": "qpv",
            "qpv_id": late,
            "start_date": pd.Timestamp("2017-01-02") + pd.to_timedelta(index % 700, unit="D"),
            "end_date": pd.Series(pd.NaT, index=index).where(index % 2 == 0, pd.Timestamp("2019-06-30")),
            "contract_code": "CV262",
            "source_file": "enfants.csv",
            "source_sheet": None,  # a CSV has no sheet: empty throughout
            "source_row": index + 2,
            "file_sha256": "0" * 64,
            "run_id": "essai",
            "loaded_at": pd.Timestamp("2026-11-26 10:00:00"),
        }
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'entrepot.db'}")
    with engine.begin() as conn:
        prepare(conn)
        insert_frame(conn, table_for("sqlite", "participations"), participations(ROWS))
    yield engine
    engine.dispose()


def cursor_read(engine: sa.Engine, columns: list[str] | None = None) -> pd.DataFrame:
    """The same read through the cursor only (the reader's path below ADBC_MIN_ROWS)."""
    threshold = reads.ADBC_MIN_ROWS
    reads.ADBC_MIN_ROWS = 10**12
    try:
        return reads.read_table(engine, "participations", columns, "CV262")
    finally:
        reads.ADBC_MIN_ROWS = threshold


def test_a_large_table_read_through_arrow_is_the_cursor_read(warehouse: sa.Engine) -> None:
    table = table_for("sqlite", "participations")
    query = str(sa.select(*table.columns).compile(dialect=warehouse.dialect))
    assert reads.sqlite_arrow(warehouse, query, list(table.columns)) is not None  # the Arrow path is taken
    read = reads.read_table(warehouse, "participations", contract_code="CV262")
    pd.testing.assert_frame_equal(read, cursor_read(warehouse))
    assert len(read) == ROWS
    assert read["source_sheet"].map(lambda v: v is None).all()  # None, as the cursor gives it
    assert (
        read["qpv_id"].iloc[:3_000].isna().all()
        and (read["qpv_id"].iloc[3_000:] == "hauts_de_chambery").all()
    )
    assert read["birth_year"].isna().sum() == len(range(0, ROWS, 11))


def test_some_columns_of_one_contract(warehouse: sa.Engine) -> None:
    columns = ["beneficiary_key", "sex", "qpv_id", "start_date", "end_date"]
    read = reads.read_table(warehouse, "participations", columns, "CV262")
    pd.testing.assert_frame_equal(read, cursor_read(warehouse, columns))
    assert list(read.columns) == columns
    assert reads.read_table(warehouse, "participations", columns, "CN07302M").empty


def test_a_value_arrow_cannot_type_falls_back_to_the_cursor(warehouse: sa.Engine) -> None:
    database = warehouse.url.database
    with sqlite3.connect(database) as con:  # bytes in a text column: SQLite keeps what it is given
        con.execute("UPDATE participations SET source_file = X'00ff' WHERE source_row = 5000")
    table = table_for("sqlite", "participations")
    query = str(sa.select(table.c.source_file).compile(dialect=warehouse.dialect))
    assert reads.sqlite_arrow(warehouse, query, [table.c.source_file]) is None
    read = reads.read_table(warehouse, "participations", ["source_file"], "CV262")
    assert len(read) == ROWS
    assert read["source_file"].map(lambda v: v == b"\x00\xff").sum() == 1  # as SQLite holds it


def test_a_read_inside_a_write_transaction_keeps_the_writers_lock(warehouse: sa.Engine) -> None:
    """ADBC brings its own SQLite library: closing its connection would drop this process's locks.

    POSIX locks belong to the process, and the sqlite3 module's SQLite cannot know that another
    SQLite closed the file (sqlite.org/howtocorrupt.html, 2.2.1). So a read made while a connection
    of the same engine holds a transaction goes through the cursor: another process must still find
    the warehouse locked until that transaction ends.
    """
    import subprocess
    import sys

    path = warehouse.url.database
    probe = (
        "import sqlite3, sys\n"
        "con = sqlite3.connect(sys.argv[1], timeout=0)\n"
        "try:\n"
        "    con.execute('BEGIN EXCLUSIVE')\n"
        "    print('libre')\n"
        "except sqlite3.OperationalError:\n"
        "    print('verrouillé')\n"
    )

    def seen_from_another_process() -> str:
        return subprocess.run(
            [sys.executable, "-c", probe, path], capture_output=True, text=True, check=True
        ).stdout.strip()

    table = table_for("sqlite", "participations")
    query = "SELECT participation_id FROM participations"

    def through_adbc() -> bool:
        return reads.sqlite_arrow(warehouse, query, [table.c.participation_id]) is not None

    assert through_adbc()
    with warehouse.begin() as conn:
        conn.execute(sa.text("DELETE FROM participations WHERE source_row = 2"))
        assert seen_from_another_process() == "verrouillé"
        frame = reads.read_table(warehouse, "participations", ["participation_id"])
        assert len(frame) == ROWS  # this transaction's own delete is not seen by another connection
        assert seen_from_another_process() == "verrouillé"
        assert not through_adbc()
    assert seen_from_another_process() == "libre"
    assert through_adbc()  # the transaction over, large reads go through ADBC again
