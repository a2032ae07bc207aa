"""`python -m cvpipeline backfill`: a real backfill on a PostgreSQL Dagster instance, run by a real daemon.

Three contracts of the national synthetic data set; the instance queues runs (QueuedRunCoordinator, a
tag limit on the warehouse tag) and launches each in its own process; `dagster-daemon run` turns the
backfill into runs and starts them. Skipped where the PostgreSQL binaries are missing (the
postgres_server fixture). About a minute: the daemon's backfill loop looks every 30 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from benchmarks.national_benchmark import account
from cvpipeline.backfill import contract_runs
from cvpipeline.catalog import load_catalogs
from cvpipeline.cli import main as cli_main
from cvpipeline.defs.names import RANGE_END_TAG, RANGE_START_TAG, WAREHOUSE_TAG
from cvpipeline.report.documents import NOTE, WORKBOOK
from cvpipeline.sample.national import generate_national
from cvpipeline.settings import Settings
from cvpipeline_tests.dagster_daemon import (
    REPO,
    backfill_runs,
    daemon_environment,
    environment,
    log_tail,
    running_daemon,
    wait_for_backfill,
    write_instance,
    write_workspace,
)

KEY = "cle-du-test-de-rattrapage-" + "x" * 30
CONTRACTS = 3
TIMEOUT_S = 240.0


def backfill_command(workspace: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    """`python -m cvpipeline backfill --workspace …` in a process of its own."""
    command = [sys.executable, "-m", "cvpipeline", "backfill", "--workspace", str(workspace), *extra]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def refreshed(postgres_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three contracts refreshed by `backfill` and the daemon: the command's output, the backfills, the runs."""
    work = tmp_path_factory.mktemp("rattrapage")
    dataset = generate_national(work / "donnees", contracts=CONTRACTS, participations=600)
    url = postgres_server.create_database("rattrapage_entrepot")
    settings_env = {
        "CVPIPELINE_CATALOG": str(dataset.catalogs_dir),
        "CVPIPELINE_DATA_DIR": str(dataset.out_dir),
        "CVPIPELINE_WAREHOUSE_URL": url,
        "CVPIPELINE_PSEUDONYMISATION_KEY": KEY,
        "CVPIPELINE_DATA_DOCS": "0",
    }
    home = write_instance(work / "dagster_home", concurrency=2)
    workspace = write_workspace(work / "workspace.yaml")
    env = daemon_environment(home, postgres_server.create_database("rattrapage_dagster"), settings_env)
    log = work / "dagster-daemon.log"
    with environment(env), running_daemon(workspace, env, log) as daemon:
        launched = backfill_command(workspace, env)
        assert launched.returncode == 0, launched.stdout + launched.stderr
        backfill_id = re.search(r"rattrapage (\S+) lancé", launched.stdout).group(1)  # type: ignore[union-attr]
        # Refused while the daemon works on the first one (the daemon's loop waits 30 s anyway).
        unknown = backfill_command(workspace, env, "--contract", "CV999")
        with dg.DagsterInstance.get() as instance:
            try:
                backfill = wait_for_backfill(instance, backfill_id, TIMEOUT_S, daemon)
            except (TimeoutError, RuntimeError) as exc:
                pytest.fail(f"{exc}\n{log_tail(log)}")
            records = backfill_runs(instance, backfill_id)
            events = {
                r.dagster_run.run_id: {
                    e.dagster_event.event_type
                    for e in instance.all_logs(r.dagster_run.run_id)
                    if e.dagster_event is not None
                }
                for r in records
            }
            backfills = instance.get_backfills()
    return {
        "dataset": dataset,
        "url": url,
        "settings": Settings.from_environment(settings_env),
        "output": launched.stdout,
        "unknown": unknown,
        "backfill": backfill,
        "backfills": backfills,
        "records": records,
        "events": events,
        "log": log,
    }


