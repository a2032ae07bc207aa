"""Load catalog files, check them against the schema and each other, and build the typed catalog."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cvpipeline.catalog.schema import (
    COLUMN_TYPES,
    NOMENCLATURE_KINDS,
    TARGETS,
    CatalogError,
    ContractModel,
    EntryModel,
    LayoutsModel,
    NomenclaturesModel,
    SourceModel,
    SourceOverrideModel,
    TableModel,
    file_label,
    format_errors,
    shown,
    validate_file,
)
from cvpipeline.catalog.specs import (
    ACTIVITY_TYPE_LABELS,
    Action,
    Catalog,
    ColumnSpec,
    Commune,
    Nomenclature,
    Pillar,
    SourceSpec,
    TableSpec,
    Territory,
    readable_code,
)

PACKAGE_DIR = Path(__file__).parent
LAYOUTS_PATH = PACKAGE_DIR / "layouts.yaml"
NOMENCLATURES_PATH = PACKAGE_DIR / "nomenclatures.yaml"
CONTRACTS_DIR = PACKAGE_DIR / "contracts"
DEFAULT_CONTRACT = "CV262"
# The catalog load_catalog() returns: the contract file of CV262 (with the shared layouts).
CATALOG_PATH = CONTRACTS_DIR / f"{DEFAULT_CONTRACT}.yaml"

# Warehouse column widths (warehouse/schema.py) that codes of the catalog must fit.
MAX_PILLAR_CODE = 32
MAX_ACTION_CODE = 64
MAX_ACTIVITY_TYPE = 32
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


@dataclass(frozen=True)
class _Place:
    """Where keys are written: a file (as messages name it) and the key path of a mapping in it."""

    file: str
    prefix: str

    def at(self, key: str, message: str) -> str:
        """A message line `file : prefix.key : message`."""
        path = ".".join(p for p in (self.prefix, key) if p)
        return f"{self.file} : {path or '(racine)'} : {message}"


@dataclass
class _Table:
    """A table definition being checked: the model, where it was defined, where its contract bits were."""

    source_id: str
    name: str
    model: TableModel
    place: _Place
    contract_place: _Place
    constants: dict[str, str]


def _read_yaml(path: Path, label: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"{label} : fichier de catalogue introuvable") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (ligne {mark.line + 1}, colonne {mark.column + 1})" if mark else ""
        raise CatalogError(f"{label} : YAML illisible{where} : {getattr(error, 'problem', error)}") from None


def _label(path: Path) -> str:
    return file_label(path, PACKAGE_DIR)


def _choices(values: Any) -> str:
    listed = sorted(values)
    return ", ".join(listed[:12]) + (", …" if len(listed) > 12 else "") if listed else "aucun"


def _stamp(path: Path) -> tuple[Path, int, int]:
    """A file's identity for the caches: a file edited since is read again."""
    try:
        stat = path.stat()
    except OSError:
        return path, -1, -1
    return path.resolve(), stat.st_mtime_ns, stat.st_size


def _nomenclatures(path: Path) -> NomenclaturesModel:
    return _nomenclatures_at(*_stamp(path))


def _layouts(path: Path) -> LayoutsModel:
    return _layouts_at(*_stamp(path))


@functools.cache
def _nomenclatures_at(path: Path, mtime: int, size: int) -> NomenclaturesModel:
    label = _label(path)
    model = validate_file(NomenclaturesModel, _read_yaml(path, label), label)
    errors = []
    for name, nomenclature in model.nomenclatures.items():
        place = _Place(label, f"nomenclatures.{name}")
        if nomenclature.kind not in NOMENCLATURE_KINDS:
            errors.append(
                place.at("kind", f"sorte inconnue {shown(nomenclature.kind)} (attendu : piliers, themes)")
            )
        errors += _entry_errors(nomenclature.entries, _Place(label, f"nomenclatures.{name}.entries"))
    if errors:
        raise CatalogError(format_errors(errors))
    return model


