"""The reasons and rule names partners read, right for each file's contract: real files, real GX.

Three contracts: the two shipped ones (CV262, 2015 pillars; CN07302M, 2024 themes) and one written
here (its own entries under `pillars:`, and a partner of its own whose suite says nothing of them).
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from cvpipeline.catalog import CATALOG_PATH, Catalog, CatalogError, load_catalog, load_contract_catalogs
from cvpipeline.catalog.suites import RULE_CODE
from cvpipeline.ingest.french import date_fault
from cvpipeline.ingest.source import read_source
from cvpipeline.validate.batch import validate_source
from cvpipeline.validate.expectations import load_suite_definition
from cvpipeline_tests.corpus import CHANTIERS_HEADER, SECRET_FIRST_NAME, SECRET_LAST_NAME

KEY = b"k" * 32
SHIPPED = load_contract_catalogs()
PROGRAMMATION_HEADER = [
    "Année",
    "N° dossier",
    "Porteur",
    "Intitulé de l'action",
    "Thématique",
    "Quartier(s)",
    "Montant Agglo (€)",
    "Montant État (€)",
    "Autres financements (€)",
]
# A contract not in the sample: its own entries, and a partner whose CSV names one per line.
OWN_ENTRIES = {
    "tranquillite": {"label": "Tranquillité publique", "keywords": ["tranquillite", "securite"]},
    "sante": {"label": "Santé et accès aux soins", "keywords": ["sante", "soins"]},
    "mobilite": {"label": "Mobilités du quotidien", "keywords": ["mobilite", "transport"]},
}
SUBVENTIONS = {
    "partner": "Fondation de quartier",
    "family": "association",
    "description": "Subventions de la fondation, une ligne par projet.",
    "tables": {
        "subventions": {
            "files": "subventions_*.csv",
            "target": "fundings",
            "columns": {
                "year": {"headers": ["Année"], "type": "year", "required": True},
                "dossier_number": {"headers": ["Dossier"], "type": "text", "required": True},
                "porteur": {"headers": ["Porteur"], "type": "text", "required": True},
                "pillar_label": {"headers": ["Priorité"], "type": "text", "required": True},
                "decision_date": {"headers": ["Date de décision"], "type": "date"},
                "amount_other_eur": {"headers": ["Montant (€)"], "type": "decimal"},
            },
        }
    },
}
# Its suite says nothing of the entries: the rule on them comes from the contract.
SUBVENTIONS_SUITE = {
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


@pytest.fixture(scope="module")
def own_contract(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """CV999: CV262's layouts, its own three entries (`pillars:`) and a partner of its own (CSV)."""
    folder = tmp_path_factory.mktemp("cv999")
    raw = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    raw["contract_code"], raw["contract_label"] = "CV999", "Contrat de ville d'essai"
    del raw["nomenclature"], raw["data_folder"]
    raw["pillars"] = OWN_ENTRIES
    codes = list(OWN_ENTRIES)
    for number, action in enumerate(raw["actions"].values()):
        action["pillar"] = codes[number % len(codes)]
    raw["sources"] = {"fondation": SUBVENTIONS}
    path = folder / "CV999.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    suites = folder / "suites"
    (suites / "fondation").mkdir(parents=True)
    (suites / "fondation" / "subventions.json").write_text(json.dumps(SUBVENTIONS_SUITE), encoding="utf-8")
    return load_catalog(path, suites)


def _catalog(code: str, own_contract: Catalog) -> Catalog:
    return own_contract if code == "CV999" else SHIPPED[code]


