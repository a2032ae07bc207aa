"""The source catalog: partners, their files and columns, actions and pillars, as typed objects."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CATALOG_PATH = Path(__file__).with_name("sources.yaml")
TARGETS = ("participations", "activities", "fundings")
COLUMN_TYPES = ("text", "date", "int", "decimal", "year", "bool", "sex")


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
    action: str | None = None
    activity_type: str | None = None
    activity_types: dict[str, tuple[str, ...]] = field(default_factory=dict)
    single_day: bool = False
    derive_activity: dict[str, Any] | None = None

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


@dataclass(frozen=True)
class Pillar:
    """A pillar of the contrat de ville, with key words that recognise its labels."""

    code: str
    label: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Catalog:
    """The whole catalog: contract, pillars, actions and sources."""

    contract_code: str
    contract_label: str
    pillars: dict[str, Pillar]
    actions: dict[str, Action]
    sources: dict[str, SourceSpec]

    def pillar_of(self, action_code: str) -> str:
        """The pillar of an action."""
        return self.actions[action_code].pillar


class CatalogError(ValueError):
    """The catalog file is inconsistent; the message says where."""


def _table(source_id: str, name: str, raw: dict[str, Any]) -> TableSpec:
    columns = tuple(
        ColumnSpec(
            name=col,
            headers=tuple(spec["headers"]),
            type=spec.get("type", "text"),
            required=bool(spec.get("required", False)),
            personal=bool(spec.get("personal", False)),
        )
        for col, spec in raw["columns"].items()
    )
    for col in columns:
        if col.type not in COLUMN_TYPES:
            raise CatalogError(f"{source_id}.{name}.{col.name}: type inconnu {col.type!r}")
    if raw["target"] not in TARGETS:
        raise CatalogError(f"{source_id}.{name}: target inconnue {raw['target']!r}")
    return TableSpec(
        source_id=source_id,
        name=name,
        files=raw["files"],
        target=raw["target"],
        columns=columns,
        sheet=raw.get("sheet"),
        action=raw.get("action"),
        activity_type=raw.get("activity_type"),
        activity_types={k: tuple(v) for k, v in (raw.get("activity_types") or {}).items()},
        single_day=bool(raw.get("single_day", False)),
        derive_activity=raw.get("derive_activity"),
    )


def parse_catalog(raw: dict[str, Any]) -> Catalog:
    """Build and check a catalog from its YAML structure."""
    pillars = {code: Pillar(code, p["label"], tuple(p["keywords"])) for code, p in raw["pillars"].items()}
    actions = {code: Action(code, a["label"], a["pillar"], a["source"]) for code, a in raw["actions"].items()}
    sources = {
        sid: SourceSpec(
            source_id=sid,
            partner=s["partner"],
            family=s["family"],
            description=s["description"],
            tables=tuple(_table(sid, name, t) for name, t in s["tables"].items()),
            quarantine_warning_pct=float(
                s.get("quarantine_warning_pct", raw.get("quarantine_warning_pct", 0.0))
            ),
        )
        for sid, s in raw["sources"].items()
    }
    for action in actions.values():
        if action.pillar not in pillars:
            raise CatalogError(f"action {action.code}: pilier inconnu {action.pillar!r}")
    for source in sources.values():
        for table in source.tables:
            if table.target != "fundings" and table.action not in actions:
                raise CatalogError(f"{table.suite_name}: action inconnue {table.action!r}")
    return Catalog(raw["contract_code"], raw["contract_label"], pillars, actions, sources)


def load_catalog(path: Path | None = None) -> Catalog:
    """Load the catalog from a YAML file (default: the one shipped in the package)."""
    if path is None:
        return _default_catalog()
    return parse_catalog(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


@functools.cache
def _default_catalog() -> Catalog:
    return parse_catalog(yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8")))
