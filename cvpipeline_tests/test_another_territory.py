"""A contract of another territory, end to end: a workbook with a sheet per year, places outside its QPVs, its own note.

CV236 (Perpignan, the official INSEE list) is written here as a data officer would from the docs: its
partner sends one workbook whose sheets are years (one added after the catalog was written) and a
notice sheet; the team lists the places outside the QPVs its partners write; the note comes from the
team's own template. The whole graph runs for it as for the sample.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import openpyxl
import yaml
from docx import Document

from cvpipeline.catalog import load_catalog
from cvpipeline_tests.e2e import run_pipeline

SOURCE = "mission_jeunes"
# Year sheets: 2021 and 2022 when the catalog was written, 2023 added by the partner since.
SHEETS = {
    "2021": ["Saint Assiscle", "Moulin à Vent", "Bas Vernet"],
    "2022": ["Saint-Assiscle", "Moulin à Vent", "Hors QPV", "Quartier Saint Assiscle"],
    "2023": ["Moulin à Vent", "Saint Assiscle"],
}


def _contract(folder: Path) -> Path:
    """CV236's catalog, suite, places outside the QPVs and note template, in `folder`."""
    (folder / "suites" / SOURCE).mkdir(parents=True)
    suite = {
        "name": f"{SOURCE}.jeunes",
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "beneficiary_key"},
                "meta": {"column_label": "Nom, Prénom", "reason_fr": "personne non identifiable"},
            }
        ],
    }
    (folder / "suites" / SOURCE / "jeunes.json").write_text(json.dumps(suite), encoding="utf-8")
    (folder / "lieux_perpignan.csv").write_text(
        "name,kind,variants\nMoulin à Vent,quartier,Moulin a Vent\n", encoding="utf-8"
    )
    template = Document()
    template.add_heading("Notre contrat", level=1)
    template.add_paragraph(
        "Le {{ contrat.libelle }} compte {{ actions|length }} action ; la mission a suivi "
        "{{ actions.suivi_jeunes.personnes }} jeunes."
    )
    template.add_paragraph("{{ tableaux.actions }}")
    template.save(str(folder / "CV236.note.docx"))
    contract = {
        "contract_code": "CV236",
        "contract_label": "Contrat de ville de Perpignan (essai)",
        "period": {"start": 2015, "end": 2023},
        "territory": {
            "name": "Perpignan Méditerranée",
            "communes": [{"insee": "66136", "name": "Perpignan"}],
        },
        "qpv_geography": 2015,
        "qpv_list": "insee/qpv-2015-occitanie.csv",
        "places_hors_qpv": "lieux_perpignan.csv",
        "note_template": "CV236.note.docx",
        "nomenclature": "piliers_2015",
        "actions": {"suivi_jeunes": {"label": "Suivi de jeunes", "pillar": "emploi", "source": SOURCE}},
        "sources": {
            SOURCE: {
                "partner": "Mission jeunes de Perpignan",
                "family": "association",
                "description": "Jeunes suivis, une feuille par année.",
                "tables": {
                    "jeunes": {
                        "files": "jeunes.xlsx",
                        "target": "participations",
                        "sheets": ["20*"],
                        "columns": {
                            "start_date": {"headers": ["Date d'entrée"], "type": "date", "required": True},
                            "last_name": {
                                "headers": ["Nom"],
                                "type": "text",
                                "required": True,
                                "personal": True,
                            },
                            "first_name": {
                                "headers": ["Prénom"],
                                "type": "text",
                                "required": True,
                                "personal": True,
                            },
                            "birth_year": {"headers": ["Année de naissance"], "type": "year"},
                            "quartier": {"headers": ["Quartier"], "type": "text"},
                        },
                    }
                },
            }
        },
    }
    path = folder / "CV236.yaml"
    path.write_text(yaml.safe_dump(contract, allow_unicode=True), encoding="utf-8")
    return path


def _partner_workbook(data_dir: Path) -> None:
    """The partner's workbook: a sheet per year, and a notice sheet nobody reads."""
    folder = data_dir / "incoming" / "CV236" / SOURCE
    folder.mkdir(parents=True)
    workbook = openpyxl.Workbook()
    notice = workbook.active
    notice.title = "Lisez-moi"
    notice.append(["Une feuille par année d'entrée."])
    person = 0
    for year, quartiers in SHEETS.items():
        sheet = workbook.create_sheet(year)
        sheet.append(["Date d'entrée", "Nom", "Prénom", "Année de naissance", "Quartier"])
        for quartier in quartiers:
            person += 1
            sheet.append([f"01/03/{year}", f"Nom{person}", "Prénom", 2004, quartier])
    workbook.save(folder / "jeunes.xlsx")


def test_a_contract_of_another_territory_runs_end_to_end(tmp_path: Path) -> None:
    catalog = load_catalog(_contract(tmp_path / "catalog"), tmp_path / "catalog" / "suites")
    data_dir = tmp_path / "data"
    _partner_workbook(data_dir)
    result = run_pipeline(
        data_dir, f"sqlite:///{data_dir / 'w.db'}", catalogs={"CV236": catalog}, contract="CV236"
    )
    assert result.success

    with sqlite3.connect(data_dir / "w.db") as con:
        by_sheet = dict(
            con.execute(
                "select source_sheet, count(*) from participations where contract_code = 'CV236' group by 1"
            ).fetchall()
        )
        residence = dict(
            con.execute(
                "select residence_status, count(*) from participations where contract_code = 'CV236' group by 1"
            ).fetchall()
        )
        notes = con.execute("select notes from ingestion_ledger where contract_code = 'CV236'").fetchone()[0]
        aside = con.execute("select count(*) from quarantine where contract_code = 'CV236'").fetchone()[0]
    # Every year's sheet, the one added since included: nothing silently skipped, nothing lost.
    assert by_sheet == {year: len(quartiers) for year, quartiers in SHEETS.items()}
    assert aside == 0
    # The team's places: "Moulin à Vent" is outside the QPVs, not an unknown residence.
    assert residence.get("inconnu", 0) == 1  # "Bas Vernet", a spelling two QPVs share
    assert sum(residence.values()) == 9
    assert residence["hors_qpv"] == 4  # three Moulin à Vent and one "Hors QPV"
    # The notice sheet is said, not read.
    assert "Lisez-moi" in notes

    note = next((data_dir / "reports" / "CV236").glob("*.docx"))
    text = "\n".join(p.text for p in Document(str(note)).paragraphs)
    assert (
        "Le Contrat de ville de Perpignan (essai) (2015-2023) compte 1 action ; la mission a suivi 9 jeunes."
        in text
    )
    assert "{{" not in text and "{%" not in text
    assert (data_dir / "reports" / "CV236" / "evaluation_contrat_de_ville.xlsx").is_file()
