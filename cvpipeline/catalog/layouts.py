"""A contract's sources, inline or shared partner layouts (layouts.yaml) it uses, with their tables."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from cvpipeline.catalog.files import LAYOUTS_PATH, label_of, read_yaml, relative_path, stamp
from cvpipeline.catalog.messages import Place, choices
from cvpipeline.catalog.schema import (
    ContractModel,
    LayoutsModel,
    SourceModel,
    SourceOverrideModel,
    validate_file,
)
from cvpipeline.catalog.tables import DeclaredTable


def read_layouts(path: Path) -> LayoutsModel:
    """The layouts file at `path`, checked (read again only when the file has changed)."""
    return _layouts_at(*stamp(path))


@functools.cache
def _layouts_at(path: Path, mtime: int, size: int) -> LayoutsModel:
    label = label_of(path)
    return validate_file(LayoutsModel, read_yaml(path, label), label)


def merge_constants(*constants: Any) -> dict[str, str]:
    """The constants given, merged in order (later ones win; unset keys are left out)."""
    merged: dict[str, str] = {}
    for given in constants:
        if given is not None:
            merged.update({k: v for k, v in given.model_dump().items() if v is not None})
    return merged


def contract_sources(
    contract: ContractModel, label: str, path: Path | None, errors: list[str]
) -> tuple[dict[str, SourceModel], dict[str, SourceOverrideModel | None], list[DeclaredTable]]:
    """The contract's sources (inline ones and the shared layouts it uses), with their tables."""
    used: dict[str, SourceModel] = {}
    overrides: dict[str, SourceOverrideModel | None] = {}
    tables: list[DeclaredTable] = []
    for sid, source in (contract.sources or {}).items():
        used[sid] = source
        for name, table in source.tables.items():
            place = Place(label, f"sources.{sid}.tables.{name}")
            tables.append(DeclaredTable(sid, name, table, place, place, merge_constants(table.constants)))
    if contract.layouts:
        layouts_path = relative_path(path, contract.layouts_file, LAYOUTS_PATH)
        layouts = read_layouts(layouts_path)
        layouts_label = label_of(layouts_path)
        for sid, override in contract.layouts.items():
            place = Place(label, f"layouts.{sid}")
            if sid in used:
                errors.append(place.at("", "source déjà définie sous sources: dans ce fichier"))
                continue
            if sid not in layouts.sources:
                errors.append(
                    place.at(
                        "", f"layout inconnu dans {layouts_label} (attendu : {choices(layouts.sources)})"
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
                        place.at(f"tables.{name}", f"table inconnue (attendu : {choices(source.tables)})")
                    )
            for name, table in source.tables.items():
                changed = table_overrides.get(name)
                if changed is not None:
                    updates: dict[str, object] = {"files": changed.files} if changed.files else {}
                    if changed.sheet or changed.sheets:  # a contract's sheet(s) replace the layout's
                        updates.update(sheet=changed.sheet, sheets=changed.sheets)
                    if changed.action is not None:
                        updates["action"] = changed.action
                    table = table.model_copy(update=updates)
                constants = merge_constants(table.constants, changed.constants if changed else None)
                definition = Place(layouts_label, f"sources.{sid}.tables.{name}")
                # Contract matters (the action) are said where the contract would change them.
                contract_place = Place(label, f"layouts.{sid}.tables.{name}")
                tables.append(DeclaredTable(sid, name, table, definition, contract_place, constants))
    if not used:
        errors.append(
            Place(label, "").at("layouts", "aucune source : nommez les layouts utilisés (ou sources:)")
        )
    return used, overrides, tables