def _entry_errors(entries: dict[str, EntryModel], place: _Place) -> list[str]:
    from cvpipeline.ingest.french import fold

    errors = []
    for code, entry in entries.items():
        if len(code) > MAX_PILLAR_CODE:
            errors.append(place.at(code, f"code trop long (au plus {MAX_PILLAR_CODE} caractères)"))
        for number, word in enumerate(entry.keywords):
            if word != fold(word) or not word:
                errors.append(
                    place.at(
                        f"{code}.keywords[{number}]",
                        f"mot-clé non normalisé {shown(word)} : écrivez {shown(fold(word))} "
                        "(minuscules, sans accents ni ponctuation)",
                    )
                )
    return errors


def _pillar(code: str, entry: EntryModel) -> Pillar:
    return Pillar(code, entry.label, tuple(entry.keywords), tuple((entry.sub_themes or {}).items()))


@functools.cache
def _layouts_at(path: Path, mtime: int, size: int) -> LayoutsModel:
    label = _label(path)
    return validate_file(LayoutsModel, _read_yaml(path, label), label)


def _relative(contract_path: Path | None, given: str | None, default: Path) -> Path:
    if given is None:
        return default
    candidate = Path(given).expanduser()
    if not candidate.is_absolute() and contract_path is not None:
        candidate = contract_path.parent / candidate
    return candidate


def _merge_constants(*constants: Any) -> dict[str, str]:
    merged: dict[str, str] = {}
    for given in constants:
        if given is not None:
            merged.update({k: v for k, v in given.model_dump().items() if v is not None})
    return merged


def _sources(
    contract: ContractModel, label: str, path: Path | None, errors: list[str]
) -> tuple[dict[str, SourceModel], dict[str, SourceOverrideModel | None], list[_Table]]:
    """The contract's sources (inline ones and the shared layouts it uses), with their tables."""
    used: dict[str, SourceModel] = {}
    overrides: dict[str, SourceOverrideModel | None] = {}
    tables: list[_Table] = []
    for sid, source in (contract.sources or {}).items():
        used[sid] = source
        for name, table in source.tables.items():
            place = _Place(label, f"sources.{sid}.tables.{name}")
            tables.append(_Table(sid, name, table, place, place, _merge_constants(table.constants)))
    if contract.layouts:
        layouts_path = _relative(path, contract.layouts_file, LAYOUTS_PATH)
        layouts = _layouts(layouts_path)
        layouts_label = _label(layouts_path)
        for sid, override in contract.layouts.items():
            place = _Place(label, f"layouts.{sid}")
            if sid in used:
                errors.append(place.at("", "source déjà définie sous sources: dans ce fichier"))
                continue
            if sid not in layouts.sources:
                errors.append(
                    place.at(
                        "", f"layout inconnu dans {layouts_label} (attendu : {_choices(layouts.sources)})"
                    )
                )
                continue
            source = layouts.sources[sid]
            used[sid] = source
            overrides[sid] = override
            table_overrides = (override.tables if override else None) or {}
            for name in table_overrides:
                if name not in source.tables:
                    errors.append(
                        place.at(f"tables.{name}", f"table inconnue (attendu : {_choices(source.tables)})")
                    )
            for name, table in source.tables.items():
                changed = table_overrides.get(name)
                if changed is not None:
                    updates = {k: v for k, v in (("files", changed.files), ("sheet", changed.sheet)) if v}
                    if changed.action is not None:
                        updates["action"] = changed.action
                    table = table.model_copy(update=updates)
                constants = _merge_constants(table.constants, changed.constants if changed else None)
                definition = _Place(layouts_label, f"sources.{sid}.tables.{name}")
                # Contract matters (the action) are said where the contract would change them.
                contract_place = _Place(label, f"layouts.{sid}.tables.{name}")
                tables.append(_Table(sid, name, table, definition, contract_place, constants))
    if not used:
        errors.append(
            _Place(label, "").at("layouts", "aucune source : nommez les layouts utilisés (ou sources:)")
        )
    return used, overrides, tables


def _table_errors(table: _Table, entries: dict[str, Pillar], actions: dict[str, Any], kind: str) -> list[str]:
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
            contract_place.at(key, f"{word} inconnu {shown(pillar)} (attendu : {_choices(entries)})")
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
                contract_place.at(key, f"action inconnue {shown(action)} (attendu : {_choices(actions)})")
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
    from cvpipeline.warehouse.schema import METADATA

    return tuple(
        c.name
        for c in METADATA.tables[target].columns
        if not c.nullable and not c.primary_key and c.name not in SUPPLIED_COLUMNS
    )


