"""Every sheet of a partner's workbook accounted for: read by a table (a name or a pattern), or said.

Real workbooks (openpyxl), the real ingestion, GX suites, SQLite warehouse and Dagster check results,
on the shipped contract CV262 (its sample layouts) and on CV999, a contract written here with a
partner of its own.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import dagster as dg
import openpyxl
import pytest
import yaml

from cvpipeline.catalog import CATALOG_PATH, Catalog, CatalogError, load_catalog, load_contract_catalogs
from cvpipeline.defs.names import SHEETS_UNREAD
from cvpipeline.defs.sources import deliver_and_check
from cvpipeline.ingest.source import NOT_DATA_SHEETS, UNREAD_SHEETS
from cvpipeline.ingest.xlsx_sheets import sheet_matches
from cvpipeline.settings import load_settings
from cvpipeline_tests.corpus import SECRET_LAST_NAME

JARDINS_HEADER = ["Site", "Type", "Quartier", "Habitants impliqués", "Acteurs de terrain", "Année"]
# CV999's own partner: its grants, one sheet per year, and a summary sheet it must not read.
FONDATION = {
    "partner": "Fondation de quartier",
    "family": "association",
    "description": "Subventions de la fondation, une feuille par année.",
    "tables": {
        "subventions": {
            "files": "subventions_*.xlsx",
            "target": "fundings",
            "sheets": ["Année *"],
            "columns": {
                "year": {"headers": ["Année"], "type": "year", "required": True},
                "dossier_number": {"headers": ["Dossier"], "type": "text", "required": True},
                "porteur": {"headers": ["Porteur"], "type": "text", "required": True},
                "pillar_label": {"headers": ["Pilier"], "type": "text", "required": True},
                "amount_other_eur": {"headers": ["Montant (€)"], "type": "decimal"},
            },
        }
    },
}
FONDATION_SUITE = {
    "name": "fondation.subventions",
    "expectations": [
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "amount_other_eur", "min_value": 0},
            "meta": {
                "column_label": "Montant (€)",
                "reason_fr": "montant négatif",
                "rule": "montant_negatif",
            },
        }
    ],
}
FONDATION_HEADER = ["Année", "Dossier", "Porteur", "Pilier", "Montant (€)"]


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def _contract(folder: Path, code: str, jardins: dict[str, object] | None) -> Catalog:
    """CV262's contract file, as itself (code CV262) or as CV999 with the partner FONDATION.

    `jardins` overrides the shared jardins_partages table for the contract (sheet or sheets).
    """
    raw = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    if jardins is not None:
        raw["layouts"]["jardins_partages"] = {"tables": {"jardins": jardins}}
    suites = folder / "suites"
    folder.mkdir(parents=True, exist_ok=True)
    if code != "CV262":
        raw["contract_code"], raw["contract_label"] = code, "Contrat de ville d'essai"
        del raw["data_folder"]
        raw["sources"] = {"fondation": FONDATION}
        (suites / "fondation").mkdir(parents=True)
        (suites / "fondation" / "subventions.json").write_text(json.dumps(FONDATION_SUITE), encoding="utf-8")
    path = folder / f"{code}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_catalog(path, suites if suites.is_dir() else None)


def _jardins(site: str, count: int, year: int) -> list[object]:
    return [site, "Jardin partagé", "Biollay", count, 1, year]


def _deliver(catalog: Catalog, source_id: str, data: Path) -> tuple[dict[str, dg.AssetCheckResult], Path]:
    settings = load_settings(str(data), f"sqlite:///{data / 'w.db'}")
    _, checks = deliver_and_check(
        catalog, catalog.sources[source_id], settings, "run", logging.getLogger("test")
    )
    return {c.check_name: c for c in checks}, data / "w.db"


def _query(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql, params).fetchall()


def _incoming(data: Path, catalog: Catalog, source_id: str) -> Path:
    return data / "incoming" / catalog.folder / source_id


@pytest.mark.parametrize("code", ["CV262", "CV999"])
def test_a_pattern_reads_every_year_sheet_with_one_suite_and_rows_keep_their_sheet(
    tmp_path: Path, code: str
) -> None:
    catalog = _contract(tmp_path, code, {"sheets": ["20*"]})
    table = catalog.sources["jardins_partages"].tables[0]
    assert table.sheets == ("20*",) and table.suite_name == "jardins_partages.jardins"
    data = tmp_path / "data"
    _workbook(
        _incoming(data, catalog, "jardins_partages") / "jardins_2021-2023.xlsx",
        {
            "Lisez-moi": [["Une feuille par année ; ne pas modifier les en-têtes."]],
            "2021": [JARDINS_HEADER, _jardins("Jardin A", 10, 2021), _jardins("Jardin B", 8, 2021)],
            "2022": [JARDINS_HEADER, _jardins("Jardin A", 12, 2022), _jardins("Jardin B", -4, 2022)],
            "2023": [JARDINS_HEADER, _jardins("Jardin C", 6, 2023)],  # added by the partner
            "Feuil5": [],
        },
    )
    checks, db = _deliver(catalog, "jardins_partages", data)
    loaded = _query(
        db, "select source_sheet, count(*), sum(participants_count) from activities group by 1 order by 1"
    )
    assert loaded == [("2021", 2, 18), ("2022", 1, 12), ("2023", 1, 6)]
    quarantine = _query(db, "select source_sheet, source_row, rule, reason from quarantine")
    assert quarantine == [
        (
            "2022",
            3,
            "hors_limites",
            "colonne « Habitants impliqués » : nombre négatif impossible (valeur : « -4 »)",
        )
    ]
    ((status, rows_read, notes),) = _query(db, "select status, rows_read, notes from ingestion_ledger")
    assert (status, rows_read) == ("partially_loaded", 5)
    assert UNREAD_SHEETS not in notes
    assert f"{NOT_DATA_SHEETS} : « Lisez-moi » (notice ou brouillon) ; « Feuil5 » (vide)" in notes
    assert checks[SHEETS_UNREAD].passed is True
    assert checks[SHEETS_UNREAD].severity == dg.AssetCheckSeverity.WARN


@pytest.mark.parametrize("code", ["CV262", "CV999"])
def test_a_sheet_no_table_reads_is_said_in_the_ledger_and_warned_by_the_check(
    tmp_path: Path, code: str
) -> None:
    """The shipped jardins layout reads the first visible sheet: a year's sheet added after it is said."""
    catalog = _contract(tmp_path, code, None) if code != "CV262" else load_contract_catalogs()["CV262"]
    data = tmp_path / "data"
    _workbook(
        _incoming(data, catalog, "jardins_partages") / "jardins_2022.xlsx",
        {
            "2022": [JARDINS_HEADER, _jardins("Jardin A", 12, 2022)],
            "2023": [JARDINS_HEADER, _jardins("Jardin C", 6, 2023)],
            SECRET_LAST_NAME: [["Fiche de suivi"], ["Présent le 03/03/2023"]],  # one sheet per person
        },
    )
    checks, db = _deliver(catalog, "jardins_partages", data)
    assert _query(db, "select source_sheet, count(*) from activities group by 1") == [("2022", 1)]
    ((status, notes),) = _query(db, "select status, notes from ingestion_ledger")
    assert status == "loaded"
    said = next(n for n in notes.split(" | ") if UNREAD_SHEETS in n)
    assert said.startswith(
        f"fichier « jardins_2022.xlsx » : {UNREAD_SHEETS} : « 2023 », 1 feuille(s) au nom non affiché"
    )
    assert SECRET_LAST_NAME not in notes
    check = checks[SHEETS_UNREAD]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["fichiers_avec_feuilles_non_lues"].value == 1
    assert "jardins_2022.xlsx" in str(check.metadata["detail"].value)
    assert SECRET_LAST_NAME not in str(check.metadata["detail"].value)


