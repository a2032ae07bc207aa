"""Check a contract's YAML (and the files it names) and build its typed catalog."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from cvpipeline.catalog.files import (
    NOMENCLATURES_PATH,
    label_of,
    note_template_file,
    reference_file,
    relative_path,
)
from cvpipeline.catalog.layouts import contract_sources
from cvpipeline.catalog.messages import Place, choices
from cvpipeline.catalog.nomenclatures import entry_errors, pillar_of, read_nomenclatures
from cvpipeline.catalog.schema import CatalogError, ContractModel, format_errors, shown, validate_file
from cvpipeline.catalog.specs import (
    Action,
    Catalog,
    Commune,
    Nomenclature,
    Pillar,
    SourceSpec,
    Territory,
)
from cvpipeline.catalog.suites import suite_errors
from cvpipeline.catalog.tables import activity_type_labels, declared_types, table_errors, table_spec

# Warehouse column width (warehouse/schema.py) that the action codes of a contract must fit.
MAX_ACTION_CODE = 64
# Above this share of rows in quarantine (files in place) the rows check warns, unless the catalog says.
DEFAULT_QUARANTINE_WARNING_PCT = 5.0
# Above this share of a source's participations whose residence is unknown (a quartier not placed,
# or none given) its residence check warns, unless the catalog says (unknown_residence_warning_pct).
DEFAULT_UNKNOWN_RESIDENCE_WARNING_PCT = 15.0


def parse_contract(raw: Any, label: str, path: Path | None = None, suites_dir: Path | None = None) -> Catalog:
    """Check a contract's YAML structure (and the files it names) and build its catalog."""
    contract = validate_file(ContractModel, raw, label)
    top = Place(label, "")
    errors: list[str] = []
    nomenclature = None
    kind = "piliers"
    if contract.nomenclature and contract.pillars is not None:
        errors.append(top.at("nomenclature", "donnez nomenclature ou pillars, pas les deux"))
    if contract.nomenclature:
        nomenclatures_path = relative_path(path, contract.nomenclatures_file, NOMENCLATURES_PATH)
        known = read_nomenclatures(nomenclatures_path).nomenclatures
        chosen = known.get(contract.nomenclature)
        if chosen is None:
            errors.append(
                top.at(
                    "nomenclature",
                    f"nomenclature inconnue {shown(contract.nomenclature)} (attendu : "
                    f"{choices(known)}, dans {label_of(nomenclatures_path)})",
                )
            )
            entries: dict[str, Pillar] = {}
        else:
            kind = chosen.kind
            period = (chosen.period.start, chosen.period.end) if chosen.period else None
            nomenclature = Nomenclature(contract.nomenclature, chosen.label, chosen.kind, period)
            entries = {code: pillar_of(code, e) for code, e in chosen.entries.items()}
    elif contract.pillars is not None:
        errors += entry_errors(contract.pillars, Place(label, "pillars"))
        entries = {code: pillar_of(code, e) for code, e in contract.pillars.items()}
    else:
        errors.append(top.at("nomenclature", "clé obligatoire absente (nom d'une nomenclature, ou pillars:)"))
        entries = {}
    priorities = {code: pillar_of(code, e) for code, e in (contract.local_priorities or {}).items()}
    errors += entry_errors(contract.local_priorities or {}, Place(label, "local_priorities"))
    if contract.period and contract.period.end < contract.period.start:
        errors.append(top.at("period", "la fin précède le début"))
    written = WRITTEN_PERIOD.search(contract.contract_label)
    if written and (contract.period is None or written.group(0) != _period_text(contract)):
        expected = f"« {_period_text(contract)} » ou rien" if contract.period else "rien (pas de period)"
        errors.append(
            top.at(
                "contract_label",
                f"le libellé dit « {written.group(0)} », la période du contrat (period) dit {expected} : "
                "retirez les années du libellé, la période y est ajoutée depuis period",
            )
        )

    sources, overrides, tables = contract_sources(contract, label, path, errors)
    word = "thème" if kind == "themes" else "pilier"
    actions: dict[str, Action] = {}
    for code, action in contract.actions.items():
        place = Place(label, f"actions.{code}")
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
                    place.at(key, f"{word} inconnu {shown(entry_code)} (attendu : {choices(entries)})")
                )
        elif action.sub_theme is not None and action.sub_theme not in dict(entries[entry_code].sub_themes):
            offered = choices(dict(entries[entry_code].sub_themes))
            errors.append(
                place.at("sub_theme", f"sous-thème inconnu {shown(action.sub_theme)} (attendu : {offered})")
            )
        for number, priority in enumerate(action.priorities or []):
            if priority not in priorities:
                errors.append(
                    place.at(
                        f"priorities[{number}]",
                        f"priorité locale inconnue {shown(priority)} (attendu : {choices(priorities)})",
                    )
                )
        if action.source not in sources:
            errors.append(
                place.at("source", f"source inconnue {shown(action.source)} (attendu : {choices(sources)})")
            )
        else:
            for number, name in enumerate(action.tables or []):
                if name not in sources[action.source].tables:
                    errors.append(
                        place.at(
                            f"tables[{number}]",
                            f"table inconnue {shown(name)} de {action.source} "
                            f"(attendu : {choices(sources[action.source].tables)})",
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
        errors += table_errors(table, entries, contract.actions, kind)
    if errors:
        raise CatalogError(format_errors(errors))

    type_labels = activity_type_labels(contract, tables, top, errors)
    if errors:
        raise CatalogError(format_errors(errors))
    specs = {
        (t.source_id, t.name): replace(
            table_spec(t, contract.actions, {c: type_labels[c] for c in declared_types(t.model)}),
            suites_dir=suites_dir,
            entries=tuple((code, entry.label) for code, entry in entries.items()),
            entry_noun=word,
        )
        for t in tables
    }
    for table in tables:
        errors += suite_errors(specs[(table.source_id, table.name)], table.place, table.contract_place)
    if errors:
        raise CatalogError(format_errors(errors))
    default_pct = (
        DEFAULT_QUARANTINE_WARNING_PCT
        if contract.quarantine_warning_pct is None
        else contract.quarantine_warning_pct
    )
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
    qpv_list = reference_file(path, contract.qpv_list, label, "qpv_list", errors)
    qpv_variants = reference_file(path, contract.qpv_variants, label, "qpv_variants", errors)
    places = reference_file(path, contract.places_hors_qpv, label, "places_hors_qpv", errors)
    note_template = note_template_file(path, contract.note_template, label, errors)
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
        contract_label=contract_label(contract),
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
        note_template=note_template,
        unknown_residence_warning_pct=(
            DEFAULT_UNKNOWN_RESIDENCE_WARNING_PCT
            if contract.unknown_residence_warning_pct is None
            else float(contract.unknown_residence_warning_pct)
        ),
    )


# Years written in a label, « 2015-2022 »: they must be the catalog's `period`, the only source.
WRITTEN_PERIOD = re.compile(r"\b(?:19|20)\d\d\s*[-–]\s*(?:19|20)\d\d\b")


def _period_text(contract: ContractModel) -> str:
    """The contract's period as labels write it: 2015-2023."""
    return f"{contract.period.start}-{contract.period.end}" if contract.period else ""


def contract_label(contract: ContractModel) -> str:
    """The contract's label as every output shows it: its catalog label, then its period (2015-2023).

    The period comes from the catalog's `period` only: a label that writes other years is refused
    when the catalog is read, one that writes the same ones is kept as it is.
    """
    if contract.period is None or WRITTEN_PERIOD.search(contract.contract_label):
        return contract.contract_label
    return f"{contract.contract_label} ({_period_text(contract)})"


def parse_catalog(raw: dict[str, Any], label: str = "catalogue") -> Catalog:
    """Build and check a catalog from its YAML structure (shared files relative to the package)."""
    return parse_contract(raw, label)
