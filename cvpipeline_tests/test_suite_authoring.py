"""Suite authoring traps caught when the catalog loads, in one French line each, and at the command line.

The contract is CV235 (test_residence.py), not in the sample: a partner of its own, its suite written
here with each trap an officer met.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cvpipeline import cli
from cvpipeline.catalog import CatalogError, load_catalog, load_contract_catalogs
from cvpipeline.ingest.source import read_source
from cvpipeline.settings import CATALOG_ENV
from cvpipeline.validate.batch import validate_source
from cvpipeline_tests.test_residence import CONTRACT, SOURCE, SUITE, partner_file

REPO = Path(__file__).resolve().parent.parent
KEY = b"k" * 32


def contract_with(folder: Path, *expectations: dict) -> Path:
    """CV235 in `folder` with its suite plus these expectations; returns the contract file."""
    suite = {**SUITE, "expectations": [*SUITE["expectations"], *expectations]}
    (folder / "suites" / SOURCE).mkdir(parents=True, exist_ok=True)
    (folder / "suites" / SOURCE / "jeunes.json").write_text(json.dumps(suite), encoding="utf-8")
    path = folder / "CV235.yaml"
    path.write_text(yaml.safe_dump(CONTRACT, allow_unicode=True), encoding="utf-8")
    return path


def between(column: str, **bounds: object) -> dict:
    return {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": column, **bounds},
        "meta": {"column_label": column, "reason_fr": "hors de la période"},
    }


def not_null(column: str) -> dict:
    return {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": column},
        "meta": {"column_label": column, "reason_fr": "manquant"},
    }


def refusal(tmp_path: Path, *expectations: dict) -> str:
    """The catalog's error for CV235 with these expectations."""
    with pytest.raises(CatalogError) as caught:
        load_catalog(contract_with(tmp_path, *expectations), tmp_path / "suites")
    return str(caught.value)


@pytest.mark.parametrize(
    ("column", "told"),
    [
        ("last_name", "« last_name » est pseudonymisée (jamais gardée) : utilisez beneficiary_key"),
        ("first_name", "« first_name » est pseudonymisée (jamais gardée) : utilisez beneficiary_key"),
        ("birth_date", "« birth_date » est pseudonymisée (jamais gardée) : utilisez birth_year ou age"),
        ("Nom", "« Nom » est un en-tête du fichier : nommez la colonne par sa clé last_name"),
    ],
)
def test_a_personal_column_or_a_header_is_told_what_to_name(tmp_path: Path, column: str, told: str) -> None:
    message = refusal(tmp_path, not_null(column))
    [line] = message.splitlines()
    assert line == (
        f"{tmp_path / 'CV235.yaml'} : sources.{SOURCE}.tables.jeunes.columns : suite {SOURCE}/jeunes.json, "
        f"attente n° 2 : {told}"
    )
    assert "n'est pas déclarée" not in message


def test_a_column_nobody_declared_is_still_refused(tmp_path: Path) -> None:
    [line] = refusal(tmp_path, not_null("telephone")).splitlines()
    assert "la colonne « telephone » n'est pas déclarée par la table" in line and "beneficiary_key" in line


@pytest.mark.parametrize(
    ("bound", "expected"),
    [
        ({"min_value": "janvier 2021"}, "min_value « janvier 2021 » : la colonne start_date est une date"),
        ({"max_value": 2021}, "max_value « 2021 » : la colonne start_date est une date"),
    ],
)
def test_a_date_bound_that_is_not_a_date_is_refused_at_load(
    tmp_path: Path, bound: dict, expected: str
) -> None:
    [line] = refusal(tmp_path, between("start_date", **bound)).splitlines()
    assert expected in line and "attendu une date « aaaa-mm-jj » (ou « jj/mm/aaaa »)" in line


def test_a_text_bound_on_a_number_column_is_refused_at_load(tmp_path: Path) -> None:
    [line] = refusal(tmp_path, between("birth_year", min_value="1990")).splitlines()
    assert "min_value « 1990 » : la colonne birth_year est un nombre, attendu un nombre" in line


