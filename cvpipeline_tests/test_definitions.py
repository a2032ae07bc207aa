"""The Dagster definitions load, validate, and are generated from the catalog."""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg

from cvpipeline.catalog import load_catalog
from cvpipeline.defs.names import (
    COLUMNS_PRESENT,
    FILES_READABLE,
    HAS_LOADABLE_FILE,
    RESIDENCE_KNOWN,
    ROWS_VALID,
    SHEETS_UNREAD,
)

REPO = Path(__file__).resolve().parent.parent


def test_definitions_validate_with_the_dagster_cli(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_asset_with_checks_per_catalog_source() -> None:
    from cvpipeline.definitions import defs

    catalog = load_catalog()
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(catalog.sources) <= keys
    assert {"participations", "activities", "fundings", "evaluation_metrics", "evaluation_workbook"} <= keys
    for source_id in catalog.sources:
        node = graph.get(dg.AssetKey(source_id))
        assert node.group_name == "sources" and node.description and node.owners
        checks = {c.name for c in graph.get_check_keys_for_assets({dg.AssetKey(source_id)})}
        assert checks == {
            FILES_READABLE,
            ROWS_VALID,
            HAS_LOADABLE_FILE,
            COLUMNS_PRESENT,
            SHEETS_UNREAD,
            RESIDENCE_KNOWN,
        }


def test_every_warehouse_column_is_documented_and_the_doc_is_current() -> None:
    from cvpipeline.warehouse.schema import METADATA
    from cvpipeline.warehouse.tables_doc import DOC_PATH, render

    undocumented = [
        f"{t.name}.{c.name}" for t in METADATA.tables.values() for c in t.columns if not c.comment
    ]
    assert undocumented == []
    assert DOC_PATH.read_text(encoding="utf-8") == render(), "python -m cvpipeline.warehouse.tables_doc"


def test_every_view_column_and_indicator_is_documented_and_the_docs_are_current() -> None:
    from cvpipeline.metrics import dictionary
    from cvpipeline.metrics.registry import DECLARED
    from cvpipeline.warehouse import views

    assert all(meaning for view in views.VIEWS for _, _, _, meaning in view.columns)
    assert views.DOC_PATH.read_text(encoding="utf-8") == views.render(), (
        "python -m cvpipeline.warehouse.views"
    )
    assert [row["code"] for row in dictionary.dictionary_rows()] == [i.code for i in DECLARED]
    assert all(row["definition"] and row["label"] and row["unit"] for row in dictionary.dictionary_rows())
    assert dictionary.DOC_PATH.read_text(encoding="utf-8") == dictionary.render(), (
        "python -m cvpipeline.metrics.dictionary"
    )


def test_a_full_refresh_naming_no_contract_stops_before_its_first_step(tmp_path: Path) -> None:
    """`dagster job execute` without a partition: one French line, no step started, nothing written."""
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "CVPIPELINE_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "dagster", "job", "execute", "-m", "cvpipeline.definitions"]
    result = subprocess.run(
        [*command, "-j", "cvpipeline_full_refresh"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert output.count("run sans contrat : choisissez une partition") == 1, output
    assert "STEP_START" not in output and "non-partitioned run" not in output
    assert not (tmp_path / "data" / "warehouse").exists()


def test_the_national_posts_alone_need_no_contract(tmp_path: Path) -> None:
    """The one asset without contract partitions materialised alone (the UI's "Materialize" on it)."""
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    shutil.copytree(REPO / "data" / "incoming" / "national", tmp_path / "data" / "incoming" / "national")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "CVPIPELINE_DATA_DIR": str(tmp_path / "data")}
    env.pop("CVPIPELINE_WAREHOUSE_URL", None)
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "cvpipeline.definitions"]
    result = subprocess.run(
        [*command, "--select", "postes_anct"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "run sans contrat" not in output
    with sqlite3.connect(tmp_path / "data" / "warehouse" / "cvpipeline.db") as con:
        posts = con.execute("select count(*) from funded_posts").fetchone()[0]
    assert posts > 0
