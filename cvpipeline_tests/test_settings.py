"""Settings resolved once at the edge and passed down; one engine per warehouse and process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.settings import (
    DATA_DIR_ENV,
    DATA_DOCS_ENV,
    GRID_CELLS_ENV,
    KEY_ENV,
    REFRESH_CRON_ENV,
    SUITES_DIR_ENV,
    WAREHOUSE_URL_ENV,
    Settings,
    load_settings,
)
from cvpipeline.warehouse.engine import make_engine


def test_every_variable_is_read_by_from_environment(tmp_path: Path) -> None:
    settings = Settings.from_environment(
        {
            DATA_DIR_ENV: str(tmp_path),
            WAREHOUSE_URL_ENV: "postgresql+psycopg://u@h/db",
            KEY_ENV: "secret",
            SUITES_DIR_ENV: str(tmp_path / "suites"),
            DATA_DOCS_ENV: "non",
            REFRESH_CRON_ENV: "0 7 * * *",
            GRID_CELLS_ENV: "1 000",
        }
    )
    assert settings.data_dir == tmp_path.resolve()
    assert settings.warehouse_url == "postgresql+psycopg://u@h/db"
    assert settings.pseudonymisation_key() == b"secret"
    assert settings.suites_dir == tmp_path / "suites"
    assert settings.data_docs is False
    assert settings.refresh_cron == "0 7 * * *"
    assert settings.limits.grid_cells == 1000
    assert "secret" not in repr(settings)  # the key never shows in a log line


def test_explicit_values_win_and_no_environment_means_the_defaults(tmp_path: Path) -> None:
    environ = {DATA_DIR_ENV: "/ailleurs", WAREHOUSE_URL_ENV: "sqlite:////ailleurs/w.db"}
    settings = Settings.from_environment(environ, tmp_path, f"sqlite:///{tmp_path / 'w.db'}")
    assert (settings.data_dir, settings.warehouse_url) == (
        tmp_path.resolve(),
        f"sqlite:///{tmp_path / 'w.db'}",
    )
    plain = load_settings(tmp_path)  # no environment given: none is read
    assert plain.warehouse_url == f"sqlite:///{tmp_path.resolve() / 'warehouse' / 'cvpipeline.db'}"
    assert plain.data_docs is True and plain.suites_dir is None


def test_the_code_location_binds_variables_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(KEY_ENV, "secret")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(WAREHOUSE_URL_ENV, raising=False)
    resource = PipelineSettings.from_environment({KEY_ENV: "secret", DATA_DIR_ENV: str(tmp_path)})
    # The resource's configuration holds the variables' names, never the key itself.
    assert resource.pseudonymisation_key == dg.EnvVar(KEY_ENV)
    assert resource.warehouse_url == ""
    with dg.build_resources({"settings": resource}) as built:  # resolved as a run resolves it
        settings = built.settings.resolve()
    assert settings.pseudonymisation_key() == b"secret"
    assert settings.data_dir == tmp_path.resolve()


def test_a_password_in_a_command_line_url_stays_out_of_the_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WAREHOUSE_URL_ENV, raising=False)
    url = "postgresql+psycopg://analyste:motdepasse@127.0.0.1:5432/cv"
    resource = PipelineSettings.for_settings(Settings(Path("/data"), url))
    assert resource.warehouse_url == dg.EnvVar(WAREHOUSE_URL_ENV)
    assert "motdepasse" not in repr(resource)
    plain = PipelineSettings.for_settings(Settings(Path("/data"), "sqlite:////data/w.db"))
    assert plain.warehouse_url == "sqlite:////data/w.db"


def test_one_engine_per_warehouse_and_a_new_one_for_a_new_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(url)
    assert make_engine(url) is engine
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    assert make_engine(url) is engine
    (tmp_path / "w.db").unlink()  # a new warehouse at the same path
    with sqlite3.connect(tmp_path / "w.db") as con:
        con.execute("CREATE TABLE u (y INTEGER)")
    again = make_engine(url)
    assert again is not engine
    with again.connect() as conn:  # the new file, not the deleted one the old pool still held
        assert [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")] == ["u"]
    assert make_engine(f"sqlite:///{tmp_path / 'autre.db'}") is not again
