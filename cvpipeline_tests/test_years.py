"""Years with two contracts: each contract's yearly figures are exactly its data's years, no year partition.

The sample's contracts have data in 2016-2018 (CV262) and 2024-2025 (CN07302M). The years are rows of
evaluation_metrics (period_kind = 'year') that each contract's run rewrites; no asset is partitioned by
year, so one contract's "Materialize all" is one run of that contract's partition.
"""

import sqlite3
from collections.abc import Iterator

import dagster as dg
import pytest

from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.migrations import RETIRED_TABLES, prepare
from cvpipeline_tests.two_contracts import loaded_contracts


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The sample's two contracts loaded by the full refresh job, one run each, on one instance."""
    with loaded_contracts(tmp_path_factory.mktemp("years")) as loaded:
        yield loaded


def test_each_contract_has_the_years_of_its_data_and_no_other(loaded: dict) -> None:
    with sqlite3.connect(loaded["db"]) as con:
        rows = con.execute(
            "select distinct contract_code, substr(period_start, 1, 4), period_end from evaluation_metrics "
            "where period_kind = 'year'"
        ).fetchall()
    years = {(code, year) for code, year, _ in rows}
    assert years == {("CV262", y) for y in ("2016", "2017", "2018")} | {
        ("CN07302M", y) for y in ("2024", "2025")
    }
    assert all(end == f"{year}-12-31" for _, year, end in rows)


def test_every_partitioned_asset_and_check_is_partitioned_by_contract(loaded: dict) -> None:
    """What lets the UI launch one contract's "Materialize all" as a single run, not a backfill."""
    graph = loaded["defs"].resolve_asset_graph()
    partitionings = {
        graph.get(key).partitions_def
        for key in graph.materializable_asset_keys
        if graph.get(key).partitions_def
    }
    assert len(partitionings) == 1
    (contracts,) = partitionings
    assert isinstance(contracts, dg.StaticPartitionsDefinition)
    assert contracts.get_partition_keys() == ["CN07302M", "CV262"]
    unpartitioned = {
        k.to_user_string() for k in graph.materializable_asset_keys if not graph.get(k).partitions_def
    }
    assert unpartitioned == {"postes_anct"}  # a national source: one file for every contract
    assert not [s for s in loaded["defs"].sensors if "annee" in s.name]


def test_an_earlier_warehouse_loses_its_retired_tables(loaded: dict, tmp_path) -> None:
    copy = tmp_path / "earlier.db"
    with sqlite3.connect(loaded["db"]) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as con:
        for name in RETIRED_TABLES:
            con.execute(f"create table {name} as select * from evaluation_metrics")
    with sqlite3.connect(copy) as con:
        before = con.execute("select count(*) from evaluation_metrics").fetchone()[0]
    # What every write does first: bring the schema up to date.
    with make_engine(f"sqlite:///{copy}").begin() as conn:
        prepare(conn)
    with sqlite3.connect(copy) as con:
        tables = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
        after = con.execute("select count(*) from evaluation_metrics").fetchone()[0]
    assert not set(RETIRED_TABLES) & tables
    assert after == before > 0
