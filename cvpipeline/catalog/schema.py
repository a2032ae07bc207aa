"""The documented schema of catalog files (pydantic models) and its errors in French, by key path."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

COLUMN_TYPES = ("text", "date", "int", "decimal", "year", "bool", "sex")
TARGETS = ("participations", "activities", "fundings")
NOMENCLATURE_KINDS = ("piliers", "themes")
MAX_ERRORS = 20


class CatalogError(ValueError):
    """The catalog file is inconsistent; the message says which file and which key."""


class _Strict(BaseModel):
    """Every key known (extra keys refused), every value of its YAML type (no coercion)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True)


class ColumnModel(_Strict):
    """A canonical column: the headers partners write for it, its type, required, personal."""

    headers: list[str] = Field(min_length=1)
    """En-têtes qui nomment la colonne dans les fichiers (synonymes ; casse, accents et espaces ignorés)."""

    type: str = Field("text")
    """Type lu : text, date, int, decimal, year, bool ou sex (formats français, voir ingest/french.py)."""

    required: bool = Field(False)
    """Un fichier sans cette colonne est refusé."""

    personal: bool = Field(False)
    """La colonne nomme une personne : masquée en quarantaine, supprimée après pseudonymisation."""


class DeriveModel(_Strict):
    """Activities derived from participation rows: one per group of rows of a file."""

    activity_type: str
    """activity_type des activités dérivées."""

    group_by: list[str] = Field(min_length=1)
    """Colonnes déclarées qui forment un groupe (une activité par groupe et par fichier)."""


class ConstantsModel(_Strict):
    """Values every row of a table gets (instead of a file column)."""

    contract_code: str | None = None
    """Code du contrat de toutes les lignes (par défaut : celui du catalogue)."""

    pillar: str | None = None
    """Pilier de toutes les lignes (code de la nomenclature du contrat)."""

    theme: str | None = None
    """Synonyme de pillar pour un contrat en thématiques 2024."""

    action: str | None = None
    """Action de toutes les lignes (code d'une action du contrat)."""


class TableModel(_Strict):
    """One layout (a sheet or a kind of CSV) of a source, mapped to one warehouse target."""

    files: str
    """Motif des noms de fichiers dans incoming/<source_id>/ (glob)."""

    target: str
    """Table de l'entrepôt : participations, activities ou fundings."""

    columns: dict[str, ColumnModel] = Field(min_length=1)
    """Colonnes canoniques lues, par nom canonique."""

    sheet: str | None = None
    """Feuille (xlsx), un nom exact ; absente (et sans sheets) = première feuille visible."""

    sheets: list[str] | None = Field(None, min_length=1)
    """Feuilles (xlsx) lues par la table, noms ou motifs (« 20* », « Année ? ») : une suite pour toutes."""

    action: str | None = None
    """Ancienne forme de constants.action (catalogue en un seul fichier)."""

    activity_type: str | None = None
    """activity_type fixe des lignes (activities)."""

    activity_types: dict[str, list[str]] | None = None
    """{activity_type: [mots-clés]} reconnus dans la colonne activity_label (activities)."""

    single_day: bool = False
    """Une ligne = un jour : end_date = start_date (et inversement)."""

    derive_activity: DeriveModel | None = None
    """Activités dérivées des lignes de participation : {activity_type, group_by}."""

    constants: ConstantsModel | None = None
    """Valeurs données à toutes les lignes : contract_code, pillar (ou theme), action."""


class SourceModel(_Strict):
    """A partner: its files in incoming/<source_id>/ and the tables they hold."""

    partner: str
    """Nom du partenaire (lu par les personnes)."""

    family: str
    """Famille de partenaire : regie, association, etat, agglomeration…"""

    description: str
    """Ce que la source envoie."""

    tables: dict[str, TableModel] = Field(min_length=1)
    """Une table par mise en page (une feuille, une sorte de CSV)."""

    quarantine_warning_pct: float | None = Field(None, ge=0, le=100)
    """Part des lignes en quarantaine (%) au-delà de laquelle le contrôle lignes_valides avertit."""


class TableOverrideModel(_Strict):
    """What a contract may change in a shared table layout."""

    files: str | None = None
    """Autre motif de fichiers pour ce contrat."""

    sheet: str | None = None
    """Autre feuille pour ce contrat (remplace sheets)."""

    sheets: list[str] | None = Field(None, min_length=1)
    """Autres feuilles ou motifs pour ce contrat (remplace sheet)."""

    action: str | None = None
    """Action de la table pour ce contrat."""

    constants: ConstantsModel | None = None
    """Constantes ajoutées ou remplacées pour ce contrat."""


