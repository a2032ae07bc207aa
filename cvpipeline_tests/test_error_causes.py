"""Database, disk and permission errors said in French: the step, the target, what to do.

On real faults: a PostgreSQL server stopped in the middle of a run, a reports folder nobody may
write to, a port where no server listens, a full device.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cvpipeline.catalog import load_catalog
from cvpipeline.defs.causes import StepFailed, french_cause, step_causes
from cvpipeline_tests.e2e import REPO, SAMPLE_INCOMING, query
from cvpipeline_tests.pgserver import PostgresUnavailable, start_postgres

CATALOG = load_catalog()


def _environment() -> dict[str, str]:
    """This process's environment without its CVPIPELINE_* variables (another test's never leak in)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CVPIPELINE_")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_said_in_french_with_host_and_port() -> None:
    port = _free_port()  # nobody listens there
    url = f"postgresql+psycopg://cvpipeline@127.0.0.1:{port}/entrepot"
    engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
    with pytest.raises(StepFailed) as caught, step_causes(url), engine.connect():
        pass
    message = str(caught.value)
    assert message.startswith(f"l'entrepôt PostgreSQL 127.0.0.1:{port} ne répond pas (connexion refusée)")
    assert "vérifiez que le serveur est démarré" in message
    # The technical text stays chained to it (Dagster's log, --verbose).
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
    # Without the URL, the address is read from the driver's own message.
    assert f"127.0.0.1:{port}" in (french_cause(caught.value.__cause__) or "")


def test_a_full_disk_and_an_unknown_error_are_told_apart() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with pytest.raises(StepFailed, match="^disque plein : impossible d'écrire"), step_causes(None):
        with open("/dev/full", "w") as handle:
            handle.write("x")
            handle.flush()
    # An error we do not know is left as it is (its own message, its own type).
    with pytest.raises(KeyError), step_causes(None):
        raise KeyError("colonne")


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    """The CV262 sample's partner files in a data folder of their own."""
    data_dir = tmp_path / "data"
    for source in CATALOG.sources:
        shutil.copytree(SAMPLE_INCOMING / source, data_dir / "incoming" / source)
    shutil.copytree(SAMPLE_INCOMING / "national", data_dir / "incoming" / "national")
    return data_dir


def _command(data_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cvpipeline",
        "run",
        "--data-dir",
        str(data_dir),
        "--contract",
        "CV262",
        *extra,
    ]


def test_a_postgres_server_stopped_mid_run_gives_its_french_cause(sample_dir: Path) -> None:
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        url = server.create_database("entrepot_coupe")
        env = {
            **_environment(),
            "DAGSTER_HOME": str(sample_dir / "home"),
            "CVPIPELINE_WAREHOUSE_URL": url,
            "CVPIPELINE_PSEUDONYMISATION_KEY": "cle-de-test-" + "0" * 40,
        }
        run = subprocess.Popen(
            _command(sample_dir),
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert run.stdout is not None
        lines: list[str] = []
        # The first source done: the warehouse has been written to, the run goes on without it.
        for line in run.stdout:
            lines.append(line)
            if line.startswith("  CV262"):
                server.stop()
                break
        rest, _ = run.communicate(timeout=600)
        out = "".join(lines) + rest
    finally:
        server.stop()
    assert run.returncode == 1, out[-3000:]
    failures = [line for line in out.splitlines() if "ÉCHEC de l'étape" in line and " : " in line]
    assert failures, out[-3000:]
    target = f"{server.host}:{server.port}"
    for line in failures:
        assert f"l'entrepôt PostgreSQL {target} ne répond" in line, line
        assert "vérifiez que le serveur est démarré" in line and "psycopg" not in line
    assert "Traceback" not in out


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A reports folder this process may not write to (root too: the immutable attribute)."""
    folder = tmp_path / "data" / "reports"
    folder.mkdir(parents=True)
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip("running as root without chattr +i: no folder can be made unwritable")
    else:
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o755)


def test_an_unwritable_reports_folder_is_said_in_french_and_the_rest_is_done(
    unwritable: Path, sample_dir: Path
) -> None:
    data_dir = unwritable.parent
    assert data_dir == sample_dir
    env = {**_environment(), "DAGSTER_HOME": str(data_dir / "home")}
    done = subprocess.run(_command(data_dir), cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    failures = [line for line in out.splitlines() if "ÉCHEC de l'étape" in line and " : " in line]
    assert failures and all("permission refusée sur" in line for line in failures), out[-3000:]
    assert all(str(unwritable) in line and "donnez-lui les droits" in line for line in failures)
    assert {line.split("ÉCHEC de l'étape ")[1].split(" :")[0] for line in failures} <= {
        "evaluation_workbook",
        "evaluation_note",
        "partner_returns",
    }
    assert "PermissionError" not in out and "Traceback" not in out
    # The sources, the warehouse and the indicators were done.
    db = data_dir / "warehouse" / "cvpipeline.db"
    assert query(db, "select count(*) from participations")[0][0] > 0
    assert query(db, "select count(*) from evaluation_metrics where contract_code = 'CV262'")[0][0] > 0
    assert not list(unwritable.iterdir())