def _workbook(path: Path, sheet: str, header: list[str], rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.active.title = sheet
    workbook.active.append(header)
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def _validated(catalog: Catalog, source_id: str, path: Path) -> tuple[pd.DataFrame, list[str]]:
    """The file's quarantine (by row) and its ledger notes, through the ingestion and validation path."""
    parsed = read_source(catalog, catalog.sources[source_id], [path], KEY)
    validated = validate_source(parsed)
    return validated.quarantine.set_index("source_row"), parsed.files[0].notes


def _programmation(path: Path, labels: list[str]) -> Path:
    rows = [
        [2024, f"2024-{n:03d}", "Régie Plus", "Ateliers", label, "Biollay", 1000, 500, None]
        for n, label in enumerate(labels, start=1)
    ]
    return _workbook(path, "Programmation 2024", PROGRAMMATION_HEADER, rows)


@pytest.mark.parametrize(
    ("code", "noun", "foreign"),
    [
        ("CV262", "pilier", "Éducation"),
        ("CN07302M", "thème", "Cohésion sociale"),
        ("CV999", "pilier", "Cohésion sociale"),
    ],
)
def test_an_unknown_pillar_or_theme_is_told_the_entries_of_its_files_contract(
    tmp_path: Path, own_contract: Catalog, code: str, noun: str, foreign: str
) -> None:
    catalog = _catalog(code, own_contract)
    # A label none of the contract's entries recognises (row 3), between two it does.
    known = next(iter(catalog.pillars.values())).label
    path = _programmation(tmp_path / "programmation_2024.xlsx", [known, "Divers", known])
    quarantine, _ = _validated(catalog, "programmation", path)
    assert list(quarantine.index) == [3]
    reason, rule = quarantine.loc[3, "reason"], quarantine.loc[3, "rule"]
    assert rule == {"pilier": "pilier_inconnu", "thème": "theme_inconnu"}[noun]
    assert f"{noun} non reconnu (attendu : " in reason
    for entry in catalog.pillars.values():
        assert f"« {entry.label} »" in reason, (entry.label, reason)
    # Nothing of another contract's nomenclature.
    assert foreign not in reason and "valeurs de la République" not in reason


def test_a_contracts_own_partner_gets_the_rule_on_its_entries_without_writing_it(
    tmp_path: Path, own_contract: Catalog
) -> None:
    path = tmp_path / "subventions_2024.csv"
    path.write_text(
        "Année;Dossier;Porteur;Priorité;Date de décision;Montant (€)\n"
        "2024;F-1;Assoc A;Santé;12/03/2024;1500\n"
        "2024;F-2;Assoc B;Culture;12/03/2024;800\n"
        "2024;F-3;Assoc C;Mobilité;31/02/2024;-5\n"
        "2024;F-1;Assoc A;Santé;12/03/2024;1500\n",
        encoding="utf-8",
    )
    quarantine, notes = _validated(own_contract, "fondation", path)
    assert sorted(quarantine.index) == [3, 4, 5]
    assert quarantine.loc[3, "rule"] == "pilier_inconnu"
    assert (
        "colonne « Priorité » : pilier non reconnu (attendu : « Tranquillité publique », "
        "« Santé et accès aux soins » ou « Mobilités du quotidien ») "
        "(valeur non citée : elle pourrait identifier une personne)"
    ) == quarantine.loc[3, "reason"]  # a word written in a cell is never quoted (it may be a name)
    # The suite's own rule name; the optional date no indicator reads is emptied and said.
    assert quarantine.loc[4, "rule"] == "montant_negatif"
    assert any("« Date de décision » : 1 valeur(s)" in n and "(ligne(s) 4)" in n for n in notes), notes
    # A CSV has no sheet: the duplicate names the row it repeats in the file.
    assert quarantine.loc[5, "rule"] == "doublon" and quarantine.loc[5, "column"] == "(ligne entière)"
    assert quarantine.loc[5, "reason"] == (
        "ligne en double : identique à la ligne 2 du même fichier (première occurrence)"
    )


@pytest.mark.parametrize("code", ["CV262", "CN07302M", "CV999"])
def test_a_duplicate_row_names_the_sheet_and_row_it_repeats(
    tmp_path: Path, own_contract: Catalog, code: str
) -> None:
    catalog = _catalog(code, own_contract)
    young = [
        "Chantier A",
        "Job d'été",
        "05/07/2018",
        "20/07/2018",
        "Un",
        "Alpha",
        "17/03/2001",
        "F",
        "Biollay",
    ]
    other = [*young[:4], "Deux", "Beta", *young[6:]]
    path = _workbook(
        tmp_path / "chantiers_doublons.xlsx", "Été 2018", CHANTIERS_HEADER, [young, other, young, young]
    )
    quarantine, _ = _validated(catalog, "centres_sociaux", path)
    assert sorted(quarantine.index) == [4, 5]
    for row in (4, 5):
        assert quarantine.loc[row, "rule"] == "doublon"
        assert quarantine.loc[row, "reason"] == (
            "ligne en double : identique à la ligne 2 de la feuille « Été 2018 » du même fichier "
            "(première occurrence)"
        )


@pytest.mark.parametrize("code", ["CV262", "CN07302M", "CV999"])
def test_a_date_that_does_not_exist_is_said_so_and_a_birth_date_never_quoted(
    tmp_path: Path, own_contract: Catalog, code: str
) -> None:
    catalog = _catalog(code, own_contract)

    def young(start: str, birth: str) -> list[object]:
        return [
            "Chantier A",
            "Job d'été",
            start,
            "20/07/2021",
            SECRET_LAST_NAME,
            SECRET_FIRST_NAME,
            birth,
            "F",
            "Biollay",
        ]

    rows = [
        young("31/02/2021", "17/03/2001"),
        young("bientôt", "17/03/2001"),
        young("05/07/2021", "30/02/2003"),
        young("05/07/2021", "17/03/2001"),
    ]
    path = _workbook(tmp_path / "chantiers_dates.xlsx", "Chantiers", CHANTIERS_HEADER, rows)
    quarantine, _ = _validated(catalog, "centres_sociaux", path)
    assert sorted(quarantine.index) == [2, 3, 4]
    assert quarantine.loc[2, "rule"] == "date_inexistante"
    assert quarantine.loc[2, "reason"] == (
        "colonne « Date début » : date inexistante : le 31 février 2021 n'existe pas "
        "(février 2021 a 28 jours) (valeur : « 31/02/2021 »)"
    )
    assert (
        quarantine.loc[3, "rule"] == "valeur_illisible" and "valeur illisible" in quarantine.loc[3, "reason"]
    )
    assert "inexistante" not in quarantine.loc[3, "reason"]
    birth = quarantine.loc[4]
    assert "date_inexistante" in birth["rule"].split(" ; ")
    assert "colonne « Date de naissance » : date inexistante : ce jour n'existe pas" in birth["reason"]
    # The birth date itself (day, month or year) is never written in a message.
    assert (
        "2003" not in birth["reason"] and "février" not in birth["reason"] and "30/02" not in birth["reason"]
    )
    assert "2003" not in birth["raw_row"] and SECRET_LAST_NAME not in birth["raw_row"]


@pytest.mark.parametrize("code", ["CV262", "CN07302M", "CV999"])
def test_an_unplaced_quartier_note_gives_its_sheet_and_rows(
    tmp_path: Path, own_contract: Catalog, code: str
) -> None:
    catalog = _catalog(code, own_contract)
    rows = [
        ["Chantier A", "Job d'été", "05/07/2018", "20/07/2018", name, "Alpha", "17/03/2001", "F", quartier]
        for name, quartier in (("Un", "Biollay"), ("Deux", "12 rue des Lilas"), ("Trois", "12 rue des Lilas"))
    ]
    path = _workbook(tmp_path / "chantiers_quartiers.xlsx", "Jeunes", CHANTIERS_HEADER, rows)
    _, notes = _validated(catalog, "centres_sociaux", path)
    unplaced = [n for n in notes if "quartier non reconnu" in n]
    assert unplaced == [
        "fichier « chantiers_quartiers.xlsx », feuille « Jeunes », lignes 3, 4 : quartier non reconnu "
        "(valeur non citée, 16 caractères)" + unplaced[0].split("16 caractères)")[1]
    ]
    assert "résidence inconnue" in unplaced[0] and "Lilas" not in unplaced[0]


def test_every_rule_people_read_is_a_french_code_never_a_gx_class(own_contract: Catalog) -> None:
    for catalog in (*SHIPPED.values(), own_contract):
        for source in catalog.sources.values():
            for table in source.tables:
                for expectation in load_suite_definition(table)["expectations"]:
                    rule = expectation["meta"]["rule"]
                    assert RULE_CODE.fullmatch(rule) and not rule.startswith("expect"), (
                        table.suite_name,
                        rule,
                    )


def test_a_suite_rule_name_that_is_not_a_french_code_is_refused(
    tmp_path: Path, own_contract: Catalog
) -> None:
    suites = tmp_path / "suites"
    (suites / "fondation").mkdir(parents=True)
    bad = json.loads(json.dumps(SUBVENTIONS_SUITE))
    bad["expectations"][0]["meta"]["rule"] = "expect_column_values_to_be_between"
    bad["expectations"][0]["meta"]["rule"] = "Montant négatif"
    (suites / "fondation" / "subventions.json").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"règle « Montant négatif » : attendu un code en français"):
        load_catalog(own_contract.path, suites)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("31/02/2021", "le 31 février 2021 n'existe pas (février 2021 a 28 jours)"),
        ("29/02/2023", "le 29 février 2023 n'existe pas (février 2023 a 28 jours)"),
        ("31-04-21", "le 31 avril 2021 n'existe pas (avril 2021 a 30 jours)"),
        ("2021-02-30", "le 30 février 2021 n'existe pas (février 2021 a 28 jours)"),
        ("15/13/2021", "il n'y a pas de mois 13 (date attendue jour/mois/année)"),
        ("00/05/2021", "il n'y a pas de jour 0"),
        ("31/02/2021 14:30", "le 31 février 2021 n'existe pas (février 2021 a 28 jours)"),
        ("29/02/2024", None),
        ("13 janvier 2019", None),
        ("demain", None),
        (None, None),
    ],
)
def test_date_fault_says_which_day_does_not_exist(text: str | None, said: str | None) -> None:
    assert date_fault(text) == said
