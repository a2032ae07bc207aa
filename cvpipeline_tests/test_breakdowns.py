"""Declared breakdowns of workshop participants (« dont femmes », « dont QPV »): read, checked, counted, shown.

Real workbooks and CSV files, the real ingestion and GX suites, SQLite warehouses, the metrics step,
the views and the documents: on CV998 (a contract written here, with the shared layouts) and on the
shipped sample (CV262's Ordi-pratique workshops of 2018, CN07302M's sessions).
"""

from __future__ import annotations

import csv
import logging
import sqlite3
from pathlib import Path

import docx
import openpyxl
import pytest
import sqlalchemy as sa
import yaml

from cvpipeline.catalog import CATALOG_PATH, Catalog, load_catalog
from cvpipeline.defs.names import COLUMNS_PRESENT
from cvpipeline.defs.sources import deliver_and_check
from cvpipeline.metrics.refresh import refresh_metrics
from cvpipeline.report.formatting import percent
from cvpipeline.settings import load_settings
from cvpipeline.warehouse.engine import make_engine
from cvpipeline.warehouse.migrations import prepare
from cvpipeline_tests.e2e import SAMPLE_INCOMING
from cvpipeline_tests.two_contracts import loaded_contracts

CODE = "CV998"
RULE = "ventilation_superieure_aux_participants"
ATELIERS = ["Date", "Lieu", "Structure animatrice", "Nombre de participants", "dont femmes", "dont QPV"]
# (participants, women, QPV residents) per workshop; the third declares more women than participants.
WORKSHOPS = [(10, 6, 4), (8, 3, None), (5, 7, 2), (12, None, None), (6, None, 6)]
TRAINED = ["N° dossier", "Nom", "Prénom", "Année de naissance", "Sexe", "Quartier", "Ordinateur remis"]
TRAINED += ["Date de fin de formation"]


def _contract(folder: Path) -> Catalog:
    """CV262's contract file under another code, reading its files from incoming/CV998/."""
    raw = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    raw["contract_code"], raw["contract_label"] = CODE, "Contrat de ville d'essai"
    del raw["data_folder"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{CODE}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_catalog(path)


def _ordi_workbook(path: Path) -> None:
    workbook = openpyxl.Workbook()
    ateliers = workbook.active
    ateliers.title = "Ateliers"
    ateliers.append(ATELIERS)
    for day, (count, women, qpv) in enumerate(WORKSHOPS, start=10):
        ateliers.append([f"{day}/03/2021", "Médiathèque", "Régie Plus", count, women, qpv])
    trained = workbook.create_sheet("Personnes formées")
    trained.append(TRAINED)
    trained.append(["OP-1", "Essai", "Camille", 1980, "F", "Biollay", "Oui", "20/03/2021"])
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)


