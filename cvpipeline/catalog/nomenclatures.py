"""Nomenclature entries (pillars, themes, local priorities): the shared nomenclatures file and its checks."""

from __future__ import annotations

import functools
from pathlib import Path

from cvpipeline.catalog.files import label_of, read_yaml, stamp
from cvpipeline.catalog.messages import Place
from cvpipeline.catalog.schema import (
    NOMENCLATURE_KINDS,
    CatalogError,
    EntryModel,
    NomenclaturesModel,
    format_errors,
    shown,
    validate_file,
)
from cvpipeline.catalog.specs import Pillar
from cvpipeline.text import fold

# Warehouse column width (warehouse/schema.py) that the codes of entries must fit.
MAX_PILLAR_CODE = 32


def read_nomenclatures(path: Path) -> NomenclaturesModel:
    """The nomenclatures file at `path`, checked (read again only when the file has changed)."""
    return _nomenclatures_at(*stamp(path))


@functools.cache
def _nomenclatures_at(path: Path, mtime: int, size: int) -> NomenclaturesModel:
    label = label_of(path)
    model = validate_file(NomenclaturesModel, read_yaml(path, label), label)
    errors = []
    for name, nomenclature in model.nomenclatures.items():
        place = Place(label, f"nomenclatures.{name}")
        if nomenclature.kind not in NOMENCLATURE_KINDS:
            errors.append(
                place.at("kind", f"sorte inconnue {shown(nomenclature.kind)} (attendu : piliers, themes)")
            )
        errors += entry_errors(nomenclature.entries, Place(label, f"nomenclatures.{name}.entries"))
    if errors:
        raise CatalogError(format_errors(errors))
    return model


def entry_errors(entries: dict[str, EntryModel], place: Place) -> list[str]:
    """Problems of nomenclature entries: codes too long, keywords not written in their folded form."""
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


def pillar_of(code: str, entry: EntryModel) -> Pillar:
    """The typed entry (pillar, theme or local priority) of a checked entry model."""
    return Pillar(code, entry.label, tuple(entry.keywords), tuple((entry.sub_themes or {}).items()))
