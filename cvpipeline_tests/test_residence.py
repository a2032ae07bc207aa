"""Residence one can trust: each source's unknown share said and checked, honest hints, spellings to add.

Two contracts: the sample's CV262 (its threshold lowered here), and CV235, written here (Perpignan,
the official INSEE list, no places_hors_qpv file), whose partner writes places outside the QPVs.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import dagster as dg
import openpyxl
import pandas as pd
import pytest
import yaml

from cvpipeline.catalog import CATALOG_PATH, Catalog, load_catalog
from cvpipeline.catalog.contract import DEFAULT_UNKNOWN_RESIDENCE_WARNING_PCT, parse_contract
from cvpipeline.defs import build_defs
from cvpipeline.defs.names import RESIDENCE_KNOWN
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.ingest.qpv_reference import resolve_quartiers
from cvpipeline.ingest.quartiers import resolve
from cvpipeline.report.data import load_report_data
from cvpipeline.report.return_files import SPELLINGS_SHEET, build_return
from cvpipeline.report.returns import all_partner_returns
from cvpipeline.warehouse.engine import make_engine
from cvpipeline_tests.e2e import copy_sample, run_pipeline

SOURCE = "mission_jeunes"
PLANTED = ["Quichotte", "Zébulon", "Leclerc", "Pauline", "1999"]
CONTRACT = {
    "contract_code": "CV235",
    "contract_label": "Contrat de ville de Perpignan (essai)",
    "period": {"start": 2015, "end": 2023},
    "territory": {"name": "Perpignan Méditerranée", "communes": [{"insee": "66136", "name": "Perpignan"}]},
    "qpv_geography": 2015,
    "qpv_list": "insee/qpv-2015-occitanie.csv",
    "nomenclature": "piliers_2015",
    "actions": {"suivi_jeunes": {"label": "Suivi de jeunes", "pillar": "emploi", "source": SOURCE}},
    "sources": {
        SOURCE: {
            "partner": "Mission jeunes de Perpignan",
            "family": "association",
            "description": "Jeunes suivis, une ligne par jeune.",
            "tables": {
                "jeunes": {
                    "files": "jeunes_*.csv",
                    "target": "participations",
                    "columns": {
                        "start_date": {"headers": ["Date d'entrée"], "type": "date", "required": True},
                        "last_name": {"headers": ["Nom"], "type": "text", "required": True, "personal": True},
                        "first_name": {
                            "headers": ["Prénom"],
                            "type": "text",
                            "required": True,
                            "personal": True,
                        },
                        "birth_date": {
                            "headers": ["Date de naissance"],
                            "type": "date",
                            "required": True,
                            "personal": True,
                        },
                        "quartier": {"headers": ["Quartier"], "type": "text"},
                    },
                }
            },
        }
    },
}
SUITE = {
    "name": f"{SOURCE}.jeunes",
    "expectations": [
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "beneficiary_key"},
            "meta": {"column_label": "Nom, Prénom", "reason_fr": "personne non identifiable"},
        }
    ],
}
# Nine young people: three in a QPV, one outside by the answer, five whose residence is unknown
# (two in a place outside the QPVs the contract does not list, a spelling two QPVs share, a
# postcode, and a planted name).
QUARTIERS = [
    "Saint Assiscle",
    "Quartier Saint Assiscle",
    "Saint-Assiscle",
    "Hors QPV",
    "Moulin à Vent",
    "Moulin à Vent",
    "Bas Vernet",
    "66000",
    "Chez Zébulon Quichotte",
]


def write_contract(folder: Path, **extra: object) -> Path:
    """CV235's catalog file and its suite in `folder` (extra keys added to the contract)."""
    (folder / "suites" / SOURCE).mkdir(parents=True, exist_ok=True)
    (folder / "suites" / SOURCE / "jeunes.json").write_text(json.dumps(SUITE), encoding="utf-8")
    path = folder / "CV235.yaml"
    path.write_text(yaml.safe_dump({**CONTRACT, **extra}, allow_unicode=True), encoding="utf-8")
    return path


