"""Find and load contracts: a contract file, a folder of them, or the ones shipped in catalog/contracts/."""

from __future__ import annotations

import functools
from pathlib import Path

from cvpipeline.catalog.contract import parse_contract
from cvpipeline.catalog.files import CATALOG_PATH, CONTRACTS_DIR, label_of, read_yaml
from cvpipeline.catalog.schema import CatalogError, shown
from cvpipeline.catalog.specs import Catalog

# incoming/national/ holds the national sources' files (one file covers many contracts).
NATIONAL_FOLDER = "national"


def load_catalog(path: Path | None = None, suites_dir: Path | None = None) -> Catalog:
    """Load a contract file or a single-file catalog (default: the shipped contract CV262).

    `suites_dir`: a folder of suites that take precedence over the shipped ones (the settings').
    """
    if path is None:
        return _default_catalog(suites_dir)
    path = Path(path)
    label = label_of(path)
    return parse_contract(read_yaml(path, label), label, path, suites_dir)


@functools.cache
def _default_catalog(suites_dir: Path | None) -> Catalog:
    return load_catalog(CATALOG_PATH, suites_dir)


@functools.cache
def _shipped_contracts(suites_dir: Path | None = None) -> tuple[Catalog, ...]:
    catalogs = []
    for path in sorted(CONTRACTS_DIR.glob("*.yaml")):
        catalog = load_catalog(path, suites_dir)
        if catalog.contract_code != path.stem:
            raise CatalogError(
                f"{label_of(path)} : contract_code : {shown(catalog.contract_code)} ; "
                f"le fichier d'un contrat porte son code ({catalog.contract_code}.yaml)"
            )
        catalogs.append(catalog)
    return tuple(catalogs)


def load_contract_catalogs(suites_dir: Path | None = None) -> dict[str, Catalog]:
    """The catalogs of the contracts shipped in cvpipeline/catalog/contracts/, by contract code."""
    return {c.contract_code: c for c in _shipped_contracts(suites_dir)}


def load_catalogs(path: Path | None = None, suites_dir: Path | None = None) -> dict[str, Catalog]:
    """The contracts a deployment serves, by code: a contract file, a folder of them, or the shipped ones.

    Two contracts may not share a code nor a data folder (incoming/<folder>/ holds one contract's files).
    """
    if path is None:
        catalogs = list(_shipped_contracts(suites_dir))
    elif Path(path).is_dir():
        files = sorted(p for p in Path(path).glob("*.yaml") if not p.name.startswith("."))
        if not files:
            raise CatalogError(f"{path} : aucun fichier de contrat (*.yaml) dans ce dossier")
        catalogs = [load_catalog(p, suites_dir) for p in files]
    else:
        catalogs = [load_catalog(Path(path), suites_dir)]
    found: dict[str, Catalog] = {}
    folders: dict[str, str] = {}
    for catalog in catalogs:
        where = label_of(catalog.path) if catalog.path else catalog.contract_code
        if catalog.contract_code in found:
            raise CatalogError(f"{where} : contract_code : {shown(catalog.contract_code)} déjà chargé")
        folder = catalog.folder or "."
        if folder == NATIONAL_FOLDER:
            raise CatalogError(f"{where} : data_folder : {shown(folder)} est réservé aux sources nationales")
        if folder in folders:
            raise CatalogError(
                f"{where} : data_folder : {shown(folder)} déjà le dossier du contrat {folders[folder]}"
            )
        found[catalog.contract_code] = catalog
        folders[folder] = catalog.contract_code
    return found