class SourceOverrideModel(_Strict):
    """What a contract may change in a shared source layout."""

    partner: str | None = None
    """Autre nom de partenaire pour ce contrat."""

    description: str | None = None
    """Autre description pour ce contrat."""

    quarantine_warning_pct: float | None = Field(None, ge=0, le=100)
    """Autre seuil de quarantaine (%) pour ce contrat."""

    tables: dict[str, TableOverrideModel] | None = None
    """Changements par table : files, sheet ou sheets, action, constants."""


class EntryModel(_Strict):
    """A pillar, a theme or a local priority: its label, key words and sub-themes."""

    label: str
    """Libellé français (rapports, vues)."""

    keywords: list[str] = Field(min_length=1)
    """Mots-clés (minuscules, sans accents) qui reconnaissent un libellé saisi."""

    sub_themes: dict[str, str] | None = None
    """{code: libellé} des sous-thèmes."""


class ActionModel(_Strict):
    """An action of the contract, its pillar or theme, and the source that reports it."""

    label: str
    """Libellé de l'action."""

    source: str
    """Source (partenaire) qui renseigne l'action."""

    pillar: str | None = None
    """Pilier de l'action (nomenclature piliers_2015 ou pillars:)."""

    theme: str | None = None
    """Thème de l'action (nomenclature themes_2024) ; pillar ou theme, pas les deux."""

    sub_theme: str | None = None
    """Sous-thème du thème."""

    priorities: list[str] | None = None
    """Priorités locales du contrat (codes de local_priorities)."""

    tables: list[str] | None = None
    """Tables de la source qui portent l'action (quand la source en a plusieurs)."""


class PeriodModel(_Strict):
    """First and last year of a contract or a nomenclature."""

    start: int = Field(ge=2000, le=2100)
    """Première année."""

    end: int = Field(ge=2000, le=2100)
    """Dernière année."""


class CommuneModel(_Strict):
    """A commune of the contract's territory."""

    insee: str = Field(pattern=r"^(\d{5}|2[AB]\d{3})$")
    """Code INSEE de la commune, entre guillemets (5 caractères)."""

    name: str
    """Nom de la commune."""


class TerritoryModel(_Strict):
    """The contract's territory: its name, communes and (when known) its EPCI's SIREN."""

    name: str
    """Nom du territoire (EPCI)."""

    communes: list[CommuneModel] = Field(min_length=1)
    """Communes du contrat ; les quartiers se résolvent dans ces communes."""

    epci_siren: str | None = Field(None, pattern=r"^\d{9}$")
    """SIREN de l'EPCI, entre guillemets, quand un fichier officiel le donne."""


class ContractModel(_Strict):
    """A contract file (contracts/<code>.yaml), or a whole catalog in one file (CVPIPELINE_CATALOG)."""

    contract_code: str = Field(min_length=1, max_length=32)
    """Code du contrat (CV262, CN07302M) : colonne contract_code des lignes."""

    contract_label: str
    """Libellé du contrat, sans sa période : « (début-fin) » lui est ajouté depuis period."""

    actions: dict[str, ActionModel]
    """Actions du contrat, par code."""

    period: PeriodModel | None = None
    """Période du contrat : {start, end}."""

    territory: TerritoryModel | None = None
    """Territoire : {name, communes, epci_siren}."""

    qpv_geography: int | None = Field(None, ge=2000, le=2100)
    """Géographie prioritaire utilisée : 2015 ou 2024."""

    qpv_list: str | None = None
    """Liste officielle des QPV (ANCT ou INSEE, CSV ou JSON) où prendre ceux du contrat, dans ses communes."""

    qpv_variants: str | None = None
    """Variantes des noms de QPV de l'équipe pour cette liste (défaut : reference/qpv_variants.csv)."""

    places_hors_qpv: str | None = None
    """Lieux connus hors des QPV (CSV name,kind,variants) ; défaut : ceux de Chambéry (liste de l'équipe)."""

    data_folder: str | None = Field(None, pattern=r"^(\.|[A-Za-z0-9][A-Za-z0-9_-]{0,63})$")
    """Sous-dossier du contrat dans incoming/, targets/, reports/ (défaut : son code ; « . » : la racine)."""

    nomenclature: str | None = None
    """Nom de la nomenclature (nomenclatures.yaml) : piliers_2015 ou themes_2024."""

    nomenclatures_file: str | None = None
    """Autre fichier de nomenclatures (relatif au fichier du contrat)."""

    pillars: dict[str, EntryModel] | None = None
    """Nomenclature écrite dans le fichier (ancienne forme, au lieu de nomenclature)."""

    local_priorities: dict[str, EntryModel] | None = None
    """Priorités locales du contrat, par code : {label, keywords}."""

    quarantine_warning_pct: float | None = Field(None, ge=0, le=100)
    """Seuil de quarantaine (%) par défaut des sources (5 si absent)."""

    unknown_residence_warning_pct: float | None = Field(None, ge=0, le=100)
    """Seuil (%) de participations à résidence inconnue au-delà duquel une source avertit (15 si absent)."""

    activity_type_labels: dict[str, str] | None = None
    """Libellés des types d'activité, par code (défaut : livré, sinon le code lisible)."""

    layouts_file: str | None = None
    """Autre fichier de layouts (relatif au fichier du contrat)."""

    layouts: dict[str, SourceOverrideModel | None] | None = None
    """Layouts partagés utilisés, par source_id, avec leurs changements pour ce contrat."""

    sources: dict[str, SourceModel] | None = None
    """Sources propres au contrat, écrites en entier."""

    note_template: str | None = None
    """Gabarit Word (.docx) de la note, relatif au fichier du contrat (docs/documents.md) ; défaut : livré."""


