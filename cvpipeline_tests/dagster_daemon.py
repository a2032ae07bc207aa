"""A Dagster instance on PostgreSQL run by its own daemon, for the backfill test and the national benchmark.

`write_instance` writes a DAGSTER_HOME whose dagster.yaml keeps runs and events in PostgreSQL, queues
runs (QueuedRunCoordinator, a tag limit on the warehouse tag) and launches each in its own process
(DefaultRunLauncher); `write_workspace` a workspace.yaml naming this repository's code location;
`running_daemon` starts `dagster-daemon run` in a session of its own and ends that session.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cvpipeline.defs.names import WAREHOUSE_TAG

REPO = Path(__file__).resolve().parent.parent
INSTANCE_URL_ENV = "DAGSTER_PG_URL"
DAEMON_STOP_S = 30.0

DAGSTER_YAML = """\
# A Dagster instance for a national refresh: runs and events in PostgreSQL, runs queued and started by
# the daemon ({limit} at most at once writing the warehouse), each in a process of its own.
telemetry:
  enabled: false
storage:
  postgres:
    postgres_url:
      env: {url_env}
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
    tag_concurrency_limits:
      - key: {tag}
        limit: {limit}
run_launcher:
  module: dagster.core.launcher
  class: DefaultRunLauncher
"""

WORKSPACE_YAML = """\
load_from:
  - python_module:
      module_name: cvpipeline.definitions
      location_name: cvpipeline
      working_directory: {repo}
      executable_path: {python}
"""


def psycopg2_url(url: str) -> str:
    """The same database for dagster-postgres, which speaks psycopg2 (SQLAlchemy 2.1's default is psycopg 3)."""
    return sa.make_url(url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


# The same storage, its event log kept in a connection pool per process (cvpipeline/instance_storage.py).
POOLED_STORAGE = """\
storage:
  postgres:
    postgres_url:
      env: {url_env}
"""
POOLED_PARTS = (
    ("run_storage", "dagster_postgres.run_storage", "PostgresRunStorage"),
    ("event_log_storage", "cvpipeline.instance_storage", "PooledPostgresEventLogStorage"),
    ("schedule_storage", "dagster_postgres.schedule_storage", "PostgresScheduleStorage"),
)


def write_instance(home: Path, concurrency: int = 2, pooled_event_log: bool = True) -> Path:
    """A DAGSTER_HOME with a PostgreSQL, queued, process-per-run dagster.yaml; its path.

    With `pooled_event_log` (the default), the event log is cvpipeline's PooledPostgresEventLogStorage
    (the runs and schedules stay dagster-postgres's); without, dagster-postgres's own.
    """
    home.mkdir(parents=True, exist_ok=True)
    text = DAGSTER_YAML.format(url_env=INSTANCE_URL_ENV, tag=WAREHOUSE_TAG, limit=concurrency)
    if pooled_event_log:
        storages = "".join(
            f"{key}:\n  module: {module}\n  class: {name}\n  config:\n    postgres_url:\n"
            f"      env: {INSTANCE_URL_ENV}\n"
            for key, module, name in POOLED_PARTS
        )
        text = text.replace(POOLED_STORAGE.format(url_env=INSTANCE_URL_ENV), storages)
    (home / "dagster.yaml").write_text(text, encoding="utf-8")
    return home


def write_workspace(path: Path) -> Path:
    """A workspace.yaml for this repository's code location, run by this Python; its path."""
    path.write_text(WORKSPACE_YAML.format(repo=REPO, python=sys.executable), encoding="utf-8")
    return path


def daemon_environment(home: Path, instance_url: str, settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with the instance and the code location's CVPIPELINE_* settings.

    Without a workspace setting of their own, the code servers and run workers get the daemon's
    environment: the settings are given to the daemon (and to whoever loads the workspace).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVPIPELINE_")}
    env |= dict(settings)
    env |= {"DAGSTER_HOME": str(home), INSTANCE_URL_ENV: psycopg2_url(instance_url), "PYTHONPATH": str(REPO)}
    return env


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """This process's environment set to `env` for the block (DagsterInstance.get reads DAGSTER_HOME)."""
    before = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)


def dagster_script(name: str) -> str:
    """A Dagster command of this Python's environment (dagster-daemon, dagster)."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name) or name


@contextmanager
def running_daemon(workspace: Path, env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` in a session of its own, its output in `log`; the whole session ended after."""
    with log.open("ab") as out:
        daemon = subprocess.Popen(
            [dagster_script("dagster-daemon"), "run", "-w", str(workspace)],
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield daemon
    finally:
        stop_session(daemon)


def stop_session(process: subprocess.Popen) -> None:
    """End a process started with start_new_session and everything of its session (code servers, runs)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=DAEMON_STOP_S)
    except subprocess.TimeoutExpired:
        pass
    time.sleep(0.5)  # the daemon's code servers and run workers end with it; what lingers is killed
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def wait_for_backfill(
    instance: Any,
    backfill_id: str,
    timeout_s: float,
    daemon: subprocess.Popen | None = None,
    poll_s: float = 1.0,
) -> Any:
    """The backfill once the daemon has marked it done (success or not); TimeoutError after timeout_s."""
    from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES

    deadline = time.monotonic() + timeout_s
    while True:
        backfill = instance.get_backfill(backfill_id)
        if backfill is not None and backfill.status in BULK_ACTION_TERMINAL_STATUSES:
            return backfill
        if daemon is not None and daemon.poll() is not None:
            raise RuntimeError(f"dagster-daemon s'est arrêté (code {daemon.returncode})")
        if time.monotonic() > deadline:
            status = backfill.status.value if backfill is not None else "introuvable"
            raise TimeoutError(f"rattrapage {backfill_id} toujours {status} après {timeout_s:.0f} s")
        time.sleep(poll_s)


def backfill_runs(instance: Any, backfill_id: str) -> list[Any]:
    """The run records of a backfill, oldest first."""
    import dagster as dg
    from dagster._core.storage.tags import BACKFILL_ID_TAG

    records = instance.get_run_records(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    return sorted(records, key=lambda r: r.create_timestamp)


def log_tail(path: Path, lines: int = 60) -> str:
    """The last lines of a log file (the daemon's)."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(pas de journal : {exc})"