def _action_of(table: _Table, actions: dict[str, Any]) -> str | None:
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


def _table_spec(table: _Table, actions: dict[str, Any], type_labels: dict[str, str]) -> TableSpec:
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
        action=_action_of(table, actions),
        activity_type=model.activity_type,
        activity_types={k: tuple(v) for k, v in (model.activity_types or {}).items()},
        single_day=model.single_day,
        derive_activity=model.derive_activity.model_dump() if model.derive_activity else None,
        constants=constants,
        type_labels=type_labels,
    )


def _declared_types(model: TableModel) -> list[str]:
    """The activity types a table declares (fixed, recognised in activity_label, or derived)."""
    derived = model.derive_activity.activity_type if model.derive_activity else None
    return [c for c in (model.activity_type, *(model.activity_types or {}), derived) if c]


def _activity_type_labels(
    contract: ContractModel, tables: list[_Table], top: _Place, errors: list[str]
) -> dict[str, str]:
    """Every activity type the contract's tables declare, with its label (given, shipped, or readable)."""
    given = contract.activity_type_labels or {}
    declared: dict[str, str] = {}
    for table in tables:
        for code in _declared_types(table.model):
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
                    f"{_choices(declared)})",
                )
            )
    return {**{c: given[c] for c in given if c in ACTIVITY_TYPE_LABELS}, **declared}


def suite_errors(spec: TableSpec, place: _Place, contract_place: _Place | None = None) -> list[str]:
    """Problems of a table's suite JSON: missing, or naming columns the table won't have."""
    from cvpipeline.validate.expectations import missing_suite_message, suite_path

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
        named = [kwargs[k] for k in SUITE_COLUMN_KWARGS if k in kwargs] + list(
            kwargs.get("column_list") or []
        )
        for column in named:
            if column not in present:
                errors.append(
                    place.at(
                        "columns",
                        f"{where}, attente n° {number} : la colonne {shown(column)} n'est pas déclarée "
                        f"par la table (colonnes : {_choices(present)})",
                    )
                )
    return errors