@pytest.mark.parametrize("start", ["2019-03-03", "03/03/2019"])
def test_a_date_range_on_a_date_column_validates_rows_instead_of_failing(tmp_path: Path, start: str) -> None:
    """« 2019-03-03 » used to fail the step: Cannot compare Timestamp with datetime.date."""
    catalog = load_catalog(
        contract_with(tmp_path, between("start_date", min_value=start, max_value="2019-12-31")),
        tmp_path / "suites",
    )
    partner_file(tmp_path)  # entries from 01/03/2019 to 09/03/2019
    files = sorted((tmp_path / "incoming" / "CV235" / SOURCE).glob("*.csv"))
    validated = validate_source(read_source(catalog, catalog.sources[SOURCE], files, KEY))
    quarantined = validated.quarantine
    assert sorted(quarantined["source_row"]) == [2, 3]  # the 1st and 2nd of March, before the 3rd
    assert set(quarantined["reason"]) == {"colonne « start_date » : hors de la période"}
    assert len(validated.valid["jeunes"]) == 7


def test_the_shipped_suites_pass_the_check() -> None:
    assert set(load_contract_catalogs()) == {"CN07302M", "CV262"}


def test_the_command_line_prints_a_catalog_error_in_one_french_line_exit_2(tmp_path: Path) -> None:
    path = contract_with(tmp_path, not_null("last_name"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CVPIPELINE_")},
        CATALOG_ENV: str(path),
        "CVPIPELINE_SUITES_DIR": str(tmp_path / "suites"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "cvpipeline", "run", "--data-dir", str(tmp_path / "data")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("cvpipeline : ")]
    assert errors == [
        f"cvpipeline : {path} : sources.{SOURCE}.tables.jeunes.columns : suite {SOURCE}/jeunes.json, "
        "attente n° 2 : « last_name » est pseudonymisée (jamais gardée) : utilisez beneficiary_key"
    ]
    # Besides it, at most the notice of the key made for this new data folder.
    others = [line for line in done.stderr.splitlines() if line.strip() and line not in errors]
    assert all(line.startswith("Clé de pseudonymisation générée") for line in others), others


def test_an_unknown_contract_names_the_catalog_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    code = cli.main(["run", "--data-dir", str(tmp_path / "data"), "--contract", "CV235"])
    error = capsys.readouterr().err
    assert code == 2
    assert "contrat inconnu : CV235 (contrats du catalogue : CN07302M, CV262)" in error
    assert f"{CATALOG_ENV} n'est pas définie : seul le catalogue livré est lu" in error
    monkeypatch.setenv(CATALOG_ENV, str(contract_with(tmp_path)))
    monkeypatch.setenv("CVPIPELINE_SUITES_DIR", str(tmp_path / "suites"))
    assert cli.main(["note", "--data-dir", str(tmp_path / "data"), "--contract", "CV262"]) == 2
    assert f"catalogue lu : {CATALOG_ENV}={tmp_path / 'CV235.yaml'}" in capsys.readouterr().err


def test_a_sex_column_its_suite_leaves_unchecked_still_sets_unknown_codes_aside(tmp_path: Path) -> None:
    """A suite written without a rule on the sex column: a name typed there is not stored as a sex."""
    contract = json.loads(json.dumps(CONTRACT))
    columns = contract["sources"][SOURCE]["tables"]["jeunes"]["columns"]
    columns["sex"] = {"headers": ["Sexe"], "type": "sex"}
    path = contract_with(tmp_path)  # the suite checks the key only
    path.write_text(yaml.safe_dump(contract, allow_unicode=True), encoding="utf-8")
    catalog = load_catalog(path, tmp_path / "suites")
    folder = tmp_path / "incoming" / "CV235" / SOURCE
    folder.mkdir(parents=True)
    lines = ["Date d'entrée;Nom;Prénom;Date de naissance;Quartier;Sexe"]
    lines += [
        f"0{n + 1}/03/2019;Leclerc{n};Pauline;05/06/1999;Saint Assiscle;{sex}" for n, sex in enumerate("FHf")
    ]
    lines += ["04/03/2019;Quichotte;Zébulon;05/06/1999;Saint Assiscle;Quichotte"]
    (folder / "jeunes_2019.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    validated = validate_source(read_source(catalog, catalog.sources[SOURCE], sorted(folder.glob("*")), KEY))
    assert sorted(validated.valid["jeunes"]["sex"]) == ["F", "F", "H"]
    [row] = validated.quarantine.itertuples()
    assert row.source_row == 5 and row.rule == "valeur_non_admise"
    assert "sexe inconnu, attendu F ou H" in row.reason and "Quichotte" not in row.reason
