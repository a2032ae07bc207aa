"""Onboarding a partner from outside the package: a catalog file, its suites and a sample file."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from cvpipeline.catalog import CATALOG_PATH, CatalogError, load_catalog
from cvpipeline.definitions import CATALOG_ENV, configured_catalogs
from cvpipeline.defs import build_defs
from cvpipeline.defs.names import (
    COLUMNS_PRESENT,
    FILES_READABLE,
    HAS_LOADABLE_FILE,
    RESIDENCE_KNOWN,
    ROWS_VALID,
    SHEETS_UNREAD,
)
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.defs.sensors import SENSOR_SUFFIX
from cvpipeline.ingest.markers import ROW_ID
from cvpipeline.settings import SUITES_DIR_ENV
from cvpipeline.validate.expectations import gx_frame
from cvpipeline_tests.e2e import copy_sample

REPO = Path(__file__).resolve().parent.parent
SOURCE = "bailleur_social"
ACTION = "animations_pied_immeuble"
NEW_SOURCE = {
    "partner": "Chambéry Alpes Habitat",
    "family": "bailleur",
    "description": "Animations en pied d'immeuble organisées par le bailleur social, une ligne par animation.",
    "tables": {
        "animations": {
            "files": "animations_*.csv",
            "target": "activities",
            "activity_type": "animation",
            "columns": {
                "activity_date": {
                    "headers": ["Date", "Date de l'animation"],
                    "type": "date",
                    "required": True,
                },
                "location": {"headers": ["Résidence", "Lieu"], "type": "text"},
                "quartier": {"headers": ["Quartier"], "type": "text"},
                "participants_count": {
                    "headers": ["Nombre d'habitants", "Participants"],
                    "type": "int",
                    "required": True,
                },
            },
        }
    },
}
SUITE = {
    "name": f"{SOURCE}.animations",
    "expectations": [
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "activity_date"},
            "meta": {"column_label": "Date", "reason_fr": "date d'animation manquante"},
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "participants_count", "min_value": 0},
            "meta": {"column_label": "Nombre d'habitants", "reason_fr": "nombre négatif impossible"},
        },
    ],
}
SAMPLE = (
    "Date;Résidence;Quartier;Nombre d'habitants\n"
    "12/03/2018;Résidence Les Combes;Hauts-de-Chambéry;18\n"
    "04/05/2018;Résidence du Biollay;Le Biollay;25\n"
    "21/06/2018;Résidence Bellevue;Bellevue;-3\n"
)


@pytest.fixture
def onboarding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A contract file = the shipped CV262 plus a new partner and its action, its suite and one partner file.

    The copy keeps using the shipped shared layouts (`layouts:`); the new partner's layout is written
    inline under `sources:`, and its action names it as `source`.
    """
    raw = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    raw["actions"][ACTION] = {
        "label": "Animations en pied d'immeuble",
        "pillar": "cadre_de_vie",
        "source": SOURCE,
    }
    raw.setdefault("sources", {})[SOURCE] = NEW_SOURCE
    catalog = tmp_path / "config" / "contrat.yaml"
    catalog.parent.mkdir()
    catalog.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")

    suites = tmp_path / "config" / "suites"
    (suites / SOURCE).mkdir(parents=True)
    (suites / SOURCE / "animations.json").write_text(json.dumps(SUITE, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv(SUITES_DIR_ENV, str(suites))

    # The other partners' files are there too: a source without a loadable file blocks the warehouse.
    data = copy_sample(tmp_path / "data")
    (data / "incoming" / SOURCE).mkdir(parents=True)
    (data / "incoming" / SOURCE / "animations_2018.csv").write_text(SAMPLE, encoding="utf-8")
    monkeypatch.setenv("CVPIPELINE_DATA_DIR", str(data))
    return {"catalog": catalog, "suites": suites, "data": data}


def test_new_source_gets_its_asset_checks_and_sensor(onboarding: dict[str, Path]) -> None:
    defs = build_defs(load_catalog(onboarding["catalog"], onboarding["suites"]))
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey(SOURCE)
    assert key in graph.get_all_asset_keys()
    assert graph.get(key).group_name == "sources"
    assert {c.name for c in graph.get_check_keys_for_assets({key})} == {
        FILES_READABLE,
        ROWS_VALID,
        HAS_LOADABLE_FILE,
        COLUMNS_PRESENT,
        SHEETS_UNREAD,
        RESIDENCE_KNOWN,
    }
    assert key in graph.get(dg.AssetKey("activities")).parent_keys
    sensor = next(s for s in defs.sensors if s.name == f"{SOURCE}{SENSOR_SUFFIX}")
    target = defs.resolve_job_def(sensor.targets[0].job_name)
    assert key in target.asset_layer.executable_asset_keys


def test_catalog_file_from_the_environment(
    onboarding: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CATALOG_ENV, str(onboarding["catalog"]))
    assert list(configured_catalogs()) == ["CV262"]
    assert SOURCE in configured_catalogs()["CV262"].sources
    monkeypatch.setenv(CATALOG_ENV, str(onboarding["catalog"].with_name("absent.yaml")))
    with pytest.raises(CatalogError, match=CATALOG_ENV):
        configured_catalogs()
    monkeypatch.delenv(CATALOG_ENV)
    shipped = configured_catalogs()
    assert list(shipped) == ["CN07302M", "CV262"]
    assert all(SOURCE not in c.sources for c in shipped.values())


def test_code_location_loads_the_catalog_of_the_environment(onboarding: dict[str, Path]) -> None:
    """What `dagster dev` imports (cvpipeline.definitions) follows CVPIPELINE_CATALOG."""
    script = (
        "from cvpipeline.definitions import defs\n"
        "keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}\n"
        "print(sorted(keys), sorted(s.name for s in defs.sensors))\n"
    )
    env = {**os.environ, CATALOG_ENV: str(onboarding["catalog"])}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert f"'{SOURCE}'" in result.stdout and f"'{SOURCE}{SENSOR_SUFFIX}'" in result.stdout


def test_new_source_rows_reach_the_warehouse(onboarding: dict[str, Path]) -> None:
    catalog = load_catalog(onboarding["catalog"], onboarding["suites"])
    defs = build_defs(catalog)
    db = onboarding["data"] / "warehouse.db"
    settings = PipelineSettings(data_dir=str(onboarding["data"]), warehouse_url=f"sqlite:///{db}")
    # The warehouse step takes every source's batch as input: the other sources run too.
    selection = dg.AssetSelection.assets(SOURCE) | dg.AssetSelection.groups("sources", "warehouse", "metrics")
    result = dg.materialize(
        list(defs.assets or []),
        selection=selection,
        resources={"settings": settings},
        instance=dg.DagsterInstance.ephemeral(),
        partition_key=catalog.contract_code,
        raise_on_error=False,
    )
    assert result.success
    checks = {
        c.check_name: c.passed for c in result.get_asset_check_evaluations() if c.asset_key.path == [SOURCE]
    }
    assert checks == {
        FILES_READABLE: True,
        ROWS_VALID: False,
        HAS_LOADABLE_FILE: True,
        COLUMNS_PRESENT: True,
        SHEETS_UNREAD: True,
        RESIDENCE_KNOWN: True,  # activities only: no participation, nothing to warn of
    }  # the negative count is quarantined

    with sqlite3.connect(db) as con:
        activities = pd.read_sql("select * from activities where source_id = ?", con, params=[SOURCE])
        ledger = pd.read_sql("select * from ingestion_ledger where source_id = ?", con, params=[SOURCE])
        quarantine = pd.read_sql("select * from quarantine where source_id = ?", con, params=[SOURCE])
        metrics = pd.read_sql(
            "select * from evaluation_metrics where scope_type = 'action' and scope_code = ?",
            con,
            params=[ACTION],
        )
        actions = pd.read_sql("select * from ref_actions where action_code = ?", con, params=[ACTION])
    assert len(activities) == 2
    assert set(activities["action_code"]) == {ACTION}
    assert set(activities["pillar"]) == {"cadre_de_vie"}
    assert set(activities["activity_type"]) == {"animation"}
    assert sorted(activities["participants_count"]) == [18, 25]
    assert set(activities["qpv_id"]) == {"hauts_de_chambery", "biollay"}
    assert ledger[["file", "rows_read", "rows_loaded", "rows_quarantined"]].values.tolist() == [
        ["animations_2018.csv", 3, 2, 1]
    ]
    assert len(quarantine) == 1 and "nombre négatif impossible" in quarantine["reason"].item()
    assert not metrics.empty
    assert len(actions) == 1


def test_gx_sees_the_columns_its_suite_reads_and_whole_numbers_as_int64() -> None:
    """GX gets the suite's columns and the row id only (a table-level rule: the whole frame)."""
    frame = pd.DataFrame(
        {
            ROW_ID: [0, 1],
            "age": pd.array([7, 8], dtype="Int64"),
            "birth_year": pd.array([2010, None], dtype="Int64"),
            "school": ["A", "B"],
        }
    )
    rules = [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "age", "min_value": 0}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "birth_year"}},
    ]
    checked = gx_frame({"expectations": rules}, frame)
    assert list(checked.columns) == [ROW_ID, "age", "birth_year"]
    assert checked["age"].dtype == "int64" and checked["birth_year"].dtype == "Int64"
    table_rule = {"type": "expect_table_row_count_to_equal", "kwargs": {"value": 2}}
    assert list(gx_frame({"expectations": [*rules, table_rule]}, frame).columns) == list(frame.columns)
