"""The unchanged pipeline on PostgreSQL 15: same results as SQLite, roles, locking, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from cvpipeline.cli import main as cli_main
from cvpipeline.settings import ConfigurationError, load_settings
from cvpipeline.warehouse.schema import Money, money_text, table_for
from cvpipeline_tests.conftest import KEY
from cvpipeline_tests.e2e import REPO, copy_sample, run_pipeline

COMPARED = [
    "participations",
    "activities",
    "fundings",
    "quarantine",
    "evaluation_metrics",
    "ref_actions",
    "ref_qpv",
]


def read(url: str, name: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    table = table_for(engine.dialect.name, name)
    with engine.connect() as conn:
        frame = pd.read_sql_table(name, conn, schema=table.schema)
    engine.dispose()
    frame = frame.drop(columns=[c for c in ("run_id", "loaded_at") if c in frame])
    for column in table.columns:  # amounts: NUMERIC read as floats, SQLite's exact text: both to the cent
        if isinstance(column.type, Money) and column.name in frame:
            frame[column.name] = frame[column.name].map(lambda v: None if pd.isna(v) else money_text(v))
    for column in frame.columns:
        if "date" in column or column in ("period_start", "period_end"):
            frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d")
    frame = frame.astype("string")
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_runs_succeed_on_both(both: dict) -> None:
    assert all(r.success for r in both["runs"])


@pytest.mark.parametrize("name", COMPARED)
def test_postgres_tables_identical_to_sqlite(both: dict, name: str) -> None:
    pg, lite = read(both["pg"], name), read(both["sqlite"], name)
    assert len(pg) > 0
    pd.testing.assert_frame_equal(pg, lite, check_dtype=False)


def test_tables_live_in_their_own_schemas(both: dict) -> None:
    inspector = sa.inspect(sa.create_engine(both["pg"]))
    assert {"participations", "evaluation_metrics", "ref_qpv"} <= set(inspector.get_table_names("cvpipeline"))
    assert set(inspector.get_table_names("cvpipeline_ops")) == {
        "quarantine",
        "ingestion_ledger",
        "file_slices",
        "warehouse_meta",
        "editions",
        "edition_slices",
        "edition_documents",
    }
    assert inspector.get_table_names("public") == []


def test_analyst_role_reads_analyst_tables_only(both: dict) -> None:
    assert cli_main(["create-analyst-role", "analyste", "--warehouse-url", both["pg"]]) == 0
    analyst = sa.create_engine(sa.make_url(both["pg"]).set(username="analyste"))
    with analyst.connect() as conn:
        assert conn.execute(sa.text("select count(*) from cvpipeline.participations")).scalar() > 1000
        # Its search_path starts with the analysts' schema: the README's queries run as written.
        unprefixed = "select count(*) from v_indicateurs where code_contrat = 'CV262'"
        assert conn.execute(sa.text(unprefixed)).scalar() > 100
        # Every view names its contract by code, the ANCT's posts included, as on SQLite.
        posts = "select count(*) from cvpipeline.v_postes_anct where code_contrat = 'CV262'"
        assert conn.execute(sa.text(posts)).scalar() > 0
        assert (
            conn.execute(sa.text(posts)).scalar()
            == conn.execute(
                sa.text("select count(*) from cvpipeline.funded_posts where contract_code = 'CV262'")
            ).scalar()
        )
        assert (
            conn.execute(
                sa.text("select count(distinct code_contrat) from cvpipeline.v_participations")
            ).scalar()
            >= 1
        )
        # Data quality, masked, for the analysts: the files' states and the set-aside rows, while the
        # operations tables themselves stay closed to them (below).
        rejected = "select etat from cvpipeline.v_fichiers where fichier = 'chantiers_centre_incomplet.xlsx'"
        assert conn.execute(sa.text(rejected)).scalar() == "rejeté"
        assert conn.execute(sa.text("select count(*) from cvpipeline.v_lignes_ecartees")).scalar() >= 4
    for statement in (
        "select count(*) from cvpipeline_ops.quarantine",
        "select count(*) from cvpipeline_ops.ingestion_ledger",
        "delete from cvpipeline.participations",
        "insert into cvpipeline.ref_qpv (qpv_id, name) values ('x', 'x')",
        "create table cvpipeline.mine (a int)",
        "create table public.mine (a int)",
    ):
        with analyst.connect() as conn, pytest.raises(sa.exc.DBAPIError) as error:
            conn.execute(sa.text(statement))
        assert "permission denied" in str(error.value) or "read-only" in str(error.value)
    analyst.dispose()


def test_production_warehouse_refuses_to_run_without_a_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CVPIPELINE_PSEUDONYMISATION_KEY", raising=False)
    settings = load_settings(str(tmp_path), "postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(ConfigurationError, match="CVPIPELINE_PSEUDONYMISATION_KEY"):
        settings.pseudonymisation_key()


def test_run_killed_while_writing_a_slice_leaves_the_previous_one(postgres_server, tmp_path: Path) -> None:
    """SIGKILL a run in the middle of a changed file's slice transaction, then check and re-run."""
    url = postgres_server.create_database("killed")
    env = {**os.environ, "CVPIPELINE_PSEUDONYMISATION_KEY": KEY, "DAGSTER_HOME": str(tmp_path / "home")}
    data_dir = copy_sample(tmp_path / "data")
    os.environ["CVPIPELINE_PSEUDONYMISATION_KEY"] = KEY
    try:
        assert run_pipeline(data_dir, url).success
    finally:
        os.environ.pop("CVPIPELINE_PSEUDONYMISATION_KEY", None)
    before = read(url, "participations")
    changed = data_dir / "incoming" / "cites_lab" / "accompagnes_2016-2018.csv"
    with changed.open("a", encoding="utf-8") as handle:
        handle.write("CL-900,03/12/2018,F,31,Chambéry,Biollay,Porteur de projet,Traiteur\n")
    command = [sys.executable, "-m", "cvpipeline", "run", "--data-dir", str(data_dir), "--warehouse-url", url]
    command += ["--contract", "CV262"]  # the contract of the changed file (a run per contract)
    engine = sa.create_engine(url)
    with engine.connect() as blocker:
        # Hold the slice row of the changed file: its transaction deletes the old rows, then waits.
        blocker.execute(
            sa.text("select * from cvpipeline_ops.file_slices where file = :f for update"),
            {"f": changed.name},
        )
        child = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        waiting = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not waiting:
            time.sleep(0.5)
            with engine.connect() as probe:
                waiting = probe.execute(
                    sa.text(
                        "select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                        "and query ilike '%file_slices%'"
                    )
                ).scalar()
        with engine.connect() as probe:  # the old rows are deleted inside the waiting transaction
            deleting = probe.execute(
                sa.text("select count(*) from pg_locks where mode = 'RowExclusiveLock' and granted")
            ).scalar()
        assert waiting and deleting, "the run never reached the changed file's slice"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        blocker.rollback()
    assert child.returncode == -signal.SIGKILL
    pd.testing.assert_frame_equal(read(url, "participations"), before)
    again = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    after = read(url, "participations")
    assert len(after) == len(before) + 1
    with engine.connect() as conn:
        writers = conn.execute(
            sa.text("select source_file, count(distinct run_id) from cvpipeline.participations group by 1")
        ).all()
    assert all(n == 1 for _, n in writers)
    engine.dispose()


