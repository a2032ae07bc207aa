"""The catalog: contracts, their nomenclature and actions, and the partner file layouts they share.

Files (docs/catalog.md): `layouts.yaml` (partner layouts shared by contracts), `nomenclatures.yaml`
(pillars 2015, themes 2024), `contracts/<code>.yaml` (one per contract). A single file holding a
whole catalog (contract, `pillars:`, `actions:`, `sources:`) still loads, e.g. from CVPIPELINE_CATALOG.
"""

from cvpipeline.catalog.contract import parse_catalog
from cvpipeline.catalog.discovery import load_catalog, load_catalogs, load_contract_catalogs
from cvpipeline.catalog.files import (
    CATALOG_PATH,
    CONTRACTS_DIR,
    DEFAULT_CONTRACT,
    LAYOUTS_PATH,
    NOMENCLATURES_PATH,
)
from cvpipeline.catalog.schema import COLUMN_TYPES, TARGETS, CatalogError
from cvpipeline.catalog.specs import (
    DECLARED_BREAKDOWNS,
    Action,
    Catalog,
    ColumnSpec,
    Commune,
    Nomenclature,
    Pillar,
    SourceSpec,
    TableSpec,
    Territory,
)

__all__ = [
    "CATALOG_PATH",
    "COLUMN_TYPES",
    "CONTRACTS_DIR",
    "DECLARED_BREAKDOWNS",
    "DEFAULT_CONTRACT",
    "LAYOUTS_PATH",
    "NOMENCLATURES_PATH",
    "TARGETS",
    "Action",
    "Catalog",
    "CatalogError",
    "ColumnSpec",
    "Commune",
    "Nomenclature",
    "Pillar",
    "SourceSpec",
    "TableSpec",
    "Territory",
    "load_catalog",
    "load_catalogs",
    "load_contract_catalogs",
    "parse_catalog",
]