def partner_file(data_dir: Path) -> None:
    """The partner's CSV in incoming/CV235/mission_jeunes/."""
    folder = data_dir / "incoming" / "CV235" / SOURCE
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["Date d'entrée;Nom;Prénom;Date de naissance;Quartier"]
    lines += [f"0{n + 1}/03/2019;Leclerc{n};Pauline;05/06/1999;{q}" for n, q in enumerate(QUARTIERS)]
    (folder / "jeunes_2019.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def materialize_source(catalog: Catalog, data_dir: Path) -> dg.ExecuteInProcessResult:
    """The partner's source asset alone, for the contract's partition."""
    defs = build_defs(catalog)
    settings = PipelineSettings(data_dir=str(data_dir), warehouse_url=f"sqlite:///{data_dir / 'w.db'}")
    return dg.materialize(
        list(defs.assets or []),
        selection=dg.AssetSelection.assets(SOURCE),
        resources={"settings": settings},
        instance=dg.DagsterInstance.ephemeral(),
        partition_key=catalog.contract_code,
        raise_on_error=False,
    )


def residence_checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        c.asset_key.to_user_string(): c
        for c in result.get_asset_check_evaluations()
        if c.check_name == RESIDENCE_KNOWN
    }


@pytest.fixture(scope="module")
def perpignan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("cv235")
    data_dir = base / "data"
    partner_file(data_dir)
    catalog = load_catalog(write_contract(base), base / "suites")
    result = materialize_source(catalog, data_dir)
    return {"base": base, "data_dir": data_dir, "catalog": catalog, "result": result}


def test_an_unplaced_share_above_the_default_threshold_warns_and_is_said(perpignan: dict) -> None:
    result = perpignan["result"]
    assert result.success
    check = residence_checks(result)[SOURCE]
    assert DEFAULT_UNKNOWN_RESIDENCE_WARNING_PCT == 15.0
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["participations_en_place"].value == 9
    assert check.metadata["residence_inconnue"].value == 5
    assert check.metadata["part_residence_inconnue_pct"].value == pytest.approx(55.56)
    assert check.description.startswith("résidence inconnue : 55,6 % des participations (5 sur 9)")
    assert "au-dessus du seuil de 15 %" in check.description
    assert "aucun fichier places_hors_qpv" in check.metadata["lieux_hors_qpv"].value
    with sqlite3.connect(perpignan["data_dir"] / "w.db") as con:
        notes = con.execute("select notes from ingestion_ledger where source_id = ?", (SOURCE,)).fetchone()[0]
    assert "résidence inconnue : 5 participation(s) sur 9 chargées (55,6 %)" in notes.split(" | ")
    assert not any(p in notes for p in PLANTED)


def test_a_places_file_and_a_catalog_threshold_quiet_the_check(perpignan: dict) -> None:
    base: Path = perpignan["base"] / "listed"
    base.mkdir()
    (base / "hors_qpv.csv").write_text("name,kind,variants\nMoulin à Vent,quartier,\n", encoding="utf-8")
    catalog = load_catalog(
        write_contract(base, places_hors_qpv="hors_qpv.csv", unknown_residence_warning_pct=40),
        base / "suites",
    )
    assert catalog.unknown_residence_warning_pct == 40
    data_dir = base / "data"
    partner_file(data_dir)
    check = residence_checks(materialize_source(catalog, data_dir))[SOURCE]
    assert check.passed and check.metadata["residence_inconnue"].value == 3  # 33,3 % <= 40 %
    assert check.metadata["lieux_hors_qpv"].value == "places_hors_qpv : hors_qpv.csv"


