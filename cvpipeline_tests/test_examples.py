"""The outside-package example of the docs (docs/examples/montpellier/) loads and runs as they say."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cvpipeline.catalog import load_catalogs
from cvpipeline.definitions import CATALOG_ENV
from cvpipeline.settings import SUITES_DIR_ENV
from cvpipeline_tests.e2e import query

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "docs" / "examples" / "montpellier"


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The example contract run by the command line on a copy of its files, into a SQLite warehouse."""
    tmp = tmp_path_factory.mktemp("example")
    data = tmp / "data"
    shutil.copytree(EXAMPLE / "incoming", data / "incoming")
    shutil.copytree(EXAMPLE / "targets", data / "targets")
    db = tmp / "warehouse.db"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        CATALOG_ENV: str(EXAMPLE / "CV112.yaml"),
        SUITES_DIR_ENV: str(EXAMPLE / "suites"),
        "DAGSTER_HOME": str(tmp / "dagster_home"),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cvpipeline",
            "run",
            "--data-dir",
            str(data),
            "--warehouse-url",
            f"sqlite:///{db}",
        ],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {"db": db, "result": done, "data": data}


def test_the_example_contract_loads_alone() -> None:
    catalogs = load_catalogs(EXAMPLE / "CV112.yaml", EXAMPLE / "suites")
    assert list(catalogs) == ["CV112"]  # the shipped contracts are not served beside it
    assert catalogs["CV112"].activity_type_labels["sortie"] == "Sortie collective"


def test_the_example_runs_and_quarantines_what_it_should(example_run: dict) -> None:
    done, db = example_run["result"], example_run["db"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reasons = dict(
        query(db, "select source_row, reason from quarantine where source_id = 'maison_pour_tous'")
    )
    # A label matching no type of activity_types: quarantined, naming the column and the accepted types.
    assert reasons[8].startswith(
        "colonne « Type d'animation » : type d'activité non reconnu : attendu Atelier ou Sortie collective"
    )
    # The value is quoted as written in the file, not as parsed (« 30.0 »).
    assert reasons[9] == "colonne « Durée (h) » : une animation dure au plus 12 heures (valeur : « 30 »)"
    assert set(reasons) == {8, 9}
    assert query(db, "select count(*) from activities where contract_code = 'CV112'")[0][0] == 6


def test_a_declared_activity_type_is_labelled_and_takes_objectives(example_run: dict) -> None:
    db = example_run["db"]
    rows = query(
        db,
        "select ventilation, valeur, valeur_cible from v_indicateurs where code_contrat = 'CV112' "
        "and code_indicateur = 'activities' and code_perimetre = 'animations_mpt' "
        "and code_type_periode = 'all_data' and ventilation is not null order by ventilation",
    )
    assert rows == [("Atelier", 4.0, None), ("Sortie collective", 2.0, 4.0)]
    unlabelled = query(
        db,
        "select count(*) from evaluation_metrics m where m.contract_code = 'CV112' and m.breakdown is not null "
        "and not exists (select 1 from ref_labels l where l.kind = 'activity_type' and l.code = m.breakdown "
        "and l.contract_code = 'CV112')",
    )
    assert unlabelled == [(0,)]
    # v_indicateurs: a breakdown row never looks like a second total (an empty ventilation).
    totals = "select count(*) from {} where {} = 'CV112' and {} is null"
    assert query(db, totals.format("v_indicateurs", "code_contrat", "ventilation")) == query(
        db, totals.format("evaluation_metrics", "contract_code", "breakdown")
    )


def test_official_list_codes_communes_places_and_objectives(example_run: dict) -> None:
    db = example_run["db"]
    communes = {c for (c,) in query(db, "select commune_insee from ref_qpv where contract_code = 'CV112'")}
    assert communes == {"34172"}  # the INSEE list has no commune code: taken from the territory
    places = query(
        db,
        "select source_row, residence_status, qpv_id from participations where contract_code = 'CV112' "
        "order by source_row",
    )
    assert places == [
        (2, "qpv", "QP034005"),
        (3, "qpv", "QP034005"),  # « Paillade »: the example's variants file
        (4, "qpv", "QP034006"),
        (5, "hors_qpv", None),  # « Antigone »: the example's places_hors_qpv file
        (6, "inconnu", None),
        (7, "hors_qpv", None),
    ]
    notes = " ".join(
        n for (n,) in query(db, "select notes from ingestion_ledger where contract_code = 'CV112'") if n
    )
    assert "rue des Lilas" not in notes and "valeur non citée, 16 caractères" in notes
    target = query(
        db,
        "select value, target_value from evaluation_metrics where contract_code = 'CV112' "
        "and indicator_code = 'qpv_residents_per_1000' and scope_code = 'QP034005' and period_kind = 'all_data'",
    )
    assert len(target) == 1 and target[0][1] == 1.0 and target[0][0] > 0
