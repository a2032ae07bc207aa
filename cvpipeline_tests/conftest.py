"""Shared pytest fixtures for the cvpipeline test suite."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator

import pytest

from cvpipeline_tests.pgserver import (
    PostgresServer,
    PostgresUnavailable,
    start_postgres,
)


@pytest.fixture(autouse=True)
def _settings_variables_restored() -> Iterator[None]:
    """Each test leaves the CVPIPELINE_* variables as it found them.

    A command run in process may bind a setting for its run (a warehouse URL with a password goes
    through CVPIPELINE_WAREHOUSE_URL, never into Dagster's storage): the next test must not inherit it.
    """
    before = {k: v for k, v in os.environ.items() if k.startswith("CVPIPELINE_")}
    yield
    for key in [k for k in os.environ if k.startswith("CVPIPELINE_") and k not in before]:
        del os.environ[key]
    os.environ.update(before)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start one throwaway PostgreSQL server for the session; skip if binaries are missing."""
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """Create a fresh database for this test and return its SQLAlchemy URL."""
    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    return postgres_server.create_database(f"t_{stem}_{uuid.uuid4().hex[:8]}")


KEY = "cle-de-test-" + "x" * 40


@pytest.fixture(scope="session")
def both(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The sample run once on PostgreSQL and once on SQLite (same key), shared by the session's tests.

    With the sample's objectives (targets/): the achievement rates are filled.
    """
    from cvpipeline_tests.e2e import REPO, copy_sample, run_pipeline  # Dagster: for the tests that run it

    previous = os.environ.get("CVPIPELINE_PSEUDONYMISATION_KEY")
    os.environ["CVPIPELINE_PSEUDONYMISATION_KEY"] = KEY
    try:
        data_dir = copy_sample(tmp_path_factory.mktemp("pgdata"))
        shutil.copytree(REPO / "data" / "targets", data_dir / "targets")
        pg_url = postgres_server.create_database("pipeline_pg")
        sqlite_url = f"sqlite:///{data_dir / 'w.db'}"
        runs = [run_pipeline(data_dir, pg_url), run_pipeline(data_dir, sqlite_url)]
    finally:
        if previous is None:
            os.environ.pop("CVPIPELINE_PSEUDONYMISATION_KEY", None)
        else:
            os.environ["CVPIPELINE_PSEUDONYMISATION_KEY"] = previous
    return {"pg": pg_url, "sqlite": sqlite_url, "runs": runs, "data_dir": data_dir}
