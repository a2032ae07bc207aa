"""Write the reference part of docs/catalog.md from the catalog schema and the warehouse tables.

Run `python -m cvpipeline.catalog.doc` after changing either; a test checks the file is current.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel

from cvpipeline.catalog import schema
from cvpipeline.warehouse.schema import METADATA

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "catalog.md"
BEGIN = "<!-- début de la partie générée par python -m cvpipeline.catalog.doc : ne pas modifier à la main -->"
END = "<!-- fin de la partie générée -->"

# The models documented, in reading order, with the file and key where they appear.
MODELS: tuple[tuple[type[BaseModel], str], ...] = (
    (schema.ContractModel, "fichier de contrat `contracts/<code>.yaml` (ou catalogue en un seul fichier)"),
    (schema.PeriodModel, "`period` (contrat, nomenclature)"),
    (schema.TerritoryModel, "`territory`"),
    (schema.CommuneModel, "`territory.communes[]`"),
    (schema.ActionModel, "`actions.<code>`"),
    (schema.SourceOverrideModel, "`layouts.<source_id>` (changements d'un layout pour le contrat)"),
    (schema.TableOverrideModel, "`layouts.<source_id>.tables.<table>`"),
    (schema.LayoutsModel, "fichier `layouts.yaml`"),
    (schema.SourceModel, "`sources.<source_id>` (layouts.yaml, ou `sources:` d'un contrat)"),
    (schema.TableModel, "`sources.<source_id>.tables.<table>`"),
    (schema.ColumnModel, "`….columns.<nom canonique>`"),
    (schema.ConstantsModel, "`….constants`"),
    (schema.DeriveModel, "`….derive_activity`"),
    (schema.NomenclaturesModel, "fichier `nomenclatures.yaml`"),
    (schema.NomenclatureModel, "`nomenclatures.<nom>`"),
    (schema.EntryModel, "`nomenclatures.<nom>.entries.<code>`, `pillars.<code>`, `local_priorities.<code>`"),
)

# How each warehouse column of a fact table gets its value (default: the file column of that name).
COMPUTED = "calculée"
ORIGINS = {
    "participation_id": COMPUTED + " (source, fichier, feuille, ligne)",
    "activity_id": COMPUTED + " (source, fichier, feuille, ligne ; ou groupe dérivé)",
    "funding_id": COMPUTED + " (source, fichier, feuille, ligne)",
    "source_id": COMPUTED + " (la source du catalogue)",
    "contract_code": "colonne `contract_code`, sinon `constants.contract_code`, "
    "sinon le `contract_code` du contrat",
    "action_code": "colonne `action_code`, sinon `constants.action`, "
    "sinon l'action du contrat dont `source` est la source",
    "pillar": "`constants.pillar` (ou `theme`), sinon le pilier ou thème de l'action",
    "beneficiary_key": COMPUTED
    + " : pseudonyme de `last_name`, `first_name`, `birth_date` (ou `birth_year`), "
    "sinon de `person_id`",
    "birth_year": "colonne `birth_year`, sinon l'année de `birth_date`",
    "age": "calculé de `birth_date` (ou `birth_year`) et `start_date`, sinon colonne `age`",
    "residence_status": COMPUTED + " de la colonne `quartier` (inconnu sans elle)",
    "qpv_id": COMPUTED + " de la colonne `quartier`",
    "qpv_ids": COMPUTED + " de la colonne `quartiers`",
    "activity_type": "`activity_type` (fixe) ou `activity_types` (mots-clés lus dans `activity_label`)",
    "activity_year": "colonne `activity_year`, sinon l'année de `activity_date`",
    "label": "colonne `label`, sinon `title`, sinon `activity_label` (activités dérivées)",
    "source_file": COMPUTED + " (lignage)",
    "source_sheet": COMPUTED + " (lignage)",
    "source_row": COMPUTED + " (lignage)",
    "file_sha256": COMPUTED + " (lignage)",
    "run_id": COMPUTED + " (lignage)",
    "loaded_at": COMPUTED + " (lignage)",
}
FUNDING_ORIGINS = {
    "pillar": "`constants.pillar` (ou `theme`), sinon la colonne `pillar_label` reconnue par les mots-clés "
    "de la nomenclature",
    "action_code": "—",
}
# Canonical columns read from files that are not stored as such, per target.
INPUT_ONLY = {
    "participations": {
        "last_name": "nom (personal: true) : sert au pseudonyme, puis supprimé",
        "first_name": "prénom (personal: true) : sert au pseudonyme, puis supprimé",
        "birth_date": "date de naissance (personal: true) : pseudonyme, âge, année ; puis supprimée",
        "person_id": "identifiant donné par le partenaire : pseudonyme quand le nom manque",
        "quartier": "quartier de résidence tel qu'écrit : donne residence_status et qpv_id",
    },
    "activities": {
        "activity_label": "libellé lu : donne activity_type (activity_types) et label des activités dérivées",
        "title": "intitulé : devient label",
        "quartier": "quartier tel qu'écrit : donne qpv_id",
    },
    "fundings": {
        "pillar_label": "pilier ou thème tel qu'écrit : donne pillar (mots-clés de la nomenclature)",
        "quartiers": "quartiers concernés tels qu'écrits : donnent qpv_ids",
    },
}


def _type_name(annotation: object) -> str:
    """A field annotation as people read it: texte, entier, liste de texte, dictionnaire…"""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        return _type_name(args[0]) if len(args) == 1 else " ou ".join(_type_name(a) for a in args)
    if origin is list:
        return f"liste de {_type_name(args[0])}"
    if origin is dict:
        return f"dictionnaire de {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"`{annotation.__name__.removesuffix('Model')}`"
    return {str: "texte", int: "entier", float: "nombre", bool: "booléen"}.get(annotation, str(annotation))


def render_keys() -> str:
    """Every key of every catalog file: its type, whether it is required, its default and meaning."""
    parts = ["### Clés des fichiers du catalogue\n"]
    for model, where in MODELS:
        name = model.__name__.removesuffix("Model")
        parts.append(f"#### `{name}` — {where}\n\n{model.__doc__}\n")
        parts.append("| clé | type | obligatoire | défaut | sens |\n|---|---|---|---|---|")
        for key, field in model.model_fields.items():
            default = "" if field.is_required() or field.default is None else f"`{field.default}`"
            required = "oui" if field.is_required() else "non"
            kind = _type_name(field.annotation)
            parts.append(f"| `{key}` | {kind} | {required} | {default} | {field.description or ''} |")
        parts.append("")
    parts.append(f"Types de colonnes : {', '.join(f'`{t}`' for t in schema.COLUMN_TYPES)}.\n")
    return "\n".join(parts)


def render_columns() -> str:
    """Every canonical column of every target table, where its value comes from, and the input-only ones."""
    parts = ["### Colonnes canoniques des tables cibles\n"]
    parts.append(
        "Une colonne du catalogue porte le nom canonique de la colonne de l'entrepôt qu'elle remplit. "
        "« NOT NULL » : la table doit la fournir (colonne, constante ou calcul). Une colonne déclarée qui "
        "n'est ni ci-dessous ni dans l'entrepôt sert aux suites d'attentes, puis n'est pas gardée.\n"
    )
    for target in schema.TARGETS:
        table = METADATA.tables[target]
        parts.append(f"#### `{target}`\n")
        parts.append("| colonne | type | d'où vient la valeur | sens |\n|---|---|---|---|")
        origins = {**ORIGINS, **(FUNDING_ORIGINS if target == "fundings" else {})}
        for column in table.columns:
            kind = str(column.type) + ("" if column.nullable or column.primary_key else ", NOT NULL")
            origin = origins.get(column.name, f"colonne `{column.name}` du fichier")
            parts.append(f"| `{column.name}` | {kind} | {origin} | {column.comment or ''} |")
        parts.append("\nLues dans les fichiers sans être gardées telles quelles :\n")
        parts.append("| colonne | rôle |\n|---|---|")
        for name, role in INPUT_ONLY[target].items():
            parts.append(f"| `{name}` | {role} |")
        parts.append("")
    return "\n".join(parts)


def render() -> str:
    """The generated part of docs/catalog.md, between its markers."""
    return f"{BEGIN}\n\n{render_keys()}\n{render_columns()}\n{END}"


def current(text: str) -> str:
    """The document with its generated part replaced by today's."""
    if BEGIN not in text or END not in text:
        return text.rstrip("\n") + "\n\n" + render() + "\n"
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    return before + render() + after


def main() -> int:
    """Rewrite the generated part of docs/catalog.md."""
    DOC_PATH.write_text(current(DOC_PATH.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"écrit : {DOC_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