@pytest.fixture(scope="module")
def cv998(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """CV998's Ordi-pratique file delivered to a new warehouse, and its indicators computed."""
    root = tmp_path_factory.mktemp("breakdowns")
    catalog = _contract(root / "config")
    data = root / "data"
    _ordi_workbook(data / "incoming" / CODE / "ordi_pratique" / "ordi_pratique_2021.xlsx")
    settings = load_settings(str(data), f"sqlite:///{data / 'w.db'}")
    _, checks = deliver_and_check(
        catalog, catalog.sources["ordi_pratique"], settings, "run", logging.getLogger("test")
    )
    engine = make_engine(settings.warehouse_url)
    refresh_metrics(engine, catalog, "run")
    return {"db": data / "w.db", "checks": {c.check_name: c for c in checks}}


def _query(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql, params).fetchall()


def _metric(db: Path, contract: str, action: str, indicator: str) -> tuple:
    """(value, numerator, denominator) of an action's indicator over all the data."""
    rows = _query(
        db,
        "select value, numerator, denominator from evaluation_metrics where contract_code = ? and "
        "scope_type = 'action' and scope_code = ? and indicator_code = ? and period_kind = 'all_data'",
        contract,
        action,
        indicator,
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_a_workshop_file_with_dont_femmes_and_dont_qpv_loads_the_counts(cv998: dict) -> None:
    rows = _query(
        cv998["db"],
        "select participants_count, participants_women, participants_qpv, participants_outside_qpv "
        "from activities where contract_code = ? order by source_row",
        CODE,
    )
    assert rows == [(10, 6, 4, None), (8, 3, None, None), (12, None, None, None), (6, None, 6, None)]
    # The absent « dont hors QPV » is no missing column: the file is complete.
    assert cv998["checks"][COLUMNS_PRESENT].passed


def test_more_women_than_participants_is_set_aside_with_its_french_reason(cv998: dict) -> None:
    rows = _query(
        cv998["db"], "select source_row, rule, reason from quarantine where contract_code = ?", CODE
    )
    assert rows == [
        (
            4,
            RULE,
            "colonne « dont femmes » : plus de femmes déclarées que de participants (valeur : « 7 »)",
        )
    ]


def test_declared_shares_on_a_contract_outside_the_sample(cv998: dict) -> None:
    # Rows declaring women: 10 (6) and 8 (3); rows declaring QPV residents: 10 (4) and 6 (6). The
    # others are left out of both terms; the row set aside counts nowhere.
    db = cv998["db"]
    assert _metric(db, CODE, "ordi_pratique", "declared_share_women_pct") == (50.0, 9.0, 18.0)
    assert _metric(db, CODE, "ordi_pratique", "declared_share_qpv_pct") == (62.5, 10.0, 16.0)
    assert _metric(db, CODE, "ordi_pratique", "activity_participants")[0] == 36.0
    # A source that declares nothing has no such figure (n.d.), not 0 %.
    declared = _query(
        db,
        "select distinct scope_code from evaluation_metrics where indicator_code like 'declared_share%' "
        "and scope_type = 'source'",
    )
    assert declared == [("ordi_pratique",)]


def test_a_warehouse_without_the_columns_gets_them(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        prepare(conn)
    with engine.begin() as conn:
        for column in ("participants_women", "participants_qpv", "participants_outside_qpv"):
            conn.exec_driver_sql(f"ALTER TABLE activities DROP COLUMN {column}")
    with engine.begin() as conn:
        prepare(conn)
    with engine.connect() as conn:
        columns = {c["name"]: c for c in sa.inspect(conn).get_columns("activities")}
    for column in ("participants_women", "participants_qpv", "participants_outside_qpv"):
        assert isinstance(columns[column]["type"], sa.Integer) and columns[column]["nullable"]


# --- the sample -------------------------------------------------------------------------------


def _declared_in_workbook(path: Path) -> tuple[int, int, int, int]:
    """(women, participants of the rows giving them, QPV residents, participants of those rows)."""
    sheet = openpyxl.load_workbook(path, read_only=True)["Ateliers"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    count, women, qpv = (header.index(h) for h in ("Nombre de participants", "dont femmes", "dont QPV"))
    valid = [r for r in rows[1:] if isinstance(r[count], int) and r[count] >= 0]
    with_women = [r for r in valid if r[women] is not None]
    with_qpv = [r for r in valid if r[qpv] is not None]
    return (
        sum(r[women] for r in with_women),
        sum(r[count] for r in with_women),
        sum(r[qpv] for r in with_qpv),
        sum(r[count] for r in with_qpv),
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    """The committed sample of both shipped contracts, loaded by the full refresh job (documents too)."""
    with loaded_contracts(tmp_path_factory.mktemp("sample")) as loaded:
        yield loaded


def test_sample_shares_equal_the_files(sample: dict) -> None:
    db = sample["db"]
    # CV262: only the 2018 workshops declare (2017's file has no such column).
    women, of_women, qpv, of_qpv = _declared_in_workbook(
        SAMPLE_INCOMING / "ordi_pratique" / "ordi_pratique_2018.xlsx"
    )
    value, numerator, denominator = _metric(db, "CV262", "ordi_pratique", "declared_share_women_pct")
    assert (numerator, denominator) == (women, of_women)
    assert value == round(100 * women / of_women, 1)
    value, numerator, denominator = _metric(db, "CV262", "ordi_pratique", "declared_share_qpv_pct")
    assert (numerator, denominator, value) == (qpv, of_qpv, round(100 * qpv / of_qpv, 1))
    assert denominator < _metric(db, "CV262", "ordi_pratique", "activity_participants")[0]
    # CN07302M: the sessions' CSV files write « Femmes », « dont QPV » and « dont hors QPV ».
    sessions = []
    for path in sorted((SAMPLE_INCOMING / "CN07302M" / "etat_valeurs_republique").glob("sessions_*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            sessions += list(csv.DictReader(handle))
    participants = sum(int(r["Nombre de participants"]) for r in sessions)
    women = sum(int(r["Femmes"]) for r in sessions)
    qpv = sum(int(r["dont QPV"]) for r in sessions)
    action = "valeurs_republique_laicite"
    assert _metric(db, "CN07302M", action, "declared_share_women_pct") == (
        round(100 * women / participants, 1),
        women,
        participants,
    )
    assert _metric(db, "CN07302M", action, "declared_share_qpv_pct")[1:] == (qpv, participants)
    outside = sum(int(r["dont hors QPV"]) for r in sessions)
    assert _query(
        db,
        "select sum(participants_outside_qpv) from activities where contract_code = 'CN07302M' "
        "and source_id = 'etat_valeurs_republique'",
    ) == [(outside,)]


def test_the_views_type_the_new_columns_as_integers(sample: dict) -> None:
    db = sample["db"]
    declared = {
        name: kind
        for _, name, kind, *_ in _query(db, "pragma table_info(v_activites)")
        if name in ("dont_femmes", "dont_habitants_qpv", "dont_hors_qpv")
    }
    assert declared == {"dont_femmes": "INTEGER", "dont_habitants_qpv": "INTEGER", "dont_hors_qpv": "INTEGER"}
    stored = _query(
        db,
        "select distinct typeof(dont_femmes), typeof(dont_habitants_qpv), typeof(dont_hors_qpv) "
        "from v_activites where code_contrat = 'CN07302M' and dont_femmes is not null",
    )
    assert stored == [("integer", "integer", "integer")]
    labels = _query(
        db,
        "select distinct indicateur from v_indicateurs where code_indicateur = 'declared_share_women_pct'",
    )
    assert labels == [("Part de femmes parmi les participants (déclarée)",)]


def test_the_documents_show_the_declared_shares(sample: dict) -> None:
    db = sample["db"]
    reports = sample["data_dir"] / "reports"
    action = "valeurs_republique_laicite"
    women = _metric(db, "CN07302M", action, "declared_share_women_pct")[0]
    qpv = _metric(db, "CN07302M", action, "declared_share_qpv_pct")[0]
    note = docx.Document(str(reports / "CN07302M" / "note_evaluation_contrat_de_ville.docx"))
    text = "\n".join(p.text for p in note.paragraphs)
    assert (
        f"dont {percent(women)} de femmes et {percent(qpv)} d'habitants des quartiers prioritaires "
        "(effectifs déclarés par le partenaire, sur les activités qui les donnent)" in text
    )
    for folder, contract, code in (("", "CV262", "ordi_pratique"), ("CN07302M", "CN07302M", action)):
        sheet = openpyxl.load_workbook(reports / folder / "evaluation_contrat_de_ville.xlsx")["Synthèse"]
        header = [c.value for c in sheet[4]]
        label = _query(
            db, "select label from ref_actions where contract_code = ? and action_code = ?", contract, code
        )[0][0]
        row = next(r for r in sheet.iter_rows(min_row=5, values_only=True) if str(r[0]).strip() == label)
        shown = row[header.index("% femmes (déclaré)")]
        assert shown == pytest.approx(_metric(db, contract, code, "declared_share_women_pct")[0] / 100)
        assert row[header.index("% QPV (déclaré)")] == pytest.approx(
            _metric(db, contract, code, "declared_share_qpv_pct")[0] / 100
        )
