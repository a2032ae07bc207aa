"""Shared pytest fixtures for the cvpipeline test suite."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from cvpipeline_tests.pgserver import (
    PostgresServer,
    PostgresUnavailable,
    start_postgres,
)


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