def instance_yaml(url: str, pooled: bool) -> str:
    """A dagster.yaml keeping runs and events in PostgreSQL (the event log pooled or dagster-postgres's)."""
    if not pooled:
        return f"telemetry:\n  enabled: false\nstorage:\n  postgres:\n    postgres_url: {url}\n"
    parts = [("run_storage", "dagster_postgres.run_storage", "PostgresRunStorage")]
    parts += [("event_log_storage", "cvpipeline.instance_storage", "PooledPostgresEventLogStorage")]
    parts += [("schedule_storage", "dagster_postgres.schedule_storage", "PostgresScheduleStorage")]
    return "telemetry:\n  enabled: false\n" + "".join(
        f"{key}:\n  module: {module}\n  class: {name}\n  config:\n    postgres_url: {url}\n"
        for key, module, name in parts
    )


def test_dagster_instance_on_postgres(postgres_server, tmp_path: Path) -> None:
    """The whole graph on a PostgreSQL instance with the pooled event log; dagster-postgres's own reads it."""
    storage_url = postgres_server.create_database("dagster_storage")
    # dagster-postgres speaks psycopg2; SQLAlchemy 2.1's default PostgreSQL driver is psycopg 3.
    psycopg2_url = sa.make_url(storage_url).set(drivername="postgresql+psycopg2")
    url = psycopg2_url.render_as_string(hide_password=False)
    pooled, plain = tmp_path / "pooled", tmp_path / "plain"
    for home, is_pooled in ((pooled, True), (plain, False)):
        home.mkdir()
        (home / "dagster.yaml").write_text(instance_yaml(url, is_pooled), encoding="utf-8")
    data_dir = copy_sample(tmp_path / "data")
    with dg.DagsterInstance.from_config(str(pooled)) as instance:
        result = run_pipeline(data_dir, f"sqlite:///{tmp_path / 'w.db'}", instance=instance)
        assert result.success
        assert instance.get_run_by_id(result.run_id).is_success
        logged = len(instance.all_logs(result.run_id))
        storage = instance.event_log_storage
        assert type(storage).__name__ == "PooledPostgresEventLogStorage"
        # It keeps its connection between events; dagster-postgres's opens one each time.
        assert storage._engine.pool.checkedin() >= 1
    with dg.DagsterInstance.from_config(str(plain)) as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert not hasattr(instance.event_log_storage._engine.pool, "checkedin")  # no pool
        assert instance.get_run_by_id(result.run_id).is_success
        assert len(instance.all_logs(result.run_id)) == logged  # the same tables, every event
    with sa.create_engine(storage_url).connect() as conn:
        stored = conn.execute(
            sa.text("select count(*) from runs where run_id = :r"), {"r": result.run_id}
        ).scalar()
        events = conn.execute(
            sa.text("select count(*) from event_logs where run_id = :r"), {"r": result.run_id}
        ).scalar()
    assert stored == 1
    assert events == logged > 100  # every event of the run written, and read back


