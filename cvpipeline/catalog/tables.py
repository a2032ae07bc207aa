"""A contract's tables: their checks (types, target, action, constants) and the TableSpec each becomes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from cvpipeline.catalog.messages import Place, choices
from cvpipeline.catalog.schema import COLUMN_TYPES, TARGETS, ContractModel, TableModel, shown
from cvpipeline.catalog.specs import ACTIVITY_TYPE_LABELS, ColumnSpec, Pillar, TableSpec, readable_code
from cvpipeline.warehouse.schema import METADATA

# Warehouse column width (warehouse/schema.py) that the activity types of the catalog must fit.
MAX_ACTIVITY_TYPE = 32


@dataclass
class DeclaredTable:
    """A table definition being checked: the model, where it was defined, where its contract bits were."""

    source_id: str
    name: str
    model: TableModel
    place: Place
    contract_place: Place
    constants: dict[str, str]


def table_errors(
    table: DeclaredTable, entries: dict[str, Pillar], actions: dict[str, Any], kind: str
) -> list[str]:
    """Problems of one table: types, target, what its target needs, constants against the contract."""
    model, place, contract_place = table.model, table.place, table.contract_place
    columns = set(model.columns)
    errors = []
    for name, column in model.columns.items():
        if column.type not in COLUMN_TYPES:
            errors.append(
                place.at(
                    f"columns.{name}.type",
                    f"type inconnu {shown(column.type)} (attendu : {', '.join(COLUMN_TYPES)})",
                )
            )
    if model.sheet is not None and model.sheets is not None:
        errors.append(place.at("sheets", "donnez sheet (une feuille) ou sheets (plusieurs), pas les deux"))
    if model.target not in TARGETS:
        errors.append(
            place.at("target", f"cible inconnue {shown(model.target)} (attendu : {', '.join(TARGETS)})")
        )
        return errors
    word = "thème" if kind == "themes" else "pilier"
    if "pillar" in table.constants and "theme" in table.constants:
        errors.append(contract_place.at("constants", "donnez pillar ou theme, pas les deux"))
    pillar = table.constants.get("pillar", table.constants.get("theme"))
    if pillar is not None and pillar not in entries:
        key = "constants.pillar" if "pillar" in table.constants else "constants.theme"
        errors.append(
            contract_place.at(key, f"{word} inconnu {shown(pillar)} (attendu : {choices(entries)})")
        )
    if "contract_code" in table.constants and "contract_code" in columns:
        errors.append(
            contract_place.at(
                "constants.contract_code", "donné deux fois : constante et colonne contract_code"
            )
        )
    action = table.constants.get("action") or model.action
    if model.action and "action" in table.constants:
        errors.append(contract_place.at("action", "donnée deux fois : action et constants.action"))
    if model.target != "activities" and (model.activity_type or model.activity_types):
        errors.append(place.at("activity_type", "réservé aux tables de cible activities"))
    if model.target != "participations" and model.derive_activity:
        errors.append(place.at("derive_activity", "réservé aux tables de cible participations"))
    if model.target == "activities":
        if bool(model.activity_type) == bool(model.activity_types):
            errors.append(
                place.at(
                    "activity_type",
                    "activities.activity_type est obligatoire : donnez activity_type "
                    "(un type fixe) ou activity_types (types reconnus dans la colonne activity_label)",
                )
            )
        if model.activity_types and "activity_label" not in columns:
            errors.append(
                place.at("activity_types", "la colonne activity_label (le libellé lu) n'est pas déclarée")
            )
    if model.derive_activity:
        unknown = [c for c in model.derive_activity.group_by if c not in columns | {"source_file"}]
        if unknown:
            errors.append(
                place.at("derive_activity.group_by", "colonne(s) non déclarée(s) : " + ", ".join(unknown))
            )
    for name in _not_null_columns(model.target):
        if name not in columns:
            errors.append(
                place.at(
                    "columns",
                    f"{model.target}.{name} est obligatoire (NOT NULL) : déclarez la colonne {name}",
                )
            )
    if model.target == "fundings":
        if action or "action_code" in columns:
            errors.append(contract_place.at("action", "une table de financements n'a pas d'action"))
        if pillar is None and "pillar_label" not in columns:
            errors.append(
                place.at(
                    "",
                    f"fundings.pillar est obligatoire (NOT NULL) : donnez constants: {{pillar: …}} "
                    f"(le {word} de toutes les lignes) ou une colonne pillar_label (libellé reconnu par "
                    "les mots-clés de la nomenclature)",
                )
            )
        if pillar is not None and "pillar_label" in columns:
            errors.append(
                contract_place.at("constants", "pilier donné deux fois : constante et colonne pillar_label")
            )
        return errors
    if action is not None:
        if action not in actions:
            key = "constants.action" if "action" in table.constants else "action"
            errors.append(
                contract_place.at(key, f"action inconnue {shown(action)} (attendu : {choices(actions)})")
            )
        if "action_code" in columns:
            errors.append(
                contract_place.at("action", "action donnée deux fois : constante et colonne action_code")
            )
    elif "action_code" not in columns:
        candidates = [
            code
            for code, a in actions.items()
            if a.source == table.source_id and (not a.tables or table.name in a.tables)
        ]
        if len(candidates) != 1:
            found = "aucune action" if not candidates else "plusieurs actions (" + ", ".join(candidates) + ")"
            errors.append(
                contract_place.at(
                    "",
                    f"{found} du contrat pour cette table : une action (actions.<code>.source: "
                    f"{table.source_id}, et tables: [{table.name}] s'il y en a plusieurs), constants.action "
                    "ou une colonne action_code",
                )
            )
    return errors


# NOT NULL columns of the fact tables that the pipeline fills itself (or that other keys give).
SUPPLIED_COLUMNS = (
    "source_id",
    "contract_code",
    "action_code",
    "pillar",
    "residence_status",
    "activity_type",
)


@functools.cache
def _not_null_columns(target: str) -> tuple[str, ...]:
    """NOT NULL columns of a target that a table must read from its files (warehouse/schema.py)."""
    return tuple(
        c.name
        for c in METADATA.tables[target].columns
        if not c.nullable and not c.primary_key and c.name not in SUPPLIED_COLUMNS
    )


def _action_of(table: DeclaredTable, actions: dict[str, Any]) -> str | None:
    if table.model.target == "fundings" or "action_code" in table.model.columns:
        return None
    given = table.constants.get("action") or table.model.action
    if given:
        return given
    matches = [
        c
        for c, a in actions.items()
        if a.source == table.source_id and (not a.tables or table.name in a.tables)
    ]
    return matches[0] if len(matches) == 1 else None


def table_spec(table: DeclaredTable, actions: dict[str, Any], type_labels: dict[str, str]) -> TableSpec:
    """The TableSpec a checked table becomes: its columns, its action, the constants the pipeline uses."""
    model = table.model
    constants = {k: v for k, v in table.constants.items() if k in ("contract_code", "pillar")}
    if "theme" in table.constants:
        constants["pillar"] = table.constants["theme"]
    return TableSpec(
        source_id=table.source_id,
        name=table.name,
        files=model.files,
        target=model.target,
        columns=tuple(
            ColumnSpec(name, tuple(c.headers), c.type, c.required, c.personal)
            for name, c in model.columns.items()
        ),
        sheet=model.sheet,
        sheets=tuple(model.sheets or ()),
        action=_action_of(table, actions),
        activity_type=model.activity_type,
        activity_types={k: tuple(v) for k, v in (model.activity_types or {}).items()},
        single_day=model.single_day,
        derive_activity=model.derive_activity.model_dump() if model.derive_activity else None,
        constants=constants,
        type_labels=type_labels,
    )


def declared_types(model: TableModel) -> list[str]:
    """The activity types a table declares (fixed, recognised in activity_label, or derived)."""
    derived = model.derive_activity.activity_type if model.derive_activity else None
    return [c for c in (model.activity_type, *(model.activity_types or {}), derived) if c]


def activity_type_labels(
    contract: ContractModel, tables: list[DeclaredTable], top: Place, errors: list[str]
) -> dict[str, str]:
    """Every activity type the contract's tables declare, with its label (given, shipped, or readable)."""
    given = contract.activity_type_labels or {}
    declared: dict[str, str] = {}
    for table in tables:
        for code in declared_types(table.model):
            if len(code) > MAX_ACTIVITY_TYPE:
                errors.append(
                    table.place.at(
                        "activity_types",
                        f"type {shown(code)} trop long (au plus {MAX_ACTIVITY_TYPE} caractères)",
                    )
                )
            declared[code] = given.get(code) or ACTIVITY_TYPE_LABELS.get(code) or readable_code(code)
    for code in given:
        if code not in declared and code not in ACTIVITY_TYPE_LABELS:
            errors.append(
                top.at(
                    f"activity_type_labels.{code}",
                    f"type d'activité inconnu (attendu : un type déclaré par une table du contrat : "
                    f"{choices(declared)})",
                )
            )
    return {**{c: given[c] for c in given if c in ACTIVITY_TYPE_LABELS}, **declared}
