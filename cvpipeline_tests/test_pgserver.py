"""Tests for the throwaway PostgreSQL server helper and its fixtures."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cvpipeline_tests.pgserver import (
    PostgresServer,
    PostgresStartError,
    PostgresUnavailable,
    find_pg_binaries,
    start_postgres,
)


@pytest.fixture
def engine(postgres_url: str) -> Iterator[sa.Engine]:
    """SQLAlchemy engine on this test's fresh database."""
    eng = sa.create_engine(postgres_url)
    yield eng
    eng.dispose()


def _port_is_open(host: str, port: int) -> bool:
    """Return True if something accepts TCP connections on host:port."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def test_url_shape(postgres_server: PostgresServer) -> None:
    """url() gives a psycopg 3 SQLAlchemy URL on 127.0.0.1 and the server's port."""
    url = sa.make_url(postgres_server.url("somedb"))
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.host, url.port, url.database) == (
        "postgres",
        "127.0.0.1",
        postgres_server.port,
        "somedb",
    )


def test_server_version_is_at_least_15(engine: sa.Engine) -> None:
    """The server is PostgreSQL 15 or newer."""
    with engine.connect() as conn:
        version_num = int(conn.execute(sa.text("SHOW server_version_num")).scalar_one())
    assert version_num >= 150000


def test_create_insert_read_back(engine: sa.Engine, postgres_url: str) -> None:
    """A table can be created, filled and read back in the test's own database."""
    meta = sa.MetaData()
    people = sa.Table(
        "people",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("score", sa.Numeric(5, 2)),
    )
    meta.create_all(engine)
    rows = [
        {"id": 1, "name": "Ada", "score": 91.5},
        {"id": 2, "name": "Zoë", "score": None},
        {"id": 3, "name": "Grace", "score": 77.25},
    ]
    with engine.begin() as conn:
        conn.execute(people.insert(), rows)
    with engine.connect() as conn:
        got = conn.execute(sa.select(people).order_by(people.c.id)).mappings().all()
        current_db = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    assert [(r["id"], r["name"]) for r in got] == [(1, "Ada"), (2, "Zoë"), (3, "Grace")]
    assert [None if r["score"] is None else float(r["score"]) for r in got] == [
        91.5,
        None,
        77.25,
    ]
    assert current_db == sa.make_url(postgres_url).database


def test_databases_are_isolated(
    postgres_server: PostgresServer, postgres_url: str, engine: sa.Engine
) -> None:
    """A table created in one fresh database is absent from another."""
    other_url = postgres_server.create_database(f"t_other_{uuid.uuid4().hex[:8]}")
    assert other_url != postgres_url
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE only_here (x int)"))
        conn.execute(sa.text("INSERT INTO only_here VALUES (1)"))
    other = sa.create_engine(other_url)
    try:
        assert sa.inspect(engine).has_table("only_here")
        assert not sa.inspect(other).has_table("only_here")
        with other.connect() as conn:
            missing = conn.execute(sa.text("SELECT to_regclass('only_here')")).scalar_one()
        assert missing is None
    finally:
        other.dispose()


def test_postgres_url_is_unique_per_test(postgres_url: str, request: pytest.FixtureRequest) -> None:
    """Each test gets a database named after it, with a random suffix."""
    name = sa.make_url(postgres_url).database
    assert name.startswith("t_test_postgres_url_is_unique_per_test_")
    assert len(name) <= 63


def test_missing_binaries_raise_with_install_hint(tmp_path: Path) -> None:
    """Without initdb/pg_ctl anywhere, PostgresUnavailable says how to install them."""
    with pytest.raises(PostgresUnavailable, match="apt-get install -y postgresql"):
        find_pg_binaries(search_path=str(tmp_path), fallback_glob=str(tmp_path / "*" / "bin"))


def test_fallback_dir_is_used_when_not_on_path(tmp_path: Path) -> None:
    """With an empty PATH, the newest /usr/lib/postgresql/*/bin-style dir is found."""
    for version in ("9.6", "15", "13"):
        bin_dir = tmp_path / version / "bin"
        bin_dir.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl"):
            (bin_dir / tool).write_text("#!/bin/sh\n")
            (bin_dir / tool).chmod(0o755)
    initdb, pg_ctl = find_pg_binaries(search_path="", fallback_glob=str(tmp_path / "*" / "bin"))
    assert initdb == tmp_path / "15" / "bin" / "initdb"
    assert pg_ctl == tmp_path / "15" / "bin" / "pg_ctl"


def test_stop_shuts_down_and_cleans_up(postgres_server: PostgresServer) -> None:
    """A second server via the context manager answers, then is gone with its temp dir."""
    with start_postgres() as pg:
        assert pg.port != postgres_server.port
        assert _port_is_open(pg.host, pg.port)
        base_dir = pg.base_dir
        assert base_dir.is_dir()
    assert not _port_is_open(pg.host, pg.port)
    assert not base_dir.exists()
    pg.stop()  # idempotent


def test_start_failure_reports_log_tail(postgres_server: PostgresServer) -> None:
    """A server that cannot start raises with the server log in the message."""
    with pytest.raises(PostgresStartError) as info:
        start_postgres(extra_settings={"shared_buffers": "not-a-size"})
    message = str(info.value)
    assert "pg_ctl start failed" in message
    assert "shared_buffers" in message
    assert "server.log" in message
