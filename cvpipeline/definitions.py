"""Entry point of the Dagster code location: the definitions built from the contracts' catalogs.

The contracts are those shipped in the package (cvpipeline/catalog/contracts/), or the contract
file, or the folder of contract files, named by CVPIPELINE_CATALOG.
"""

import os
from pathlib import Path

from cvpipeline.catalog import Catalog, CatalogError, load_catalogs
from cvpipeline.defs import build_defs

CATALOG_ENV = "CVPIPELINE_CATALOG"


def configured_catalogs() -> dict[str, Catalog]:
    """The contracts of CVPIPELINE_CATALOG when set (a contract file or a folder), else the shipped ones."""
    configured = os.environ.get(CATALOG_ENV, "").strip()
    if not configured:
        return load_catalogs()
    path = Path(configured).expanduser()
    if not path.exists():
        raise CatalogError(f"{CATALOG_ENV}={configured} : fichier ou dossier de catalogue introuvable")
    return load_catalogs(path)


defs = build_defs(configured_catalogs())
