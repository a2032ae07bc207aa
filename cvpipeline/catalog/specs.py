"""The catalog's typed objects: contract, nomenclature entries, actions, sources, tables, columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# French labels of the activity types the shipped layouts use; a contract may declare others.
ACTIVITY_TYPE_LABELS = {
    "seance_permis": "Journée de préparation au permis",
    "atelier": "Atelier",
    "action_education_medias": "Action d'éducation aux médias",
    "rencontre_acteur": "Acteur rencontré",
    "jardin_partage": "Jardin partagé",
    "lieu_cultive": "Lieu cultivé",
    "formation": "Session de formation",
    "sensibilisation": "Session de sensibilisation",
    "chantier": "Chantier jeunes",
}

# Counts an activity row may declare among its participants (« dont femmes », « dont QPV », « dont hors
# QPV »): a partner gives them when it has them, so a file without them is not incomplete.
DECLARED_BREAKDOWNS = ("participants_women", "participants_qpv", "participants_outside_qpv")


def readable_code(code: str) -> str:
    """A code made readable for people: 'sortie_nature' -> 'Sortie nature'."""
    text = " ".join(code.replace("_", " ").replace("-", " ").split())
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column of a partner table and the headers that name it in files."""

    name: str
    headers: tuple[str, ...]
    type: str = "text"
    required: bool = False
    personal: bool = False

    @property
    def label(self) -> str:
        """The header as partners usually write it (for messages people read)."""
        return self.headers[0]


@dataclass(frozen=True)
class TableSpec:
    """One layout (a sheet or a CSV kind) of a source, mapped to one warehouse target."""

    source_id: str
    name: str
    files: str
    target: str
    columns: tuple[ColumnSpec, ...]
    sheet: str | None = None
    # Sheet names or fnmatch patterns ('20*'): every matching sheet is read, with the same suite.
    sheets: tuple[str, ...] = ()
    action: str | None = None
    activity_type: str | None = None
    activity_types: dict[str, tuple[str, ...]] = field(default_factory=dict)
    single_day: bool = False
    derive_activity: dict[str, Any] | None = None
    # Values every row gets instead of a file column: contract_code, pillar (a theme since 2024).
    constants: dict[str, str] = field(default_factory=dict)
    # French labels of the table's activity types (for messages), by code.
    type_labels: dict[str, str] = field(default_factory=dict)
    # A folder of suites that take precedence over the shipped ones (the settings' suites_dir).
    suites_dir: Path | None = None
    # The contract's nomenclature entries (code, French label), what a pillar label may name, and
    # the word for one of them (« pilier » 2015-2023, « thème » since 2024): for messages.
    entries: tuple[tuple[str, str], ...] = ()
    entry_noun: str = "pilier"

    @property
    def declared_activity_types(self) -> tuple[str, ...]:
        """The activity types this table may write (fixed, recognised or derived)."""
        derived = (self.derive_activity or {}).get("activity_type")
        codes = [self.activity_type, *self.activity_types, derived]
        return tuple(dict.fromkeys(c for c in codes if c))

    @property
    def suite_name(self) -> str:
        """Name of the Great Expectations suite that validates this table."""
        return f"{self.source_id}.{self.name}"

    @property
    def required_columns(self) -> tuple[ColumnSpec, ...]:
        """Columns without which a file cannot be read."""
        return tuple(c for c in self.columns if c.required)

    def column(self, name: str) -> ColumnSpec:
        """The column spec of a canonical name."""
        return next(c for c in self.columns if c.name == name)

    def maps(self, name: str) -> bool:
        """Whether the table reads a canonical column from its files."""
        return any(c.name == name for c in self.columns)


@dataclass(frozen=True)
class SourceSpec:
    """A partner: its files in incoming/<source_id>/ and the tables they hold."""

    source_id: str
    partner: str
    family: str
    description: str
    tables: tuple[TableSpec, ...]
    quarantine_warning_pct: float = 0.0

    @property
    def file_patterns(self) -> tuple[str, ...]:
        """The distinct file-name globs of the source's tables."""
        return tuple(dict.fromkeys(t.files for t in self.tables))

    @property
    def kinds(self) -> set[str]:
        """File kinds of the source (for the Dagster UI)."""
        return {"excel" if p.endswith(".xlsx") else "csv" for p in self.file_patterns}


@dataclass(frozen=True)
class Action:
    """An action of the contract (what the indicators are computed for)."""

    code: str
    label: str
    pillar: str
    source_id: str
    sub_theme: str | None = None
    priorities: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pillar:
    """An entry of a nomenclature (a pillar, a theme, a local priority), with its label key words."""

    code: str
    label: str
    keywords: tuple[str, ...]
    sub_themes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Nomenclature:
    """A versioned nomenclature: its name, label, kind (piliers or themes) and period."""

    name: str
    label: str
    kind: str
    period: tuple[int, int] | None = None


@dataclass(frozen=True)
class Commune:
    """A commune of a contract's territory."""

    insee: str
    name: str


@dataclass(frozen=True)
class Territory:
    """A contract's territory: its name, communes and (when known) its EPCI's SIREN."""

    name: str
    communes: tuple[Commune, ...]
    epci_siren: str | None = None


@dataclass(frozen=True)
class Catalog:
    """One contract's catalog: the contract, its nomenclature entries (`pillars`), actions and sources."""

    contract_code: str
    contract_label: str
    pillars: dict[str, Pillar]
    actions: dict[str, Action]
    sources: dict[str, SourceSpec]
    nomenclature: Nomenclature | None = None
    local_priorities: dict[str, Pillar] = field(default_factory=dict)
    period: tuple[int, int] | None = None
    territory: Territory | None = None
    qpv_geography: int | None = None
    path: Path | None = None
    data_folder: str | None = None
    qpv_list: Path | None = None
    qpv_variants: Path | None = None
    places_hors_qpv: Path | None = None
    # French labels of the contract's activity types (the shipped ones and those its tables declare).
    activity_type_labels: dict[str, str] = field(default_factory=dict)
    # The contract's own Word template for its note (None: the shipped default template).
    note_template: Path | None = None
    # Above this share of a source's participations whose residence is unknown, its check warns.
    unknown_residence_warning_pct: float = 15.0

    @property
    def folder(self) -> str:
        """The contract's sub-folder of incoming/, targets/ and reports/ ('' for the data folder's root)."""
        folder = self.data_folder if self.data_folder is not None else self.contract_code
        return "" if folder == "." else folder

    def pillar_of(self, action_code: str) -> str:
        """The pillar (or, since 2024, the theme) of an action."""
        return self.actions[action_code].pillar

    @property
    def uses_themes(self) -> bool:
        """Whether the contract's nomenclature is the 2024 national themes rather than pillars."""
        return self.nomenclature is not None and self.nomenclature.kind == "themes"

    @property
    def pillar_noun(self) -> str:
        """The French word for the contract's nomenclature entries: « pilier » (2015-2023) or « thème »."""
        return "thème" if self.uses_themes else "pilier"

    @property
    def communes_insee(self) -> tuple[str, ...]:
        """INSEE codes of the contract's communes (empty when the catalog gives no territory)."""
        return tuple(c.insee for c in self.territory.communes) if self.territory else ()