def test_a_contract_of_its_own_reads_its_partners_year_sheets_and_says_the_summary(tmp_path: Path) -> None:
    catalog = _contract(tmp_path, "CV999", None)
    data = tmp_path / "data"
    rows = {
        year: [
            FONDATION_HEADER,
            [year, f"{year}-1", "Régie Plus", "Emploi", 1000],
            [year, f"{year}-2", "BLE", "Emploi", 500],
        ]
        for year in (2021, 2022)
    }
    _workbook(
        _incoming(data, catalog, "fondation") / "subventions_2021-2022.xlsx",
        {
            "Année 2021": rows[2021],
            "ANNÉE-2022": rows[2022],
            "Synthèse": [["Année", "Total"], [2021, 1500], [2022, 1500]],
        },
    )
    checks, db = _deliver(catalog, "fondation", data)
    loaded = _query(
        db, "select source_sheet, count(*), sum(amount_other_eur) from fundings group by 1 order by 1"
    )
    assert loaded == [("ANNÉE-2022", 2, 1500), ("Année 2021", 2, 1500)]
    ((notes,),) = _query(db, "select notes from ingestion_ledger")
    assert f"{UNREAD_SHEETS} : « Synthèse »" in notes
    assert checks[SHEETS_UNREAD].passed is False
    assert checks["fichiers_lisibles"].passed is True


