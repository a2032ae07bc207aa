"""The source sensors with two contracts: a run only for the contract whose folder changed.

The warehouse is loaded by a real run of the full refresh for both shipped contracts (CV262 at the
root of incoming/, CN07302M in incoming/CN07302M/); the sensor, switched on afterwards, takes the
warehouse's slices as what it has already seen.
"""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from cvpipeline.defs.sensors import SENSOR_SUFFIX, parse_cursor
from cvpipeline_tests.e2e import query
from cvpipeline_tests.two_contracts import CATALOGS, loaded_contracts

SOURCE = "ordi_pratique"
SENSOR = f"{SOURCE}{SENSOR_SUFFIX}"
CITY, OTHER = "CV262", "CN07302M"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The sample's two contracts loaded by the full refresh job, one run each, on one instance."""
    with loaded_contracts(tmp_path_factory.mktemp("contract_sensors")) as loaded:
        yield loaded


def folder(loaded: dict, code: str) -> Path:
    """The source's folder of a contract (its catalog's folder below incoming/)."""
    contract = CATALOGS[code].folder
    incoming = loaded["data_dir"] / "incoming"
    return (incoming / contract if contract else incoming) / SOURCE


def tick(loaded: dict, cursor: str | None = None) -> dg.SensorResult:
    """One evaluation of the sensor, as the daemon does it (run requests resolved)."""
    sensor = next(s for s in loaded["defs"].sensors if s.name == SENSOR)
    context = dg.build_sensor_context(
        cursor=cursor,
        instance=loaded["instance"],
        definitions=loaded["defs"],
        resources={"settings": loaded["settings"]},
    )
    return sensor.evaluate_tick(context)


@pytest.fixture
def restored(loaded: dict) -> Iterator[dict]:
    """The sample's files back as they were loaded after each test (other tests start from them)."""
    saved = {code: {p: p.read_bytes() for p in folder(loaded, code).iterdir()} for code in (CITY, OTHER)}
    yield loaded
    for code, files in saved.items():
        for path in folder(loaded, code).iterdir():
            if path not in files:
                path.unlink()
        for path, content in files.items():
            path.write_bytes(content)


def test_both_contracts_have_slices_of_the_source(loaded: dict) -> None:
    slices = query(loaded["db"], "select distinct contract_code from file_slices where source_id = ?", SOURCE)
    assert {r[0] for r in slices} == {CITY, OTHER}


def test_the_first_tick_after_a_full_refresh_requests_nothing(restored: dict) -> None:
    first = tick(restored)
    assert first.run_requests == []
    assert first.skip_message.count("aucun changement") == 2
    cursor = parse_cursor(first.cursor)
    assert cursor.contracts == {CITY, OTHER}
    assert {name.split("/")[0] for name in cursor.files} == {CITY, OTHER}
    assert tick(restored, first.cursor).run_requests == []


def test_a_changed_file_requests_its_contract_alone(restored: dict) -> None:
    path = sorted(folder(restored, CITY).glob("*.xlsx"))[0]
    baseline = tick(restored)
    with path.open("ab") as handle:
        handle.write(b"\0")
    for cursor in (None, baseline.cursor):  # switched on just now, or running for a while
        result = tick(restored, cursor)
        assert [r.partition_key for r in result.run_requests] == [CITY]
        assert result.run_requests[0].run_key.startswith(f"{CITY}:{SOURCE}:")
        selected = {k.to_user_string() for k in result.run_requests[0].asset_selection}
        assert {SOURCE, "evaluation_metrics"} <= selected


def test_a_deleted_file_requests_its_contract_alone(restored: dict) -> None:
    baseline = tick(restored)
    gone = sorted(folder(restored, OTHER).iterdir())[0]
    gone.unlink()
    for cursor in (None, baseline.cursor):
        result = tick(restored, cursor)
        assert [r.partition_key for r in result.run_requests] == [OTHER]
        files = json.loads(result.cursor)["files"]
        assert f"{OTHER}/{gone.name}" not in files
        assert any(name.startswith(f"{CITY}/") for name in files)


def test_a_new_file_and_a_copy_of_a_loaded_one(restored: dict) -> None:
    original = sorted(folder(restored, OTHER).glob("*.xlsx"))[0]
    # A copy of a loaded file: the delivery counts it once and changes nothing.
    shutil.copyfile(original, original.with_name(f"{original.stem} - Copie.xlsx"))
    assert tick(restored).run_requests == []
    (folder(restored, CITY) / "ordi_pratique_2019.xlsx").write_bytes(original.read_bytes() + b"\0")
    assert [r.partition_key for r in tick(restored).run_requests] == [CITY]


def test_a_contract_missing_from_the_cursor_is_compared_with_the_warehouse(restored: dict) -> None:
    first = parse_cursor(tick(restored).cursor)
    # A cursor that has seen CV262 alone (written before CN07302M was served, or by an earlier version).
    only_city = {name: state.sha256 for name, state in first.files.items() if name.startswith(f"{CITY}/")}
    assert parse_cursor(json.dumps(only_city)).contracts == {CITY}
    assert tick(restored, json.dumps(only_city)).run_requests == []
    changed = sorted(folder(restored, OTHER).glob("*.xlsx"))[-1]
    with changed.open("ab") as handle:
        handle.write(b"\0")
    assert [r.partition_key for r in tick(restored, json.dumps(only_city)).run_requests] == [OTHER]
