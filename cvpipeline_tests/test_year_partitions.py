"""The year partitions with two contracts: exactly the years with data, and none in a contract's backfill.

The sample's contracts have data in 2016-2018 (CV262) and 2024-2025 (CN07302M): 2019-2023 hold
no row of either and are no partition.
"""

import sqlite3
import time
from collections.abc import Iterator

import dagster as dg
import pytest

# What the UI's "Materialize all" (the launchPartitionBackfill mutation) builds: Dagster's backfill.
from dagster._core.execution.backfill import PartitionBackfill

from cvpipeline.defs.metrics import build_year_partitions_sensor, year_partition_changes
from cvpipeline.defs.names import YEARLY_METRICS, YEARS
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.metrics.refresh import data_years
from cvpipeline.warehouse.engine import make_engine
from cvpipeline_tests.two_contracts import loaded_contracts

DATA_YEARS = [2016, 2017, 2018, 2024, 2025]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The sample's two contracts loaded by the full refresh job, one run each, on one instance."""
    with loaded_contracts(tmp_path_factory.mktemp("year_partitions")) as loaded:
        yield loaded


def test_the_partitions_are_the_years_with_data_without_the_gap(loaded: dict) -> None:
    assert data_years(make_engine(loaded["settings"].warehouse_url)) == DATA_YEARS
    # evaluation_metrics registered them, one contract after the other (CN07302M's 2024-2025 first):
    # in the order of the years all the same, as the UI lists them.
    assert loaded["instance"].get_dynamic_partitions(YEARS.name) == [str(y) for y in DATA_YEARS]


def test_the_partition_changes_keep_the_years_in_order() -> None:
    assert year_partition_changes(["2024", "2025"], ["2016", "2024", "2025"]) == (
        ["2024", "2025"],
        ["2016", "2024", "2025"],
    )
    assert year_partition_changes(["2015", "2016"], ["2016", "2017"]) == (["2015"], ["2017"])
    assert year_partition_changes(["2016", "2019", "2024"], ["2016", "2024"]) == (["2019"], [])
    assert year_partition_changes(["2016"], ["2016"]) == ([], [])


def test_a_year_leaves_with_its_data(loaded: dict, tmp_path) -> None:
    copy = tmp_path / "warehouse.db"
    with sqlite3.connect(loaded["db"]) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    engine = make_engine(f"sqlite:///{copy}")
    with sqlite3.connect(copy) as con:
        for table, column in (
            ("participations", "start_date"),
            ("activities", "coalesce(activity_date, activity_year)"),
            ("fundings", "year"),
        ):
            con.execute(f"delete from {table} where substr({column}, 1, 4) = '2025'")
        con.execute("delete from participations where substr(end_date, 1, 4) = '2025'")
    assert data_years(engine) == [2016, 2017, 2018, 2024]
    # An open enrolment runs to its contract's last year of data, not beyond.
    with sqlite3.connect(copy) as con:
        con.execute("update participations set end_date = null where contract_code = 'CV262'")
    assert data_years(engine) == [2016, 2017, 2018, 2024]
    sensor = build_year_partitions_sensor(YEARS.name)
    settings = PipelineSettings(data_dir=loaded["settings"].data_dir, warehouse_url=f"sqlite:///{copy}")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(YEARS.name, [str(y) for y in DATA_YEARS])
        result = sensor(dg.build_sensor_context(instance=instance, resources={"settings": settings}))
    requests = {type(r).__name__: list(r.partition_keys) for r in result.dynamic_partitions_requests}
    assert requests == {"DeleteDynamicPartitionsRequest": ["2025"]}


def test_materialize_all_for_one_contract_launches_no_year(loaded: dict) -> None:
    graph = loaded["defs"].resolve_asset_graph()
    keys = sorted(graph.materializable_asset_keys)
    assert dg.AssetKey(YEARLY_METRICS) in keys
    backfill = PartitionBackfill.from_asset_partitions(
        "materialize-all",
        graph,
        ["CN07302M"],
        keys,
        time.time(),
        {},
        loaded["instance"],
        False,
        None,
        None,
        None,
    )
    target = backfill.asset_backfill_data.target_subset
    assert dg.AssetKey(YEARLY_METRICS) not in target.asset_keys
    assert set(target.get_partitions_subset(dg.AssetKey("evaluation_metrics")).get_partition_keys()) == {
        "CN07302M"
    }


def test_the_years_are_recomputed_on_demand_for_every_contract(loaded: dict) -> None:
    yearly = next(a for a in loaded["defs"].assets if dg.AssetKey(YEARLY_METRICS) in a.keys)
    result = dg.materialize(
        [yearly],
        resources={"settings": loaded["settings"]},
        instance=loaded["instance"],
        tags={"dagster/asset_partition_range_start": "2018", "dagster/asset_partition_range_end": "2024"},
    )
    assert result.success
    with sqlite3.connect(loaded["db"]) as con:
        rows = con.execute(
            "select contract_code, substr(period_start, 1, 4), count(*) from evaluation_metrics_by_year "
            "group by 1, 2"
        ).fetchall()
    # The range 2018..2024 holds the partitions 2018 and 2024 only: one year of each contract.
    assert {(code, year) for code, year, count in rows if count} == {("CV262", "2018"), ("CN07302M", "2024")}