def test_the_return_file_lists_the_spellings_to_add_without_personal_values(perpignan: dict) -> None:
    engine = make_engine(f"sqlite:///{perpignan['data_dir'] / 'w.db'}")
    data = load_report_data(engine, perpignan["catalog"])
    [item] = [r for r in all_partner_returns(data) if SOURCE in r.source_ids]
    assert item.to_fix
    spellings = {s.shown: s for s in item.spellings}
    assert set(spellings) == {
        "valeur non citée (13 caractères)",  # Moulin à Vent: words, never quoted
        "Bas Vernet",  # the words of two QPV names: quoted, both QPVs named, no other
        "66000",  # a postcode: quotable
        "valeur non citée (22 caractères)",  # the planted name
    }
    assert spellings["valeur non citée (13 caractères)"].rows == 2
    assert spellings["valeur non citée (13 caractères)"].files == ["jeunes_2019.csv"]
    assert "places_hors_qpv" in spellings["66000"].to_add
    ambiguous = spellings["Bas Vernet"]
    assert ambiguous.ambiguous and "QP066004" in ambiguous.to_add and "QP066007" in ambiguous.to_add
    assert "QP066005" not in ambiguous.to_add
    path = perpignan["base"] / "retour.xlsx"
    build_return(data, item).save(path)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook[SPELLINGS_SHEET]
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert "66000" in cells and "Bas Vernet" in cells
    everything = " ".join(
        str(c) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row if c
    )
    assert not any(p in everything for p in PLANTED) and "Moulin" not in everything


def test_a_hint_never_names_a_qpv_the_spelling_cannot_mean() -> None:
    """'Bas Vernet' against two Bas-Vernet QPVs and a 'Bas-Verger' closer by letters: only the two."""
    reference = pd.DataFrame(
        {
            "geography_year": 2015,
            "official_code": ["QP099001", "QP099002", "QP099003"],
            "name": ["Bas-Vernet Ancien", "Bas-Vernet Nouveau", "Bas-Verger"],
            "communes": "Essai-sur-Têt",
            "communes_insee": "99999",
            "population": pd.array([1000, 2000, 3000], dtype="Int64"),
        }
    )
    variants = pd.DataFrame(columns=["geography_year", "official_code", "variant"])
    values = pd.Series(["Bas Vernet", "Bas Vernet Nouvo", "Verger"])
    resolved = resolve_quartiers(values, {"Essai-sur-Têt"}, reference, variants, 2015)
    assert list(resolved["residence_status"]) == ["inconnu", "qpv", "inconnu"]
    assert resolved["warning"][0] == (
        "quartier « Bas Vernet » ambigu : peut désigner Bas-Vernet Ancien (QP099001), "
        "Bas-Vernet Nouveau (QP099002) : résidence inconnue"
    )
    assert "Bas-Verger" not in resolved["warning"][0]
    # Read approximately, and hinted, only as the QPV whose name holds its words.
    assert resolved["official_code"][1] == "QP099002" and "orthographe approchée" in resolved["warning"][1]
    assert resolved["warning"][2].endswith("proche de Bas-Verger : résidence inconnue")
    # The team list reads its spellings the same way: an approximate one still finds its QPV.
    approximate = resolve("Haut Chambery", 2015, ("73065",))
    assert approximate.qpv_id == "hauts_de_chambery" and "orthographe approchée" in approximate.warning


def test_the_sample_says_each_share_and_warns_above_a_lowered_threshold(tmp_path: Path) -> None:
    raw = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    raw["unknown_residence_warning_pct"] = 8
    catalog = parse_contract(raw, "CV262.yaml", CATALOG_PATH)
    data_dir = copy_sample(tmp_path / "data")
    result = run_pipeline(data_dir, f"sqlite:///{data_dir / 'w.db'}", catalogs={"CV262": catalog})
    checks = residence_checks(result)
    with sqlite3.connect(data_dir / "w.db") as con:
        shares = dict(
            con.execute(
                "select source_id, 100.0 * sum(residence_status = 'inconnu') / count(*) from participations "
                "where contract_code = 'CV262' group by source_id"
            ).fetchall()
        )
        notes = [n for (n,) in con.execute("select notes from ingestion_ledger where notes is not null")]
    for source_id, share in shares.items():
        check = checks[source_id]
        assert check.metadata["part_residence_inconnue_pct"].value == pytest.approx(round(share, 2))
        has_quartier = check.metadata["colonne_quartier"].value == "oui"
        assert check.passed == (not has_quartier or share <= 8), source_id
    assert not checks["centres_sociaux"].passed  # 10,9 % of its participations
    assert checks["sport_dans_la_ville"].passed  # no quartier column: 100 % unknown, nothing to warn of
    assert checks["jardins_partages"].description == "aucune participation en place : sans objet"
    assert any(
        "résidence inconnue : " in part and "chargées" in part for n in notes for part in n.split(" | ")
    )