def test_the_command_launches_one_backfill_that_the_daemon_runs(refreshed: dict[str, Any]) -> None:
    backfill = refreshed["backfill"]
    assert [b.backfill_id for b in refreshed["backfills"]] == [backfill.backfill_id]
    assert backfill.backfill_id in refreshed["output"]
    assert f"{CONTRACTS} contrat(s)" in refreshed["output"]
    assert backfill.status.value == "COMPLETED_SUCCESS", log_tail(refreshed["log"])
    assert backfill.is_asset_backfill and backfill.tags == {WAREHOUSE_TAG: "ecriture"}
    records = refreshed["records"]
    assert records
    codes = sorted(refreshed["dataset"].contracts["contract_code"])
    covered = []
    for record in records:
        run = record.dagster_run
        assert run.tags["dagster/backfill"] == backfill.backfill_id
        assert run.tags[WAREHOUSE_TAG] == "ecriture"
        assert run.is_success
        # Queued by the instance, taken off the queue by the daemon, then launched in its own process.
        kinds = refreshed["events"][run.run_id]
        assert {dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING} <= kinds
        assert dg.DagsterEventType.RUN_SUCCESS in kinds
        first, last = run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG]
        covered += codes[codes.index(first) : codes.index(last) + 1]
        # Every asset of the full refresh partitioned by contract, with its checks, in each run.
        assert {k.to_user_string() for k in run.asset_selection} >= {
            "participations",
            NOTE.asset,
            WORKBOOK.asset,
        }
        assert run.asset_check_selection
    assert covered == codes  # three contiguous contracts: one run holds them all
    assert len(records) == 1


def test_every_row_is_accounted_for_and_each_contract_has_its_documents(refreshed: dict[str, Any]) -> None:
    rows, problems = account(refreshed["url"], refreshed["dataset"].contracts)
    assert problems == []
    assert rows >= refreshed["dataset"].participations
    settings = refreshed["settings"]
    started = refreshed["backfill"].backfill_timestamp
    catalogs = load_catalogs(refreshed["dataset"].catalogs_dir)
    assert sorted(catalogs) == sorted(refreshed["dataset"].contracts["contract_code"])
    for catalog in catalogs.values():
        for document in (WORKBOOK, NOTE):
            path = settings.contract_reports(catalog.folder) / document.file_name
            assert path.is_file() and path.stat().st_mtime >= started, path


def test_an_unknown_contract_is_refused_in_french_before_anything_is_launched(
    refreshed: dict[str, Any],
) -> None:
    unknown = refreshed["unknown"]
    assert unknown.returncode == 2
    lines = unknown.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("cvpipeline : contrat(s) inconnu(s)") and "CV999" in lines[0]
    assert len(refreshed["backfills"]) == 1  # the refused command launched none


def test_an_instance_without_a_run_queue_is_refused_in_french(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nrun_coordinator:\n  module: dagster.core.run_coordinator\n"
        "  class: DefaultRunCoordinator\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert cli_main(["backfill"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "sans file d'attente (DefaultRunCoordinator)" in error and "QueuedRunCoordinator" in error


def test_without_dagster_home_the_command_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert cli_main(["backfill"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("cvpipeline : DAGSTER_HOME n'est pas défini") and len(error.splitlines()) == 1


def test_a_code_location_that_does_not_load_is_said_in_french(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    # The code server started for the workspace inherits this environment: a catalog that is not there.
    monkeypatch.setenv("CVPIPELINE_CATALOG", str(tmp_path / "absent"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    workspace = write_workspace(tmp_path / "workspace.yaml")
    assert cli_main(["backfill", "--workspace", str(workspace)]) == 2
    # One line on the whole of stderr, the code server's included: no traceback, no warning.
    error = capfd.readouterr().err.strip().splitlines()
    assert len(error) == 1, error
    assert error[0] == (
        f"cvpipeline : le code location « cvpipeline » ne se charge pas : CVPIPELINE_CATALOG="
        f"{tmp_path / 'absent'} : fichier ou dossier de catalogue introuvable"
    )


def test_the_runs_announced_are_the_daemons_ranges_of_at_most_50_contracts() -> None:
    codes = [f"CV{n:03d}" for n in range(433)]
    assert contract_runs(codes, codes) == 9  # the national list: 8 runs of 50 and one of 33
    assert contract_runs(codes, codes[:50]) == 1 and contract_runs(codes, codes[:51]) == 2
    assert contract_runs(codes, codes[0:10:2]) == 5  # not contiguous: a run each
    assert contract_runs(codes, [codes[3], codes[1], codes[2], codes[2]]) == 1  # order and repeats aside