def test_a_pattern_that_matches_no_sheet_rejects_the_file_naming_those_present(tmp_path: Path) -> None:
    catalog = _contract(tmp_path, "CV262", {"sheets": ["20*"]})
    data = tmp_path / "data"
    _workbook(
        _incoming(data, catalog, "jardins_partages") / "jardins_anciens.xlsx",
        {"Jardins": [JARDINS_HEADER, _jardins("Jardin A", 3, 2019)]},
    )
    checks, db = _deliver(catalog, "jardins_partages", data)
    ((status, error),) = _query(db, "select status, error from ingestion_ledger")
    assert status == "rejected"
    assert "aucune feuille ne correspond à « 20* » (feuilles présentes : « Jardins »)" in error
    assert checks["fichiers_lisibles"].passed is False


def test_sheet_still_names_one_exact_sheet_and_both_keys_together_are_refused(tmp_path: Path) -> None:
    catalog = _contract(tmp_path, "CV262", {"sheet": "Jardins 2022"})
    data = tmp_path / "data"
    _workbook(
        _incoming(data, catalog, "jardins_partages") / "jardins_2022.xlsx",
        {
            "Jardins 2021": [JARDINS_HEADER, _jardins("Jardin A", 3, 2021)],
            "JARDINS  2022": [JARDINS_HEADER, _jardins("Jardin A", 4, 2022)],
        },
    )
    _, db = _deliver(catalog, "jardins_partages", data)
    assert _query(db, "select source_sheet, participants_count from activities") == [("JARDINS  2022", 4)]
    ((notes,),) = _query(db, "select notes from ingestion_ledger")
    assert f"{UNREAD_SHEETS} : « Jardins 2021 »" in notes
    with pytest.raises(CatalogError, match="donnez sheet .une feuille. ou sheets .plusieurs., pas les deux"):
        _contract(tmp_path / "both", "CV262", {"sheet": "2022", "sheets": ["20*"]})


def test_sheet_patterns_ignore_case_accents_and_punctuation() -> None:
    assert sheet_matches("2023", "20*") and not sheet_matches("Synthèse 2023", "20*")
    assert sheet_matches("ANNÉE-2", "Année ?") and sheet_matches("année 2021", "Année *")
    assert not sheet_matches("Années 2021", "Année ?")
    assert sheet_matches("Séances", "seances") and not sheet_matches("Séances 2", "seances")


def test_every_source_asset_has_the_unread_sheets_check() -> None:
    from cvpipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    for source_id in load_contract_catalogs()["CV262"].sources:
        keys = graph.get_check_keys_for_assets({dg.AssetKey(source_id)})
        assert SHEETS_UNREAD in {k.name for k in keys}