def test_a_run_of_several_contracts_writes_its_events_in_batches_on_kept_connections(
    postgres_server, tmp_path: Path
) -> None:
    """Each asset's materialisations of a run's contracts in one insert; the event log's connections kept."""
    from cvpipeline.catalog import load_catalogs
    from cvpipeline.defs import build_defs
    from cvpipeline.defs.names import FULL_REFRESH_JOB, RANGE_END_TAG, RANGE_START_TAG
    from cvpipeline.defs.resources import PipelineSettings
    from cvpipeline.instance_storage import POOL_SIZE
    from cvpipeline.sample.national import generate_national

    dataset = generate_national(tmp_path / "national", contracts=3, participations=900)
    catalogs = load_catalogs(dataset.catalogs_dir)
    url = sa.make_url(postgres_server.create_database("dagster_batches")).set(
        drivername="postgresql+psycopg2"
    )
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(url.render_as_string(hide_password=False), True))
    settings = PipelineSettings(
        data_dir=str(tmp_path / "national"), warehouse_url=f"sqlite:///{tmp_path / 'w.db'}"
    )
    job = build_defs(catalogs, settings).resolve_job_def(FULL_REFRESH_JOB)
    codes = sorted(catalogs)
    opened: list[str] = []
    inserts: list[str] = []

    def on_connect(dbapi_connection: object, record: object) -> None:
        opened.append(type(dbapi_connection).__name__)

    def on_execute(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVENT_LOGS"):
            inserts.append(statement)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        event_log = instance.event_log_storage._engine  # type: ignore[attr-defined]
        sa.event.listen(event_log, "connect", on_connect)
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", on_execute)
        try:
            result = job.execute_in_process(
                instance=instance,
                tags={RANGE_START_TAG: codes[0], RANGE_END_TAG: codes[-1]},
                raise_on_error=False,
            )
        finally:
            sa.event.remove(event_log, "connect", on_connect)
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", on_execute)
        assert result.success
        events = instance.all_logs(result.run_id)
        # What the UI shows: every contract's partition of every asset materialised.
        for key in instance.get_asset_keys():
            if key.path[0] != "postes_anct":
                assert instance.get_materialized_partitions(key) == set(codes), key
    materialised = [e for e in events if e.dagster_event and e.dagster_event.is_step_materialization]
    assets = {e.dagster_event.asset_key for e in materialised}
    partitions = {(e.dagster_event.asset_key, e.dagster_event.partition) for e in materialised}
    by_contract = {key for key, partition in partitions if partition is not None}
    assert len(codes) == 3 and len(by_contract) > 10
    assert len(materialised) == len(partitions)
    assert {p for _, p in partitions} == {*codes, None}  # one per contract and asset; postes_anct none
    assert len(partitions) == len(codes) * len(by_contract) + len(assets - by_contract)
    # Every event but the materialisations is an insert of its own; each asset's three are one.
    assert len(inserts) == len(events) - len(materialised) + len(assets)
    # The event log's connections are opened once per process, not once per event.
    assert 1 <= len(opened) <= POOL_SIZE < len(events) / 10


def test_two_concurrent_writes_of_a_source_do_not_interleave(both: dict, postgres_server) -> None:
    """Two writes of one source's slices started together: the second waits, the result is one whole."""
    import threading

    from cvpipeline.catalog import load_catalog
    from cvpipeline.ingest.source import IncomingFile, discover_files
    from cvpipeline.load.delivery import read_into_slices, rules_fingerprint
    from cvpipeline.warehouse.engine import make_engine
    from cvpipeline.warehouse.slices import write_slices

    catalog = load_catalog()
    source = catalog.sources["cites_lab"]
    url = postgres_server.create_database("concurrent")
    settings = load_settings(str(both["data_dir"]), url)
    key = KEY.encode()
    files = [IncomingFile(p.name, p) for p in discover_files(source, settings.incoming_dir)]
    none = pd.DataFrame(columns=["file"]).set_index("file")
    now = pd.Timestamp("2026-01-01")
    change, report = read_into_slices(
        catalog, source, settings, files, none, rules_fingerprint(catalog, source, key), now, key
    )
    change.ledger = report.ledger
    engine = make_engine(url)
    write_slices(engine, change, "run-0")
    errors: list[BaseException] = []

    def load(run_id: str) -> None:
        try:
            write_slices(make_engine(url), change, run_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with engine.connect() as blocker:
        blocker.execute(sa.text("lock table cvpipeline_ops.ingestion_ledger in access exclusive mode"))
        threads = [threading.Thread(target=load, args=(f"run-{i}",)) for i in (1, 2)]
        for thread in threads:
            thread.start()
            time.sleep(1.5)
        blocker.rollback()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select run_id, count(*), count(distinct participation_id) from cvpipeline.participations group by run_id"
            )
        ).all()
        slices = conn.execute(sa.text("select count(*) from cvpipeline_ops.file_slices")).scalar()
    assert len(rows) == 1 and rows[0][1] == rows[0][2] == len(change.tables["participations"]) > 100
    assert slices == len(files)
    engine.dispose()