def parse_contract(raw: Any, label: str, path: Path | None = None) -> Catalog:
    """Check a contract's YAML structure (and the files it names) and build its catalog."""
    contract = validate_file(ContractModel, raw, label)
    top = _Place(label, "")
    errors: list[str] = []
    nomenclature = None
    kind = "piliers"
    if contract.nomenclature and contract.pillars is not None:
        errors.append(top.at("nomenclature", "donnez nomenclature ou pillars, pas les deux"))
    if contract.nomenclature:
        nomenclatures_path = _relative(path, contract.nomenclatures_file, NOMENCLATURES_PATH)
        known = _nomenclatures(nomenclatures_path).nomenclatures
        chosen = known.get(contract.nomenclature)
        if chosen is None:
            errors.append(
                top.at(
                    "nomenclature",
                    f"nomenclature inconnue {shown(contract.nomenclature)} (attendu : "
                    f"{_choices(known)}, dans {_label(nomenclatures_path)})",
                )
            )
            entries: dict[str, Pillar] = {}
        else:
            kind = chosen.kind
            period = (chosen.period.start, chosen.period.end) if chosen.period else None
            nomenclature = Nomenclature(contract.nomenclature, chosen.label, chosen.kind, period)
            entries = {code: _pillar(code, e) for code, e in chosen.entries.items()}
    elif contract.pillars is not None:
        errors += _entry_errors(contract.pillars, _Place(label, "pillars"))
        entries = {code: _pillar(code, e) for code, e in contract.pillars.items()}
    else:
        errors.append(top.at("nomenclature", "clé obligatoire absente (nom d'une nomenclature, ou pillars:)"))
        entries = {}
    priorities = {code: _pillar(code, e) for code, e in (contract.local_priorities or {}).items()}
    errors += _entry_errors(contract.local_priorities or {}, _Place(label, "local_priorities"))
    if contract.period and contract.period.end < contract.period.start:
        errors.append(top.at("period", "la fin précède le début"))

    sources, overrides, tables = _sources(contract, label, path, errors)
    word = "thème" if kind == "themes" else "pilier"
    actions: dict[str, Action] = {}
    for code, action in contract.actions.items():
        place = _Place(label, f"actions.{code}")
        if len(code) > MAX_ACTION_CODE:
            errors.append(place.at("", f"code trop long (au plus {MAX_ACTION_CODE} caractères)"))
        if action.pillar is not None and action.theme is not None:
            errors.append(place.at("", "donnez pillar ou theme, pas les deux"))
        entry_code = action.pillar if action.pillar is not None else action.theme
        key = "pillar" if action.pillar is not None else "theme"
        if entry_code is None:
            errors.append(place.at("theme" if kind == "themes" else "pillar", "clé obligatoire absente"))
        elif entry_code not in entries:
            if entries:
                errors.append(
                    place.at(key, f"{word} inconnu {shown(entry_code)} (attendu : {_choices(entries)})")
                )
        elif action.sub_theme is not None and action.sub_theme not in dict(entries[entry_code].sub_themes):
            choices = _choices(dict(entries[entry_code].sub_themes))
            errors.append(
                place.at("sub_theme", f"sous-thème inconnu {shown(action.sub_theme)} (attendu : {choices})")
            )
        for number, priority in enumerate(action.priorities or []):
            if priority not in priorities:
                errors.append(
                    place.at(
                        f"priorities[{number}]",
                        f"priorité locale inconnue {shown(priority)} (attendu : {_choices(priorities)})",
                    )
                )
        if action.source not in sources:
            errors.append(
                place.at("source", f"source inconnue {shown(action.source)} (attendu : {_choices(sources)})")
            )
        else:
            for number, name in enumerate(action.tables or []):
                if name not in sources[action.source].tables:
                    errors.append(
                        place.at(
                            f"tables[{number}]",
                            f"table inconnue {shown(name)} de {action.source} "
                            f"(attendu : {_choices(sources[action.source].tables)})",
                        )
                    )
        actions[code] = Action(
            code,
            action.label,
            entry_code or "",
            action.source,
            action.sub_theme,
            tuple(action.priorities or ()),
            tuple(action.tables or ()),
        )
    for table in tables:
        errors += _table_errors(table, entries, contract.actions, kind)
    if errors:
        raise CatalogError(format_errors(errors))

    type_labels = _activity_type_labels(contract, tables, top, errors)
    if errors:
        raise CatalogError(format_errors(errors))
    specs = {
        (t.source_id, t.name): _table_spec(
            t, contract.actions, {c: type_labels[c] for c in _declared_types(t.model)}
        )
        for t in tables
    }
    for table in tables:
        errors += suite_errors(specs[(table.source_id, table.name)], table.place, table.contract_place)
    if errors:
        raise CatalogError(format_errors(errors))
    default_pct = contract.quarantine_warning_pct or 0.0
    built = {}
    for sid, source in sources.items():
        override = overrides.get(sid)
        pct = source.quarantine_warning_pct
        if override is not None and override.quarantine_warning_pct is not None:
            pct = override.quarantine_warning_pct
        built[sid] = SourceSpec(
            source_id=sid,
            partner=(override.partner if override and override.partner else source.partner),
            family=source.family,
            description=(override.description if override and override.description else source.description),
            tables=tuple(specs[(sid, name)] for name in source.tables),
            quarantine_warning_pct=float(pct if pct is not None else default_pct),
        )
    qpv_list = _reference_file(path, contract.qpv_list, label, "qpv_list", errors)
    qpv_variants = _reference_file(path, contract.qpv_variants, label, "qpv_variants", errors)
    places = _reference_file(path, contract.places_hors_qpv, label, "places_hors_qpv", errors)
    if qpv_list is not None and not contract.qpv_geography:
        errors.append(f"{label} : qpv_geography : requis avec qpv_list (2015 ou 2024)")
    if qpv_list is not None and not contract.territory:
        errors.append(f"{label} : territory : requis avec qpv_list (les QPV sont pris dans ses communes)")
    if errors:
        raise CatalogError(format_errors(errors))
    territory = None
    if contract.territory:
        communes = tuple(Commune(c.insee, c.name) for c in contract.territory.communes)
        territory = Territory(contract.territory.name, communes, contract.territory.epci_siren)
    return Catalog(
        contract_code=contract.contract_code,
        contract_label=contract.contract_label,
        pillars=entries,
        actions=actions,
        sources=built,
        nomenclature=nomenclature,
        local_priorities=priorities,
        period=(contract.period.start, contract.period.end) if contract.period else None,
        territory=territory,
        qpv_geography=contract.qpv_geography,
        path=path,
        data_folder=contract.data_folder,
        qpv_list=qpv_list,
        qpv_variants=qpv_variants,
        places_hors_qpv=places,
        activity_type_labels=type_labels,
    )


