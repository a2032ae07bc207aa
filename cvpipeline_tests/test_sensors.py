"""The per-source file sensors and the full-refresh schedule, on real files in a temporary folder."""

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

import cvpipeline.defs.sensors as sensors
import cvpipeline.ingest.source as ingest_source
from cvpipeline.catalog import load_catalog
from cvpipeline.defs import build_defs
from cvpipeline.defs.names import FULL_REFRESH_JOB, WAREHOUSE_TAG
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.sensors import (
    DEFAULT_REFRESH_CRON,
    MINIMUM_INTERVAL_SECONDS,
    REFRESH_CRON_ENV,
    REFRESH_SCHEDULE,
    REFRESH_TIMEZONE,
    SENSOR_SUFFIX,
    parse_cursor,
)
from cvpipeline.settings import ConfigurationError, Settings
from cvpipeline_tests.e2e import SAMPLE_INCOMING

SOURCE = "etat_valeurs_republique"
SENSOR = f"{SOURCE}{SENSOR_SUFFIX}"
CATALOG = load_catalog()
DEFS = build_defs(CATALOG)
HEADER = "Date,Type de session,Lieu,Organisme,Structures participantes,Nombre de participants\n"
ROW_A = "10/11/2019,Formation,Maison de quartier de Bellevue,Préfecture,MJC de Chambéry,15\n"
ROW_B = "10/11/2019,Formation,Maison de quartier de Bellevue,Préfecture,MJC de Chambéry,16\n"
OLD_MTIME_NS = 1_700_000_000_000_000_000


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder that the sensors read through CVPIPELINE_DATA_DIR."""
    monkeypatch.setenv("CVPIPELINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CVPIPELINE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.db'}")
    (tmp_path / "incoming" / SOURCE).mkdir(parents=True)
    return tmp_path


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """An instance where every other source has been materialised (as after a full refresh)."""
    with dg.DagsterInstance.ephemeral() as instance:
        for source_id in CATALOG.sources:
            if source_id != SOURCE:
                instance.report_runless_asset_event(dg.AssetMaterialization(source_id))
        yield instance


def sensor_def(name: str = SENSOR) -> dg.SensorDefinition:
    return next(s for s in DEFS.sensors if s.name == name)


def tick(instance: dg.DagsterInstance, cursor: str | None = None, name: str = SENSOR):
    """One evaluation of a sensor, as the daemon does it (run requests resolved)."""
    context = dg.build_sensor_context(
        cursor=cursor, instance=instance, definitions=DEFS, resources={"settings": PipelineSettings()}
    )
    return sensor_def(name).evaluate_tick(context)


def write(path: Path, *rows: str, mtime_ns: int | None = OLD_MTIME_NS) -> Path:
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files the sensor reads to hash them."""
    calls: list[str] = []
    real = ingest_source.sha256_of

    def counting(path: Path) -> str:
        calls.append(path.name)
        return real(path)

    monkeypatch.setattr(sensors, "sha256_of", counting)  # the name the sensors call
    return calls