def test_two_contracts_run_side_by_side(postgres_server, tmp_path: Path) -> None:
    """Two processes, one contract each, into one warehouse at once: both succeed, nothing mixed.

    Both rewrite the common labels and the views: without the warehouse lock they collided there.
    """
    url = postgres_server.create_database("side_by_side")
    data_dir = copy_sample(tmp_path / "data")
    children = []
    for code in ("CV262", "CN07302M"):
        env = {**os.environ, "CVPIPELINE_PSEUDONYMISATION_KEY": KEY, "DAGSTER_HOME": str(tmp_path / code)}
        command = [sys.executable, "-m", "cvpipeline", "run", "--data-dir", str(data_dir)]
        command += ["--warehouse-url", url, "--contract", code, "--no-documents"]
        children.append(
            subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        )
    outputs = [child.communicate(timeout=600)[0].decode("utf-8", "replace") for child in children]
    assert [child.returncode for child in children] == [0, 0], [o[-2000:] for o in outputs]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        labels = dict(
            conn.execute(
                sa.text("select contract_code, count(*) from cvpipeline.ref_labels group by 1")
            ).all()
        )
        metrics = dict(
            conn.execute(
                sa.text("select contract_code, count(*) from cvpipeline.evaluation_metrics group by 1")
            ).all()
        )
    engine.dispose()
    assert set(labels) == {"*", "CV262", "CN07302M"} and set(metrics) == {"CV262", "CN07302M"}


def test_the_analyst_role_needs_rights_and_says_so_in_french(
    both: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user without CREATEROLE gets one French line naming the rights, no traceback, exit 2."""
    admin = sa.create_engine(str(both["pg"]))
    with admin.begin() as conn:
        conn.execute(
            sa.text(
                "DO $$ BEGIN CREATE ROLE sans_droits LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            )
        )
    admin.dispose()
    weak = sa.make_url(str(both["pg"])).set(username="sans_droits").render_as_string(hide_password=False)
    assert cli_main(["create-analyst-role", "autre_analyste", "--warehouse-url", weak]) == 2
    error = capsys.readouterr().err
    assert "rôle autre_analyste non créé" in error and "CREATEROLE" in error
    assert "Traceback" not in error and error.count("\n") == 1
