"""The objectives file: validation messages, and achievement rates matched to the right rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cvpipeline.catalog import load_catalog
from cvpipeline.metrics.targets import illustrative_flags, load_targets, with_targets

CATALOG = load_catalog()
HEADER = "Indicateur;Périmètre;Code du périmètre;Ventilation;Période;Valeur cible;Commentaire\n"


def write(tmp_path: Path, text: str, name: str = "objectifs_2018.csv", encoding: str = "utf-8") -> Path:
    folder = tmp_path / "targets"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding=encoding)
    return tmp_path


def test_valid_rows_load_with_codes_or_french_labels(tmp_path: Path) -> None:
    data_dir = write(
        tmp_path,
        HEADER
        + "beneficiaries;action;citeslab;;toutes les données;150;\n"
        + "Bénéficiaires (personnes distinctes);Action;CitésLab : accompagnement à la création d'entreprise;;2017;"
        + "60;\n"
        + "activities;action;ordi_pratique;Atelier;01/01/2017 - 30/06/2018;40;\n"
        + "agglo_budget_eur;contrat;;;2018;602 000,00;\n",
        encoding="cp1252",
    )
    loaded = load_targets(CATALOG, data_dir / "targets")
    assert loaded.problems == []
    targets = loaded.targets
    assert list(targets["period_kind"]) == ["all_data", "year", "chosen", "year"]
    assert list(targets["scope_code"]) == ["citeslab", "citeslab", "ordi_pratique", CATALOG.contract_code]
    assert targets.loc[2, "breakdown"] == "atelier"
    assert targets.loc[3, "target_value"] == 602000.0
    assert list(targets["source_row"]) == [2, 3, 4, 5]


def test_a_file_without_a_required_column_is_rejected_with_its_name(tmp_path: Path) -> None:
    data_dir = write(tmp_path, "Indicateur;Périmètre;Période\nbeneficiaries;action;2017\n")
    loaded = load_targets(CATALOG, data_dir / "targets")
    assert loaded.targets.empty
    assert len(loaded.problems) == 1
    message = loaded.problems[0]
    assert "objectifs_2018.csv" in message and "« Valeur cible »" in message and "ignoré" in message


def test_bad_rows_are_set_aside_with_file_row_and_column(tmp_path: Path) -> None:
    data_dir = write(
        tmp_path,
        HEADER
        + "beneficiaries;action;citeslab;;2017;100;\n"
        + "beneficiares;action;citeslab;;2017;100;\n"
        + "beneficiaries;action;atelier_inconnu;;2017;100;\n"
        + "beneficiaries;action;citeslab;;l'an prochain;100;\n"
        + "beneficiaries;action;citeslab;;2018;beaucoup;\n"
        + "beneficiaries;quartier;nulle_part;;2018;10;\n"
        + "beneficiaries;action;citeslab;;2017;120;\n",
    )
    loaded = load_targets(CATALOG, data_dir / "targets")
    assert len(loaded.targets) == 1
    problems = "\n".join(loaded.problems)
    assert "ligne 3 : colonne « Indicateur » : indicateur inconnu « beneficiares »" in problems
    assert "ligne 4 : colonne « Code du périmètre » : « atelier_inconnu »" in problems
    assert "ligne 5 : colonne « Période » : « l'an prochain »" in problems
    assert "ligne 6 : colonne « Valeur cible » : « beaucoup » n'est pas un nombre" in problems
    assert "ligne 7 : colonne « Code du périmètre » : « nulle_part »" in problems
    assert "ligne 8 : objectif en double" in problems
    assert len(loaded.problems) == 6


def test_an_objective_set_again_in_another_file_is_set_aside_naming_the_first(tmp_path: Path) -> None:
    """Two files of objectives (the committee's, then a revision): an objective is counted once."""
    write(tmp_path, HEADER + "beneficiaries;action;citeslab;;toutes les données;150;\n", "objectifs_a.csv")
    data_dir = write(
        tmp_path,
        HEADER
        + "activities;action;citeslab;;2017;90;\nbeneficiaries;action;citeslab;;toutes les données;160;\n",
        "objectifs_b.csv",
    )
    loaded = load_targets(CATALOG, data_dir / "targets")
    assert sorted(loaded.targets["target_value"]) == [90.0, 150.0]
    assert loaded.problems == [
        "fichier d'objectifs « objectifs_b.csv », ligne 3 : objectif en double (même indicateur, "
        "périmètre, ventilation et période) : déjà fixé ligne 2 de « objectifs_a.csv »"
    ]


def test_no_targets_folder_means_no_objective(tmp_path: Path) -> None:
    loaded = load_targets(CATALOG, tmp_path / "targets")
    assert loaded.targets.empty and loaded.problems == [] and loaded.files == []


def test_the_shipped_sample_targets_are_valid_and_flagged_illustrative() -> None:
    repo = Path(__file__).resolve().parent.parent
    loaded = load_targets(CATALOG, repo / "data" / "targets")
    assert loaded.problems == [] and len(loaded.targets) > 5
    assert illustrative_flags(loaded.targets).all()
    assert set(loaded.targets["illustrative"]) == {1}


def test_the_illustrative_column_is_the_flag_not_a_word_in_a_comment(tmp_path: Path) -> None:
    data_dir = write(
        tmp_path,
        HEADER.rstrip("\n")
        + ";Illustratif\n"
        + "beneficiaries;action;citeslab;;2016;100;Objectif illustratif du comité;\n"
        + "beneficiaries;action;citeslab;;2017;100;ILLUSTRATIF;non\n"
        + "beneficiaries;action;citeslab;;2018;100;;oui\n"
        + "activities;action;citeslab;;2016;100;;Vrai\n"
        + "activities;action;citeslab;;2017;100;;x\n"
        + "activities;action;citeslab;;2018;100;;0\n"
        + "field_actors;action;citeslab;;2018;100;;peut-être\n",
    )
    loaded = load_targets(CATALOG, data_dir / "targets")
    assert list(illustrative_flags(loaded.targets)) == [False, False, True, True, True, False]
    assert loaded.problems == [
        "fichier d'objectifs « objectifs_2018.csv », ligne 8 : colonne « Illustratif » : « peut-être » : "
        "oui ou non attendu (vide : non)"
    ]
    # Without the column, a comment that says « illustratif » flags nothing.
    (tmp_path / "b").mkdir()
    other = write(tmp_path / "b", HEADER + "beneficiaries;action;citeslab;;2016;100;Objectif illustratif\n")
    loaded = load_targets(CATALOG, other / "targets")
    assert loaded.problems == [] and not illustrative_flags(loaded.targets).any()


def test_achievement_rate_only_on_the_matching_period_kind() -> None:
    metrics = pd.DataFrame(
        [
            ("beneficiaries", "action", "citeslab", None, "2016-01-01", "2018-12-31", 118.0, "all_data"),
            ("beneficiaries", "action", "citeslab", None, "2016-01-01", "2016-12-31", 40.0, "year"),
            ("beneficiaries", "action", "citeslab", None, "2017-01-01", "2017-12-31", 45.0, "year"),
            (
                "activities",
                "action",
                "citeslab",
                "rencontre_acteur",
                "2016-01-01",
                "2018-12-31",
                90.0,
                "all_data",
            ),
            ("activities", "action", "citeslab", None, "2016-01-01", "2018-12-31", 120.0, "all_data"),
        ],
        columns=[
            "indicator_code",
            "scope_type",
            "scope_code",
            "breakdown",
            "period_start",
            "period_end",
            "value",
            "period_kind",
        ],
    )
    targets = pd.DataFrame(
        [
            ("beneficiaries", "action", "citeslab", None, "all_data", None, None, 150.0),
            (
                "beneficiaries",
                "action",
                "citeslab",
                None,
                "year",
                pd.Timestamp(2017, 1, 1),
                pd.Timestamp(2017, 12, 31),
                50.0,
            ),
            ("activities", "action", "citeslab", "rencontre_acteur", "all_data", None, None, 100.0),
        ],
        columns=[
            "indicator_code",
            "scope_type",
            "scope_code",
            "breakdown",
            "period_kind",
            "period_start",
            "period_end",
            "target_value",
        ],
    )
    out = with_targets(metrics, targets)
    assert out["achievement_pct"].tolist()[:4] == [78.7, pytest.approx(float("nan"), nan_ok=True), 90.0, 90.0]
    assert pd.isna(out.loc[4, "achievement_pct"]) and pd.isna(out.loc[1, "target_value"])


def test_docs_list_every_indicator_an_objective_may_name() -> None:
    """docs/targets.md lists the accepted codes; qpv_residents_per_1000 is one, data_rows is not."""
    from cvpipeline.metrics.targets import target_indicators

    text = (Path(__file__).resolve().parent.parent / "docs" / "targets.md").read_text(encoding="utf-8")
    accepted = text.split("Accepted indicator codes:")[1].split("## Validation")[0]
    assert "qpv_residents_per_1000" in target_indicators() and "data_rows" not in target_indicators()
    assert {c for c in target_indicators() if f"`{c}`" in accepted} == set(target_indicators())
