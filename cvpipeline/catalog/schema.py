"""The documented schema of catalog files (pydantic models) and its errors in French, by key path."""

from __future__ import annotations

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

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ColumnModel(_Strict):
    """A canonical column: the headers partners write for it, its type, required, personal."""

    headers: list[str] = Field(min_length=1, description="en-têtes reconnus (synonymes)")
    type: str = Field("text", description="text, date, int, decimal, year, bool ou sex")
    required: bool = Field(False, description="fichier illisible sans cette colonne")
    personal: bool = Field(False, description="nomme une personne : masquée en quarantaine")


class DeriveModel(_Strict):
    """Activities derived from participation rows: one per group of rows of a file."""

    activity_type: str
    group_by: list[str] = Field(min_length=1)


class ConstantsModel(_Strict):
    """Values every row of a table gets (instead of a file column)."""

    contract_code: str | None = None
    pillar: str | None = None
    theme: str | None = None
    action: str | None = None


class TableModel(_Strict):
    """One layout (a sheet or a kind of CSV) of a source, mapped to one warehouse target."""

    files: str
    target: str
    columns: dict[str, ColumnModel] = Field(min_length=1)
    sheet: str | None = None
    action: str | None = None
    activity_type: str | None = None
    activity_types: dict[str, list[str]] | None = None
    single_day: bool = False
    derive_activity: DeriveModel | None = None
    constants: ConstantsModel | None = None


class SourceModel(_Strict):
    """A partner: its files in incoming/<source_id>/ and the tables they hold."""

    partner: str
    family: str
    description: str
    tables: dict[str, TableModel] = Field(min_length=1)
    quarantine_warning_pct: float | None = Field(None, ge=0, le=100)


class TableOverrideModel(_Strict):
    """What a contract may change in a shared table layout."""

    files: str | None = None
    sheet: str | None = None
    action: str | None = None
    constants: ConstantsModel | None = None


class SourceOverrideModel(_Strict):
    """What a contract may change in a shared source layout."""

    partner: str | None = None
    description: str | None = None
    quarantine_warning_pct: float | None = Field(None, ge=0, le=100)
    tables: dict[str, TableOverrideModel] | None = None


class EntryModel(_Strict):
    """A pillar, a theme or a local priority: its label, key words and sub-themes."""

    label: str
    keywords: list[str] = Field(min_length=1)
    sub_themes: dict[str, str] | None = None


class ActionModel(_Strict):
    """An action of the contract, its pillar or theme, and the source that reports it."""

    label: str
    source: str
    pillar: str | None = None
    theme: str | None = None
    sub_theme: str | None = None
    priorities: list[str] | None = None
    tables: list[str] | None = None


class PeriodModel(_Strict):
    """First and last year of a contract or a nomenclature."""

    start: int = Field(ge=2000, le=2100)
    end: int = Field(ge=2000, le=2100)


class CommuneModel(_Strict):
    """A commune of the contract's territory."""

    insee: str = Field(pattern=r"^(\d{5}|2[AB]\d{3})$")
    name: str


class TerritoryModel(_Strict):
    """The contract's territory: its name, communes and (when known) its EPCI's SIREN."""

    name: str
    communes: list[CommuneModel] = Field(min_length=1)
    epci_siren: str | None = Field(None, pattern=r"^\d{9}$")


class ContractModel(_Strict):
    """A contract file (contracts/<code>.yaml), or a whole catalog in one file (CVPIPELINE_CATALOG)."""

    contract_code: str = Field(min_length=1, max_length=32)
    contract_label: str
    actions: dict[str, ActionModel]
    period: PeriodModel | None = None
    territory: TerritoryModel | None = None
    qpv_geography: int | None = Field(None, ge=2000, le=2100)
    nomenclature: str | None = None
    nomenclatures_file: str | None = None
    pillars: dict[str, EntryModel] | None = None
    local_priorities: dict[str, EntryModel] | None = None
    quarantine_warning_pct: float | None = Field(None, ge=0, le=100)
    layouts_file: str | None = None
    layouts: dict[str, SourceOverrideModel | None] | None = None
    sources: dict[str, SourceModel] | None = None


class LayoutsModel(_Strict):
    """The shared partner layouts (layouts.yaml)."""

    sources: dict[str, SourceModel] = Field(min_length=1)


class NomenclatureModel(_Strict):
    """A versioned nomenclature: pillars (2015-2023) or national themes (since 2024)."""

    label: str
    kind: str
    entries: dict[str, EntryModel] = Field(min_length=1)
    period: PeriodModel | None = None


class NomenclaturesModel(_Strict):
    """The nomenclatures file (nomenclatures.yaml)."""

    nomenclatures: dict[str, NomenclatureModel] = Field(min_length=1)


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


def _french(error: Any) -> str:
    kind = error["type"]
    message = _MESSAGES.get(kind, error["msg"])
    if kind == "extra_forbidden":
        return message + " (voir docs/catalog.md)"
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
        lines = [f"{label} : {key_path(e['loc'])} : {_french(e)}" for e in error.errors()]
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
