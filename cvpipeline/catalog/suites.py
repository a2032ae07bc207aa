"""A table's Great Expectations suite: where it is, the message when it is missing, its column checks."""

from __future__ import annotations

import datetime as dt
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
# What a suite checks instead of a personal column (dropped once the pseudonym is made).
STORED_AS = {
    "last_name": "utilisez beneficiary_key",
    "first_name": "utilisez beneficiary_key",
    "birth_date": "utilisez birth_year ou age",
}
# The types of the columns a table gets besides its declared ones (ingest/source.py `parse_table`).
DERIVED_TYPES = {
    "start_date": "date",
    "end_date": "date",
    "activity_date": "date",
    "birth_year": "year",
    "age": "int",
    "activity_year": "year",
    "source_row": "int",
}
NUMBER_TYPES = ("int", "decimal", "year")
# Expectations whose min_value / max_value are compared with the column's values.
BETWEEN_TYPES = (
    "expect_column_values_to_be_between",
    "expect_column_min_to_be_between",
    "expect_column_max_to_be_between",
    "expect_column_median_to_be_between",
    "expect_column_mean_to_be_between",
)
BOUND_KWARGS = ("min_value", "max_value")
# The dates a suite may write as a bound: 2021-01-01 (ISO) or 01/01/2021.
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
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


def suite_date(value: object) -> dt.date | None:
    """A bound a suite writes as a date (« 2021-01-01 » or « 01/01/2021 »), else None."""
    if not isinstance(value, str):
        return None
    for pattern in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value.strip(), pattern).date()
        except ValueError:
            continue
    return None


def column_types(spec: TableSpec) -> dict[str, str]:
    """The type of each column a table's suite may name (declared ones, then those the reading adds)."""
    return {**DERIVED_TYPES, **{c.name: c.type for c in spec.columns}}


def _bound_errors(expectation: dict[str, Any], kind: str | None, column: str) -> list[str]:
    """What is wrong with a between-expectation's bounds for its column's type (in French)."""
    errors = []
    for name in BOUND_KWARGS:
        value = (expectation.get("kwargs") or {}).get(name)
        if value is None or isinstance(value, dict):  # absent, or a GX parameter ($PARAMETER)
            continue
        if kind == "date":
            if suite_date(value) is None:
                errors.append(
                    f"{name} {shown(value)} : la colonne {column} est une date, attendu une date "
                    "« aaaa-mm-jj » (ou « jj/mm/aaaa ») entre guillemets"
                )
        elif kind in NUMBER_TYPES and (isinstance(value, (str, bool)) or not isinstance(value, (int, float))):
            errors.append(f"{name} {shown(value)} : la colonne {column} est un nombre, attendu un nombre")
    return errors


def _unknown_column(spec: TableSpec, column: object, present: set[str]) -> str:
    """Why a suite may not name a column, and what to name instead (in French)."""
    if column in STORED_AS:
        return f"{shown(column)} est pseudonymisée (jamais gardée) : {STORED_AS[str(column)]}"
    by_header = [
        c.name for c in spec.columns if str(column).strip().lower() in {h.lower() for h in c.headers}
    ]
    if by_header:
        return f"{shown(column)} est un en-tête du fichier : nommez la colonne par sa clé {by_header[0]}"
    return f"la colonne {shown(column)} n'est pas déclarée par la table (colonnes : {choices(present)})"


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
                why = _unknown_column(spec, column, present)
                errors.append(place.at("columns", f"{where}, attente n° {number} : {why}"))
        if isinstance(expectation, dict) and expectation.get("type") in BETWEEN_TYPES:
            column = kwargs.get("column")
            if column in present:
                kind = column_types(spec).get(str(column))
                for problem in _bound_errors(expectation, kind, str(column)):
                    errors.append(place.at("columns", f"{where}, attente n° {number} : {problem}"))
    return errors


def date_bounds(expectation: dict[str, Any], spec: TableSpec) -> dict[str, Any]:
    """A between-expectation on a date column with its written dates as GX compares them with the column.

    The column holds timestamps (midnight); a bound written « 2021-01-01 » would reach GX as a
    `datetime.date`, which pandas cannot compare with them: it is given as « 2021-01-01T00:00:00 ».
    Other expectations are returned as they are.
    """
    kwargs = expectation.get("kwargs") or {}
    if expectation.get("type") not in BETWEEN_TYPES or column_types(spec).get(kwargs.get("column")) != "date":
        return expectation
    converted = {
        name: suite_date(kwargs[name]).isoformat() + "T00:00:00"
        for name in BOUND_KWARGS
        if suite_date(kwargs.get(name)) is not None
    }
    return {**expectation, "kwargs": {**kwargs, **converted}} if converted else expectation