def test_the_sensors_interval_comes_from_the_environment(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_environment({"CVPIPELINE_SENSOR_INTERVAL_SECONDS": "5"})
    defs = build_defs(CATALOG, sensor_interval_s=settings.sensor_interval_s)
    assert {s.minimum_interval_seconds for s in defs.sensors} == {5}
    assert all("toutes les 5 s" in (s.description or "") for s in defs.sensors)
    wrong = Settings.from_environment({"CVPIPELINE_SENSOR_INTERVAL_SECONDS": "0"})
    assert wrong.sensor_interval_s == MINIMUM_INTERVAL_SECONDS == 30
    assert "n'est pas un nombre de secondes positif" in caplog.text


def test_one_stopped_sensor_per_source_targeting_the_source_and_downstream() -> None:
    assert {s.name for s in DEFS.sensors} == {f"{s}{SENSOR_SUFFIX}" for s in CATALOG.sources}
    graph = DEFS.resolve_asset_graph()
    for source_id in CATALOG.sources:
        sensor = sensor_def(f"{source_id}{SENSOR_SUFFIX}")
        assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
        assert sensor.minimum_interval_seconds == MINIMUM_INTERVAL_SECONDS
        assert "Arrêté par défaut" in (sensor.description or "")
        job = DEFS.resolve_job_def(sensor.targets[0].job_name)
        keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
        expected = dg.AssetSelection.assets(source_id).downstream().resolve(graph)
        assert keys == {k.to_user_string() for k in expected}
        assert source_id in keys and "evaluation_metrics" in keys
        assert not (keys & (set(CATALOG.sources) - {source_id}))


def test_new_file_requests_one_run_of_the_source_and_everything_downstream(
    data_dir: Path, instance: dg.DagsterInstance
) -> None:
    write(data_dir / "incoming" / SOURCE / "sessions_2019.csv", ROW_A)
    result = tick(instance)
    assert len(result.run_requests) == 1
    # No warehouse yet: every file is new, and the sensor does not create the warehouse.
    assert not (data_dir / "warehouse.db").exists()
    request = result.run_requests[0]
    selected = {k.to_user_string() for k in request.asset_selection}
    assert {SOURCE, "activities", "ingestion_ledger", "evaluation_metrics", "evaluation_workbook"} <= selected
    assert not selected & (set(CATALOG.sources) - {SOURCE})
    assert request.run_key.startswith(f"CV262:{SOURCE}:") and request.partition_key == "CV262"
    assert request.tags[WAREHOUSE_TAG] == "ecriture"
    cursor = json.loads(result.cursor)
    # Each file under its contract: one sensor watches the source's folder of every contract.
    assert set(cursor["files"]) == {"CV262/sessions_2019.csv"}
    assert cursor["files"]["CV262/sessions_2019.csv"]["sha256"] == ingest_source.sha256_of(
        data_dir / "incoming" / SOURCE / "sessions_2019.csv"
    )

    again = tick(instance, result.cursor)
    assert again.run_requests == []
    assert "aucun changement" in again.skip_message


def test_changed_content_requests_a_new_run_with_another_run_key(
    data_dir: Path, instance: dg.DagsterInstance
) -> None:
    path = write(data_dir / "incoming" / SOURCE / "sessions_2019.csv", ROW_A)
    first = tick(instance)
    write(path, ROW_A, ROW_B, mtime_ns=OLD_MTIME_NS + 1_000_000_000)
    second = tick(instance, first.cursor)
    assert len(second.run_requests) == 1
    assert second.run_requests[0].run_key != first.run_requests[0].run_key
    assert tick(instance, second.cursor).run_requests == []


def test_the_same_evaluation_gives_the_same_run_key(data_dir: Path, instance: dg.DagsterInstance) -> None:
    write(data_dir / "incoming" / SOURCE / "sessions_2019.csv", ROW_A)
    first = tick(instance)
    retried = tick(instance)  # a tick retried from the same cursor: Dagster dedupes on the key
    assert retried.run_requests[0].run_key == first.run_requests[0].run_key


def test_touched_file_is_not_a_change_and_unchanged_files_are_not_read_again(
    data_dir: Path, instance: dg.DagsterInstance, hash_calls: list[str]
) -> None:
    path = write(data_dir / "incoming" / SOURCE / "sessions_2019.csv", ROW_A)
    first = tick(instance)
    assert hash_calls == ["sessions_2019.csv"]

    quiet = tick(instance, first.cursor)
    assert quiet.run_requests == [] and hash_calls == ["sessions_2019.csv"]

    os.utime(path, ns=(OLD_MTIME_NS + 5_000_000_000,) * 2)
    touched = tick(instance, quiet.cursor)
    assert touched.run_requests == []
    assert hash_calls == ["sessions_2019.csv"] * 2
    assert (
        json.loads(touched.cursor)["files"]["CV262/sessions_2019.csv"]["mtime_ns"]
        == OLD_MTIME_NS + 5_000_000_000
    )

    assert tick(instance, touched.cursor).run_requests == []
    assert hash_calls == ["sessions_2019.csv"] * 2


def test_a_file_just_written_is_hashed_again_next_time(data_dir: Path, instance: dg.DagsterInstance) -> None:
    # A rewrite within the same mtime tick and with the same size must not go unnoticed.
    path = write(data_dir / "incoming" / SOURCE / "sessions_2019.csv", ROW_A, mtime_ns=None)
    stat = path.stat()
    first = tick(instance)
    assert json.loads(first.cursor)["files"][f"CV262/{path.name}"]["mtime_ns"] is None
    write(path, ROW_B, mtime_ns=stat.st_mtime_ns)
    assert path.stat().st_size == stat.st_size
    assert len(tick(instance, first.cursor).run_requests) == 1


def test_deleted_file_requests_a_run_and_leaves_the_cursor(
    data_dir: Path, instance: dg.DagsterInstance
) -> None:
    folder = data_dir / "incoming" / SOURCE
    write(folder / "sessions_2018.csv", ROW_A)
    write(folder / "sessions_2019.csv", ROW_B)
    first = tick(instance)
    (folder / "sessions_2018.csv").unlink()
    second = tick(instance, first.cursor)
    assert len(second.run_requests) == 1
    assert set(json.loads(second.cursor)["files"]) == {"CV262/sessions_2019.csv"}
    shutil.rmtree(folder)
    emptied = tick(instance, second.cursor)
    assert len(emptied.run_requests) == 1 and json.loads(emptied.cursor)["files"] == {}
    idle = tick(instance, emptied.cursor)
    assert idle.run_requests == [] and "dossier absent" in idle.skip_message


def test_content_going_back_to_an_earlier_version_runs_again(
    data_dir: Path, instance: dg.DagsterInstance
) -> None:
    path = data_dir / "incoming" / SOURCE / "sessions_2019.csv"
    cursor, keys = None, []
    for step, row in enumerate((ROW_A, ROW_B, ROW_A)):
        write(path, row, mtime_ns=OLD_MTIME_NS + step * 1_000_000_000)
        result = tick(instance, cursor)
        keys.append(result.run_requests[0].run_key)
        cursor = result.cursor
    assert len(set(keys)) == 3


def test_hidden_and_lock_files_are_ignored(data_dir: Path, instance: dg.DagsterInstance) -> None:
    folder = data_dir / "incoming" / SOURCE
    write(folder / ".sessions_2019.csv.part", ROW_A)
    write(folder / "~$sessions.xlsx", ROW_A)
    assert tick(instance).run_requests == []


def test_a_cursor_of_plain_hashes_is_accepted(data_dir: Path, instance: dg.DagsterInstance) -> None:
    path = write(data_dir / "incoming" / SOURCE / "sessions_2019.csv", ROW_A)
    typed = json.dumps({f"CV262/{path.name}": ingest_source.sha256_of(path)})
    result = tick(instance, typed)
    assert result.run_requests == []
    assert parse_cursor(result.cursor).files[f"CV262/{path.name}"].mtime_ns == OLD_MTIME_NS
    assert parse_cursor("pas du json").files == {}
    assert parse_cursor('{"files": {"a.csv": {"sha256": "x", "size": "gros"}}}').files == {}


def test_runs_at_once_on_a_fresh_instance(data_dir: Path) -> None:
    """Sources write their own slices: a source's run needs no earlier run of the others."""
    write(data_dir / "incoming" / SOURCE / "sessions_2019.csv", ROW_A)
    with dg.DagsterInstance.ephemeral() as fresh:
        result = tick(fresh)
    assert len(result.run_requests) == 1
    assert set(parse_cursor(result.cursor).files) == {"CV262/sessions_2019.csv"}


def test_schedule_requests_the_full_refresh_and_is_off_by_default() -> None:
    schedule = next(s for s in DEFS.schedules if s.name == REFRESH_SCHEDULE)
    assert schedule.job_name == FULL_REFRESH_JOB
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.cron_schedule == DEFAULT_REFRESH_CRON
    assert schedule.execution_timezone == REFRESH_TIMEZONE
    when = datetime(2026, 3, 2, 6, 0, tzinfo=ZoneInfo(REFRESH_TIMEZONE))
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, repository_def=DEFS.get_repository_def()
        )
        result = schedule.evaluate_tick(context)
    # One run per contract (DEFS serves CV262 alone).
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.partition_key == "CV262"
    assert request.job_name in (None, FULL_REFRESH_JOB)
    assert request.tags[WAREHOUSE_TAG] == "ecriture"