class LayoutsModel(_Strict):
    """The shared partner layouts (layouts.yaml)."""

    sources: dict[str, SourceModel] = Field(min_length=1)
    """Mises en page des partenaires, par source_id."""


class NomenclatureModel(_Strict):
    """A versioned nomenclature: pillars (2015-2023) or national themes (since 2024)."""

    label: str
    """Libellé de la nomenclature."""

    kind: str
    """piliers ou themes."""

    entries: dict[str, EntryModel] = Field(min_length=1)
    """Piliers ou thèmes, par code."""

    period: PeriodModel | None = None
    """Période d'usage."""


class NomenclaturesModel(_Strict):
    """The nomenclatures file (nomenclatures.yaml)."""

    nomenclatures: dict[str, NomenclatureModel] = Field(min_length=1)
    """Les nomenclatures, par nom."""


Model = TypeVar("Model", bound=BaseModel)

_MESSAGES = {
    "extra_forbidden": "clé inconnue",
    "missing": "clé obligatoire absente",
    "string_type": "texte attendu",
    "int_type": "nombre entier attendu",
    "float_type": "nombre attendu",
    "bool_type": "true ou false attendu",
    "dict_type": "dictionnaire (clé: valeur) attendu",
    "model_type": "dictionnaire (clé: valeur) attendu",
    "list_type": "liste attendue",
    "too_short": "valeur vide : au moins un élément attendu",
    "string_too_short": "texte vide",
    "string_too_long": "texte trop long",
    "string_pattern_mismatch": "format inattendu",
    "greater_than_equal": "valeur trop petite",
    "less_than_equal": "valeur trop grande",
}


def key_path(loc: tuple[Any, ...]) -> str:
    """A pydantic location as the key path people read: a.b[0].c."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(racine)"


def shown(value: Any) -> str:
    """A YAML value quoted in a message, cut to a readable length."""
    text = "null" if value is None else str(value)
    return f"« {text[:60]}{'…' if len(text) > 60 else ''} »"


def _unwrap(annotation: Any) -> Any:
    """The type inside `X | None`."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that describes the mapping at a location (to list the keys it allows)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _french(error: Any, model: type[BaseModel]) -> str:
    kind = error["type"]
    message = _MESSAGES.get(kind, error["msg"])
    if kind == "extra_forbidden":
        parent = _model_at(model, tuple(error["loc"][:-1]))
        allowed = f"attendu : {', '.join(parent.model_fields)} ; " if parent else ""
        return f"{message} ({allowed}voir docs/catalog.md)"
    if kind == "missing":
        return message
    if kind in ("greater_than_equal", "less_than_equal", "too_short", "string_too_long"):
        limit = error.get("ctx", {})
        bound = limit.get("ge", limit.get("le", limit.get("min_length", limit.get("max_length"))))
        return f"{message} {shown(error.get('input'))} (limite : {bound})"
    return f"{message}, trouvé {shown(error.get('input'))}"


def validate_file(model: type[Model], raw: Any, label: str) -> Model:
    """The model of a YAML structure, or a CatalogError listing each problem as `file : key : message`."""
    if not isinstance(raw, dict):
        raise CatalogError(
            f"{label} : le fichier doit contenir un dictionnaire de clés YAML, trouvé {shown(raw)}"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        lines = [f"{label} : {key_path(e['loc'])} : {_french(e, model)}" for e in error.errors()]
        raise CatalogError(format_errors(lines)) from None


def format_errors(lines: list[str]) -> str:
    """Several catalog problems in one message, one a line, the first MAX_ERRORS of them."""
    more = len(lines) - MAX_ERRORS
    return "\n".join(lines[:MAX_ERRORS] + ([f"… et {more} autre(s) problème(s)"] if more > 0 else []))


def file_label(path: Path, package_dir: Path) -> str:
    """How a message names a catalog file: relative to the package catalog folder, else as given."""
    try:
        return str(Path(path).resolve().relative_to(package_dir.resolve()))
    except ValueError:
        return str(path)
