"""A table's Great Expectations suite: where it is, the message when it is missing, its column checks."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

from cvpipeline.catalog.messages import Place, choices
from cvpipeline.catalog.schema import shown
from cvpipeline.catalog.specs import TableSpec

SUITES_DIR_ENV = "CVPIPELINE_SUITES_DIR"
# Columns a table's suite may name besides the declared ones, per target (what ingest/source.py
# `parse_table` adds before validation); the person fields are dropped before it.
DERIVED_COLUMNS = {
    "participations": ("beneficiary_key", "start_date", "end_date", "birth_year", "age", "person_id"),
    "activities": ("activity_type", "activity_year"),
    "fundings": ("pillar", "qpv_ids"),
}
PLACE_COLUMNS = ("residence_status", "qpv_id")
LINEAGE_COLUMNS = ("source_file", "source_sheet", "source_row", "file_sha256")
PERSON_COLUMNS = ("last_name", "first_name", "birth_date")
SUITE_COLUMN_KWARGS = ("column", "column_A", "column_B")
# The name an expectation may give its rule (`meta.rule`, what quarantine.rule then says): a code in
# French, lower case, words joined by `_` (validate/rules.py names the others).
RULE_CODE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def suite_path(table: TableSpec) -> Any:
    """Where a table's suite JSON is: the settings' suites folder first (when set), else the package."""
    if table.suites_dir is not None:
        candidate = table.suites_dir / table.source_id / f"{table.name}.json"
        if candidate.is_file():
            return candidate
    return resources.files("cvpipeline.validate").joinpath("suites", table.source_id, f"{table.name}.json")


def missing_suite_message(table: TableSpec) -> str:
    """French message for a table without a suite: where the suite is expected."""
    package = f"cvpipeline/validate/suites/{table.source_id}/{table.name}.json"
    if table.suites_dir is not None:
        where = f"créez {table.suites_dir / table.source_id / f'{table.name}.json'} ({SUITES_DIR_ENV})"
        return f"suite d'attentes absente pour {table.suite_name} : {where} ou {package}"
    return (
        f"suite d'attentes absente pour {table.suite_name} : créez {package} "
        f"(ou <dossier>/{table.source_id}/{table.name}.json avec {SUITES_DIR_ENV}=<dossier>)"
    )


def suite_errors(spec: TableSpec, place: Place, contract_place: Place | None = None) -> list[str]:
    """Problems of a table's suite JSON: missing, or naming columns the table won't have."""
    path = suite_path(spec)
    if not path.is_file():
        return [(contract_place or place).at("", missing_suite_message(spec))]
    where = f"suite {spec.source_id}/{spec.name}.json"
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return [place.at("", f"{where} : JSON illisible ({error})")]
    present = {c.name for c in spec.columns} - set(PERSON_COLUMNS)
    present |= set(DERIVED_COLUMNS[spec.target]) | set(LINEAGE_COLUMNS)
    if spec.maps("quartier"):
        present |= set(PLACE_COLUMNS)
    errors = []
    for number, expectation in enumerate(suite.get("expectations", []), start=1):
        kwargs = expectation.get("kwargs", {}) if isinstance(expectation, dict) else {}
        meta = (expectation.get("meta") or {}) if isinstance(expectation, dict) else {}
        rule = meta.get("rule") if isinstance(meta, dict) else None
        if rule is not None and not (isinstance(rule, str) and RULE_CODE.fullmatch(rule)):
            errors.append(
                place.at(
                    "columns",
                    f"{where}, attente n° {number} : règle {shown(str(rule))} : attendu un code en français, "
                    "en minuscules sans accents, mots joints par _ (ex. montant_negatif)",
                )
            )
        named = [kwargs[k] for k in SUITE_COLUMN_KWARGS if k in kwargs] + list(
            kwargs.get("column_list") or []
        )
        for column in named:
            if column not in present:
                errors.append(
                    place.at(
                        "columns",
                        f"{where}, attente n° {number} : la colonne {shown(column)} n'est pas déclarée "
                        f"par la table (colonnes : {choices(present)})",
                    )
                )
    return errors
