"""Entry point of the Dagster code location: the definitions built from the catalog.

The catalog is the one shipped in the package, or the YAML file named by CVPIPELINE_CATALOG.
"""

import os
from pathlib import Path

from cvpipeline.catalog import Catalog, CatalogError, load_catalog
from cvpipeline.defs import build_defs

CATALOG_ENV = "CVPIPELINE_CATALOG"


def configured_catalog() -> Catalog:
    """The catalog of CVPIPELINE_CATALOG when set (a sources.yaml-like file), else the shipped one."""
    configured = os.environ.get(CATALOG_ENV, "").strip()
    if not configured:
        return load_catalog()
    path = Path(configured).expanduser()
    if not path.is_file():
        raise CatalogError(f"{CATALOG_ENV}={configured} : fichier de catalogue introuvable")
    return load_catalog(path)


defs = build_defs(configured_catalog())