def test_schedule_cron_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REFRESH_CRON_ENV, "30 22 * * 0")
    cron = Settings.from_environment(os.environ).refresh_cron
    schedule = next(s for s in build_defs(CATALOG, refresh_cron=cron).schedules if s.name == REFRESH_SCHEDULE)
    assert schedule.cron_schedule == "30 22 * * 0"
    monkeypatch.setenv(REFRESH_CRON_ENV, "tous les matins")
    with pytest.raises(ConfigurationError, match=REFRESH_CRON_ENV):
        build_defs(CATALOG, refresh_cron=Settings.from_environment(os.environ).refresh_cron)


def test_a_sensor_run_after_a_full_refresh_updates_the_warehouse(data_dir: Path, tmp_path: Path) -> None:
    """The requested run really executes, and rewrites only the changed file's slice."""
    for folder in SAMPLE_INCOMING.iterdir():
        if folder.name != SOURCE:
            shutil.copytree(folder, data_dir / "incoming" / folder.name, dirs_exist_ok=True)
    sample = next((SAMPLE_INCOMING / SOURCE).glob("*.csv"))
    path = data_dir / "incoming" / SOURCE / sample.name
    shutil.copyfile(sample, path)
    db = data_dir / "warehouse.db"
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        refresh = DEFS.resolve_job_def(FULL_REFRESH_JOB).execute_in_process(
            instance=instance, partition_key="CV262"
        )
        assert refresh.success
        with sqlite3.connect(db) as con:
            before = pd.read_sql("select count(*) as n from activities", con)["n"].item()

        baseline = tick(instance)  # the full refresh read these files, but the sensor never saw them
        with path.open("a", encoding="utf-8") as handle:
            handle.write(
                "12/12/2018,Sensibilisation,Hôtel d'agglomération,Délégués du préfet,Régie Plus,30\n"
            )
        os.utime(path, ns=(OLD_MTIME_NS,) * 2)
        result = tick(instance, baseline.cursor)
        assert len(result.run_requests) == 1
        request = result.run_requests[0]
        job = DEFS.get_repository_def().get_job(sensor_def().targets[0].job_name)
        run = job.get_subset(asset_selection=set(request.asset_selection)).execute_in_process(
            instance=instance, tags=request.tags, partition_key=request.partition_key
        )
    assert run.success
    assert {c.check_name for c in run.get_asset_check_evaluations()} == {
        "fichiers_lisibles",
        "lignes_valides",
        "fichier_chargeable",
        "colonnes_presentes",
        "feuilles_non_lues",
        "residence_connue",
        "editions_publiees_inchangees",  # the indicators downstream: no published figure moved
    }
    with sqlite3.connect(db) as con:
        after = pd.read_sql("select count(*) as n from activities", con)["n"].item()
        ledger = pd.read_sql("select run_id from ingestion_ledger", con)
        writers = pd.read_sql("select source_id, run_id from activities", con)
        quiet = pd.read_sql("select distinct run_id from participations", con)
    assert after == before + 1
    assert run.run_id in set(ledger["run_id"])
    assert set(writers.loc[writers["source_id"] == SOURCE, "run_id"]) == {run.run_id}
    assert set(writers.loc[writers["source_id"] != SOURCE, "run_id"]) == {refresh.run_id}
    assert set(quiet["run_id"]) == {refresh.run_id}
