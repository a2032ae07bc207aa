"""Where the catalog's files are, how they are read (YAML, named by path), and the files a contract names."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from cvpipeline.catalog.schema import CatalogError, file_label, shown

PACKAGE_DIR = Path(__file__).parent
LAYOUTS_PATH = PACKAGE_DIR / "layouts.yaml"
NOMENCLATURES_PATH = PACKAGE_DIR / "nomenclatures.yaml"
CONTRACTS_DIR = PACKAGE_DIR / "contracts"
DEFAULT_CONTRACT = "CV262"
# The catalog load_catalog() returns: the contract file of CV262 (with the shared layouts).
CATALOG_PATH = CONTRACTS_DIR / f"{DEFAULT_CONTRACT}.yaml"


# libyaml's safe loader when PyYAML has it (about ten times faster: a code location of 433 contracts
# reads 433 contract files at every load), else PyYAML's own; both build the same plain values.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path, label: str) -> Any:
    """A catalog file's YAML content; a missing or unreadable file is a CatalogError naming `label`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"{label} : fichier de catalogue introuvable") from None
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (ligne {mark.line + 1}, colonne {mark.column + 1})" if mark else ""
        raise CatalogError(f"{label} : YAML illisible{where} : {getattr(error, 'problem', error)}") from None


def label_of(path: Path) -> str:
    """How messages name a catalog file (relative to the package when it is shipped)."""
    return file_label(path, PACKAGE_DIR)


def stamp(path: Path) -> tuple[Path, int, int]:
    """A file's identity for the caches: a file edited since is read again."""
    try:
        stat = path.stat()
    except OSError:
        return path, -1, -1
    return path.resolve(), stat.st_mtime_ns, stat.st_size


def relative_path(contract_path: Path | None, given: str | None, default: Path) -> Path:
    """A file a contract names (relative to the contract file), or `default` when it names none."""
    if given is None:
        return default
    candidate = Path(given).expanduser()
    if not candidate.is_absolute() and contract_path is not None:
        candidate = contract_path.parent / candidate
    return candidate


def reference_file(
    contract_path: Path | None, given: str | None, label: str, key: str, errors: list[str]
) -> Path | None:
    """A reference file a contract names: beside the contract file, else shipped (cvpipeline/reference/)."""
    if not given:
        return None
    candidate = Path(given).expanduser()
    if not candidate.is_absolute() and contract_path is not None:
        candidate = contract_path.parent / candidate
    if candidate.is_file():
        return candidate
    shipped = shipped_path(given)
    if shipped.is_file():
        return shipped
    errors.append(f"{label} : {key} : fichier introuvable {shown(given)} (ni à côté du contrat, ni livré)")
    return None


def shipped_path(relative: str) -> Path:
    """The path of a reference file shipped in the package (`cvpipeline/reference/<relative>`)."""
    return Path(str(resources.files("cvpipeline.reference").joinpath(relative)))


def note_template_file(
    contract_path: Path | None, given: str | None, label: str, errors: list[str]
) -> Path | None:
    """The Word template a contract names for its note: beside the contract file, else a shipped contract's.

    A copy of a shipped contract file elsewhere keeps the template of the shipped one.
    """
    if not given:
        return None
    if not given.lower().endswith(".docx"):
        errors.append(f"{label} : note_template : fichier Word .docx attendu, trouvé {shown(given)}")
        return None
    candidate = Path(given).expanduser()
    if not candidate.is_absolute() and contract_path is not None:
        candidate = contract_path.parent / candidate
    if candidate.is_file():
        return candidate
    shipped = CONTRACTS_DIR / given
    if not Path(given).is_absolute() and shipped.is_file():
        return shipped
    errors.append(
        f"{label} : note_template : fichier introuvable {shown(given)} (ni à côté du contrat, ni livré)"
    )
    return None