def _reference_file(
    contract_path: Path | None, given: str | None, label: str, key: str, errors: list[str]
) -> Path | None:
    """A reference file a contract names: beside the contract file, else shipped (cvpipeline/reference/)."""
    if not given:
        return None
    from cvpipeline.ingest.reference_files import shipped_path

    candidate = Path(given).expanduser()
    if not candidate.is_absolute() and contract_path is not None:
        candidate = contract_path.parent / candidate
    if candidate.is_file():
        return candidate
    shipped = shipped_path(given)
    if shipped.is_file():
        return shipped
    errors.append(f"{label} : {key} : fichier introuvable {shown(given)} (ni à côté du contrat, ni livré)")
    return None


def parse_catalog(raw: dict[str, Any], label: str = "catalogue") -> Catalog:
    """Build and check a catalog from its YAML structure (shared files relative to the package)."""
    return parse_contract(raw, label)


def load_catalog(path: Path | None = None) -> Catalog:
    """Load a contract file or a single-file catalog (default: the shipped contract CV262)."""
    if path is None:
        return _default_catalog()
    path = Path(path)
    label = _label(path)
    return parse_contract(_read_yaml(path, label), label, path)


@functools.cache
def _default_catalog() -> Catalog:
    return load_catalog(CATALOG_PATH)


@functools.cache
def _shipped_contracts() -> tuple[Catalog, ...]:
    catalogs = []
    for path in sorted(CONTRACTS_DIR.glob("*.yaml")):
        catalog = load_catalog(path)
        if catalog.contract_code != path.stem:
            raise CatalogError(
                f"{_label(path)} : contract_code : {shown(catalog.contract_code)} ; le fichier d'un contrat "
                f"porte son code ({catalog.contract_code}.yaml)"
            )
        catalogs.append(catalog)
    return tuple(catalogs)


def load_contract_catalogs() -> dict[str, Catalog]:
    """The catalogs of the contracts shipped in cvpipeline/catalog/contracts/, by contract code."""
    return {c.contract_code: c for c in _shipped_contracts()}


# incoming/national/ holds the national sources' files (one file covers many contracts).
NATIONAL_FOLDER = "national"


def load_catalogs(path: Path | None = None) -> dict[str, Catalog]:
    """The contracts a deployment serves, by code: a contract file, a folder of them, or the shipped ones.

    Two contracts may not share a code nor a data folder (incoming/<folder>/ holds one contract's files).
    """
    if path is None:
        catalogs = list(_shipped_contracts())
    elif Path(path).is_dir():
        files = sorted(p for p in Path(path).glob("*.yaml") if not p.name.startswith("."))
        if not files:
            raise CatalogError(f"{path} : aucun fichier de contrat (*.yaml) dans ce dossier")
        catalogs = [load_catalog(p) for p in files]
    else:
        catalogs = [load_catalog(Path(path))]
    found: dict[str, Catalog] = {}
    folders: dict[str, str] = {}
    for catalog in catalogs:
        where = _label(catalog.path) if catalog.path else catalog.contract_code
        if catalog.contract_code in found:
            raise CatalogError(f"{where} : contract_code : {shown(catalog.contract_code)} déjà chargé")
        folder = catalog.folder or "."
        if folder == NATIONAL_FOLDER:
            raise CatalogError(f"{where} : data_folder : {shown(folder)} est réservé aux sources nationales")
        if folder in folders:
            raise CatalogError(
                f"{where} : data_folder : {shown(folder)} déjà le dossier du contrat {folders[folder]}"
            )
        found[catalog.contract_code] = catalog
        folders[folder] = catalog.contract_code
    return found
